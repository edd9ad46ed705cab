"""An account: one office or company that buys through its coordinators."""

from __future__ import annotations

import functools
import zoneinfo

import attrs

from .errors import InvalidInput
from .message_policy import GraphemePolicy, WidthPolicy
from .validation import check_text

__all__ = ["DEFAULT_TIMEZONE", "Account", "AccountSettings", "check_timezone"]

DEFAULT_TIMEZONE = "Asia/Tokyo"
RETENTION_MONTHS = 15


_HOST_DEPENDENT = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _listed_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value: object) -> str:
    """An IANA zone name (``Asia/Tokyo``, ``UTC``...), never the host's ``localtime``.

    Names that depend on the host, or are aliases of no place, are refused: results must never
    depend on the machine that runs them.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidInput("timezone must be an IANA zone name.", field="timezone")
    listed = _listed_zones()
    if (
        value in _HOST_DEPENDENT
        or value.startswith(("posix/", "right/"))
        # A machine without a zone list (no tzdata) still opens zones by name.
        or (listed and value not in listed)
    ):
        raise InvalidInput(
            f"Unknown timezone {value!r}; use an IANA name such as 'Asia/Tokyo'.",
            ja=f"タイムゾーンの指定が正しくありません（{value}）",
            field="timezone",
        )
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Unknown timezone {value!r}.", ja="タイムゾーンが見つかりません", field="timezone"
        ) from None
    return str.__str__(value)


def _check_locale(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value not in ("ja", "en"):
        raise InvalidInput("locale must be 'ja' or 'en'.", field="locale")


def _check_retention(_: object, __: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 120:
        raise InvalidInput("retention_months must be an int from 1 to 120.", field="retention")


@attrs.frozen
class AccountSettings:
    """Per-account policy: the message length rules, the retention window and the mail locale.

    ``cart_message_policy`` limits the message left with a request (全角50文字 by default, as
    the seed says); ``message_policy`` limits each post of a request's thread (the same by
    default, and the one an account usually changes).
    """

    message_policy: WidthPolicy | GraphemePolicy = attrs.field(factory=WidthPolicy)
    retention_months: int = attrs.field(default=RETENTION_MONTHS, validator=_check_retention)
    locale: str = attrs.field(default="ja", validator=_check_locale)
    cart_message_policy: WidthPolicy | GraphemePolicy = attrs.field(factory=WidthPolicy)


@attrs.frozen
class Account:
    """One office: its coordinators consolidate what its internal users request."""

    id: str
    name: str
    timezone: str = DEFAULT_TIMEZONE
    settings: AccountSettings = AccountSettings()

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


def check_account_name(value: object) -> str:
    return check_text(value, "name", max_length=100, allow_empty=False)
