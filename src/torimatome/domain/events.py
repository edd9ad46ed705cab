"""Domain events: collected by application services, published through hooks after commit."""

from __future__ import annotations

import datetime as dt

import attrs

from .roles import Role

__all__ = [
    "EVENT_NAMES",
    "EVENT_TYPES",
    "Event",
    "LineWithdrawn",
    "LinesDecided",
    "LinesOrdered",
    "MessagePosted",
    "RequestSubmitted",
    "UserRegistered",
]


@attrs.frozen(kw_only=True)
class RequestSubmitted:
    name = "request_submitted"
    account_id: str
    request_id: str
    requester_id: str
    line_ids: tuple[str, ...]
    at: dt.datetime


@attrs.frozen(kw_only=True)
class LinesDecided:
    name = "lines_decided"
    account_id: str
    coordinator_id: str
    consolidated: tuple[str, ...]
    held: tuple[str, ...]
    deleted: tuple[str, ...]
    request_ids: tuple[str, ...]
    at: dt.datetime


@attrs.frozen(kw_only=True)
class MessagePosted:
    name = "message_posted"
    account_id: str
    request_id: str
    message_id: str
    author_id: str
    at: dt.datetime


@attrs.frozen(kw_only=True)
class LinesOrdered:
    name = "lines_ordered"
    account_id: str
    coordinator_id: str
    order_id: str
    line_ids: tuple[str, ...]
    request_ids: tuple[str, ...]
    at: dt.datetime


@attrs.frozen(kw_only=True)
class LineWithdrawn:
    name = "line_withdrawn"
    account_id: str
    request_id: str
    line_id: str
    requester_id: str
    at: dt.datetime


@attrs.frozen(kw_only=True)
class UserRegistered:
    name = "user_registered"
    account_id: str
    user_id: str
    role: Role
    at: dt.datetime


Event = (
    RequestSubmitted | LinesDecided | MessagePosted | LinesOrdered | LineWithdrawn | UserRegistered
)

#: Every domain event class; each publishes through the hook ``torimatome_<name>``.
EVENT_TYPES: tuple[type[Event], ...] = (
    RequestSubmitted,
    LinesDecided,
    MessagePosted,
    LinesOrdered,
    LineWithdrawn,
    UserRegistered,
)
EVENT_NAMES = frozenset(event.name for event in EVENT_TYPES)
