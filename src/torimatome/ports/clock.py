"""The clock port: a callable returning an aware ``datetime`` (the app's "now")."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

__all__ = ["Clock", "system_clock"]

Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
