"""Order requests (注文依頼): what an internal user asks the coordinator to buy."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from decimal import Decimal

import attrs

from .errors import InvalidInput
from .lines import OPEN_STATUSES, RequestLine
from .validation import check_price, check_quantity, check_text

__all__ = ["MAX_LINES_PER_REQUEST", "NewLine", "OrderRequest", "is_closed", "validate_lines"]

MAX_LINES_PER_REQUEST = 200


@attrs.frozen(kw_only=True)
class NewLine:
    """One product a requester asks for, with the price the shop shows now."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@attrs.frozen
class OrderRequest:
    """A submitted request: immutable except for its lines' states."""

    id: str
    account_id: str
    requester_id: str
    submitted_at: dt.datetime
    message: str
    lines: tuple[RequestLine, ...]
    idempotency_key: str | None = None

    @property
    def closed(self) -> bool:
        return is_closed(self.lines)

    @property
    def decided(self) -> bool:
        return any(line.decided_at is not None for line in self.lines)


def is_closed(lines: Iterable[RequestLine]) -> bool:
    """Closed when every line is ordered, deleted or withdrawn (nothing left to do)."""
    return all(line.status not in OPEN_STATUSES for line in lines)


def validate_lines(lines: object, *, max_quantity: int) -> list[NewLine]:
    """Check a submitted cart: 1..200 :class:`NewLine` values, each field in range."""
    if isinstance(lines, str | bytes) or not isinstance(lines, Sequence):
        raise InvalidInput("lines must be a list of NewLine.", field="lines")
    # Copy at most one line too many: a sequence whose len() lies cannot smuggle in more.
    try:
        lines = list(itertools.islice(iter(lines), MAX_LINES_PER_REQUEST + 1))
    except Exception:
        raise InvalidInput("lines could not be read as a list.", field="lines") from None
    if not 1 <= len(lines) <= MAX_LINES_PER_REQUEST:
        raise InvalidInput(
            f"A request has 1 to {MAX_LINES_PER_REQUEST} lines; got {len(lines)}.",
            ja=f"依頼できる商品は1〜{MAX_LINES_PER_REQUEST}件です",
            field="lines",
        )
    out = []
    for line in lines:
        if not isinstance(line, NewLine):
            raise InvalidInput(
                f"Each line must be a NewLine, got {type(line).__name__}.", field="lines"
            )
        out.append(
            NewLine(
                sku=check_text(line.sku, "sku", max_length=64, allow_empty=False),
                name=check_text(line.name, "name", max_length=200, allow_empty=False),
                quantity=check_quantity(line.quantity, maximum=max_quantity),
                unit_price=check_price(line.unit_price),
            )
        )
    return out
