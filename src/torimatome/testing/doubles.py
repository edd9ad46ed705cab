"""Test doubles for shops' test suites: a clock moved by hand, captured mail, a recording cart
and an office factory. The pytest plugin (:mod:`torimatome.testing.pytest_plugin`) hands them
out as fixtures; they work without pytest too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import attrs

from ..adapters.memory_cart import MemoryCart
from ..application.app import App
from ..domain.cart import CartEntry, CartRef
from ..domain.requests import NewLine, OrderRequest
from ..domain.users import NewUser, User
from ..ports.hookspecs import hookimpl

__all__ = [
    "CapturedMail",
    "CapturedMessage",
    "FrozenClock",
    "OfficeFactory",
    "RecordingCart",
    "TestOffice",
]

#: Where a :class:`FrozenClock` starts: a weekday morning in Tokyo.
START = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=9), "JST"))


class FrozenClock:
    """A clock that stands still until the test moves it; pass it as ``open(clock=...)``."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.set(now)

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, now: dt.datetime) -> None:
        """Jump to ``now`` (an aware datetime)."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("FrozenClock needs an aware datetime.")
        self.now = now

    def advance(self, **delta: float) -> dt.datetime:
        """Move forward by ``timedelta(**delta)`` (``days=1``, ``minutes=5``...); the new time."""
        self.now += dt.timedelta(**delta)
        return self.now


@attrs.frozen
class CapturedMessage:
    """One delivered mail, decoded: ``to`` is the bare address, ``body`` the text part."""

    to: str
    subject: str
    body: str
    message: EmailMessage = attrs.field(repr=False)


class CapturedMail:
    """A mail transport that keeps what it delivers. ``deliver()`` runs the app's
    ``deliver_mail()`` and returns the mails it sent, so a test reads like the cron job ran."""

    def __init__(self) -> None:
        self.sent: list[CapturedMessage] = []
        self.app: App | None = None

    @hookimpl
    def torimatome_send_mail(self, message: EmailMessage) -> bool:
        to = message["To"]
        addresses = [a.addr_spec for a in to.addresses] if to is not None else []
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        subject = str(message["Subject"] or "")
        self.sent.append(CapturedMessage(", ".join(addresses), subject, text, message))
        return True

    def deliver(self) -> list[CapturedMessage]:
        """Run ``app.deliver_mail()`` and return the mails sent by this run."""
        if self.app is None:
            raise RuntimeError("CapturedMail.app is not set: pass it to the app and set .app.")
        before = len(self.sent)
        self.app.deliver_mail()
        return self.sent[before:]

    def to(self, address: str) -> list[CapturedMessage]:
        """The mails delivered to ``address`` (case-insensitive)."""
        return [m for m in self.sent if m.to.lower() == address.lower()]

    def subjects(self, address: str | None = None) -> list[str]:
        """The subjects delivered (to ``address`` only, when given), in order."""
        mails = self.sent if address is None else self.to(address)
        return [m.subject for m in mails]

    def clear(self) -> None:
        self.sent.clear()


class RecordingCart(MemoryCart):
    """The reference memory cart, recording every call: ``added`` holds the entries it
    received, ``removed`` the references it was asked to drop. ``fail_with`` makes the next
    add raise that exception (a shop cart that is down)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.added: list[CartEntry] = []
        self.removed: list[CartRef] = []
        self.fail_with: BaseException | None = None

    @hookimpl
    def torimatome_add_to_cart(
        self, account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        if self.fail_with is not None:
            error, self.fail_with = self.fail_with, None
            raise error
        refs = super().torimatome_add_to_cart(account_id, coordinator_id, entries)
        self.added.extend(entries)
        return refs

    @hookimpl
    def torimatome_remove_from_cart(
        self, account_id: str, coordinator_id: str, refs: Sequence[CartRef]
    ) -> None:
        self.removed.extend(refs)
        super().torimatome_remove_from_cart(account_id, coordinator_id, refs)


@attrs.define
class TestOffice:
    """An account with its coordinator and internal users, as :class:`OfficeFactory` makes.

    ``passwords`` maps each login ID to its one-time password.
    """

    __test__ = False  # not a test class, whatever its name

    app: App
    account_id: str
    coordinator: User
    users: list[User]
    passwords: dict[str, str]

    def request(
        self, user: User, *items: tuple[str, str, int, int | str | Decimal]
    ) -> OrderRequest:
        """Submit a request as ``user``: one ``(sku, name, quantity, unit_price)`` per line."""
        lines = [
            NewLine(sku=sku, name=name, quantity=quantity, unit_price=Decimal(price))
            for sku, name, quantity, price in items
        ]
        return self.app.submit_request(user.id, lines)


class OfficeFactory:
    """Makes offices on one app: ``make()`` registers a coordinator and internal users."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._serial = 0

    def __call__(self, *, users: int = 2, name: str = "サンプル商事") -> TestOffice:
        return self.make(users=users, name=name)

    def make(self, *, users: int = 2, name: str = "サンプル商事") -> TestOffice:
        """An office named ``name`` with ``users`` internal users (``user1``… of this office),
        each with an e-mail address, so mails reach the captured outbox."""
        self._serial += 1
        tag = f"o{self._serial}"
        reg = self.app.create_account(
            name,
            coordinator=NewUser(
                login_id=f"{tag}-boss", email=f"boss@{tag}.example.com", nickname="山田"
            ),
        )
        passwords = {reg.user.login_id: reg.password}
        members = []
        for n in range(1, users + 1):
            member = self.app.register_internal_user(
                reg.user.id,
                NewUser(
                    login_id=f"{tag}-user{n}",
                    email=f"user{n}@{tag}.example.com",
                    nickname=f"社員{n}",
                ),
            )
            members.append(member.user)
            passwords[member.user.login_id] = member.password
        return TestOffice(self.app, reg.account.id, reg.user, members, passwords)
