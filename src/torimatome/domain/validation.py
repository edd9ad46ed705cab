"""Small validators for values that cross the public API.

Each raises :class:`InvalidInput` naming the field and what was wrong, before storage sees the
value. They accept exactly the documented types: a ``bool`` is not a quantity, a ``float`` is not
a price (binary fractions are not yen).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

from .errors import InvalidInput
from .text import forbidden_character

__all__ = [
    "DEFAULT_MAX_QUANTITY",
    "LOGIN_ID_PATTERN",
    "MAX_PRICE",
    "check_bool",
    "check_date",
    "check_email",
    "check_id",
    "check_idempotency_key",
    "check_limit",
    "check_login_id",
    "check_price",
    "check_quantity",
    "check_text",
    "plain_int",
    "plain_str",
]

DEFAULT_MAX_QUANTITY = 9999
MAX_PRICE = Decimal("1000000000000")  # a trillion yen per unit is past any catalogue
MAX_ID_LENGTH = 64
MIN_DATE = dt.date(1900, 1, 1)
MAX_DATE = dt.date(9998, 12, 31)

#: Login IDs: 3-64 characters, ASCII letters, digits and ``. _ @ -``, starting with a letter or
#: digit. ASCII only, so a login ID cannot hide a look-alike or a control character.
LOGIN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{2,63}")
# RFC 5322 dot-atom local part: an address a mail header carries unquoted, so the address a
# transport reads back is exactly the one stored.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_EMAIL_PATTERN = re.compile(
    rf"(?=[^@]{{1,64}}@){_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9](?:[A-Za-z0-9.-]{{0,251}}[A-Za-z0-9])?"
)


def plain_str(value: str) -> str:
    """An exact ``str`` with the same characters: a subclass with its own ``__eq__``,
    ``__hash__`` or ``__str__`` must not travel into storage or dictionary keys."""
    return value if type(value) is str else str.__str__(value)


def plain_int(value: int) -> int:
    """An exact ``int`` with the same value, whatever comparisons a subclass overrides."""
    return value if type(value) is int else int.__index__(value)


def _type_error(field: str, expected: str, value: object) -> InvalidInput:
    return InvalidInput(
        f"{field} must be {expected}, got {type(value).__name__} {_short(value)}.",
        ja=f"入力内容が正しくありません（{field}）",
        field=field,
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_id(value: object, field: str) -> str:
    """An object id as the caller passed it: a non-empty str of at most 64 characters."""
    if not isinstance(value, str):
        raise _type_error(field, "an id (str)", value)
    if not value or len(value) > MAX_ID_LENGTH:
        raise InvalidInput(f"{field} is not a valid id: {_short(value)}.", field=field)
    if forbidden_character(value, allow_line_breaks=False):
        raise InvalidInput(f"{field} is not a valid id: {_short(value)}.", field=field)
    return plain_str(value)


def check_text(
    value: object,
    field: str,
    *,
    max_length: int,
    allow_empty: bool = True,
    allow_line_breaks: bool = False,
) -> str:
    """A short free text (name, profile field): no control characters, bounded length.

    Stored exactly as given: only messages are NFC-normalised (a SKU or a name may be matched
    byte for byte by the shop)."""
    if not isinstance(value, str):
        raise _type_error(field, "a str", value)
    if len(value) > max_length:  # before any scan: a 10 MB name costs nothing to refuse
        raise InvalidInput(
            f"{field} must be at most {max_length} characters; it has {len(value)}.",
            ja=f"{field} は{max_length}文字以内で入力してください（現在 {len(value)}）",
            field=field,
        )
    bad = forbidden_character(value, allow_line_breaks=allow_line_breaks)
    if bad:
        raise InvalidInput(
            f"{field} contains a forbidden character: {bad}.",
            ja=f"{field} に使用できない文字が含まれています（{bad}）",
            field=field,
        )
    text = plain_str(value)
    if not allow_empty and not text.strip():
        raise InvalidInput(
            f"{field} must not be empty.", ja=f"{field} を入力してください", field=field
        )
    return text


def check_bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise _type_error(field, "a bool", value)
    return value


def check_quantity(value: object, *, maximum: int = DEFAULT_MAX_QUANTITY) -> int:
    """A whole number from 1 to ``maximum``; bools, floats, strings and Decimals are refused."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error("quantity", "a whole number (int)", value)
    number = plain_int(value)
    if not 1 <= number <= maximum:
        raise InvalidInput(
            f"quantity must be from 1 to {maximum}; got {_short(number)}.",
            ja=f"数量は1から{maximum}までの整数で入力してください",
            field="quantity",
        )
    return number


