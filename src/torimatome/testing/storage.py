"""The storage conformance suite: every storage backend passes it, built-in or plugin.

Provide a ``storage`` fixture that yields a fresh, empty storage (and closes it afterwards),
and subclass :class:`AbstractStorageTests` with a body of ``pass``::

    import pytest
    from torimatome.testing import AbstractStorageTests

    @pytest.fixture
    def storage(tmp_path):
        storage = MyStorage(tmp_path / "db")
        yield storage
        storage.close()

    class TestMyStorage(AbstractStorageTests):
        pass

The tests cover every behaviour torimatome's application layer relies on, including the parts
the port's docstrings leave to the reference ``MemoryStorage``. The last one drives the backend
and ``MemoryStorage`` side by side through random operations with Hypothesis (the "adapter
equivalence" test; it needs ``hypothesis`` installed). The builders (``make_account``,
``make_request``...) are public so plugin authors can write their own tests with them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import pytest

from ..adapters.memory_storage import MemoryStorage
from ..domain.accounts import Account, AccountSettings
from ..domain.errors import Conflict, StorageError, TorimatomeError
from ..domain.lines import Act, LineStatus, RequestLine
from ..domain.message_policy import GraphemePolicy
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.roles import Role
from ..domain.users import User
from ..ports.storage import (
    IdempotencyRecord,
    OutboxMail,
    PurgeCounts,
    RequestQuery,
    Storage,
    UnitOfWork,
)

__all__ = [
    "T0",
    "AbstractStorageTests",
    "Office",
    "add_office",
    "at",
    "bump",
    "make_account",
    "make_line",
    "make_mail",
    "make_message",
    "make_record",
    "make_request",
    "make_user",
]

#: A fixed instant with microseconds, so round trips that drop them fail.
T0 = dt.datetime(2026, 4, 1, 0, 30, 15, 123456, tzinfo=dt.UTC)
_JST = dt.timezone(dt.timedelta(hours=9), "JST")
#: Statuses a coordinator's decision leaves behind (they carry decided_by / decided_at).
_DECIDED = frozenset(
    {LineStatus.ON_HOLD, LineStatus.CONSOLIDATED, LineStatus.ORDERED, LineStatus.DELETED}
)


# -- builders ----------------------------------------------------------------------------------


def at(days: float = 0, *, hours: float = 0, microseconds: int = 0) -> dt.datetime:
    """``T0`` moved by the given amounts (negative for the past)."""
    return T0 + dt.timedelta(days=days, hours=hours, microseconds=microseconds)


def make_account(
    account_id: str = "acc-1",
    *,
    name: str = "株式会社とりまとめ商事",
    timezone: str = "Asia/Tokyo",
    settings: AccountSettings | None = None,
) -> Account:
    return Account(account_id, name, timezone, settings or AccountSettings())


def make_user(
    user_id: str = "u-1",
    *,
    account_id: str = "acc-1",
    login_id: str | None = None,
    role: Role = Role.INTERNAL,
    **fields: Any,
) -> User:
    """A user whose login ID defaults to its id; ``fields`` sets profile fields."""
    return User(user_id, account_id, login_id or user_id, role, **fields)


def make_line(
    request_id: str = "r-1",
    position: int = 0,
    *,
    line_id: str | None = None,
    account_id: str = "acc-1",
    requester_id: str = "u-1",
    sku: str | None = None,
    name: str | None = None,
    quantity: int | None = None,
    unit_price: Decimal = Decimal("1980"),
    status: LineStatus = LineStatus.REQUESTED,
    decided_at: dt.datetime | None = None,
    **fields: Any,
) -> RequestLine:
    """A line; a decided ``status`` also gets ``decided_by`` and ``decided_at``."""
    if status in _DECIDED:
        fields.setdefault("decided_by", f"{account_id}-coord")
        decided_at = decided_at or T0
    if status is LineStatus.ORDERED:
        fields.setdefault("order_id", f"order-{request_id}")
        fields.setdefault("order_status", "出荷準備中")
    if status in (LineStatus.CONSOLIDATED, LineStatus.ORDERED):
        fields.setdefault("cart_ref", f"cart-{request_id}-{position}")
    return RequestLine(
        id=line_id or f"{request_id}-{position}",
        request_id=request_id,
        account_id=account_id,
        requester_id=requester_id,
        position=position,
        sku=sku or f"SKU-{position + 1:04d}",
        name=name or f"コピー用紙 A4 {position + 1}",
        quantity=quantity or position + 1,
        unit_price=unit_price,
        status=status,
        decided_at=decided_at,
        **fields,
    )


def make_request(
    request_id: str = "r-1",
    *,
    account_id: str = "acc-1",
    requester_id: str = "u-1",
    submitted_at: dt.datetime = T0,
    message: str = "",
    statuses: Sequence[LineStatus] = (LineStatus.REQUESTED,),
    unit_price: Decimal = Decimal("1980"),
    idempotency_key: str | None = None,
) -> OrderRequest:
    """A request with one line per entry of ``statuses`` (ids ``{request_id}-{position}``)."""
    lines = tuple(
        make_line(
            request_id,
            position,
            account_id=account_id,
            requester_id=requester_id,
            unit_price=unit_price,
            status=status,
            decided_at=submitted_at + dt.timedelta(hours=1) if status in _DECIDED else None,
        )
        for position, status in enumerate(statuses)
    )
    return OrderRequest(
        request_id, account_id, requester_id, submitted_at, message, lines, idempotency_key
    )


def make_message(
    message_id: str = "m-1",
    *,
    request_id: str = "r-1",
    author_id: str = "u-1",
    body: str = "よろしくお願いします",
    posted_at: dt.datetime = T0,
    author_name: str = "",
) -> Message:
    return Message(message_id, request_id, author_id, body, posted_at, author_name)


def make_mail(
    mail_id: str = "mail-1",
    *,
    account_id: str = "acc-1",
    request_id: str | None = None,
    created_at: dt.datetime = T0,
    next_attempt_at: dt.datetime | None = None,
    sent_at: dt.datetime | None = None,
    recipient: str = "taro@example.jp",
    event: str = "request_submitted",
) -> OutboxMail:
    raw = f"Subject: =?utf-8?b?5rOo5paH?=\r\nTo: {recipient}\r\n\r\n{mail_id}\r\n".encode()
    return OutboxMail(
        id=mail_id,
        account_id=account_id,
        event=event,
        recipient=recipient,
        subject="注文依頼を受け付けました",
        raw=raw,
        created_at=created_at,
        request_id=request_id,
        next_attempt_at=next_attempt_at,
        sent_at=sent_at,
    )


def make_record(
    actor_id: str = "u-1", key: str = "key-1", *, result: str = "r-1"
) -> IdempotencyRecord:
    return IdempotencyRecord(actor_id, key, "submit_request", "fp-" + result, result, T0)


def bump(line: RequestLine, **changes: Any) -> RequestLine:
    """The next version of ``line`` with ``changes`` (no lifecycle check: a storage test)."""
    return attrs.evolve(line, version=line.version + 1, **changes)


@attrs.frozen
class Office:
    """An account with its coordinator and two internal users, as :func:`add_office` stores."""

    account: Account
    coordinator: User
    alice: User
    bob: User


def add_office(uow: UnitOfWork, account_id: str = "acc-1") -> Office:
    """Store an account, its coordinator and two internal users (ids prefixed by the account)."""
    office = Office(
        make_account(account_id),
        make_user(f"{account_id}-coord", account_id=account_id, role=Role.COORDINATOR),
        make_user(f"{account_id}-alice", account_id=account_id, nickname="アリス"),
        make_user(f"{account_id}-bob", account_id=account_id, nickname="ボブ"),
    )
    uow.accounts.add(office.account)
    for user in (office.coordinator, office.alice, office.bob):
        uow.users.add(user, f"hash-of-{user.id}")
    return office


def _walk(uow: UnitOfWork, query: RequestQuery) -> list[OrderRequest]:
    """Every page of ``query``, following ``after`` from each page's last item."""
    found: list[OrderRequest] = []
    while True:
        page = uow.requests.page(query)
        found.extend(page)
        if len(page) < query.limit:
            return found
        query = attrs.evolve(query, after=(page[-1].submitted_at, page[-1].id))


# -- the suite ---------------------------------------------------------------------------------


