"""Calendar arithmetic (DESIGN §1, Retention and date filters): the 15-month window, day ranges."""

from __future__ import annotations

import calendar
import datetime as dt
import os
import time
import zoneinfo
from collections.abc import Callable, Iterator

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from torimatome.domain.dates import (
    day_range,
    local_date,
    months_before,
    start_of_day,
    window_start,
)
from torimatome.domain.errors import InvalidInput

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
JST = dt.timezone(dt.timedelta(hours=9))


@pytest.fixture
def process_timezone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Switch the process's own timezone (``TZ`` + ``time.tzset``); restored afterwards."""

    before = (os.environ.get("TZ"), time.tzname)

    def switch(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()
        # The switch really happened: the process now names the zone it was given.
        assert time.tzname != before[1] or name == "UTC"

    yield switch
    monkeypatch.undo()
    time.tzset()
    assert (os.environ.get("TZ"), time.tzname) == before  # restored for the tests after


# --- months_before -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2027, 2, 28), 15, dt.date(2025, 11, 28)),
        (dt.date(2026, 5, 31), 15, dt.date(2025, 2, 28)),
        (dt.date(2028, 2, 29), 12, dt.date(2027, 2, 28)),
        (dt.date(2025, 5, 31), 15, dt.date(2024, 2, 29)),
        (dt.date(2026, 3, 31), 1, dt.date(2026, 2, 28)),
        (dt.date(2026, 1, 15), 1, dt.date(2025, 12, 15)),
        (dt.date(2026, 12, 31), 12, dt.date(2025, 12, 31)),
        (dt.date(2026, 7, 31), 15, dt.date(2025, 4, 30)),
        (dt.date(2026, 4, 10), 0, dt.date(2026, 4, 10)),
    ],
)
def test_months_before_counts_calendar_months_and_clamps_to_the_month_end(
    day: dt.date, months: int, expected: dt.date
) -> None:
    assert months_before(day, months) == expected


@given(
    st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(9999, 12, 31)),
    st.integers(min_value=0, max_value=120),
)
@example(dt.date(2026, 5, 31), 15)
@example(dt.date(2025, 5, 31), 15)
@example(dt.date(2024, 3, 31), 1)
@example(dt.date(2026, 10, 31), 1)
def test_months_before_always_lands_on_a_valid_day_exactly_that_many_months_back(
    day: dt.date, months: int
) -> None:
    result = months_before(day, months)
    assert type(result) is dt.date
    assert (result.year * 12 + result.month) == (day.year * 12 + day.month) - months
    last = calendar.monthrange(result.year, result.month)[1]
    assert result.day == min(day.day, last)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(9999, 12, 31)))
@example(dt.date(2027, 2, 28))
@example(dt.date(2026, 5, 31))
@example(dt.date(2025, 5, 31))
def test_fifteen_months_before_is_the_retention_rule(day: dt.date) -> None:
    result = months_before(day, 15)
    assert (result.year * 12 + result.month) == (day.year * 12 + day.month) - 15
    assert result.day == min(day.day, calendar.monthrange(result.year, result.month)[1])


# --- window_start --------------------------------------------------------------------------


def test_the_window_starts_at_local_midnight_fifteen_months_before_the_local_day() -> None:
    # 2027-02-28 00:30 in Tokyo is still 2027-02-27 in UTC: the account's day counts.
    now = dt.datetime(2027, 2, 28, 0, 30, tzinfo=JST)
    assert now.astimezone(dt.UTC).date() == dt.date(2027, 2, 27)
    start = window_start(now, TOKYO, 15)
    assert start == dt.datetime(2025, 11, 28, 0, 0, tzinfo=TOKYO)
    assert start == dt.datetime(2025, 11, 27, 15, 0, tzinfo=dt.UTC)
    assert start.utcoffset() == dt.timedelta(0)


def test_the_window_start_does_not_depend_on_how_now_is_expressed() -> None:
    local_now = dt.datetime(2027, 2, 28, 0, 30, tzinfo=JST)
    utc_now = local_now.astimezone(dt.UTC)
    assert window_start(utc_now, TOKYO, 15) == window_start(local_now, TOKYO, 15)


