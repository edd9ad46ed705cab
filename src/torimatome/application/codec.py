"""The one JSON converter of the application layer (idempotent replays, cursors).

Rules: datetimes as ISO 8601 with offset, Decimals as strings (exact), enums by value, attrs
classes as objects; everything else as cattrs' JSON preset does it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from decimal import Decimal
from typing import Any

from cattrs.preconf.json import JsonConverter, make_converter

from ..domain.dates import from_micros, to_micros
from ..domain.errors import InvalidInput

__all__ = ["converter", "decode_cursor", "encode_cursor", "fingerprint"]

converter: JsonConverter = make_converter()
converter.register_unstructure_hook(Decimal, str)
converter.register_structure_hook(Decimal, lambda value, _: Decimal(value))


def fingerprint(payload: Any) -> str:
    """A stable digest of a call's payload, to tell a retry from a different request."""
    text = json.dumps(converter.unstructure(payload), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def encode_cursor(submitted_at: dt.datetime, request_id: str) -> str:
    raw = f"{to_micros(submitted_at)}:{request_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: object) -> tuple[dt.datetime, str] | None:
    """The (submitted_at, id) a cursor points after; a malformed cursor is InvalidInput."""
    if cursor is None:
        return None
    if not isinstance(cursor, str) or not 1 <= len(cursor) <= 200:
        raise InvalidInput("cursor must be a string returned as next_cursor.", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        micros_text, request_id = raw.split(":", 1)
        at = from_micros(int(micros_text))
    except (ValueError, binascii.Error, UnicodeDecodeError, OverflowError):
        raise InvalidInput("cursor is not one this library issued.", field="cursor") from None
    if not request_id or len(request_id) > 64:
        raise InvalidInput("cursor is not one this library issued.", field="cursor")
    return at, request_id
