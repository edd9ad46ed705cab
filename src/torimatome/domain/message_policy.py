"""How long a free-text message may be, and which characters it may hold.

Requesters leave an optional message with a request, and both sides write posts in the request's
thread. Japanese shops state such limits as 「全角50文字（半角100文字）以内」, so the default
policy counts display width (full-width = 2, half-width = 1) against 100 units.
:class:`GraphemePolicy` counts user-perceived characters instead, for shops that prefer a plain
「50文字以内」.

Every policy returns the NFC-normalised text, which is what should be stored. Accounts store
one of the two built-in policies (their settings are data); :class:`MessagePolicy` is the shape
they share, for code that measures text the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import attrs

from . import text as _text
from .errors import InvalidInput

__all__ = [
    "DEFAULT_MESSAGE_POLICY",
    "GraphemePolicy",
    "MessagePolicy",
    "WidthPolicy",
    "check_thread_post",
]

# Error texts shown to shop users say メッセージ whatever the field's programmatic name is.
_SUBJECT_JA = "メッセージ"


@runtime_checkable
class MessagePolicy(Protocol):
    """A rule for message length and content."""

    @property
    def limit(self) -> int:
        """The largest allowed :meth:`measure`."""
        ...

    def measure(self, text: str) -> int:
        """The size of ``text`` (after NFC normalisation) in this policy's units."""
        ...

    def remaining(self, text: str) -> int:
        """``limit - measure(text)``; negative when over, so a UI can show by how much."""
        ...

    def check(self, text: str, *, allow_line_breaks: bool, field: str = "message") -> str:
        """Return ``text`` NFC-normalised, or raise :class:`InvalidInput` naming ``field``."""
        ...


def _validate_limit(instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidInput(
            f"The message limit must be an integer of at least 1, not {value!r}.",
            ja=f"メッセージの上限は1以上の整数で指定してください（{value!r}）",
            field="limit",
            value=value,
        )


def _subject_en(field: str) -> str:
    return field.replace("_", " ")


def _checked_content(text: object, *, allow_line_breaks: bool, field: str) -> str:
    """Type and character checks shared by every policy; returns the normalised text."""
    if not isinstance(text, str):
        raise InvalidInput(
            f"The {_subject_en(field)} must be a string, not {type(text).__name__}.",
            ja=f"{_SUBJECT_JA}は文字列で指定してください",
            field=field,
        )
    found = _text.find_forbidden_character(text, allow_line_breaks=allow_line_breaks)
    if found is not None:
        raise InvalidInput(
            f"The {_subject_en(field)} contains a character that is not allowed: {found}.",
            ja=f"{_SUBJECT_JA}に使用できない文字が含まれています（{found.code_point}）",
            field=field,
            position=found.position,
            code_point=found.code_point,
            reason=found.reason,
        )
    return _text.normalize(text)


#: No text within a limit holds more than this many code points per unit of the limit (a
#: cluster of n code points costs at least n/10 of either policy's units), so anything longer
#: is refused before it is scanned: a 10 MB message costs nothing to refuse.
_CODE_POINTS_PER_UNIT = 10


def _within_limit(
    text: object,
    limit: int,
    measure: Callable[[str], int],
    *,
    allow_line_breaks: bool,
    field: str,
    too_long: Callable[[int, bool], InvalidInput],
) -> str:
    if isinstance(text, str) and len(text) > limit * _CODE_POINTS_PER_UNIT:
        # Measure only a prefix that is already over the limit, and say "at least".
        prefix = text[: limit * _CODE_POINTS_PER_UNIT + 1]
        raise too_long(measure(prefix), True)
    normalized = _checked_content(text, allow_line_breaks=allow_line_breaks, field=field)
    measured = measure(normalized)
    if measured > limit:
        raise too_long(measured, False)
    return normalized


@attrs.frozen
class WidthPolicy:
    """Display width: full-width and East Asian Ambiguous characters 2, others 1 (the default).

    ``limit`` is in width units, so the default 100 reads 「全角50文字（半角100文字）以内」.
    Emoji sequences count 2; a line break counts 1.
    """

    limit: int = attrs.field(default=100, validator=_validate_limit)

    def measure(self, text: str) -> int:
        """Width of ``text`` after NFC normalisation."""
        return _text.width(_text.normalize(text))

    def remaining(self, text: str) -> int:
        """Width units left; negative when ``text`` is over the limit."""
        return self.limit - self.measure(text)

    def check(self, text: str, *, allow_line_breaks: bool, field: str = "message") -> str:
        """Return ``text`` NFC-normalised, or raise :class:`InvalidInput`.

        ``""`` passes: emptiness is the caller's concern (see :func:`check_thread_post`).
        """

        def too_long(measured: int, at_least: bool) -> InvalidInput:
            full = self.limit // 2
            more = "+" if at_least else ""
            return InvalidInput(
                f"The {_subject_en(field)} must be at most {self.limit} width units "
                f"({full} full-width characters); it measures {measured}{more}.",
                ja=f"{_SUBJECT_JA}は全角{full}文字（半角{self.limit}文字）以内で入力してください"
                f"（現在 {measured}{'以上' if at_least else ''}/{self.limit}）",
                field=field,
                measured=measured,
                limit=self.limit,
            )

        return _within_limit(
            text,
            self.limit,
            _text.width,
            allow_line_breaks=allow_line_breaks,
            field=field,
            too_long=too_long,
        )


@attrs.frozen
class GraphemePolicy:
    """User-perceived characters, whatever their width: 「50文字以内」 by default."""

    limit: int = attrs.field(default=50, validator=_validate_limit)

    def measure(self, text: str) -> int:
        """User-perceived characters in ``text`` after NFC normalisation."""
        return _text.grapheme_count(_text.normalize(text))

    def remaining(self, text: str) -> int:
        """Characters left; negative when ``text`` is over the limit."""
        return self.limit - self.measure(text)

    def check(self, text: str, *, allow_line_breaks: bool, field: str = "message") -> str:
        """Return ``text`` NFC-normalised, or raise :class:`InvalidInput`.

        ``""`` passes: emptiness is the caller's concern (see :func:`check_thread_post`).
        """

        def too_long(measured: int, at_least: bool) -> InvalidInput:
            more = "+" if at_least else ""
            return InvalidInput(
                f"The {_subject_en(field)} must be at most {self.limit} characters; "
                f"it has {measured}{more}.",
                ja=f"{_SUBJECT_JA}は{self.limit}文字以内で入力してください"
                f"（現在 {measured}{'以上' if at_least else ''}/{self.limit}）",
                field=field,
                measured=measured,
                limit=self.limit,
            )

        return _within_limit(
            text,
            self.limit,
            _text.grapheme_count,
            allow_line_breaks=allow_line_breaks,
            field=field,
            too_long=too_long,
        )


DEFAULT_MESSAGE_POLICY: MessagePolicy = WidthPolicy()


def check_thread_post(policy: MessagePolicy, text: str, *, field: str = "message") -> str:
    """Check a thread post: unlike a cart message it may not be blank, and it may span lines.

    Returns the NFC-normalised text; surrounding whitespace is kept as written.
    """
    if isinstance(text, str) and not text.strip():
        raise InvalidInput(
            "The message is empty.",
            ja="メッセージを入力してください",
            field=field,
        )
    return policy.check(text, allow_line_breaks=True, field=field)
