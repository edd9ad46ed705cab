"""The one error hierarchy every torimatome call raises.

Each error has a stable ``code`` (for shops that map errors to screens), an English text
(``str(e)``) and a Japanese text (``e.ja``). Errors subclass the fitting built-in too, so
``except ValueError`` in a shop still catches bad input. No error leaves partial state behind:
the application raises them before it writes, or from inside a unit of work that then rolls
back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .labels import ACT_DONE_EN, ACT_JA, STATUS_JA

__all__ = [
    "ACCESS_DENIED_JA",
    "NAMED_TWICE",
    "VERSION_MOVED",
    "AccessDenied",
    "AuthenticationFailed",
    "CartError",
    "CartRefused",
    "ConfigurationError",
    "Conflict",
    "InvalidInput",
    "InvalidTransition",
    "MailError",
    "NotFound",
    "StorageError",
    "TorimatomeError",
    "already",
]

ACCESS_DENIED_JA = "お客様はこちらの画面を見ることができません"
ACCESS_DENIED_EN = "You cannot view this screen."


class TorimatomeError(Exception):
    """Base of every error torimatome raises on purpose."""

    code: ClassVar[str] = "error"
    default_en: ClassVar[str] = "torimatome error"
    default_ja: ClassVar[str] = "エラーが発生しました"

    def __init__(self, en: str | None = None, *, ja: str | None = None, **details: Any) -> None:
        self.en = en or self.default_en
        self.ja = ja or (self.default_ja if en is None else self.en)
        self.details: dict[str, Any] = details
        super().__init__(self.en)

    def message(self, locale: str = "en") -> str:
        """The text for ``locale`` (``"ja"`` or ``"en"``)."""
        return self.ja if locale == "ja" else self.en

    def __str__(self) -> str:
        return self.en


class AccessDenied(TorimatomeError, PermissionError):
    """The actor's role (or inactive flag) does not allow this act."""

    code = "access_denied"
    default_en = ACCESS_DENIED_EN
    default_ja = ACCESS_DENIED_JA

    def __init__(self, feature: str | None = None, *, en: str | None = None) -> None:
        text = en or (f"{ACCESS_DENIED_EN} ({feature})" if feature else ACCESS_DENIED_EN)
        super().__init__(text, ja=ACCESS_DENIED_JA, feature=feature)
        self.feature = feature


class AuthenticationFailed(AccessDenied):
    """A login ID and password that do not match an active user (which of the three is wrong
    is deliberately not said)."""

    code = "authentication_failed"

    def __init__(self, en: str | None = None, *, ja: str | None = None) -> None:
        super().__init__(en=en or "The login ID or the password is incorrect.")
        self.ja = ja or "ログインIDまたはパスワードが正しくありません"


class NotFound(TorimatomeError, LookupError):
    """No such object for this actor: missing and foreign ids look the same."""

    code = "not_found"
    default_en = "Not found."
    default_ja = "該当するデータが見つかりません"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(
            f"{kind} {ident!r} not found.",
            ja=f"該当する{_KIND_JA.get(kind, kind)}が見つかりません（{ident!r}）",
            kind=kind,
            ident=ident,
        )
        self.kind = kind
        self.ident = ident


_KIND_JA = {
    "account": "アカウント",
    "user": "ユーザー",
    "request": "注文依頼",
    "line": "依頼明細",
    "order": "注文",
}


class InvalidInput(TorimatomeError, ValueError):
    """A value a caller passed is malformed, out of range or of the wrong type."""

    code = "invalid_input"
    default_en = "Invalid input."
    default_ja = "入力内容が正しくありません"

    def __init__(
        self, en: str, *, ja: str | None = None, field: str | None = None, **details: Any
    ) -> None:
        super().__init__(en, ja=ja or en, field=field, **details)
        self.field = field


class InvalidTransition(TorimatomeError):
    """The line's current state does not allow this act (the lifecycle's '—' cells).

    ``line_id``/``status`` name the first such line; ``lines`` maps every line of the call
    that could not take the act to its state (``record_order`` checks them all first).
    """

    code = "invalid_transition"
    default_en = "This action is not possible in the line's current state."
    default_ja = "現在の状態ではこの操作はできません"

    def __init__(
        self, line_id: str, status: str, act: str, *, lines: Mapping[str, str] | None = None
    ) -> None:
        done = ACT_DONE_EN.get(act, act)
        self.lines: dict[str, str] = dict(lines or {line_id: status})
        others = len(self.lines) - 1
        more_en = f" (and {others} more line{'s' if others > 1 else ''})" if others else ""
        more_ja = f"（ほか{others}点）" if others else ""
        super().__init__(
            f"Line {line_id!r} is {status.replace('_', ' ')}; it cannot be {done}{more_en}.",
            ja=f"この商品は現在「{STATUS_JA.get(status, status)}」のため、"
            f"{ACT_JA.get(act, act)}はできません{more_ja}（{line_id}）",
            line_id=line_id,
            status=status,
            act=act,
            lines=self.lines,
        )
        self.line_id = line_id
        self.status = status
        self.act = act


