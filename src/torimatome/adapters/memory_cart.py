"""The reference in-memory cart: merges equal products with exact totals, keeps provenance.

A shop passes its own cart bridge as a plugin; this one answers when none does, and is what
tests and the demo look into (:meth:`MemoryCart.items`).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from decimal import Decimal

import attrs

from ..domain.cart import CartEntry, CartRef
from ..domain.errors import CartRefused
from ..domain.events import LinesOrdered
from ..ports.hookspecs import hookimpl

__all__ = ["CartItem", "MemoryCart"]


@attrs.frozen
class CartItem:
    """One row of the cart as a shopper sees it: equal SKUs merged, their lines remembered."""

    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    line_ids: tuple[str, ...]

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.quantity


@attrs.frozen
class _Held:
    account_id: str
    coordinator_id: str
    entry: CartEntry


class MemoryCart:
    """A cart per coordinator, in memory.

    Args:
        prices: today's unit price per SKU, reported back as ``current_unit_price``.
        refuse: SKUs the cart refuses, with the reason (a discontinued product...).
        max_quantity: the most of one SKU a cart may hold, merged lines counted together.
    """

    def __init__(
        self,
        *,
        prices: Mapping[str, Decimal] | None = None,
        refuse: Mapping[str, str] | None = None,
        max_quantity: int | None = None,
    ) -> None:
        self.prices = dict(prices or {})
        self.refuse = dict(refuse or {})
        self.max_quantity = max_quantity
        self._held: dict[str, _Held] = {}
        self._serial = 0
        self._lock = threading.Lock()

    @hookimpl
    def torimatome_add_to_cart(
        self, account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        with self._lock:
            refused = {e.line_id: self.refuse[e.sku] for e in entries if e.sku in self.refuse}
            if self.max_quantity is not None:
                totals: dict[str, int] = {}
                for held in self._held.values():
                    if (held.account_id, held.coordinator_id) == (account_id, coordinator_id):
                        totals[held.entry.sku] = totals.get(held.entry.sku, 0) + held.entry.quantity
                for entry in entries:
                    totals[entry.sku] = totals.get(entry.sku, 0) + entry.quantity
                    if totals[entry.sku] > self.max_quantity:
                        refused.setdefault(
                            entry.line_id, f"quantity over the limit of {self.max_quantity}"
                        )
            if refused:
                raise CartRefused(refused)
            refs = []
            for entry in entries:
                self._serial += 1
                ref = f"memcart-{id(self):x}-{self._serial}"
                self._held[ref] = _Held(account_id, coordinator_id, entry)
                refs.append(CartRef(entry.line_id, ref, self.prices.get(entry.sku)))
            return refs

    @hookimpl
    def torimatome_remove_from_cart(
        self, account_id: str, coordinator_id: str, refs: Sequence[CartRef]
    ) -> None:
        with self._lock:
            for ref in refs:
                self._held.pop(ref.ref, None)  # refs from other carts are not ours

    @hookimpl
    def torimatome_lines_ordered(self, event: LinesOrdered) -> None:
        """Checkout empties the cart of the ordered lines."""
        ordered = set(event.line_ids)
        with self._lock:
            for ref in [r for r, h in self._held.items() if h.entry.line_id in ordered]:
                del self._held[ref]

    def _items(self, account_id: str, coordinator_id: str | None) -> list[CartItem]:
        # One row per SKU and unit price: lines of one SKU requested at different prices (and
        # with no current price to unify them) stay apart, so every amount is exact.
        merged: dict[tuple[str, Decimal], list[CartEntry]] = {}
        for held in self._held.values():
            if held.account_id != account_id:
                continue
            if coordinator_id is not None and held.coordinator_id != coordinator_id:
                continue
            price = self.prices.get(held.entry.sku, held.entry.unit_price)
            merged.setdefault((held.entry.sku, price), []).append(held.entry)
        return [
            CartItem(
                sku=sku,
                name=entries[0].name,
                quantity=sum(e.quantity for e in entries),
                unit_price=price,
                line_ids=tuple(e.line_id for e in entries),
            )
            for (sku, price), entries in merged.items()
        ]

    def items(self, account_id: str, coordinator_id: str | None = None) -> list[CartItem]:
        """The cart's rows, equal SKUs merged (all coordinators' carts when none is named)."""
        with self._lock:
            return self._items(account_id, coordinator_id)

    def line_ids(self, account_id: str | None = None) -> set[str]:
        """Every line id the cart holds: each consolidated line exactly once."""
        with self._lock:
            return {
                h.entry.line_id
                for h in self._held.values()
                if account_id is None or h.account_id == account_id
            }

    def total(self, account_id: str, coordinator_id: str | None = None) -> Decimal:
        return sum((i.amount for i in self.items(account_id, coordinator_id)), Decimal(0))
