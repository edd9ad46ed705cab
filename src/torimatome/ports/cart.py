"""The cart port: what torimatome hands to the shop's cart, and the cart's answers.

The cart itself is reached through the hooks ``torimatome_add_to_cart`` and
``torimatome_remove_from_cart`` (see :mod:`torimatome.ports.hookspecs`).
"""

from __future__ import annotations

from ..domain.cart import CartEntry, CartRef, PriceChange
from ..domain.errors import CartError, CartRefused

__all__ = ["CartEntry", "CartError", "CartRef", "CartRefused", "PriceChange"]
