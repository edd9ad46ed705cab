"""JSON for the memory storage's change feed: one committed unit of work per line.

Rules (beyond cattrs' JSON preset, which writes datetimes as ISO 8601 with their offset and
bytes as base85): ``Decimal`` as a string (exact), message policies tagged by ``"kind"`` as in
SQLite's settings column, keys that are tuples as lists. Each line is an object
``{"changes": [[table, key, value-or-null, deleted], ...]}``; ``CHANGE_TABLES`` gives the value
type of each table and is part of the format.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from cattrs.preconf.json import make_converter
from cattrs.strategies import configure_tagged_union

from ..domain.accounts import Account
from ..domain.errors import StorageError
from ..domain.lines import RequestLine
from ..domain.message_policy import GraphemePolicy, WidthPolicy
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.users import User
from ..ports.storage import IdempotencyRecord, OutboxMail
from .memory_storage import DELETED, Change
from .rows import POLICY_KINDS

__all__ = ["CHANGE_TABLES", "decode_changes", "encode_changes"]

#: Each table of the memory storage and the type of its values.
CHANGE_TABLES: dict[str, Any] = {
    "accounts": Account,
    "users": User,
    "logins": str,
    "passwords": str,
    "requests": OrderRequest,
    "lines": RequestLine,
    "request_lines": tuple[str, ...],
    "messages": Message,
    "threads": list[str],
    "outbox": OutboxMail,
    "mail_order": int,
    "idempotency": IdempotencyRecord,
}
#: Tables whose keys are tuples (JSON has only lists).
_TUPLE_KEYS = frozenset({"idempotency"})

_converter = make_converter()
configure_tagged_union(
    WidthPolicy | GraphemePolicy,
    _converter,
    tag_generator=POLICY_KINDS.__getitem__,
    tag_name="kind",
)
_converter.register_unstructure_hook(Decimal, str)
_converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))


def encode_changes(changes: Sequence[Change]) -> str:
    """One JSON line (no newline inside) for the changes of one committed unit of work."""
    rows = []
    for change in changes:
        if change.table not in CHANGE_TABLES:
            raise StorageError(f"Unknown table {change.table!r} in a change.")
        deleted = change.value is DELETED
        value = None if deleted else _converter.unstructure(change.value)
        rows.append([change.table, _converter.unstructure(change.key), value, deleted])
    return json.dumps({"changes": rows}, ensure_ascii=False, separators=(",", ":"))


def decode_changes(line: str) -> list[Change]:
    """The changes :func:`encode_changes` wrote; a malformed line is a :class:`StorageError`."""
    try:
        rows = json.loads(line)["changes"]
        changes = []
        for table, key, value, deleted in rows:
            kind = CHANGE_TABLES[table]
            if table in _TUPLE_KEYS:
                key = tuple(key)
            value = DELETED if deleted else _converter.structure(value, kind)
            changes.append(Change(table, key, value))
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"A change line could not be read: {exc!r}") from exc
    return changes
