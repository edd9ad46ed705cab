"""Wiring torimatome into a shop: one page of code.

The shop keeps its own catalogue, cart and mail server; torimatome keeps the requests, the
coordinator's decisions, the messages and the outbox.
Run it: ``python examples/shop_integration.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import torimatome
from torimatome import CartEntry, CartRef, CartRefused, Choice, NewLine, NewUser, hookimpl


class ShopCart:
    """The shop's own cart, reached through the cart hooks."""

    def __init__(self) -> None:
        self.rows: dict[str, CartEntry] = {}
        self.catalogue = {"A4-500": Decimal("498"), "PEN-BK": Decimal("115")}

    @hookimpl
    def torimatome_add_to_cart(
        self, account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        unknown = {e.line_id: "販売終了" for e in entries if e.sku not in self.catalogue}
        if unknown:
            raise CartRefused(unknown)
        refs = []
        for entry in entries:
            ref = f"cart-{coordinator_id}-{entry.line_id}"
            self.rows[ref] = entry
            refs.append(CartRef(entry.line_id, ref, current_unit_price=self.catalogue[entry.sku]))
        return refs

    @hookimpl
    def torimatome_remove_from_cart(self, refs: Sequence[CartRef]) -> None:
        for ref in refs:
            self.rows.pop(ref.ref, None)

    @hookimpl
    def torimatome_lines_ordered(self, event: torimatome.LinesOrdered) -> None:
        # Your checkout emptied the basket; this keeps the bridge's own rows in step.
        ordered = set(event.line_ids)
        self.rows = {ref: e for ref, e in self.rows.items() if e.line_id not in ordered}


class ShopUrls:
    @hookimpl
    def torimatome_screen_url(self, screen: str, request_id: str | None) -> str:
        return f"https://shop.example.jp/{screen}" + (f"/{request_id}" if request_id else "")


class ShopEvents:
    """Domain events arrive after commit: update a badge, a search index, an audit log..."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    @hookimpl
    def torimatome_request_submitted(self, event: torimatome.RequestSubmitted) -> None:
        self.seen.append(f"request {event.request_id} from {event.requester_id}")


def main() -> None:
    cart, events, outbox = ShopCart(), ShopEvents(), torimatome.MemoryMailTransport()
    app = torimatome.open("memory://", plugins=[cart, ShopUrls(), events, outbox])

    # Your sign-up screen creates the office and its coordinator.
    office = app.create_account(
        "サンプル商事", coordinator=NewUser(login_id="boss", nickname="山田")
    )
    boss = office.user.id
    staff = app.register_internal_user(boss, NewUser(nickname="佐藤", email="sato@example.com"))
    print("login:", staff.user.login_id, "one-time password:", staff.password)

    # Your login screen.
    sato = app.authenticate(staff.user.login_id, staff.password)

    # Your cart page's 「注文を依頼する」 button.
    request = app.submit_request(
        sato.id,
        [NewLine(sku="A4-500", name="コピー用紙 A4", quantity=5, unit_price=Decimal("498")),
         NewLine(sku="PEN-BK", name="ボールペン 黒", quantity=10, unit_price=Decimal("110"))],
        message="急ぎでお願いします",
        idempotency_key="cart-checkout-8731",  # the form's token: a double click is harmless
    )  # fmt: skip

    # Your 「注文とりまとめ」 screen: show app.pending(), post the choices back with versions.
    versions = {ln.id: ln.version for g in app.pending(boss) for ln in g.lines}
    decision = app.decide(
        boss, {ln.id: Choice.CONSOLIDATE for ln in request.lines}, versions=versions
    )
    for change in decision.price_changes:
        was, now = change.requested_unit_price, change.current_unit_price
        print("price changed:", change.sku, was, "→", now)

    # After your checkout completes, and whenever the order status changes.
    app.record_order(boss, "W-000123", list(decision.consolidated), order_status="ご注文受付")
    app.record_order_status(boss, "W-000123", "出荷済み")

    # Your cron jobs.
    print(app.deliver_mail())
    print(app.purge_expired(dry_run=True))
    print(events.seen, len(cart.rows), "cart rows")


if __name__ == "__main__":
    main()
