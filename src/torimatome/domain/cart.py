"""The values the domain exchanges with the shop's cart (never a message)."""

from __future__ import annotations

from decimal import Decimal

import attrs

__all__ = ["CartEntry", "CartRef", "PriceChange"]


@attrs.frozen
class CartEntry:
    """One consolidated line as the cart receives it: provenance kept by ``line_id``."""

    line_id: str
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


@attrs.frozen
class CartRef:
    """The cart's answer for one entry: its reference and, if it knows it, today's price."""

    line_id: str
    ref: str
    current_unit_price: Decimal | None = None


@attrs.frozen
class PriceChange:
    """A line whose price in the cart differs from the price captured at request time."""

    line_id: str
    sku: str
    requested_unit_price: Decimal
    current_unit_price: Decimal
