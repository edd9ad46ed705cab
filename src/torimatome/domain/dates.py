"""Calendar arithmetic in the account's timezone: the 15-month window and day filters.

Everything returns aware UTC instants; nothing depends on the process's own timezone.
"""

from __future__ import annotations

import calendar as _cal
import datetime as dt
import zoneinfo

from .errors import InvalidInput

__all__ = [
    "day_range",
    "from_micros",
    "local_date",
    "months_before",
    "start_of_day",
    "to_micros",
    "window_start",
]

UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def to_micros(instant: dt.datetime) -> int:
    """Microseconds since the epoch (UTC), exact whatever the instant's own zone; the integer
    form in which instants are stored and put in cursors."""
    return (instant - _EPOCH) // _MICROSECOND


def from_micros(value: int) -> dt.datetime:
    """The aware UTC instant ``value`` microseconds after the epoch."""
    return _EPOCH + dt.timedelta(microseconds=value)


def months_before(day: dt.date, months: int) -> dt.date:
    """``day`` minus ``months`` calendar months, the day clamped to the month's end.

    2027-02-28 minus 15 months is 2025-11-28; 2026-05-31 minus 15 is 2025-02-28.
    """
    index = day.year * 12 + (day.month - 1) - months
    year, month0 = divmod(index, 12)
    last = _cal.monthrange(year, month0 + 1)[1]
    return dt.date(year, month0 + 1, min(day.day, last))


def local_date(instant: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.date:
    return instant.astimezone(zone).date()


def start_of_day(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The UTC instant at which ``day`` begins in ``zone`` (midnight, or the first instant
    after a gap)."""
    local = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    return local.astimezone(UTC)


def window_start(now: dt.datetime, zone: zoneinfo.ZoneInfo, months: int) -> dt.datetime:
    """The first instant of the retention window: today (in ``zone``) minus ``months``."""
    return start_of_day(months_before(local_date(now, zone), months), zone)


def day_range(
    since: dt.date | None, until: dt.date | None, zone: zoneinfo.ZoneInfo
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Calendar days ``since``..``until`` (both inclusive) as a half-open UTC interval."""
    if since is not None and until is not None and since > until:
        raise InvalidInput(
            f"since ({since}) is after until ({until}).",
            ja="期間の開始日が終了日より後になっています",
            field="since",
        )
    start = start_of_day(since, zone) if since is not None else None
    end = None
    if until is not None:
        end = start_of_day(until + dt.timedelta(days=1), zone) if until < dt.date.max else None
    return start, end
