"""The application: every public call of torimatome, each in one unit of work.

Each call loads the acting user afresh and checks the restriction matrix first (nothing caches
permissions), validates its input before storage sees it, does its work in one unit of work
(mails go to the outbox in that same unit) and publishes its domain events after commit.
"""

from __future__ import annotations

from typing import Any

from .accounts import Accounts
from .consolidation import Consolidation
from .jobs import Jobs
from .plugins import PluginInfo
from .requesting import Requesting
from .views import Views

__all__ = ["App"]


class App(Accounts, Requesting, Consolidation, Views, Jobs):
    """One torimatome application: storage, plugins, clock and configuration wired together.

    Build it with :func:`torimatome.open`. Every method taking ``actor`` (the acting user's id)
    checks that user's role and active flag afresh on each call.
    """

    #: The reference memory cart (a ``MemoryCart``) that answers when no plugin's cart does;
    #: set by :func:`torimatome.open` (the application layer does not import adapters).
    default_cart: Any = None

    def plugins(self) -> list[PluginInfo]:
        """Every plugin of this application (name, source, version, distribution, hooks), in
        the order a single-answer hook asks them: ``open()`` plugins, entry points, built-ins."""
        return self.pm.describe()

    def close(self) -> None:
        """Release the storage (connections, files)."""
        self.storage.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