def test_the_window_clamps_the_day_to_the_end_of_a_short_month() -> None:
    now = dt.datetime(2026, 5, 31, 12, 0, tzinfo=TOKYO)
    assert window_start(now, TOKYO, 15) == dt.datetime(2025, 2, 28, tzinfo=TOKYO)


@pytest.mark.parametrize("process_tz", ["America/New_York", "UTC", "Pacific/Kiritimati"])
def test_dates_do_not_depend_on_the_process_timezone(
    process_timezone: Callable[[str], None], process_tz: str
) -> None:
    process_timezone(process_tz)
    now = dt.datetime(2027, 2, 27, 15, 30, tzinfo=dt.UTC)  # 2027-02-28 00:30 in Tokyo
    assert window_start(now, TOKYO, 15) == dt.datetime(2025, 11, 27, 15, 0, tzinfo=dt.UTC)
    assert local_date(now, TOKYO) == dt.date(2027, 2, 28)
    assert day_range(dt.date(2026, 4, 1), dt.date(2026, 4, 30), TOKYO) == (
        dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 30, 15, 0, tzinfo=dt.UTC),
    )


# --- day_range -----------------------------------------------------------------------------


def test_a_day_range_includes_both_days_as_a_half_open_utc_interval() -> None:
    start, end = day_range(dt.date(2026, 4, 1), dt.date(2026, 4, 3), TOKYO)
    assert start == dt.datetime(2026, 4, 1, tzinfo=TOKYO)
    assert end == dt.datetime(2026, 4, 4, tzinfo=TOKYO)
    assert start is not None
    assert end is not None
    assert start.utcoffset() == end.utcoffset() == dt.timedelta(0)
    assert end - start == dt.timedelta(days=3)


def test_a_single_day_range_is_one_whole_local_day() -> None:
    start, end = day_range(dt.date(2026, 4, 1), dt.date(2026, 4, 1), TOKYO)
    assert start == dt.datetime(2026, 3, 31, 15, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 4, 1, 15, 0, tzinfo=dt.UTC)


def test_a_range_whose_start_is_after_its_end_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        day_range(dt.date(2026, 4, 2), dt.date(2026, 4, 1), TOKYO)
    assert caught.value.field == "since"
    assert isinstance(caught.value, ValueError)


def test_open_ends_of_a_day_range_stay_open() -> None:
    assert day_range(None, None, TOKYO) == (None, None)
    start, end = day_range(dt.date(2026, 4, 1), None, TOKYO)
    assert start == dt.datetime(2026, 4, 1, tzinfo=TOKYO)
    assert end is None
    start, end = day_range(None, dt.date(2026, 4, 1), TOKYO)
    assert start is None
    assert end == dt.datetime(2026, 4, 2, tzinfo=TOKYO)


def test_a_range_ending_on_the_last_representable_day_has_no_upper_bound() -> None:
    start, end = day_range(dt.date(2026, 4, 1), dt.date.max, TOKYO)
    assert start == dt.datetime(2026, 4, 1, tzinfo=TOKYO)
    assert end is None


def test_a_day_range_on_the_spring_forward_day_is_twenty_three_hours_long() -> None:
    # New York moved its clocks forward on 2026-03-08.
    start, end = day_range(dt.date(2026, 3, 8), dt.date(2026, 3, 8), NEW_YORK)
    assert start is not None
    assert end is not None
    assert end - start == dt.timedelta(hours=23)
    assert start == dt.datetime(2026, 3, 8, 5, 0, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 3, 9, 4, 0, tzinfo=dt.UTC)


def test_a_day_range_on_the_fall_back_day_is_twenty_five_hours_long() -> None:
    start, end = day_range(dt.date(2026, 11, 1), dt.date(2026, 11, 1), NEW_YORK)
    assert start is not None
    assert end is not None
    assert end - start == dt.timedelta(hours=25)


def test_start_of_day_is_an_aware_utc_instant() -> None:
    start = start_of_day(dt.date(2026, 7, 1), NEW_YORK)
    assert start.tzinfo is not None
    assert start.utcoffset() == dt.timedelta(0)
    assert start == dt.datetime(2026, 7, 1, 4, 0, tzinfo=dt.UTC)
