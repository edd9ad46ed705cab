"""An office on a real app: a coordinator, two internal users, a frozen clock, captured mail."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs

import torimatome
from torimatome import Config, MemoryCart, MemoryMailTransport, NewLine, NewUser, User

START = dt.datetime(2026, 4, 6, 0, 0, tzinfo=dt.UTC)  # 09:00 in Tokyo


class Clock:
    """A frozen clock that tests move by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@attrs.define
class Office:
    app: torimatome.App
    clock: Clock
    mail: MemoryMailTransport
    cart: MemoryCart
    account_id: str
    boss: User
    sato: User
    suzuki: User
    passwords: dict[str, str]

    def lines(self, *items: tuple[str, int]) -> list[NewLine]:
        return [
            NewLine(sku=sku, name=f"商品 {sku}", quantity=qty, unit_price=Decimal("100"))
            for sku, qty in items
        ]

    def request(
        self, who: User, *items: tuple[str, int], message: str = ""
    ) -> torimatome.OrderRequest:
        return self.app.submit_request(who.id, self.lines(*(items or (("A-1", 1),))), message)


FAST = Config(scrypt_n=2**4)


def open_app(url: str, clock: Clock, *plugins: object, config: Config = FAST) -> torimatome.App:
    return torimatome.open(url, plugins=list(plugins), clock=clock, config=config)


def make_office(
    url: str,
    *,
    config: Config = FAST,
    plugins: tuple[object, ...] = (),
    cart: MemoryCart | None = None,
) -> Office:
    clock = Clock()
    mail = MemoryMailTransport()
    cart = cart or MemoryCart()
    app = open_app(url, clock, *plugins, mail, cart, config=config)
    reg = app.create_account(
        "サンプル商事",
        coordinator=NewUser(login_id="boss", email="boss@example.com", nickname="山田"),
    )
    boss = reg.user
    sato = app.register_internal_user(
        boss.id, NewUser(login_id="sato", email="sato@example.com", nickname="佐藤")
    )
    suzuki = app.register_internal_user(
        boss.id, NewUser(login_id="suzuki", email="suzuki@example.com", nickname="鈴木")
    )
    passwords = {"boss": reg.password, "sato": sato.password, "suzuki": suzuki.password}
    return Office(app, clock, mail, cart, reg.account.id, boss, sato.user, suzuki.user, passwords)


def snapshot(office: Office) -> tuple[object, ...]:
    """Everything a user or a job could observe, to prove that a refused call changed nothing."""
    app = office.app
    with app.storage.unit_of_work(write=False) as uow:
        outbox = tuple((m.id, m.sent_at, m.attempts) for m in uow.outbox.all())
        users = tuple(uow.users.in_account(office.account_id))
        account = uow.accounts.get(office.account_id)
    mine = tuple(
        app.my_requests(u.id, limit=500).items for u in (office.sato, office.suzuki) if u.active
    )
    return (
        account,
        users,
        tuple(app.pending(office.boss.id)),
        app.history(office.boss.id, limit=500).items,
        mine,
        outbox,
        frozenset(office.cart.line_ids()),
    )
