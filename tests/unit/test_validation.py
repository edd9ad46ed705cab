"""Input validators (DESIGN §1, Rules): bad values are InvalidInput before storage sees them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from torimatome.domain.errors import InvalidInput
from torimatome.domain.validation import (
    DEFAULT_MAX_QUANTITY,
    MAX_PRICE,
    check_bool,
    check_date,
    check_email,
    check_id,
    check_idempotency_key,
    check_limit,
    check_login_id,
    check_price,
    check_quantity,
    check_text,
)

# --- quantity ------------------------------------------------------------------------------


def test_the_default_maximum_quantity_is_9999() -> None:
    assert DEFAULT_MAX_QUANTITY == 9999


@pytest.mark.parametrize("value", [1, 2, 9998, 9999])
def test_whole_quantities_from_one_to_the_maximum_pass(value: int) -> None:
    assert check_quantity(value) == value


@pytest.mark.parametrize(
    "value",
    [0, -1, 10_000, 10**30, 1.0, 2.5, "2", True, False, None, Decimal("2"), [2], 2j],
    ids=repr,
)
def test_anything_else_is_not_a_quantity(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_quantity(value)
    assert isinstance(caught.value, ValueError)
    assert caught.value.field == "quantity"


def test_a_custom_maximum_quantity_is_honoured() -> None:
    assert check_quantity(12, maximum=12) == 12
    with pytest.raises(InvalidInput):
        check_quantity(13, maximum=12)
    assert check_quantity(50_000, maximum=100_000) == 50_000


@given(
    st.one_of(
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(),
        st.none(),
        st.booleans(),
        st.decimals(allow_nan=True, allow_infinity=True),
    )
)
def test_check_quantity_returns_an_int_in_range_or_raises_invalid_input(value: object) -> None:
    try:
        result = check_quantity(value)
    except InvalidInput:
        return
    assert type(result) is int
    assert 1 <= result <= DEFAULT_MAX_QUANTITY
    assert result == value


# --- price ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("398"), Decimal("398")),
        (Decimal("0"), Decimal("0")),
        (Decimal("12.3456"), Decimal("12.3456")),
        (MAX_PRICE, MAX_PRICE),
        (120, Decimal("120")),
        (0, Decimal("0")),
    ],
)
def test_decimal_and_int_prices_pass(value: object, expected: Decimal) -> None:
    result = check_price(value)
    assert type(result) is Decimal
    assert result == expected


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        100.0,
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        Decimal("-1"),
        -1,
        Decimal("1000000000000.0001"),
        Decimal("1000000000001"),
        10**13,
        Decimal("1.00001"),
        True,
        False,
        "100",
        None,
    ],
    ids=repr,
)
def test_anything_else_is_not_a_price(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_price(value)
    assert caught.value.field == "unit_price"


# --- email ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["taro@example.co.jp", "a.b+c@example.com", "x@y", "TARO@EXAMPLE.JP"]
)
def test_plain_addresses_pass(value: str) -> None:
    assert check_email(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "taro@example.com\r\nBcc: evil@example.com",
        "taro@example.com\n",
        "taro\r@example.com",
        "ta\x00ro@example.com",
        "ta\x07ro@example.com",
        "ta\x1bro@example.com",
        "ta\x7fro@example.com",
        "ta\x85ro@example.com",
        "ta\tro@example.com",
        "taro @example.com",
        "taro@exa mple.com",
        "taro.example.com",
        "taro@@example.com",
        "@example.com",
        "taro@",
        "たろう@example.com",
        "taro@例え.jp",
        "a" * 250 + "@example.com",
        "",
    ],
    ids=repr,
)
def test_addresses_that_could_break_a_mail_header_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput):
        check_email(value, allow_empty=False)


def test_an_empty_address_is_allowed_only_when_asked() -> None:
    assert check_email("") == ""
    assert check_email("", allow_empty=True) == ""
    with pytest.raises(InvalidInput):
        check_email("", allow_empty=False)


@pytest.mark.parametrize("value", [None, 1, b"taro@example.com"], ids=repr)
def test_an_address_must_be_a_str(value: object) -> None:
    with pytest.raises(InvalidInput):
        check_email(value)


# --- login id ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["abc", "taro.yamada", "t_01", "user@office", "a-b", "0123", "a" * 64]
)
def test_login_ids_of_ascii_letters_digits_and_a_few_marks_pass(value: str) -> None:
    assert check_login_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["ab", "a" * 65, ".abc", "-abc", "_abc", "ab c", "abc\n", "ab\x00c", "たろう", "ａｂｃ", ""],
    ids=repr,
)
def test_other_login_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_login_id(value)
    assert caught.value.field == "login_id"


def test_a_login_id_must_be_a_str() -> None:
    with pytest.raises(InvalidInput):
        check_login_id(123)


# --- text ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["a\rb", "a\nb", "a\r\nb", "a\x00b", "a\u202eb", "a\u2028b", "a\x1bb"],
    ids=repr,
)
def test_check_text_refuses_line_breaks_and_control_characters(value: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_text(value, "nickname", max_length=100)
    assert caught.value.field == "nickname"


def test_check_text_refuses_an_over_long_text() -> None:
    assert check_text("あ" * 10, "name", max_length=10) == "あ" * 10
    with pytest.raises(InvalidInput):
        check_text("あ" * 11, "name", max_length=10)


def test_check_text_keeps_the_text_exactly_as_given() -> None:
    # Only messages are NFC-normalised; a SKU or a name may be matched byte for byte.
    decomposed = "Cafe\u0301 カ\u3099"
    assert check_text(decomposed, "name", max_length=8) == decomposed
    with pytest.raises(InvalidInput):
        check_text(decomposed, "name", max_length=7)


def test_check_text_can_refuse_a_blank_text() -> None:
    assert check_text("", "name", max_length=10) == ""
    with pytest.raises(InvalidInput):
        check_text("   ", "name", max_length=10, allow_empty=False)


def test_check_text_may_allow_line_breaks() -> None:
    assert check_text("a\nb", "body", max_length=10, allow_line_breaks=True) == "a\nb"


@pytest.mark.parametrize("value", [None, 1, b"abc", ["abc"]], ids=repr)
def test_check_text_wants_a_str(value: object) -> None:
    with pytest.raises(InvalidInput):
        check_text(value, "name", max_length=10)


# --- dates, bools, ids, limits, keys -------------------------------------------------------


def test_check_date_accepts_a_date_or_none() -> None:
    assert check_date(dt.date(2026, 4, 1), "since") == dt.date(2026, 4, 1)
    assert check_date(None, "since") is None


@pytest.mark.parametrize(
    "value",
    [dt.datetime(2026, 4, 1), dt.datetime(2026, 4, 1, tzinfo=dt.UTC), "2026-04-01", 20260401],
    ids=repr,
)
def test_check_date_refuses_a_datetime_and_other_non_dates(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_date(value, "since")
    assert caught.value.field == "since"


def test_check_bool_accepts_only_bools() -> None:
    assert check_bool(True, "news_mail") is True
    assert check_bool(False, "news_mail") is False
    for value in (1, 0, "true", None):
        with pytest.raises(InvalidInput):
            check_bool(value, "news_mail")


def test_check_id_accepts_short_clean_strings_only() -> None:
    assert check_id("R-1", "request_id") == "R-1"
    for value in ("", "x" * 65, "a\nb", 1, None):
        with pytest.raises(InvalidInput):
            check_id(value, "request_id")


def test_check_limit_accepts_one_to_the_maximum() -> None:
    assert check_limit(1) == 1
    assert check_limit(500) == 500
    for value in (0, 501, True, 1.0, "10"):
        with pytest.raises(InvalidInput):
            check_limit(value)


def test_an_idempotency_key_is_optional_short_ascii_without_controls() -> None:
    assert check_idempotency_key(None) is None
    assert check_idempotency_key("k-1") == "k-1"
    for value in ("", "k" * 129, "キー", "k\n1", "k\x00", 1):
        with pytest.raises(InvalidInput):
            check_idempotency_key(value)
