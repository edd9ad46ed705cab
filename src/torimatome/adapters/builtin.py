"""The built-in plugin: registers the reference adapters through the public hooks.

Everything here is ``trylast``, so a shop's or a third party's plugin answers first.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from ..domain.cart import CartEntry, CartRef
from ..domain.events import LinesOrdered
from ..ports.config import Config
from ..ports.hookspecs import StorageRegistry, hookimpl
from ..ports.storage import Storage
from .memory_cart import MemoryCart

__all__ = ["DefaultCart", "open_memory", "open_sqlite", "torimatome_register_storage"]

log = logging.getLogger("torimatome")


def open_memory(url: str, config: Config) -> Storage:
    from .memory_storage import MemoryStorage

    return MemoryStorage.from_url(url, config)


def open_sqlite(url: str, config: Config) -> Storage:
    from .sqlite_storage import SqliteStorage

    return SqliteStorage.from_url(url, config)


@hookimpl(trylast=True)
def torimatome_register_storage(registry: StorageRegistry) -> None:
    registry.add("memory", open_memory)
    registry.add("sqlite", open_sqlite)


class DefaultCart(MemoryCart):
    """The memory cart as the app's last resort: it answers only when no plugin's cart does.

    With a durable storage that is almost always a missing cart bridge, and with a shop cart
    registered it means that cart returned None (a forgotten ``return``), so the first answer
    logs a warning: these cart lines live only as long as the process.
    """

    def __init__(self, *, durable_storage: bool = False) -> None:
        super().__init__()
        self.durable_storage = durable_storage
        #: Set by open() when a plugin implements torimatome_add_to_cart too.
        self.shadowed = False
        self._warned = False

    @hookimpl(trylast=True)
    def torimatome_add_to_cart(
        self, account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        if (self.durable_storage or self.shadowed) and not self._warned:
            self._warned = True
            why = (
                "the registered cart plugin returned None (a forgotten return?)"
                if self.shadowed
                else "no cart plugin is registered"
            )
            log.warning(
                "Consolidated lines went to torimatome's in-memory reference cart "
                "(app.default_cart), which forgets them when the process ends: %s. Pass your "
                "shop's cart bridge to torimatome.open(url, plugins=[...]).",
                why,
            )
        return super().torimatome_add_to_cart(account_id, coordinator_id, entries)

    @hookimpl(trylast=True)
    def torimatome_remove_from_cart(
        self, account_id: str, coordinator_id: str, refs: Sequence[CartRef]
    ) -> None:
        super().torimatome_remove_from_cart(account_id, coordinator_id, refs)

    @hookimpl(trylast=True)
    def torimatome_lines_ordered(self, event: LinesOrdered) -> None:
        super().torimatome_lines_ordered(event)
