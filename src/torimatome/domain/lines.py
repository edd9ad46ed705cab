"""Request lines and their lifecycle: the only legal moves between states.

The table ``TRANSITIONS`` is the lifecycle of DESIGN §1; every move not in it is
:class:`InvalidTransition`. Moves return a new line with its version moved on; they do no I/O.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Any

import attrs

from .errors import InvalidTransition
from .labels import STATUS_EN, STATUS_JA

__all__ = ["OPEN_STATUSES", "PENDING_STATUSES", "TRANSITIONS", "Act", "LineStatus", "RequestLine"]


class LineStatus(enum.StrEnum):
    REQUESTED = "requested"
    ON_HOLD = "on_hold"
    CONSOLIDATED = "consolidated"
    ORDERED = "ordered"
    DELETED = "deleted"
    WITHDRAWN = "withdrawn"

    @property
    def label_ja(self) -> str:
        return STATUS_JA[self.value]

    @property
    def label_en(self) -> str:
        return STATUS_EN[self.value]

    def label(self, locale: str) -> str:
        return self.label_ja if locale == "ja" else self.label_en


#: Lines that wait for the coordinator (the pending list).
PENDING_STATUSES = frozenset({LineStatus.REQUESTED, LineStatus.ON_HOLD})
#: Lines that keep their request open (live work that retention never hides).
OPEN_STATUSES = frozenset({LineStatus.REQUESTED, LineStatus.ON_HOLD, LineStatus.CONSOLIDATED})


class Act(enum.StrEnum):
    HOLD = "hold"
    CONSOLIDATE = "consolidate"
    DELETE = "delete"
    WITHDRAW = "withdraw"
    RELEASE = "release"
    ORDER = "order"


S, A = LineStatus, Act
TRANSITIONS: dict[tuple[LineStatus, Act], LineStatus] = {
    (S.REQUESTED, A.HOLD): S.ON_HOLD,
    (S.REQUESTED, A.CONSOLIDATE): S.CONSOLIDATED,
    (S.REQUESTED, A.DELETE): S.DELETED,
    (S.REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.ON_HOLD, A.HOLD): S.ON_HOLD,
    (S.ON_HOLD, A.CONSOLIDATE): S.CONSOLIDATED,
    (S.ON_HOLD, A.DELETE): S.DELETED,
    (S.ON_HOLD, A.WITHDRAW): S.WITHDRAWN,
    (S.CONSOLIDATED, A.RELEASE): S.REQUESTED,
    (S.CONSOLIDATED, A.ORDER): S.ORDERED,
}
del S, A


@attrs.frozen
class RequestLine:
    """One requested product: what, how many, at what price, and where it is in its life."""

    id: str
    request_id: str
    account_id: str
    requester_id: str
    position: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    status: LineStatus = LineStatus.REQUESTED
    version: int = 1
    cart_ref: str | None = None
    order_id: str | None = None
    order_status: str | None = None
    decided_by: str | None = None
    decided_at: dt.datetime | None = None

    @property
    def pending(self) -> bool:
        return self.status in PENDING_STATUSES

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity

    def can(self, act: Act) -> bool:
        return (self.status, act) in TRANSITIONS

    def move(self, act: Act, **changes: Any) -> RequestLine:
        """The line after ``act``, or :class:`InvalidTransition` if the lifecycle forbids it."""
        target = TRANSITIONS.get((self.status, act))
        if target is None:
            raise InvalidTransition(self.id, self.status.value, act.value)
        return attrs.evolve(self, status=target, version=self.version + 1, **changes)

    def with_order_status(self, order_status: str) -> RequestLine:
        """Ordered lines keep taking the shop's later order-status texts (shipped...)."""
        if self.status is not LineStatus.ORDERED:
            raise InvalidTransition(self.id, self.status.value, "order_status")
        return attrs.evolve(self, order_status=order_status, version=self.version + 1)
