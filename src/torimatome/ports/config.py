"""Configuration handed to the application and to every adapter factory."""

from __future__ import annotations

import attrs

from ..domain.errors import ConfigurationError, InvalidInput
from ..domain.events import EVENT_NAMES
from ..domain.validation import DEFAULT_MAX_QUANTITY, check_email, check_text

__all__ = ["MAIL_EVENTS", "SYNCHRONOUS_MODES", "Config"]

#: Events that can be mailed; only ``request_submitted`` is mailed unless configured.
MAIL_EVENTS = EVENT_NAMES
#: The values of SQLite's ``PRAGMA synchronous`` a backend accepts.
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


def _positive(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"Config.{attribute.name} must be a positive int, got {value!r}.")


def _power_of_two(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    _positive(_, attribute, value)
    if value < 2 or value & (value - 1):
        raise ConfigurationError(f"Config.{attribute.name} must be a power of two, got {value}.")


def _address(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        check_email(value, f"Config.{attribute.name}", allow_empty=False)
    except InvalidInput as exc:
        raise ConfigurationError(str(exc)) from None


def _display_name(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    try:
        check_text(value, f"Config.{attribute.name}", max_length=100)
    except InvalidInput as exc:
        raise ConfigurationError(str(exc)) from None


def _mail_events(_: object, __: attrs.Attribute[frozenset[str]], value: frozenset[str]) -> None:
    unknown = set(value) - MAIL_EVENTS
    if unknown:
        raise ConfigurationError(
            f"Unknown mail events: {sorted(unknown)}; choose from {sorted(MAIL_EVENTS)}."
        )


def _one_of(*choices: str) -> attrs._ValidatorType[str]:
    def check(_: object, attribute: attrs.Attribute[str], value: str) -> None:
        if value not in choices:
            raise ConfigurationError(f"Config.{attribute.name} must be one of {choices}.")

    return check


@attrs.frozen(kw_only=True)
class Config:
    """Everything an application can be tuned with; every field has a working default.

    Attributes:
        max_quantity: the largest quantity a line may request.
        mail_events: which domain events are mailed (see ``MAIL_EVENTS``).
        mail_from: the From address of every mail.
        mail_charset: ``"utf-8"`` or ``"iso-2022-jp"`` (falls back to UTF-8 per mail when a
            character cannot be carried).
        scrypt_n: the scrypt cost (a power of two; keep the default in production).
        sqlite_synchronous: ``PRAGMA synchronous`` for SQLite (FULL survives power loss).
        busy_timeout_ms: how long SQLite waits for another writer.
        mail_retry_base_seconds / mail_retry_cap_seconds: capped exponential backoff.
        mail_batch: how many due mails one ``deliver_mail()`` sends at most.
        mail_claim_seconds: how long a mail taken for sending is kept from other deliverers.
        idempotency_ttl_seconds: how long an idempotency key replays its first result (a
            double click or a retry); after that the key may be used afresh.
    """

    max_quantity: int = attrs.field(default=DEFAULT_MAX_QUANTITY, validator=_positive)
    mail_events: frozenset[str] = attrs.field(
        default=frozenset({"request_submitted"}), converter=frozenset, validator=_mail_events
    )
    mail_from: str = attrs.field(default="torimatome@localhost", validator=_address)
    mail_from_name: str = attrs.field(default="", validator=_display_name)
    mail_charset: str = attrs.field(default="utf-8", validator=_one_of("utf-8", "iso-2022-jp"))
    scrypt_n: int = attrs.field(default=2**14, validator=_power_of_two)
    sqlite_synchronous: str = attrs.field(default="FULL", validator=_one_of(*SYNCHRONOUS_MODES))
    busy_timeout_ms: int = attrs.field(default=10_000, validator=_positive)
    mail_retry_base_seconds: int = attrs.field(default=60, validator=_positive)
    mail_retry_cap_seconds: int = attrs.field(default=6 * 3600, validator=_positive)
    mail_batch: int = attrs.field(default=500, validator=_positive)
    mail_claim_seconds: int = attrs.field(default=600, validator=_positive)
    idempotency_ttl_seconds: int = attrs.field(default=86_400, validator=_positive)