#: Why a line makes a batch a :class:`Conflict` (the values of ``Conflict.lines``).
VERSION_MOVED = "version_moved"
NAMED_TWICE = "named_twice"
_REASONS_EN = {VERSION_MOVED: "changed since it was loaded", NAMED_TWICE: "named twice"}
_REASONS_JA = {
    VERSION_MOVED: "画面を開いた後に変更されました",
    NAMED_TWICE: "重複して指定されています",
}


def already(status: str) -> str:
    """The reason code of a line that is no longer pending: ``already_withdrawn``..."""
    return f"already_{status}"


def _reason_en(code: str) -> str:
    if code.startswith("already_"):
        return f"already {code.removeprefix('already_').replace('_', ' ')}"
    return _REASONS_EN.get(code, code)


def _reason_ja(code: str) -> str:
    if code.startswith("already_"):
        status = code.removeprefix("already_")
        return f"すでに「{STATUS_JA.get(status, status)}」です"
    return _REASONS_JA.get(code, code)


class Conflict(TorimatomeError):
    """What the caller saw is no longer current (stale version, reused idempotency key...).

    ``lines`` maps each line that made a batch conflict to a reason code: ``version_moved``,
    ``named_twice`` or ``already_<status>`` (``already_withdrawn``...), so a shop can word it.
    """

    code = "conflict"
    default_en = "The data changed since it was loaded."
    default_ja = "他の操作により内容が変更されています。画面を更新してください"

    def __init__(
        self,
        en: str | None = None,
        *,
        ja: str | None = None,
        lines: Mapping[str, str] | None = None,
    ) -> None:
        self.lines: dict[str, str] = dict(lines or {})
        if en is None:
            named = "; ".join(f"{k}: {_reason_en(v)}" for k, v in sorted(self.lines.items()))
            en = f"{self.default_en} {named}" if named else self.default_en
        if ja is None:
            named = "、".join(f"{k}（{_reason_ja(v)}）" for k, v in sorted(self.lines.items()))
            ja = f"{self.default_ja}：{named}" if named else self.default_ja
        super().__init__(en, ja=ja, lines=self.lines)

    @staticmethod
    def reason_text(code: str, locale: str = "en") -> str:
        """A reason code of ``lines`` in words (``"ja"`` or ``"en"``)."""
        return _reason_ja(code) if locale == "ja" else _reason_en(code)


class StorageError(TorimatomeError):
    """The storage backend failed; the unit of work was rolled back."""

    code = "storage_error"
    default_en = "The storage backend failed; nothing was changed."
    default_ja = "データの保存に失敗しました（変更は行われていません）"


class CartError(TorimatomeError):
    """The shop's cart failed; no line changed (the original error is the ``__cause__``)."""

    code = "cart_error"
    default_en = "The cart failed; nothing was changed."
    default_ja = "カゴへの追加に失敗しました（変更は行われていません）"


class CartRefused(CartError):
    """The cart refused some lines; the whole batch is refused.

    Shops raise it from ``torimatome_add_to_cart`` with ``{line_id: reason}``.
    """

    code = "cart_refused"

    def __init__(self, refused: Mapping[str, str]) -> None:
        self.refused: dict[str, str] = {str(k): str(v) for k, v in dict(refused).items()}
        named = "; ".join(f"{k}: {v}" for k, v in sorted(self.refused.items()))
        super().__init__(
            f"The cart refused the batch. {named}",
            ja=f"カゴに追加できない商品があります。{named}",
        )
        self.details["refused"] = self.refused


class MailError(TorimatomeError):
    """A mail could not be composed (delivery trouble is reported, never raised)."""

    code = "mail_error"
    default_en = "The mail could not be composed."
    default_ja = "メールを作成できませんでした"


class ConfigurationError(TorimatomeError):
    """torimatome was opened or configured wrongly (unknown scheme, bad option...)."""

    code = "configuration_error"
    default_en = "torimatome is not configured correctly."
    default_ja = "設定が正しくありません"
