"""The shapes the public API returns (their field names are part of the contract)."""

from __future__ import annotations

import datetime as dt
from typing import Generic, TypeVar

import attrs

from .accounts import Account
from .cart import CartRef, PriceChange
from .lines import RequestLine
from .messages import Message
from .users import User

__all__ = [
    "Decision",
    "DeliveryReport",
    "Page",
    "PendingGroup",
    "PurgeReport",
    "Registration",
    "RequestView",
]

T = TypeVar("T")


@attrs.frozen
class Registration:
    """A registered user and their one-time initial password (shown once, never stored)."""

    account: Account
    user: User
    password: str = attrs.field(repr=False)


@attrs.frozen
class RequestView:
    """A request as a screen shows it: its lines, the requester's current name, the thread."""

    id: str
    account_id: str
    requester_id: str
    submitted_at: dt.datetime
    message: str
    lines: tuple[RequestLine, ...]
    requester_name: str = ""
    thread: tuple[Message, ...] = ()


@attrs.frozen
class PendingGroup:
    """One requester's lines on the coordinator's pending list (注文とりまとめ画面)."""

    requester_id: str
    requester_name: str
    lines: tuple[RequestLine, ...]


@attrs.frozen
class Decision:
    """What a decide batch did: line ids per choice, the cart's refs and every price drift."""

    consolidated: tuple[str, ...]
    held: tuple[str, ...]
    deleted: tuple[str, ...]
    cart_refs: tuple[CartRef, ...] = ()
    price_changes: tuple[PriceChange, ...] = ()


@attrs.frozen
class Page(Generic[T]):
    """One page of results; pass ``next_cursor`` back to get the next (None on the last)."""

    items: tuple[T, ...]
    next_cursor: str | None = None


@attrs.frozen
class PurgeReport:
    """What a purge deleted (or, with ``dry_run``, would delete) and the open requests it kept."""

    requests: int = 0
    lines: int = 0
    messages: int = 0
    mails: int = 0
    kept_open: int = 0
    dry_run: bool = False


@attrs.frozen
class DeliveryReport:
    """What one ``deliver_mail()`` run did; ``reason`` explains failures or a missing transport."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    reason: str | None = None