class AbstractStorageTests:
    """Conformance tests of the storage port.

    Requires a ``storage`` fixture yielding a fresh, empty storage, defined where pytest finds
    it (the test module, a ``conftest.py``, or the subclass), so the subclass's body can be
    ``pass``. pytest reports "fixture 'storage' not found" when there is none.
    """

    @pytest.fixture
    def office(self, storage: Storage) -> Office:
        with storage.unit_of_work() as uow:
            return add_office(uow)

    def _add(self, storage: Storage, *requests: OrderRequest) -> None:
        with storage.unit_of_work() as uow:
            for request in requests:
                uow.requests.add(request)

    def _get(self, storage: Storage, request_id: str) -> OrderRequest | None:
        with storage.unit_of_work(write=False) as uow:
            return uow.requests.get(request_id)

    # -- accounts

    def test_an_added_account_reads_back_equal(self, storage: Storage) -> None:
        account = make_account(settings=AccountSettings(GraphemePolicy(30), 24, "en"))
        with storage.unit_of_work() as uow:
            uow.accounts.add(account)
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.get("acc-1") == account
            assert uow.accounts.get("nope") is None

    def test_account_update_replaces_name_timezone_and_settings(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            uow.accounts.add(make_account())
        changed = make_account(
            name="とりまとめ株式会社",
            timezone="UTC",
            settings=AccountSettings(message_policy=GraphemePolicy(20)),
        )
        with storage.unit_of_work() as uow:
            uow.accounts.update(changed)
        with storage.unit_of_work(write=False) as uow:
            stored = uow.accounts.get("acc-1")
        assert stored == changed
        assert stored is not None
        assert isinstance(stored.settings.message_policy, GraphemePolicy)

    def test_all_account_ids_come_in_creation_order(self, storage: Storage) -> None:
        ids = ["acc-b", "acc-c", "acc-a"]
        with storage.unit_of_work() as uow:
            for account_id in ids:
                uow.accounts.add(make_account(account_id))
        with storage.unit_of_work() as uow:
            uow.accounts.update(make_account("acc-b", name="renamed"))
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.all_ids() == ids

    def test_adding_an_account_twice_is_a_conflict(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            uow.accounts.add(make_account())
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.accounts.add(make_account(name="other"))
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.get("acc-1") == make_account()

    # -- users

    def test_an_added_user_reads_back_by_id_and_by_login_id(self, storage: Storage) -> None:
        user = make_user(
            "u-9",
            login_id="taro.yamada@example",
            role=Role.COORDINATOR,
            active=False,
            nickname="山田 太郎",
            email="taro@example.jp",
            gender="男性",
            industry="製造業",
            job_type="総務",
            work_region="関東",
            news_mail=True,
            price_drop_mail=True,
            facility_name="本社",
            department="総務部",
            address="東京都千代田区1-1",
            phone="03-0000-0000",
            version=3,
        )
        with storage.unit_of_work() as uow:
            uow.accounts.add(make_account())
            uow.users.add(user, "scrypt$hash")
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.get("u-9") == user
            assert uow.users.by_login_id("taro.yamada@example") == user
            stored = uow.users.get("u-9")
            assert stored is not None
            assert stored.role is Role.COORDINATOR

    def test_unknown_users_and_login_ids_are_none(self, storage: Storage, office: Office) -> None:
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.get("nobody") is None
            assert uow.users.by_login_id("nobody") is None
            assert uow.users.by_login_id(office.alice.login_id.upper()) is None
            assert uow.users.password_hash("nobody") is None

    def test_users_in_account_come_in_registration_order(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            first = add_office(uow, "acc-1")
            add_office(uow, "acc-2")
            late = make_user("acc-1-aaa")
            uow.users.add(late, "h")
        with storage.unit_of_work() as uow:
            uow.users.update(first.alice.changed(nickname="改名"))
        with storage.unit_of_work(write=False) as uow:
            ids = [u.id for u in uow.users.in_account("acc-1")]
            assert uow.users.in_account("acc-3") == []
        assert ids == [first.coordinator.id, first.alice.id, first.bob.id, late.id]

    def test_a_user_update_with_the_next_version_is_stored(
        self, storage: Storage, office: Office
    ) -> None:
        changed = office.alice.changed(nickname="ありす", email="alice@example.jp", active=False)
        with storage.unit_of_work() as uow:
            uow.users.update(changed)
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.get(office.alice.id) == changed
            assert uow.users.by_login_id(office.alice.login_id) == changed

    def test_a_user_update_stores_the_role_and_every_profile_field(
        self, storage: Storage, office: Office
    ) -> None:
        fields: dict[str, Any] = {
            name: f"{name} 値" for name in (
                "nickname", "gender", "industry", "job_type", "work_region",
                "facility_name", "department", "address", "phone",
            )
        }  # fmt: skip
        changed = office.alice.changed(
            role=Role.COORDINATOR, email="a@example.jp", news_mail=True, price_drop_mail=True,
            **fields,
        )  # fmt: skip
        with storage.unit_of_work() as uow:
            uow.users.update(changed)
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.get(office.alice.id) == changed

    @pytest.mark.parametrize("version_step", [0, 2, -1])
    def test_a_user_update_with_a_stale_version_is_a_conflict_and_changes_nothing(
        self, storage: Storage, office: Office, version_step: int
    ) -> None:
        stale = attrs.evolve(
            office.alice, nickname="stale", version=office.alice.version + version_step
        )
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.users.update(stale)
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.get(office.alice.id) == office.alice

    def test_updating_an_unknown_user_is_a_conflict(self, storage: Storage, office: Office) -> None:
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.users.update(make_user("ghost").changed())

    def test_a_duplicate_login_id_is_a_conflict(self, storage: Storage, office: Office) -> None:
        twin = make_user("u-twin", login_id=office.alice.login_id)
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.users.add(twin, "h")
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.get("u-twin") is None
            assert uow.users.by_login_id(office.alice.login_id) == office.alice

    def test_a_conflict_caught_inside_the_unit_of_work_lets_it_commit_the_rest(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work() as uow:
            with pytest.raises(Conflict):
                uow.users.add(make_user("u-twin", login_id=office.alice.login_id), "h")
            uow.users.add(make_user("u-new"), "h")
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.get("u-new") == make_user("u-new")
            assert uow.users.get("u-twin") is None

    def test_password_hashes_are_stored_and_replaced(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.password_hash(office.alice.id) == f"hash-of-{office.alice.id}"
        with storage.unit_of_work() as uow:
            uow.users.set_password_hash(office.alice.id, "scrypt$new")
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.password_hash(office.alice.id) == "scrypt$new"
            assert uow.users.password_hash(office.bob.id) == f"hash-of-{office.bob.id}"

    def test_many_users_are_the_named_ones_that_exist(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            one = add_office(uow, "acc-1")
            two = add_office(uow, "acc-2")
        with storage.unit_of_work(write=False) as uow:
            found = uow.users.many([one.bob.id, "u-missing", two.alice.id, one.bob.id])
            assert uow.users.many([]) == {}
        assert found == {one.bob.id: one.bob, two.alice.id: two.alice}

    def test_coordinators_are_the_accounts_own_active_or_not_in_registration_order(
        self, storage: Storage
    ) -> None:
        with storage.unit_of_work() as uow:
            office = add_office(uow, "acc-1")
            add_office(uow, "acc-2")
            late = make_user("acc-1-coord-2", role=Role.COORDINATOR, active=False)
            uow.users.add(late, "hash")
        with storage.unit_of_work(write=False) as uow:
            assert uow.users.coordinators("acc-1") == [office.coordinator, late]
            assert uow.users.coordinators("acc-3") == []

    # -- requests and lines

    def test_a_request_reads_back_exactly(self, storage: Storage, office: Office) -> None:
        prices = ["1980", "12.50", "0.0001", "1E+3", "999999999999.9999", "0"]
        lines = tuple(
            make_line(
                "r-x",
                position,
                requester_id=office.alice.id,
                unit_price=Decimal(price),
                quantity=9999 if position == 0 else None,
                name="ｺﾋﾟｰ用紙 ① ㈱ 葛󠄀 🙇‍♀️" if position == 1 else None,
            )
            for position, price in enumerate(prices)
        )
        request = OrderRequest(
            "r-x",
            "acc-1",
            office.alice.id,
            dt.datetime(2026, 2, 28, 23, 59, 59, 999999, tzinfo=dt.UTC),
            "至急お願いします🙇‍♀️ 家族👨‍👩‍👧 か\u3099 葛󠄀飾区",
            lines,
            idempotency_key="idem-1",
        )
        self._add(storage, request)
        stored = self._get(storage, "r-x")
        assert stored == request
        assert stored is not None
        assert [str(line.unit_price) for line in stored.lines] == prices
        assert stored.submitted_at.utcoffset() == dt.timedelta(0)
        assert stored.submitted_at.microsecond == 999999
        assert stored.message == request.message
        assert all(line.status is LineStatus.REQUESTED for line in stored.lines)
        assert all(line.decided_at is None and line.order_id is None for line in stored.lines)

    def test_a_request_with_decided_lines_reads_back_exactly(
        self, storage: Storage, office: Office
    ) -> None:
        request = make_request(
            requester_id=office.alice.id,
            submitted_at=at(microseconds=1),
            statuses=list(LineStatus),
            idempotency_key=None,
        )
        self._add(storage, request)
        stored = self._get(storage, "r-1")
        assert stored == request
        assert stored is not None
        assert [line.status for line in stored.lines] == list(LineStatus)
        ordered = stored.lines[3]
        assert ordered.decided_at == request.submitted_at + dt.timedelta(hours=1)
        assert ordered.decided_at is not None
        assert ordered.decided_at.utcoffset() == dt.timedelta(0)
        assert (ordered.order_id, ordered.order_status) == ("order-r-1", "出荷準備中")

    def test_lines_keep_their_positions_whatever_their_ids(
        self, storage: Storage, office: Office
    ) -> None:
        # Ids that sort against their positions: ordering by id instead of position shows.
        base = make_request(statuses=[LineStatus.REQUESTED] * 12)
        lines = tuple(attrs.evolve(ln, id=f"line-{99 - ln.position:02d}") for ln in base.lines)
        request = attrs.evolve(base, lines=lines)
        self._add(storage, request)
        consolidated = [bump(ln, status=LineStatus.CONSOLIDATED, cart_ref=f"c-{ln.id}")
                        for ln in lines[:4]]  # fmt: skip
        with storage.unit_of_work() as uow:
            uow.requests.update_lines(consolidated)
        with storage.unit_of_work() as uow:
            uow.requests.update_lines(
                [bump(ln, status=LineStatus.ORDERED, order_id="W-1") for ln in consolidated]
            )
        with storage.unit_of_work(write=False) as uow:
            stored = uow.requests.get("r-1")
            pending = uow.requests.pending_lines("acc-1")
            ordered = uow.requests.lines_of_order("acc-1", "W-1")
        assert stored is not None
        assert [ln.position for ln in stored.lines] == list(range(12))
        assert [ln.position for ln in pending] == list(range(4, 12))
        assert [ln.position for ln in ordered] == [0, 1, 2, 3]

    def test_a_timestamp_in_another_zone_reads_back_as_the_same_aware_instant(
        self, storage: Storage, office: Office
    ) -> None:
        submitted = dt.datetime(2026, 4, 1, 9, 0, 0, 5, tzinfo=_JST)
        self._add(storage, make_request(requester_id=office.alice.id, submitted_at=submitted))
        stored = self._get(storage, "r-1")
        assert stored is not None
        assert stored.submitted_at == submitted
        assert stored.submitted_at.utcoffset() is not None

    def test_an_unknown_request_is_none(self, storage: Storage, office: Office) -> None:
        assert self._get(storage, "nope") is None

    def test_adding_a_request_twice_is_a_conflict(self, storage: Storage, office: Office) -> None:
        self._add(storage, make_request())
        with pytest.raises(Conflict):
            self._add(storage, make_request(message="again"))
        assert self._get(storage, "r-1") == make_request()

    def test_a_request_clashing_on_a_later_line_stores_nothing_even_if_the_unit_commits(
        self, storage: Storage, office: Office
    ) -> None:
        self._add(storage, make_request("r-1"))
        clashing = make_request("r-2", statuses=[LineStatus.REQUESTED] * 2)
        clashing = attrs.evolve(
            clashing, lines=(clashing.lines[0], attrs.evolve(clashing.lines[1], id="r-1-0"))
        )
        with storage.unit_of_work() as uow:
            with pytest.raises(Conflict):
                uow.requests.add(clashing)
            assert uow.requests.get("r-2") is None
        assert self._get(storage, "r-2") is None
        with storage.unit_of_work(write=False) as uow:
            assert uow.requests.lines(["r-2-0"]) == {}
            assert uow.requests.pending_count("acc-1") == 1

    def test_lines_returns_the_named_lines_that_exist(
        self, storage: Storage, office: Office
    ) -> None:
        first = make_request("r-1", statuses=[LineStatus.REQUESTED] * 2)
        second = make_request("r-2")
        self._add(storage, first, second)
        with storage.unit_of_work(write=False) as uow:
            found = uow.requests.lines(["r-2-0", "missing", "r-1-1"])
            assert uow.requests.lines([]) == {}
        assert found == {"r-2-0": second.lines[0], "r-1-1": first.lines[1]}

    def test_update_lines_stores_the_next_versions(self, storage: Storage, office: Office) -> None:
        request = make_request(statuses=[LineStatus.REQUESTED] * 2)
        self._add(storage, request)
        held = request.lines[0].move(Act.HOLD, decided_by=office.coordinator.id, decided_at=at(1))
        with storage.unit_of_work() as uow:
            uow.requests.update_lines([held])
        stored = self._get(storage, "r-1")
        assert stored is not None
        assert stored.lines == (held, request.lines[1])
        assert stored.lines[0].version == 2

    def test_update_lines_stores_every_field_that_may_change(
        self, storage: Storage, office: Office
    ) -> None:
        request = make_request()
        self._add(storage, request)
        line = request.lines[0]
        consolidated = bump(line, status=LineStatus.CONSOLIDATED, cart_ref="cart-row-7",
                            decided_by=office.coordinator.id, decided_at=at(1))  # fmt: skip
        ordered = bump(consolidated, status=LineStatus.ORDERED, order_id="W-1",
                       order_status="出荷済み")  # fmt: skip
        released = bump(ordered, status=LineStatus.REQUESTED, cart_ref=None, order_id=None,
                        order_status=None, decided_by=None, decided_at=None)  # fmt: skip
        for version in (consolidated, ordered, released):
            with storage.unit_of_work() as uow:
                uow.requests.update_lines([version])
            with storage.unit_of_work(write=False) as uow:
                assert uow.requests.lines([line.id]) == {line.id: version}

    @pytest.mark.parametrize("version_step", [0, 2])
    def test_update_lines_with_a_stale_version_is_a_conflict_naming_the_line(
        self, storage: Storage, office: Office, version_step: int
    ) -> None:
        request = make_request()
        self._add(storage, request)
        line = request.lines[0]
        stale = attrs.evolve(line, status=LineStatus.DELETED, version=line.version + version_step)
        with pytest.raises(Conflict) as caught, storage.unit_of_work() as uow:
            uow.requests.update_lines([stale])
        assert "r-1-0" in caught.value.lines
        assert self._get(storage, "r-1") == request

    def test_update_lines_of_an_unknown_line_is_a_conflict(
        self, storage: Storage, office: Office
    ) -> None:
        with pytest.raises(Conflict) as caught, storage.unit_of_work() as uow:
            uow.requests.update_lines([bump(make_line("r-404"))])
        assert "r-404-0" in caught.value.lines

    def test_a_batch_with_a_stale_second_line_leaves_the_first_unchanged(
        self, storage: Storage, office: Office
    ) -> None:
        request = make_request(statuses=[LineStatus.REQUESTED] * 2)
        self._add(storage, request)
        first, second = request.lines
        batch = [bump(first, status=LineStatus.DELETED), attrs.evolve(second, version=5)]
        with pytest.raises(Conflict) as caught, storage.unit_of_work() as uow:
            uow.requests.update_lines(batch)
        assert "r-1-1" in caught.value.lines
        assert self._get(storage, "r-1") == request

    def test_a_conflicting_batch_stores_nothing_even_when_the_unit_goes_on_to_commit(
        self, storage: Storage, office: Office
    ) -> None:
        request = make_request(statuses=[LineStatus.REQUESTED] * 2)
        self._add(storage, request)
        first, second = request.lines
        with storage.unit_of_work() as uow:
            with pytest.raises(Conflict):
                uow.requests.update_lines([bump(first, status=LineStatus.DELETED), second])
            assert uow.requests.lines([first.id]) == {first.id: first}
        assert self._get(storage, "r-1") == request

    def test_lines_of_order_lists_that_orders_lines_of_that_account(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            add_office(uow, "acc-1")
            add_office(uow, "acc-2")
        older = make_request("r-old", submitted_at=at(-1), statuses=[LineStatus.REQUESTED] * 2)
        newer = make_request("r-new", statuses=[LineStatus.REQUESTED] * 2)
        foreign = make_request("r-foreign", account_id="acc-2")
        self._add(storage, newer, older, foreign)

        def order(uow: UnitOfWork, lines: list[RequestLine], order_id: str) -> None:
            consolidated = [
                ln.move(Act.CONSOLIDATE, decided_by="c", decided_at=at(1)) for ln in lines
            ]
            uow.requests.update_lines(consolidated)
            uow.requests.update_lines(
                [ln.move(Act.ORDER, order_id=order_id) for ln in consolidated]
            )

        with storage.unit_of_work() as uow:
            order(uow, [newer.lines[1], older.lines[1]], "o-1")
            order(uow, [older.lines[0]], "o-2")
            order(uow, [foreign.lines[0]], "o-1")
        with storage.unit_of_work(write=False) as uow:
            found = uow.requests.lines_of_order("acc-1", "o-1")
            assert uow.requests.lines_of_order("acc-1", "o-404") == []
            assert [ln.id for ln in uow.requests.lines_of_order("acc-2", "o-1")] == ["r-foreign-0"]
        assert [line.id for line in found] == ["r-old-1", "r-new-1"]
        assert all(line.status is LineStatus.ORDERED and line.version == 3 for line in found)

    def test_pending_lines_list_the_oldest_request_first_then_lines_in_order(
        self, storage: Storage
    ) -> None:
        S = LineStatus
        with storage.unit_of_work() as uow:
            add_office(uow, "acc-1")
            add_office(uow, "acc-2")
        self._add(
            storage,
            make_request("r-b", submitted_at=at(2), statuses=[S.REQUESTED, S.ON_HOLD]),
            make_request("r-a", submitted_at=at(1), statuses=[S.DELETED, S.REQUESTED, S.ORDERED]),
            make_request("r-c", submitted_at=at(1), statuses=[S.ON_HOLD, S.WITHDRAWN]),
            make_request("r-d", submitted_at=at(0), statuses=[S.CONSOLIDATED]),
            make_request("r-z", account_id="acc-2", submitted_at=at(-5)),
        )
        with storage.unit_of_work(write=False) as uow:
            pending = uow.requests.pending_lines("acc-1")
            count = uow.requests.pending_count("acc-1")
            assert uow.requests.pending_lines("acc-3") == []
            assert uow.requests.pending_count("acc-3") == 0
        # Equal submission times fall back to the request id, as MemoryStorage orders them.
        assert [line.id for line in pending] == ["r-a-1", "r-c-0", "r-b-0", "r-b-1"]
        assert count == len(pending) == 4

    def test_pending_lines_follow_line_updates(self, storage: Storage, office: Office) -> None:
        request = make_request(statuses=[LineStatus.REQUESTED] * 3)
        self._add(storage, request)
        a, b, c = request.lines
        with storage.unit_of_work() as uow:
            uow.requests.update_lines(
                [
                    a.move(Act.DELETE, decided_by="c", decided_at=at(1)),
                    b.move(Act.HOLD, decided_by="c", decided_at=at(1)),
                    c.move(Act.WITHDRAW),
                ]
            )
        with storage.unit_of_work(write=False) as uow:
            pending = uow.requests.pending_lines("acc-1")
            assert uow.requests.pending_count("acc-1") == 1
        assert [(line.id, line.status, line.version) for line in pending] == [
            ("r-1-1", LineStatus.ON_HOLD, 2)
        ]

    # -- history pages

    def _query(self, **fields: Any) -> RequestQuery:
        fields.setdefault("account_id", "acc-1")
        fields.setdefault("limit", 100)
        fields.setdefault("visible_since", at(-1000))
        return RequestQuery(**fields)

    def _page_ids(self, storage: Storage, **fields: Any) -> list[str]:
        with storage.unit_of_work(write=False) as uow:
            return [r.id for r in uow.requests.page(self._query(**fields))]

    def test_a_page_lists_the_accounts_requests_newest_first(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            add_office(uow, "acc-1")
            add_office(uow, "acc-2")
        self._add(
            storage,
            make_request("r-2", submitted_at=at(2)),
            make_request("r-1", submitted_at=at(1)),
            make_request("r-3", submitted_at=at(3)),
            make_request("r-x", account_id="acc-2", submitted_at=at(2)),
        )
        with storage.unit_of_work(write=False) as uow:
            page = uow.requests.page(self._query())
        assert [r.id for r in page] == ["r-3", "r-2", "r-1"]
        assert page[1] == make_request("r-2", submitted_at=at(2))

    def test_a_page_holds_at_most_the_limit(self, storage: Storage, office: Office) -> None:
        self._add(storage, *(make_request(f"r-{i}", submitted_at=at(i)) for i in range(5)))
        assert self._page_ids(storage, limit=2) == ["r-4", "r-3"]
        assert self._page_ids(storage, limit=1) == ["r-4"]

    def test_a_page_filters_by_requester(self, storage: Storage, office: Office) -> None:
        alice, bob = office.alice.id, office.bob.id
        self._add(
            storage,
            make_request("r-1", requester_id=alice, submitted_at=at(1)),
            make_request("r-2", requester_id=bob, submitted_at=at(2)),
            make_request("r-3", requester_id=alice, submitted_at=at(3)),
        )
        assert self._page_ids(storage, requester_id=alice) == ["r-3", "r-1"]
        assert self._page_ids(storage, requester_id=bob) == ["r-2"]
        assert self._page_ids(storage, requester_id="nobody") == []

    def test_a_page_filters_by_a_half_open_submission_period(
        self, storage: Storage, office: Office
    ) -> None:
        self._add(
            storage,
            make_request("r-before", submitted_at=at(1, microseconds=-1)),
            make_request("r-from", submitted_at=at(1)),
            make_request("r-inside", submitted_at=at(2)),
            make_request("r-last", submitted_at=at(3, microseconds=-1)),
            make_request("r-end", submitted_at=at(3)),
        )
        ids = self._page_ids(storage, submitted_from=at(1), submitted_before=at(3))
        assert ids == ["r-last", "r-inside", "r-from"]
        assert self._page_ids(storage, submitted_from=at(2)) == ["r-end", "r-last", "r-inside"]
        assert self._page_ids(storage, submitted_before=at(1)) == ["r-before"]

    def test_a_page_of_decided_requests_lists_those_with_a_decided_line(
        self, storage: Storage, office: Office
    ) -> None:
        S = LineStatus
        self._add(
            storage,
            make_request("r-open", submitted_at=at(1), statuses=[S.REQUESTED, S.REQUESTED]),
            make_request("r-held", submitted_at=at(2), statuses=[S.REQUESTED, S.ON_HOLD]),
            make_request("r-withdrawn", submitted_at=at(3), statuses=[S.WITHDRAWN]),
            make_request("r-later", submitted_at=at(4), statuses=[S.REQUESTED]),
        )
        assert self._page_ids(storage, decided_only=True) == ["r-held"]
        later = make_request("r-later", submitted_at=at(4)).lines[0]
        with storage.unit_of_work() as uow:
            uow.requests.update_lines([later.move(Act.DELETE, decided_by="c", decided_at=at(5))])
        assert self._page_ids(storage, decided_only=True) == ["r-later", "r-held"]

    def test_a_page_hides_closed_requests_older_than_the_retention_window(
        self, storage: Storage, office: Office
    ) -> None:
        S = LineStatus
        self._add(
            storage,
            make_request("r-old-closed", submitted_at=at(-1), statuses=[S.ORDERED, S.DELETED]),
            make_request("r-old-open", submitted_at=at(-2), statuses=[S.ORDERED, S.CONSOLIDATED]),
            make_request("r-old-held", submitted_at=at(-3), statuses=[S.ON_HOLD]),
            make_request("r-new-closed", submitted_at=at(0), statuses=[S.WITHDRAWN]),
            make_request("r-new-open", submitted_at=at(1)),
        )
        visible = self._page_ids(storage, visible_since=at(0))
        assert visible == ["r-new-open", "r-new-closed", "r-old-open", "r-old-held"]

    def test_a_request_closed_by_a_line_update_leaves_the_old_pages(
        self, storage: Storage, office: Office
    ) -> None:
        request = make_request(submitted_at=at(-10))
        self._add(storage, request)
        assert self._page_ids(storage, visible_since=at(0)) == ["r-1"]
        with storage.unit_of_work() as uow:
            uow.requests.update_lines([request.lines[0].move(Act.WITHDRAW)])
        assert self._page_ids(storage, visible_since=at(0)) == []
        assert self._page_ids(storage, visible_since=at(-10)) == ["r-1"]

    def test_keyset_pagination_yields_every_request_once_newest_first(
        self, storage: Storage, office: Office
    ) -> None:
        # Ties on submitted_at are broken by id, so no page boundary loses or repeats one.
        times = [at(1), at(1), at(1), at(0), at(2), at(2), at(1, microseconds=1), at(-1)]
        requests = [
            make_request(f"r-{i}", submitted_at=when, requester_id=office.alice.id)
            for i, when in zip([7, 3, 5, 1, 2, 6, 4, 0], times, strict=True)
        ]
        self._add(storage, *requests)
        expected = sorted(requests, key=lambda r: (r.submitted_at, r.id), reverse=True)
        for limit in (1, 2, 3, 8, 9):
            for requester in (None, office.alice.id):
                with storage.unit_of_work(write=False) as uow:
                    walked = _walk(uow, self._query(limit=limit, requester_id=requester))
                assert [r.id for r in walked] == [r.id for r in expected]

    def test_after_means_strictly_older_in_page_order(
        self, storage: Storage, office: Office
    ) -> None:
        self._add(
            storage,
            make_request("r-a", submitted_at=at(1)),
            make_request("r-b", submitted_at=at(1)),
            make_request("r-c", submitted_at=at(0)),
        )
        assert self._page_ids(storage, after=(at(1), "r-b")) == ["r-a", "r-c"]
        assert self._page_ids(storage, after=(at(1), "r-a")) == ["r-c"]
        assert self._page_ids(storage, after=(at(1), "r-0")) == ["r-c"]
        assert self._page_ids(storage, after=(at(0), "r-c")) == []

    def test_a_page_only_ever_shows_its_own_account(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            add_office(uow, "acc-1")
            add_office(uow, "acc-2")
        self._add(storage, make_request("r-1"), make_request("r-2", account_id="acc-2"))
        assert self._page_ids(storage, account_id="acc-2") == ["r-2"]
        assert self._page_ids(storage, account_id="acc-3") == []

    # -- purge

    def _purge_world(self, storage: Storage) -> None:
        """Closed and open requests either side of ``at(0)`` in acc-1, plus acc-2's."""
        S = LineStatus
        with storage.unit_of_work() as uow:
            add_office(uow, "acc-1")
            add_office(uow, "acc-2")
            for req in (
                make_request("r-old-1", submitted_at=at(-3), statuses=[S.ORDERED, S.DELETED]),
                make_request("r-old-2", submitted_at=at(-2), statuses=[S.WITHDRAWN]),
                make_request("r-old-open", submitted_at=at(-2), statuses=[S.ORDERED, S.ON_HOLD]),
                make_request("r-new", submitted_at=at(0), statuses=[S.ORDERED]),
                make_request(
                    "r-foreign", account_id="acc-2", submitted_at=at(-9), statuses=[S.DELETED]
                ),
            ):
                uow.requests.add(req)
            for i, request_id in enumerate(
                ["r-old-1", "r-old-1", "r-old-2", "r-old-open", "r-new"]
            ):
                uow.messages.add(make_message(f"m-{i}", request_id=request_id))
            uow.messages.add(make_message("m-foreign", request_id="r-foreign"))
            uow.outbox.add(make_mail("mail-sent", request_id="r-old-1", sent_at=at(-1)))
            uow.outbox.add(make_mail("mail-pending", request_id="r-old-1"))
            uow.outbox.add(make_mail("mail-sent-2", request_id="r-old-2", sent_at=at(-1)))
            uow.outbox.add(make_mail("mail-open", request_id="r-old-open", sent_at=at(-1)))
            uow.outbox.add(make_mail("mail-plain", sent_at=at(-1)))
            uow.outbox.add(
                make_mail(
                    "mail-foreign", account_id="acc-2", request_id="r-foreign", sent_at=at(-1)
                )
            )

    _EXPECTED_PURGE = PurgeCounts(requests=2, lines=3, messages=3, mails=2, kept_open=1)

    def test_purge_deletes_closed_old_requests_with_their_lines_messages_and_sent_mails(
        self, storage: Storage
    ) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            counts = uow.requests.purge("acc-1", at(0), dry_run=False)
        assert counts == self._EXPECTED_PURGE
        with storage.unit_of_work(write=False) as uow:
            assert uow.requests.get("r-old-1") is None
            assert uow.requests.get("r-old-2") is None
            assert uow.requests.lines(["r-old-1-0", "r-old-1-1", "r-old-2-0"]) == {}
            assert uow.messages.for_request("r-old-1") == []
            assert uow.outbox.get("mail-sent") is None
            assert uow.outbox.get("mail-sent-2") is None
            assert uow.requests.get("r-old-open") is not None
            assert uow.requests.get("r-new") is not None
            assert [m.id for m in uow.messages.for_request("r-old-open")] == ["m-3"]
            assert uow.outbox.get("mail-open") is not None
            assert uow.outbox.get("mail-plain") is not None

    def test_purge_never_deletes_an_undelivered_mail(self, storage: Storage) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            uow.requests.purge("acc-1", at(0), dry_run=False)
        with storage.unit_of_work(write=False) as uow:
            kept = uow.outbox.get("mail-pending")
            due = [m.id for m in uow.outbox.due(at(10), 100)]
            assert uow.outbox.pending_count() == 1
        assert kept == make_mail("mail-pending", request_id="r-old-1")
        assert due == ["mail-pending"]

    def test_a_dry_run_purge_counts_what_the_real_one_deletes_and_changes_nothing(
        self, storage: Storage
    ) -> None:
        self._purge_world(storage)
        with storage.unit_of_work(write=False) as uow:
            before = (uow.outbox.all(), uow.requests.page(self._query()))
        with storage.unit_of_work() as uow:
            dry = uow.requests.purge("acc-1", at(0), dry_run=True)
        with storage.unit_of_work(write=False) as uow:
            assert (uow.outbox.all(), uow.requests.page(self._query())) == before
            assert uow.requests.purge("acc-1", at(0), dry_run=True) == dry
        with storage.unit_of_work() as uow:
            real = uow.requests.purge("acc-1", at(0), dry_run=False)
        assert dry == real == self._EXPECTED_PURGE

    def test_a_second_purge_finds_nothing_more(self, storage: Storage) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            uow.requests.purge("acc-1", at(0), dry_run=False)
        with storage.unit_of_work() as uow:
            again = uow.requests.purge("acc-1", at(0), dry_run=False)
        assert again == PurgeCounts(kept_open=1)

    def test_purge_leaves_other_accounts_untouched(self, storage: Storage) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            # acc-2's own delivered mail of a request already gone: acc-1's purge leaves it.
            uow.outbox.add(make_mail("mail-foreign-orphan", account_id="acc-2",
                                     request_id="r-gone", sent_at=at(-1)))  # fmt: skip
        with storage.unit_of_work() as uow:
            counts = uow.requests.purge("acc-1", at(100), dry_run=False)
        with storage.unit_of_work(write=False) as uow:
            assert uow.requests.get("r-foreign") is not None
            assert [m.id for m in uow.messages.for_request("r-foreign")] == ["m-foreign"]
            assert uow.outbox.get("mail-foreign") is not None
            assert uow.outbox.get("mail-foreign-orphan") is not None
            assert uow.accounts.all_ids() == ["acc-1", "acc-2"]
        assert counts.mails == 2  # acc-1's own delivered mails of closed requests

    def test_purge_keeps_closed_requests_submitted_at_or_after_the_cutoff(
        self, storage: Storage
    ) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            counts = uow.requests.purge("acc-1", at(-2), dry_run=False)
        assert counts == PurgeCounts(requests=1, lines=2, messages=2, mails=1, kept_open=0)
        with storage.unit_of_work(write=False) as uow:
            assert uow.requests.get("r-old-2") is not None

    def test_purge_of_an_open_request_never_happens_whatever_its_age(
        self, storage: Storage
    ) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            counts = uow.requests.purge("acc-1", at(100), dry_run=False)
        assert counts == PurgeCounts(requests=3, lines=4, messages=4, mails=2, kept_open=1)
        with storage.unit_of_work(write=False) as uow:
            assert uow.requests.get("r-old-open") is not None
            assert [r.id for r in uow.requests.pending_lines("acc-1")] == ["r-old-open-1"]

    def test_a_dry_run_purge_works_in_a_read_only_unit(self, storage: Storage) -> None:
        self._purge_world(storage)
        with storage.unit_of_work(write=False) as uow:
            assert uow.requests.purge("acc-1", at(0), dry_run=True) == self._EXPECTED_PURGE

    def test_a_purge_in_batches_takes_the_oldest_first_and_adds_up_to_one_purge(
        self, storage: Storage
    ) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            # A delivered mail whose request an earlier purge took: swept by the last batch.
            uow.outbox.add(make_mail("mail-orphan", request_id="r-gone", sent_at=at(-1)))
        with storage.unit_of_work(write=False) as uow:
            dry = uow.requests.purge("acc-1", at(0), dry_run=True, limit=1)
        batches = []
        for _ in range(3):
            with storage.unit_of_work() as uow:
                batches.append(uow.requests.purge("acc-1", at(0), dry_run=False, limit=1))
        assert batches == [
            PurgeCounts(requests=1, lines=2, messages=2, mails=1, kept_open=0),
            PurgeCounts(requests=1, lines=1, messages=1, mails=1, kept_open=0),
            PurgeCounts(requests=0, lines=0, messages=0, mails=1, kept_open=1),
        ]
        assert dry == PurgeCounts(requests=2, lines=3, messages=3, mails=3, kept_open=1)
        with storage.unit_of_work(write=False) as uow:
            assert uow.requests.get("r-old-1") is None
            assert uow.requests.get("r-old-2") is None
            assert uow.outbox.get("mail-orphan") is None
            assert uow.outbox.get("mail-pending") is not None

    def test_a_mail_naming_a_request_stored_later_is_no_orphan_to_purge(
        self, storage: Storage
    ) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("mail-early", request_id="r-later", sent_at=at(-1)))
            uow.requests.add(make_request("r-later", submitted_at=at(5)))
        with storage.unit_of_work() as uow:
            counts = uow.requests.purge("acc-1", at(0), dry_run=False, limit=10)
        assert counts == self._EXPECTED_PURGE
        with storage.unit_of_work(write=False) as uow:
            assert uow.outbox.get("mail-early") is not None

    # -- messages

    def test_a_thread_is_in_posting_order_then_insertion_order(
        self, storage: Storage, office: Office
    ) -> None:
        self._add(storage, make_request("r-1"), make_request("r-2"))
        posts = [
            make_message("m-c", posted_at=at(2)),
            make_message("m-b", posted_at=at(1)),
            make_message("m-z", posted_at=at(1)),
            make_message("m-a", posted_at=at(1)),
            make_message("m-other", request_id="r-2", posted_at=at(0)),
            make_message("m-first", posted_at=at(1, microseconds=-1)),
        ]
        with storage.unit_of_work() as uow:
            for post in posts[:3]:
                uow.messages.add(post)
        with storage.unit_of_work() as uow:
            for post in posts[3:]:
                uow.messages.add(post)
        with storage.unit_of_work(write=False) as uow:
            thread = uow.messages.for_request("r-1")
            assert uow.messages.for_request("r-404") == []
        assert [m.id for m in thread] == ["m-first", "m-b", "m-z", "m-a", "m-c"]

    def test_a_message_reads_back_exactly(self, storage: Storage, office: Office) -> None:
        self._add(storage, make_request())
        post = make_message(
            body="承知しました。\n明日発注します🙇‍♂️👍🏽 🇯🇵 か\u3099",
            author_id=office.coordinator.id,
            author_name="とりまとめ担当",
            posted_at=dt.datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=_JST),
        )
        with storage.unit_of_work() as uow:
            uow.messages.add(post)
        with storage.unit_of_work(write=False) as uow:
            assert uow.messages.for_request("r-1") == [post]

    def test_a_message_for_an_unknown_request_is_a_storage_error(
        self, storage: Storage, office: Office
    ) -> None:
        with pytest.raises(StorageError), storage.unit_of_work() as uow:
            uow.messages.add(make_message(request_id="r-404"))

    def test_adding_a_message_twice_is_a_conflict(self, storage: Storage, office: Office) -> None:
        self._add(storage, make_request())
        with storage.unit_of_work() as uow:
            uow.messages.add(make_message())
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.messages.add(make_message(body="again"))

    def test_several_threads_read_at_once_are_each_as_read_alone(
        self, storage: Storage, office: Office
    ) -> None:
        self._add(storage, make_request("r-1"), make_request("r-2"), make_request("r-3"))
        with storage.unit_of_work() as uow:
            for i, (request_id, minute) in enumerate([("r-2", 5), ("r-1", 3), ("r-2", 1)]):
                uow.messages.add(
                    make_message(f"m-{i}", request_id=request_id, posted_at=at(minute))
                )
        with storage.unit_of_work(write=False) as uow:
            alone = {r: uow.messages.for_request(r) for r in ("r-2", "r-3", "r-1")}
            together = uow.messages.for_requests(["r-2", "r-3", "r-1", "r-2"])
            assert uow.messages.for_requests([]) == {}
        assert together == alone
        assert list(together) == ["r-2", "r-3", "r-1"]

    # -- outbox

    def test_an_added_mail_reads_back_equal(self, storage: Storage, office: Office) -> None:
        mail = attrs.evolve(
            make_mail(request_id="r-1", next_attempt_at=at(1)),
            raw=bytes(range(256)),
            attempts=2,
            last_error="SMTP 451 一時的なエラー",
        )
        with storage.unit_of_work() as uow:
            uow.outbox.add(mail)
        with storage.unit_of_work(write=False) as uow:
            assert uow.outbox.get("mail-1") == mail
            assert uow.outbox.get("nope") is None

    def test_due_lists_unsent_due_mails_oldest_first(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("m-late", created_at=at(0), next_attempt_at=at(3)))
            uow.outbox.add(make_mail("m-new", created_at=at(2)))
            uow.outbox.add(make_mail("m-retry", created_at=at(0), next_attempt_at=at(1)))
            uow.outbox.add(make_mail("m-old", created_at=at(1)))
            uow.outbox.add(make_mail("m-sent", created_at=at(-1), sent_at=at(-1)))
            uow.outbox.add(make_mail("m-tie", created_at=at(1)))
        with storage.unit_of_work(write=False) as uow:
            due = [m.id for m in uow.outbox.due(at(2), 100)]
            limited = [m.id for m in uow.outbox.due(at(2), 2)]
            everything = [m.id for m in uow.outbox.due(at(3), 100)]
        assert due == ["m-retry", "m-old", "m-tie", "m-new"]
        assert limited == ["m-retry", "m-old"]
        assert everything == ["m-retry", "m-old", "m-tie", "m-new", "m-late"]

    def test_a_sent_mail_is_no_longer_due_or_pending(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("m-1"))
            uow.outbox.add(make_mail("m-2"))
            assert uow.outbox.pending_count() == 2
        with storage.unit_of_work() as uow:
            uow.outbox.mark_sent("m-1", at(1, microseconds=7))
        with storage.unit_of_work(write=False) as uow:
            assert [m.id for m in uow.outbox.due(at(5), 10)] == ["m-2"]
            assert uow.outbox.pending_count() == 1
            sent = uow.outbox.get("m-1")
        assert sent == make_mail("m-1", sent_at=at(1, microseconds=7))

    def test_a_rescheduled_mail_records_its_attempts_and_waits(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("m-1"))
        with storage.unit_of_work() as uow:
            uow.outbox.reschedule("m-1", attempts=1, next_attempt_at=at(1), error="接続拒否")
        with storage.unit_of_work(write=False) as uow:
            assert uow.outbox.due(at(1, microseconds=-1), 10) == []
            assert [m.id for m in uow.outbox.due(at(1), 10)] == ["m-1"]
            assert uow.outbox.pending_count() == 1
            mail = uow.outbox.get("m-1")
        assert mail is not None
        assert (mail.attempts, mail.next_attempt_at, mail.last_error) == (1, at(1), "接続拒否")

    def test_a_claimed_mail_waits_until_its_claim_ends_and_keeps_its_history(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("mail-1", next_attempt_at=at(0)))
            uow.outbox.reschedule("mail-1", attempts=2, next_attempt_at=at(0), error="timeout")
        with storage.unit_of_work() as uow:
            uow.outbox.claim("mail-1", at(5))
        with storage.unit_of_work(write=False) as uow:
            assert uow.outbox.due(at(4), 10) == []
            (mail,) = uow.outbox.due(at(5), 10)
        assert (mail.attempts, mail.last_error, mail.next_attempt_at) == (2, "timeout", at(5))

    def test_all_mails_come_in_creation_order(self, storage: Storage, office: Office) -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("m-b", created_at=at(1)))
            uow.outbox.add(make_mail("m-a", created_at=at(0), sent_at=at(0)))
            uow.outbox.add(make_mail("m-c", created_at=at(1)))
        with storage.unit_of_work(write=False) as uow:
            assert [m.id for m in uow.outbox.all()] == ["m-a", "m-b", "m-c"]

    def test_a_rolled_back_change_leaves_the_order_of_equal_mails_as_it_was(
        self, storage: Storage, office: Office
    ) -> None:
        """Mails of one instant keep their insertion order (due, all) through rollbacks."""
        old = make_request("r-old", submitted_at=at(-900), statuses=(LineStatus.DELETED,))
        self._add(storage, old)
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("m-gone", request_id="r-old", sent_at=at(-899)))
            for n in range(3):
                uow.outbox.add(make_mail(f"m-{n}"))

        def orders() -> tuple[list[str], list[str]]:
            with storage.unit_of_work(write=False) as uow:
                return (
                    [m.id for m in uow.outbox.due(at(1), 10)],
                    [m.id for m in uow.outbox.all()],
                )

        before = orders()
        assert before[0] == ["m-0", "m-1", "m-2"]
        with pytest.raises(RuntimeError), storage.unit_of_work() as uow:  # noqa: PT012
            uow.outbox.mark_sent("m-0", at(1))
            uow.outbox.reschedule("m-1", attempts=1, next_attempt_at=T0, error="x")
            raise RuntimeError("the commit failed")
        assert orders() == before
        with pytest.raises(RuntimeError), storage.unit_of_work() as uow:  # noqa: PT012
            assert uow.requests.purge("acc-1", at(-1), dry_run=False).mails == 1
            raise RuntimeError("the commit failed")
        assert orders() == before

    @pytest.mark.parametrize("act", ["mark_sent", "reschedule"])
    def test_changing_an_unknown_mail_is_a_storage_error(
        self, storage: Storage, office: Office, act: str
    ) -> None:
        with pytest.raises(StorageError), storage.unit_of_work() as uow:
            self._WRITES[f"outbox.{act}"](uow)

    def test_adding_a_mail_twice_is_a_conflict(self, storage: Storage, office: Office) -> None:
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail())
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.outbox.add(make_mail())

    # -- idempotency

    def test_an_idempotency_record_reads_back_by_actor_and_key(self, storage: Storage) -> None:
        record = make_record()
        with storage.unit_of_work() as uow:
            assert uow.idempotency.get("u-1", "key-1") is None
            uow.idempotency.add(record)
            uow.idempotency.add(make_record("u-2", "key-1", result="r-2"))
        with storage.unit_of_work(write=False) as uow:
            assert uow.idempotency.get("u-1", "key-1") == record
            assert uow.idempotency.get("u-2", "key-1") == make_record("u-2", result="r-2")
            assert uow.idempotency.get("u-1", "key-2") is None

    def test_reusing_an_actors_idempotency_key_is_a_conflict(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            uow.idempotency.add(make_record())
        with pytest.raises(Conflict), storage.unit_of_work() as uow:
            uow.idempotency.add(make_record(result="other"))
        with storage.unit_of_work(write=False) as uow:
            assert uow.idempotency.get("u-1", "key-1") == make_record()

    def test_an_idempotency_record_can_be_deleted(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            uow.idempotency.add(make_record())
        with storage.unit_of_work() as uow:
            uow.idempotency.delete("u-1", "key-1")
            uow.idempotency.delete("u-1", "never-stored")
            uow.idempotency.add(make_record(result="again"))
        with storage.unit_of_work(write=False) as uow:
            assert uow.idempotency.get("u-1", "key-1") == make_record(result="again")

    def test_idempotency_purge_deletes_records_older_than_the_cutoff(
        self, storage: Storage
    ) -> None:
        old = attrs.evolve(make_record(key="old"), created_at=at(-2))
        edge = attrs.evolve(make_record(key="edge"), created_at=at(0))
        with storage.unit_of_work() as uow:
            for record in (old, edge):
                uow.idempotency.add(record)
        with storage.unit_of_work() as uow:
            assert uow.idempotency.purge(at(0)) == 1
        with storage.unit_of_work(write=False) as uow:
            assert uow.idempotency.get("u-1", "old") is None
            assert uow.idempotency.get("u-1", "edge") == edge

    def test_purge_takes_delivered_mails_whose_request_an_earlier_purge_took(
        self, storage: Storage
    ) -> None:
        self._purge_world(storage)
        with storage.unit_of_work() as uow:
            uow.requests.purge("acc-1", at(0), dry_run=False)
        with storage.unit_of_work() as uow:
            uow.outbox.mark_sent("mail-pending", at(1))  # delivered after its request went
        with storage.unit_of_work(write=False) as uow:
            dry = uow.requests.purge("acc-1", at(0), dry_run=True)
        with storage.unit_of_work() as uow:
            real = uow.requests.purge("acc-1", at(0), dry_run=False)
        assert dry.mails == real.mails == 1
        with storage.unit_of_work(write=False) as uow:
            assert uow.outbox.get("mail-pending") is None

    # -- units of work

    def test_large_values_round_trip_whole(self, storage: Storage, office: Office) -> None:
        big_result = "結" * 100_000
        big_raw = b"Subject: x\r\n\r\n" + b"y" * 100_000
        mail = attrs.evolve(make_mail("mail-big"), raw=big_raw)
        with storage.unit_of_work() as uow:
            uow.idempotency.add(make_record(result=big_result))
            uow.outbox.add(mail)
        with storage.unit_of_work(write=False) as uow:
            record = uow.idempotency.get("u-1", "key-1")
            assert record is not None
            assert record.result == big_result
            assert uow.outbox.get("mail-big") == mail

    def test_an_interrupt_rolls_back_like_an_error(self, storage: Storage, office: Office) -> None:
        def interrupted() -> None:
            with storage.unit_of_work() as uow:
                uow.accounts.add(make_account("acc-interrupted"))
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            interrupted()
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.get("acc-interrupted") is None

    def test_units_of_work_from_threads_do_not_interleave(
        self, storage: Storage, office: Office
    ) -> None:
        # Each thread reads the account's name, then writes it back one longer: a lost update
        # shows as a name shorter than the number of increments.
        rounds, threads = 25, 4
        errors: list[BaseException] = []

        def increment() -> None:
            try:
                for _ in range(rounds):
                    with storage.unit_of_work() as uow:
                        account = uow.accounts.get("acc-1")
                        assert account is not None
                        time.sleep(0.001)  # let another thread run between read and write
                        uow.accounts.update(attrs.evolve(account, name=account.name + "+"))
            except BaseException as exc:
                errors.append(exc)

        workers = [threading.Thread(target=increment) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        assert errors == []
        with storage.unit_of_work(write=False) as uow:
            account = uow.accounts.get("acc-1")
        assert account is not None
        assert account.name.count("+") == rounds * threads

    def test_an_exception_in_a_unit_of_work_leaves_nothing_behind(
        self, storage: Storage, office: Office
    ) -> None:
        existing = make_request("r-old")
        self._add(storage, existing)
        with storage.unit_of_work(write=False) as uow:
            before_mails = uow.outbox.all()

        class Boom(Exception):
            pass

        def write_everything_then_fail() -> None:
            with storage.unit_of_work() as uow:
                uow.accounts.add(make_account("acc-9"))
                uow.accounts.update(make_account(name="renamed"))
                uow.users.add(make_user("u-9", account_id="acc-9"), "h")
                uow.users.update(office.alice.changed(nickname="x"))
                uow.users.set_password_hash(office.bob.id, "changed")
                uow.requests.add(make_request("r-new"))
                uow.requests.update_lines([bump(existing.lines[0], status=LineStatus.DELETED)])
                uow.messages.add(make_message(request_id="r-old"))
                uow.outbox.add(make_mail())
                uow.idempotency.add(make_record())
                uow.requests.purge("acc-1", at(100), dry_run=False)
                raise Boom

        with pytest.raises(Boom):
            write_everything_then_fail()
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.all_ids() == ["acc-1"]
            assert uow.accounts.get("acc-1") == office.account
            assert uow.users.get("u-9") is None
            assert uow.users.get(office.alice.id) == office.alice
            assert uow.users.password_hash(office.bob.id) == f"hash-of-{office.bob.id}"
            assert uow.requests.get("r-new") is None
            assert uow.requests.get("r-old") == existing
            assert uow.requests.pending_count("acc-1") == 1
            assert uow.messages.for_request("r-old") == []
            assert uow.outbox.all() == before_mails
            assert uow.idempotency.get("u-1", "key-1") is None

    def test_a_storage_error_inside_a_unit_of_work_rolls_back_its_earlier_writes(
        self, storage: Storage, office: Office
    ) -> None:
        def add_account_then_clash() -> None:
            with storage.unit_of_work() as uow:
                uow.accounts.add(make_account("acc-9"))
                uow.users.add(make_user("u-twin", login_id=office.alice.login_id), "h")

        with pytest.raises(Conflict):
            add_account_then_clash()
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.get("acc-9") is None

    def test_reads_in_a_write_unit_see_its_own_writes(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work() as uow:
            uow.requests.add(make_request(statuses=[LineStatus.REQUESTED] * 2))
            line = uow.requests.lines(["r-1-0"])["r-1-0"]
            uow.requests.update_lines([line.move(Act.WITHDRAW)])
            uow.messages.add(make_message())
            uow.outbox.add(make_mail(request_id="r-1"))
            uow.idempotency.add(make_record())
            uow.users.update(office.alice.changed(nickname="新"))
            assert uow.requests.pending_count("acc-1") == 1
            stored = uow.requests.get("r-1")
            assert stored is not None
            assert stored.lines[0].status is LineStatus.WITHDRAWN
            assert [r.id for r in uow.requests.page(self._query())] == ["r-1"]
            assert [m.id for m in uow.messages.for_request("r-1")] == ["m-1"]
            assert uow.outbox.pending_count() == 1
            assert uow.idempotency.get("u-1", "key-1") == make_record()
            user = uow.users.get(office.alice.id)
            assert user is not None
            assert user.nickname == "新"

    def test_a_committed_unit_is_seen_by_the_next(self, storage: Storage) -> None:
        with storage.unit_of_work() as uow:
            uow.accounts.add(make_account())
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.all_ids() == ["acc-1"]

    _WRITES: ClassVar[dict[str, Callable[[UnitOfWork], object]]] = {
        "accounts.add": lambda uow: uow.accounts.add(make_account("acc-9")),
        "accounts.update": lambda uow: uow.accounts.update(make_account(name="x")),
        "users.add": lambda uow: uow.users.add(make_user("u-9"), "h"),
        "users.update": lambda uow: uow.users.update(make_user("acc-1-alice").changed()),
        "users.set_password_hash": lambda uow: uow.users.set_password_hash("acc-1-alice", "h"),
        "requests.add": lambda uow: uow.requests.add(make_request("r-9")),
        "requests.update_lines": lambda uow: uow.requests.update_lines([bump(make_line())]),
        "requests.purge": lambda uow: uow.requests.purge("acc-1", at(100), dry_run=False),
        "messages.add": lambda uow: uow.messages.add(make_message()),
        "outbox.add": lambda uow: uow.outbox.add(make_mail("mail-9")),
        "outbox.mark_sent": lambda uow: uow.outbox.mark_sent("mail-1", at(1)),
        "outbox.reschedule": lambda uow: uow.outbox.reschedule(
            "mail-1", attempts=1, next_attempt_at=at(1), error="x"
        ),
        "idempotency.add": lambda uow: uow.idempotency.add(make_record()),
    }

    @pytest.mark.parametrize("write", sorted(_WRITES))
    def test_a_read_only_unit_refuses_writes(
        self, storage: Storage, office: Office, write: str
    ) -> None:
        self._add(storage, make_request(submitted_at=at(-5), statuses=[LineStatus.DELETED]))
        with storage.unit_of_work() as uow:
            uow.outbox.add(make_mail("mail-1"))
        with storage.unit_of_work(write=False) as uow:
            before = (uow.requests.get("r-1"), uow.outbox.all(), uow.users.in_account("acc-1"))
        with pytest.raises(StorageError), storage.unit_of_work(write=False) as uow:
            self._WRITES[write](uow)
        with storage.unit_of_work(write=False) as uow:
            after = (uow.requests.get("r-1"), uow.outbox.all(), uow.users.in_account("acc-1"))
        assert after == before

    def test_a_conflict_names_every_stale_line_of_the_batch(
        self, storage: Storage, office: Office
    ) -> None:
        request = make_request(statuses=[LineStatus.REQUESTED] * 3)
        self._add(storage, request)
        first, second, third = request.lines
        batch = [attrs.evolve(first, version=7), bump(second), attrs.evolve(third, version=9)]
        with pytest.raises(Conflict) as caught, storage.unit_of_work() as uow:
            uow.requests.update_lines(batch)
        assert set(caught.value.lines) == {first.id, third.id}
        assert self._get(storage, "r-1") == request

    def test_a_line_named_twice_in_one_batch_is_a_conflict(
        self, storage: Storage, office: Office
    ) -> None:
        request = make_request()
        self._add(storage, request)
        line = request.lines[0]
        # Versions that would chain (2 then 3) must not let the second slip through.
        twice = [bump(line), bump(bump(line), status=LineStatus.DELETED)]
        with pytest.raises(Conflict) as caught, storage.unit_of_work() as uow:
            uow.requests.update_lines(twice)
        assert caught.value.lines == {line.id: "named_twice"}
        assert self._get(storage, "r-1") == request

    def test_units_of_work_do_not_nest(self, storage: Storage, office: Office) -> None:
        with storage.unit_of_work() as uow:
            uow.accounts.add(make_account("acc-outer"))
            with pytest.raises(StorageError), storage.unit_of_work():
                pass
        with storage.unit_of_work(write=False) as uow:
            assert uow.accounts.get("acc-outer") is not None

    def test_a_unit_of_work_cannot_be_used_after_it_ended(
        self, storage: Storage, office: Office
    ) -> None:
        with storage.unit_of_work() as uow:
            repository = uow.accounts
        with pytest.raises(StorageError):
            uow.accounts.add(make_account("acc-late"))
        with pytest.raises(StorageError):
            repository.add(make_account("acc-late"))
        with pytest.raises(StorageError):
            repository.get("acc-1")
        with storage.unit_of_work(write=False) as fresh:
            assert fresh.accounts.get("acc-late") is None

    @pytest.mark.parametrize("field", ["request_id", "account_id", "requester_id"])
    def test_a_line_that_does_not_belong_to_its_request_is_refused(
        self, storage: Storage, office: Office, field: str
    ) -> None:
        request = make_request()
        changes: dict[str, Any] = {field: "someone-else"}
        stray = attrs.evolve(request.lines[0], **changes)
        with pytest.raises(StorageError), storage.unit_of_work() as uow:
            uow.requests.add(attrs.evolve(request, lines=(stray,)))
        assert self._get(storage, "r-1") is None

    def test_a_closed_storage_refuses_units_of_work(self, storage: Storage) -> None:
        storage.close()
        with pytest.raises(StorageError), storage.unit_of_work(write=False):
            pass
        storage.close()  # closing twice is harmless

    def test_every_refusal_is_a_torimatome_error_and_changes_nothing(
        self, storage: Storage, office: Office
    ) -> None:
        """What a driver refuses (a foreign key, an unknown row, a bad limit) reaches the
        application as a torimatome error, never as the driver's own exception."""
        self._add(storage, make_request(requester_id=office.alice.id))
        before = self._get(storage, "r-1")
        misuses: dict[str, Callable[[UnitOfWork], object]] = {
            "a user of an unknown account": lambda uow: uow.users.add(
                make_user("u-x", account_id="nope"), "hash"
            ),
            "a request of an unknown account": lambda uow: uow.requests.add(
                make_request("r-x", account_id="nope")
            ),
            "a mail of an unknown account": lambda uow: uow.outbox.add(
                make_mail("mail-x", account_id="nope")
            ),
            "a password for an unknown user": lambda uow: uow.users.set_password_hash(
                "nobody", "hash"
            ),
            "an unknown mail marked sent": lambda uow: uow.outbox.mark_sent("nope", T0),
            "a page of no rows": lambda uow: uow.requests.page(
                RequestQuery(account_id="acc-1", limit=0, visible_since=T0)
            ),
            "no due mails": lambda uow: uow.outbox.due(T0, 0),
            "a purge batch of none": lambda uow: uow.requests.purge(
                "acc-1", at(1), dry_run=False, limit=0
            ),
        }
        for what, misuse in misuses.items():
            with pytest.raises(TorimatomeError), storage.unit_of_work() as uow:  # noqa: PT012
                uow.accounts.update(attrs.evolve(office.account, name="書き換え"))
                misuse(uow)
            with storage.unit_of_work(write=False) as uow:
                assert uow.accounts.get("acc-1") == office.account, what
            assert self._get(storage, "r-1") == before, what

    # -- adapter equivalence

    def test_the_backend_agrees_with_the_memory_storage_on_random_operations(
        self, storage: Storage
    ) -> None:
        hypothesis = pytest.importorskip("hypothesis")
        from hypothesis.stateful import run_state_machine_as_test

        machine = _equivalence_machine(storage)
        run_state_machine_as_test(
            machine,
            settings=hypothesis.settings(
                stateful_step_count=25,
                # One backend serves every example: each example works in its own account.
                suppress_health_check=list(hypothesis.HealthCheck),
            ),
        )


# -- the equivalence state machine ---------------------------------------------------------------

_EXAMPLES = itertools.count()


def _equivalence_machine(storage: Storage) -> type[Any]:
    """A state machine that applies every step to ``storage`` and to a fresh MemoryStorage.

    Built on demand so that importing this module does not need Hypothesis.
    """
    from hypothesis import strategies as st
    from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

    acts = list(Act)
    days = st.integers(min_value=0, max_value=6)

    class Equivalence(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.account = f"eq-{next(_EXAMPLES)}"
            self.model: Storage = MemoryStorage()
            self.backends = (storage, self.model)
            self.users = [f"{self.account}-{name}" for name in ("coord", "alice", "bob")]
            self.request_ids: list[str] = []
            self.mail_ids: list[str] = []
            self.counter = itertools.count()
            for backend in self.backends:
                with backend.unit_of_work() as uow:
                    add_office(uow, self.account)

        def _both(self, work: Callable[[UnitOfWork], Any], *, write: bool = True) -> Any:
            """Run ``work`` on both backends; they must return (or raise) the same."""
            outcomes = []
            for backend in self.backends:
                try:
                    with backend.unit_of_work(write=write) as uow:
                        outcomes.append(("ok", work(uow)))
                except Conflict:
                    outcomes.append(("conflict", None))
            assert outcomes[0] == outcomes[1]
            return outcomes[1][1]

        def _when(self, day: int, tie: int) -> dt.datetime:
            return at(day, microseconds=tie)

        @rule(
            who=st.sampled_from([1, 2]),
            day=days,
            tie=st.sampled_from([0, 0, 1]),
            # Any statuses, not only "requested": closed requests must exist for purges and
            # retention to have something to do.
            statuses=st.lists(st.sampled_from(list(LineStatus)), min_size=1, max_size=3),
        )
        def add_request(self, who: int, day: int, tie: int, statuses: list[LineStatus]) -> None:
            request_id = f"{self.account}-r{next(self.counter)}"
            request = make_request(
                request_id,
                account_id=self.account,
                requester_id=self.users[who],
                submitted_at=self._when(day, tie),
                statuses=statuses,
                message="伝言🙂" if len(statuses) == 2 else "",
            )
            self._both(lambda uow: uow.requests.add(request))
            self.request_ids.append(request_id)

        @precondition(lambda self: bool(self.request_ids))
        @rule(data=st.data(), stale=st.booleans())
        def decide(self, data: Any, stale: bool) -> None:
            with self.model.unit_of_work(write=False) as uow:
                existing = [uow.requests.get(r) for r in self.request_ids]
            lines = [ln for r in existing if r is not None for ln in r.lines]
            if not lines:
                return
            chosen = data.draw(
                st.lists(st.sampled_from(lines), min_size=1, max_size=3, unique=True)
            )
            batch = []
            for line in chosen:
                act = data.draw(st.sampled_from(acts))
                if line.can(act):
                    batch.append(line.move(act, **self._changes(act, data)))
                elif line.status is LineStatus.ORDERED:
                    batch.append(line.with_order_status("出荷済"))
            if not batch:
                return
            if stale:
                index = data.draw(st.integers(0, len(batch) - 1))
                batch[index] = attrs.evolve(batch[index], version=batch[index].version + 1)
            self._both(lambda uow: uow.requests.update_lines(batch))

        def _changes(self, act: Act, data: Any) -> dict[str, Any]:
            if act in (Act.HOLD, Act.CONSOLIDATE, Act.DELETE):
                return {"decided_by": self.users[0], "decided_at": at(7)}
            if act is Act.ORDER:
                return {"order_id": f"{self.account}-o{data.draw(st.integers(0, 1))}"}
            if act is Act.RELEASE:
                return {"cart_ref": None}
            return {}

        @rule(day=st.integers(min_value=0, max_value=8), dry_run=st.booleans())
        def purge(self, day: int, dry_run: bool) -> None:
            self._both(lambda uow: uow.requests.purge(self.account, at(day), dry_run=dry_run))

        @precondition(lambda self: bool(self.request_ids))
        @rule(data=st.data(), day=days)
        def post_message(self, data: Any, day: int) -> None:
            request_id = data.draw(st.sampled_from(self.request_ids))
            message = make_message(
                f"{self.account}-m{next(self.counter)}", request_id=request_id, posted_at=at(day)
            )
            outcomes = []
            for backend in self.backends:
                try:
                    with backend.unit_of_work() as uow:
                        uow.messages.add(message)
                    outcomes.append(True)
                except StorageError:  # the request was purged
                    outcomes.append(False)
            assert outcomes[0] == outcomes[1]

        @rule(data=st.data(), sent=st.booleans(), day=days)
        def add_mail(self, data: Any, sent: bool, day: int) -> None:
            request_id = data.draw(st.sampled_from([None, *self.request_ids]))
            mail = make_mail(
                f"{self.account}-mail{next(self.counter)}",
                account_id=self.account,
                request_id=request_id,
                created_at=at(day),
                sent_at=at(day) if sent else None,
            )
            self._both(lambda uow: uow.outbox.add(mail))
            self.mail_ids.append(mail.id)

        @precondition(lambda self: bool(self.mail_ids))
        @rule(data=st.data(), day=days, send=st.booleans())
        def deliver(self, data: Any, day: int, send: bool) -> None:
            mail_id = data.draw(st.sampled_from(self.mail_ids))
            with self.model.unit_of_work(write=False) as uow:
                if uow.outbox.get(mail_id) is None:
                    return  # purged with its request
            if send:
                self._both(lambda uow: uow.outbox.mark_sent(mail_id, at(day)))
            else:
                self._both(
                    lambda uow: uow.outbox.reschedule(
                        mail_id, attempts=day, next_attempt_at=at(day), error="busy"
                    )
                )

        @precondition(lambda self: bool(self.request_ids))
        @rule(
            visible=days,
            limit=st.integers(min_value=1, max_value=4),
            who=st.sampled_from([None, None, 1, 2]),
            since=st.none() | days,
            width=st.none() | st.integers(min_value=1, max_value=7),
            decided_only=st.sampled_from([False, False, True]),
        )
        def walk_pages(
            self,
            visible: int,
            limit: int,
            who: int | None,
            since: int | None,
            width: int | None,
            decided_only: bool,
        ) -> None:
            until = None if width is None else (since or 0) + width
            query = RequestQuery(
                account_id=self.account,
                limit=limit,
                visible_since=at(visible),
                requester_id=None if who is None else self.users[who],
                submitted_from=None if since is None else at(since),
                submitted_before=None if until is None else at(until),
                decided_only=decided_only,
            )
            self._both(lambda uow: _walk(uow, query), write=False)

        @invariant()
        def same_pending_lists(self) -> None:
            self._both(
                lambda uow: (
                    uow.requests.pending_lines(self.account),
                    uow.requests.pending_count(self.account),
                ),
                write=False,
            )

        @invariant()
        def same_requests_threads_and_mails(self) -> None:
            def read(uow: UnitOfWork) -> object:
                requests = [uow.requests.get(r) for r in self.request_ids]
                prices = [str(ln.unit_price) for r in requests if r for ln in r.lines]
                threads = [uow.messages.for_request(r) for r in self.request_ids]
                mails = [uow.outbox.get(m) for m in self.mail_ids]
                first_page = uow.requests.page(
                    RequestQuery(account_id=self.account, limit=100, visible_since=at(3))
                )
                return requests, prices, threads, mails, first_page

            self._both(read, write=False)

    return Equivalence