def check_price(value: object, field: str = "unit_price") -> Decimal:
    """A finite, non-negative ``Decimal`` (or ``int``) of at most 4 decimal places."""
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise _type_error(field, "a Decimal (or an int)", value)
    try:
        price = Decimal(value)
        if not price.is_finite():
            raise InvalidOperation
        exponent = price.as_tuple().exponent
    except InvalidOperation:
        raise InvalidInput(f"{field} must be a finite amount.", field=field) from None
    if price < 0 or price > MAX_PRICE:
        raise InvalidInput(f"{field} must be from 0 to {MAX_PRICE}.", field=field)
    if isinstance(exponent, int) and exponent < -4:
        raise InvalidInput(f"{field} has more than 4 decimal places.", field=field)
    return price


def check_email(value: object, field: str = "email", *, allow_empty: bool = True) -> str:
    """An address that can go in a mail header: no spaces, no control characters, one ``@``."""
    if not isinstance(value, str):
        raise _type_error(field, "a str", value)
    if value == "" and allow_empty:
        return value
    bad = forbidden_character(value, allow_line_breaks=False)
    if bad or len(value) > 254 or not value.isascii() or not _EMAIL_PATTERN.fullmatch(value):
        raise InvalidInput(
            f"{field} is not a valid e-mail address: {_short(value)}.",
            ja="E-mailアドレスの形式が正しくありません",
            field=field,
        )
    return value


def check_login_id(value: object) -> str:
    if not isinstance(value, str):
        raise _type_error("login_id", "a str", value)
    if not LOGIN_ID_PATTERN.fullmatch(value):
        raise InvalidInput(
            "login_id must be 3-64 ASCII letters, digits or . _ @ -, starting with a letter "
            f"or digit; got {_short(value)}.",
            ja="ログインIDは半角英数字と . _ @ - の3〜64文字で入力してください",
            field="login_id",
        )
    return value


def check_idempotency_key(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.isascii() or not 1 <= len(value) <= 128:
        raise InvalidInput(
            "idempotency_key must be 1-128 ASCII characters.", field="idempotency_key"
        )
    if forbidden_character(value, allow_line_breaks=False):
        raise InvalidInput("idempotency_key contains a control character.", field="idempotency_key")
    return plain_str(value)


def check_date(value: object, field: str) -> dt.date | None:
    """A calendar day (``datetime.date``, not ``datetime``: a day has no time of its own)
    between the years 1900 and 9998, so that every day has an instant in every zone."""
    if value is None:
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        raise _type_error(field, "a datetime.date", value)
    if not MIN_DATE <= value <= MAX_DATE:
        raise InvalidInput(
            f"{field} must be between {MIN_DATE} and {MAX_DATE}.",
            ja=f"日付は{MIN_DATE}から{MAX_DATE}までの範囲で指定してください",
            field=field,
        )
    return dt.date(value.year, value.month, value.day)


def check_limit(value: object, *, maximum: int = 500) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"limit must be an int from 1 to {maximum}.", field="limit")
    number = plain_int(value)
    if not 1 <= number <= maximum:
        raise InvalidInput(f"limit must be an int from 1 to {maximum}.", field="limit")
    return number
