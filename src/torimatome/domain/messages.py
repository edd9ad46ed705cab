"""Messages (伝言メッセージ) on a request's thread: never passed to the cart or the order."""

from __future__ import annotations

import datetime as dt

import attrs

__all__ = ["Message"]


@attrs.frozen
class Message:
    """One post: its author is the acting user, whose current name views show."""

    id: str
    request_id: str
    author_id: str
    body: str
    posted_at: dt.datetime
    author_name: str = ""
