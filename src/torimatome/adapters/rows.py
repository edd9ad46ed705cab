"""The cattrs converters between domain values and storage rows (and the JSON columns in them).

Serialisation lives here, at the edge, so the domain classes never grow ``to_dict`` methods.
``ROWS`` turns a value into a dict of column values keyed by field name, and a row (a dict)
back into the value. Its rules, one per column type:

- aware ``datetime`` ↔ INTEGER microseconds since the Unix epoch in UTC, read back as an aware
  UTC datetime; a naive datetime is refused (its instant is unknown);
- ``Decimal`` ↔ TEXT through ``str()``, so ``Decimal("12.50")`` keeps its exponent;
- ``bool`` ↔ INTEGER 0/1; enums (``Role``, ``LineStatus``) ↔ their values;
- ``AccountSettings`` ↔ a JSON TEXT written by ``JSON``;
- ``OrderRequest`` rows leave out ``lines`` (they live in their own table); a request is
  structured from its header row plus ``"lines"``: a list of line rows.

``JSON`` writes account settings; its one rule beyond cattrs' JSON defaults is the message
policy, a tagged union whose ``"kind"`` is ``"width"`` or ``"grapheme"`` — stable names chosen
here rather than class names, so renaming a class never orphans stored settings.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, TypeVar

import cattrs
from cattrs.gen import make_dict_unstructure_fn, override
from cattrs.preconf.json import JsonConverter
from cattrs.preconf.json import make_converter as make_json_converter
from cattrs.strategies import configure_tagged_union

from ..domain import dates
from ..domain.accounts import AccountSettings
from ..domain.errors import StorageError
from ..domain.lines import LineStatus, RequestLine
from ..domain.message_policy import GraphemePolicy, WidthPolicy
from ..domain.requests import OrderRequest
from ..domain.roles import Role

__all__ = [
    "JSON",
    "POLICY_KINDS",
    "ROWS",
    "from_micros",
    "from_row",
    "settings_from_json",
    "settings_to_json",
    "to_micros",
    "to_row",
]

T = TypeVar("T")


#: The stored tag of each message policy class (part of the on-disk format: never rename).
POLICY_KINDS: dict[type, str] = {WidthPolicy: "width", GraphemePolicy: "grapheme"}


def to_micros(value: dt.datetime) -> int:
    """Microseconds since the epoch in UTC; a naive value is refused (its instant is unknown)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise StorageError(f"A naive datetime cannot be stored (its instant is unknown): {value}.")
    return dates.to_micros(value)


from_micros = dates.from_micros


def _make_json() -> JsonConverter:
    converter = make_json_converter()
    configure_tagged_union(
        WidthPolicy | GraphemePolicy,
        converter,
        tag_generator=POLICY_KINDS.__getitem__,
        tag_name="kind",
    )
    return converter


JSON = _make_json()


def settings_to_json(settings: AccountSettings) -> str:
    text: str = JSON.dumps(settings, ensure_ascii=False, sort_keys=True)
    return text


def settings_from_json(text: str) -> AccountSettings:
    try:
        settings: AccountSettings = JSON.loads(text, AccountSettings)
    except Exception as exc:  # any decoding failure means the stored row is unusable
        raise StorageError(f"Stored account settings are unreadable: {exc}") from exc
    return settings


def _make_rows() -> cattrs.Converter:
    # detailed_validation off: a broken row is reported as one StorageError by from_row, and
    # the plain path is faster on every read.
    converter = cattrs.Converter(detailed_validation=False)
    converter.register_unstructure_hook(dt.datetime, to_micros)
    converter.register_structure_hook(dt.datetime, lambda value, _: from_micros(value))
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))
    converter.register_unstructure_hook(bool, int)
    # StrEnums would otherwise pass through as str subclasses (str precedes Enum in their
    # MRO); the driver gets plain values.
    for enum_cls in (Role, LineStatus):
        converter.register_unstructure_hook(enum_cls, lambda value: value.value)
    converter.register_structure_hook(bool, lambda value, _: bool(value))
    converter.register_unstructure_hook(AccountSettings, settings_to_json)
    converter.register_structure_hook(AccountSettings, lambda value, _: settings_from_json(value))
    converter.register_unstructure_hook(
        OrderRequest,
        make_dict_unstructure_fn(OrderRequest, converter, lines=override(omit=True)),
    )
    # Reading is the hot path (a history page structures hundreds of lines). The tables are
    # STRICT, so nullable TEXT and INTEGER columns already hold str, int or None: they pass
    # through instead of taking cattrs' generic dispatch for each optional value, and a
    # request's lines are structured in one loop.
    # The StrEnums are read by table lookup (an Enum call costs more than the rest of a field).
    for enum_cls in (Role, LineStatus):
        members = {member.value: member for member in enum_cls}
        converter.register_structure_hook(enum_cls, lambda value, _, m=members: m[value])
    for optional in (str | None, int | None):
        converter.register_structure_hook(optional, _same)
    converter.register_structure_hook(
        dt.datetime | None, lambda value, _: None if value is None else from_micros(value)
    )
    converter.register_structure_hook_func(
        lambda cls: cls == tuple[RequestLine, ...],
        lambda rows, _: tuple([converter.structure(row, RequestLine) for row in rows]),
    )
    return converter


def _same(value: Any, _: object) -> Any:
    return value


ROWS = _make_rows()


def to_row(value: Any) -> dict[str, Any]:
    """The column values of ``value`` keyed by field name."""
    row: dict[str, Any] = ROWS.unstructure(value)
    return row


def from_row(row: dict[str, Any], cls: type[T]) -> T:
    """The value of type ``cls`` stored in ``row``; a row that does not fit is a StorageError."""
    try:
        return ROWS.structure(row, cls)
    except StorageError:
        raise
    except Exception as exc:  # a row that no longer fits the value is corrupt storage
        raise StorageError(f"A stored {cls.__name__} is unreadable: {exc!r}") from exc
