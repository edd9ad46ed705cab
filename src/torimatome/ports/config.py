"""Configuration handed to the application and to every adapter factory."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ..domain.errors import ConfigurationError, InvalidInput
from ..domain.events import EVENT_NAMES
from ..domain.validation import DEFAULT_MAX_QUANTITY, check_email, check_text

__all__ = ["MAIL_EVENTS", "SYNCHRONOUS_MODES", "Config"]

#: Events that can be mailed; only ``request_submitted`` is mailed unless configured.
MAIL_EVENTS = EVENT_NAMES
#: The values of SQLite's ``PRAGMA synchronous`` a backend accepts.
SYNCHRONOUS_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")


_TEN_YEARS = 10 * 366 * 86_400


def _within(low: int, high: int) -> attrs._ValidatorType[int]:
    """An int from ``low`` to ``high``: bounds keep every sum of times and every stored number
    far from overflow, whatever a shop configures."""

    def check(_: object, attribute: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigurationError(
                f"Config.{attribute.name} must be an int from {low} to {high}, got {value!r}."
            )

    return check


def _power_of_two(_: object, attribute: attrs.Attribute[int], value: int) -> None:
    # Up to 2**17: scrypt at r=8 then needs 128 MiB, under the hasher's memory cap.
    _within(2, 2**17)(_, attribute, value)
    if value & (value - 1):
        raise ConfigurationError(f"Config.{attribute.name} must be a power of two, got {value}.")


def _event_set(value: object) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigurationError(f"Config.mail_events must be a set of event names, not {value!r}.")
    try:
        names = frozenset(value)
    except TypeError:
        raise ConfigurationError("Config.mail_events must hold event names (str).") from None
    if not all(isinstance(name, str) for name in names):
        raise ConfigurationError("Config.mail_events must hold event names (str).")
    return names


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
        purge_batch: how many requests one transaction of ``purge_expired()`` deletes at most,
            so the purge never holds the write lock for long.
    """

    max_quantity: int = attrs.field(default=DEFAULT_MAX_QUANTITY, validator=_within(1, 10**9))
    mail_events: frozenset[str] = attrs.field(
        default=frozenset({"request_submitted"}), converter=_event_set, validator=_mail_events
    )
    mail_from: str = attrs.field(default="torimatome@localhost", validator=_address)
    mail_from_name: str = attrs.field(default="", validator=_display_name)
    mail_charset: str = attrs.field(default="utf-8", validator=_one_of("utf-8", "iso-2022-jp"))
    scrypt_n: int = attrs.field(default=2**14, validator=_power_of_two)
    sqlite_synchronous: str = attrs.field(default="FULL", validator=_one_of(*SYNCHRONOUS_MODES))
    busy_timeout_ms: int = attrs.field(default=10_000, validator=_within(1, 3_600_000))
    mail_retry_base_seconds: int = attrs.field(default=60, validator=_within(1, _TEN_YEARS))
    mail_retry_cap_seconds: int = attrs.field(default=6 * 3600, validator=_within(1, _TEN_YEARS))
    mail_batch: int = attrs.field(default=500, validator=_within(1, 100_000))
    mail_claim_seconds: int = attrs.field(default=600, validator=_within(1, _TEN_YEARS))
    idempotency_ttl_seconds: int = attrs.field(default=86_400, validator=_within(1, _TEN_YEARS))
    purge_batch: int = attrs.field(default=250, validator=_within(1, 100_000))
