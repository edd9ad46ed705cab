"""Faults in the ports: a storage failing at every call of every operation, a cart failing on
its n-th call, mail transports failing in every way. On failure nothing changes; no line is
consolidated without being in the cart and no cart entry exists for a line that is not; no mail
is lost, and none is sent twice unless the transport itself lost a confirmation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torimatome import (
    CartError,
    Choice,
    LineStatus,
    NewLine,
    NewUser,
    RequestLine,
    StorageError,
)

from ..integration.office import Office, make_office, snapshot
from .faults import FaultyStorage, FlakyCart, FlakyTransport
from .harness import record_figures, scale


def consolidated(office: Office) -> set[str]:
    return {
        ln.id
        for r in office.app.history(office.boss.id, limit=500).items
        for ln in r.lines
        if ln.status is LineStatus.CONSOLIDATED
    }


def cart_matches(office: Office) -> bool:
    """Each consolidated line is in the cart and the cart holds nothing else."""
    return office.cart.line_ids() == consolidated(office)


def pending_ids(office: Office, who: str | None = None) -> list[str]:
    return [
        ln.id
        for g in office.app.pending(office.boss.id)
        for ln in g.lines
        if who is None or g.requester_id == who
    ]


def _refs_and_versions_aside(value: Any) -> Any:
    """A snapshot with lines' cart references and versions blanked: a release that fails puts
    its line back in the cart under a new reference, one version on."""
    if isinstance(value, RequestLine):
        return attrs.evolve(value, cart_ref=None, version=0)
    if isinstance(value, tuple | list):
        return type(value)(_refs_and_versions_aside(v) for v in value)
    if attrs.has(type(value)):
        return attrs.evolve(
            value,
            **{
                f.name.lstrip("_"): _refs_and_versions_aside(getattr(value, f.name))
                for f in attrs.fields(type(value))
                if f.init
            },
        )
    return value


# Each step prepares its arguments unarmed and returns the call to make under faults.
Prepare = Callable[[Office], Callable[[], object]]


def _lines() -> list[NewLine]:
    return [NewLine(sku=s, name="商品", quantity=2, unit_price=Decimal("120")) for s in "ABC"]


STEPS: list[tuple[str, Prepare]] = [
    ("submit", lambda o: lambda: o.app.submit_request(o.sato.id, _lines(), "至急", idempotency_key="k1")),
    ("copy", lambda o: (lambda rid: lambda: o.app.copy_request(o.suzuki.id, rid))(o.request(o.suzuki).id)),
    ("decide", lambda o: (lambda ids: lambda: o.app.decide(o.boss.id, {ids[0]: Choice.CONSOLIDATE, ids[1]: Choice.HOLD, ids[2]: Choice.DELETE, ids[3]: Choice.CONSOLIDATE}, idempotency_key="d1"))(pending_ids(o))),
    ("release", lambda o: (lambda lid: lambda: o.app.release(o.boss.id, lid))(sorted(consolidated(o))[0])),
    ("withdraw", lambda o: (lambda lid: lambda: o.app.withdraw(o.sato.id, lid))(pending_ids(o, o.sato.id)[0])),
    ("post", lambda o: (lambda rid: lambda: o.app.post_message(o.sato.id, rid, "よろしく"))(o.app.my_requests(o.sato.id).items[0].id)),
    ("order", lambda o: (lambda ids: lambda: o.app.record_order(o.boss.id, "O-1", ids))(sorted(consolidated(o)))),
    ("order status", lambda o: lambda: o.app.record_order_status(o.boss.id, "O-1", "出荷済み")),
    ("register", lambda o: lambda: o.app.register_internal_user(o.boss.id, NewUser(login_id="tanaka", email="t@example.com"))),
    ("profile", lambda o: lambda: o.app.update_profile(o.sato.id, o.sato.id, nickname="さとう")),
    ("settings", lambda o: lambda: o.app.update_account_settings(o.boss.id, locale="en")),
    ("password", lambda o: lambda: o.app.change_password(o.sato.id, current=o.passwords["sato"], new="correct horse battery")),
    ("deactivate", lambda o: lambda: o.app.deactivate_user(o.boss.id, o.suzuki.id)),
]  # fmt: skip


def test_a_storage_failing_at_any_call_changes_nothing_and_keeps_the_cart_true(
    storage_url: str,
) -> None:
    office = make_office(storage_url)
    storage = FaultyStorage(office.app.storage)
    office.app.storage = storage
    office.request(office.sato, ("X", 1))
    injected = 0
    for name, prepare in STEPS:
        call = prepare(office)
        for fail_at in range(1, 200):
            before = snapshot(office)
            storage.calls, storage.fail_at = 0, fail_at
            try:
                call()
            except StorageError:
                storage.fail_at = 0
                injected += 1
                after = snapshot(office)
                if name == "release":
                    assert _refs_and_versions_aside(after) == _refs_and_versions_aside(before)
                else:
                    assert after == before, (name, fail_at)
                assert cart_matches(office), (name, fail_at)
                continue
            finally:
                storage.fail_at = 0
            assert storage.calls < fail_at, (name, fail_at)  # it succeeded: no fault was hit
            assert cart_matches(office), name
            break
        else:
            pytest.fail(f"{name} never succeeded")
    office.app.close()
    record_figures("faults", storage_faults=injected)


@settings(max_examples=scale(15, 150), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(plan=st.lists(st.sampled_from(["decide", "release", "order"]), min_size=3, max_size=10),
       fail_at=st.integers(min_value=1, max_value=4), seed=st.randoms(use_true_random=False))  # fmt: skip
def test_a_cart_failing_on_its_nth_call_never_parts_the_cart_from_the_lines(
    plan: list[str], fail_at: int, seed: Any
) -> None:
    cart = FlakyCart()
    office = make_office("memory://", cart=cart)
    for who in (office.sato, office.suzuki, office.sato):
        office.request(who, ("A", 1), ("B", 2))
    cart.fail_at = fail_at
    for act in plan:
        before = snapshot(office)
        try:
            if act == "decide" and (ids := pending_ids(office)):
                picked = seed.sample(ids, min(len(ids), 3))
                office.app.decide(office.boss.id, {i: seed.choice(list(Choice)) for i in picked})
            elif act == "release" and (held := sorted(consolidated(office))):
                office.app.release(office.boss.id, seed.choice(held))
            elif act == "order" and (held := sorted(consolidated(office))):
                office.app.record_order(office.boss.id, f"O-{seed.random()}", held[:2])
        except CartError:
            assert snapshot(office) == before
        assert cart_matches(office)
    record_figures("faults", cart_faults=cart.injected, cart_scenarios=1)


def test_a_release_whose_commit_fails_puts_the_line_back_in_the_cart(storage_url: str) -> None:
    office = make_office(storage_url)
    (line,) = office.request(office.sato).lines
    office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE})
    storage = FaultyStorage(office.app.storage)
    office.app.storage = storage
    storage.calls = 0
    office.app.release(office.boss.id, line.id)  # counts the calls of a release that works
    calls = storage.calls
    office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE})
    storage.calls, storage.fail_at = 0, calls  # the last call of a release is its commit
    with pytest.raises(StorageError):
        office.app.release(office.boss.id, line.id)
    (stored,) = [ln for r in office.app.history(office.boss.id).items for ln in r.lines]
    assert stored.status is LineStatus.CONSOLIDATED
    assert office.cart.line_ids() == {line.id}
    office.app.release(office.boss.id, stored.id)  # and the new reference releases it for real
    assert office.cart.line_ids() == set()
    office.app.close()


TRANSPORT_FAULTS = ["fail", "timeout", "none", "accept_then_fail"]


@settings(max_examples=scale(20, 200), deadline=None)
@given(plan=st.dictionaries(st.integers(min_value=1, max_value=30),
                            st.sampled_from(TRANSPORT_FAULTS), max_size=12))  # fmt: skip
def test_no_mail_is_lost_and_only_a_lost_confirmation_sends_one_twice(
    plan: dict[int, str],
) -> None:
    transport = FlakyTransport(plan)
    office = make_office("memory://", plugins=(transport,))
    office.app.pm.unregister(office.mail)
    for who in (office.sato, office.suzuki, office.sato):
        office.request(who)
    with office.app.storage.unit_of_work(write=False) as uow:
        written = {m.id for m in uow.outbox.all()}
        message_ids = [m.raw for m in uow.outbox.all()]
    for _ in range(40):
        report = office.app.deliver_mail()
        assert report.sent + report.failed <= len(written)
        if report.pending == 0:
            break
        office.clock.advance(hours=7)  # past the longest backoff
    with office.app.storage.unit_of_work(write=False) as uow:
        assert all(m.sent_at is not None for m in uow.outbox.all())
    delivered = transport.delivered
    lost_confirmations = sum(
        1 for call, fault in plan.items() if fault == "accept_then_fail" and call <= transport.calls
    )
    assert len(set(delivered)) == len(message_ids)  # nothing lost
    # A mail goes twice only when the server took it and its answer was lost; the copy carries
    # the same Message-ID, so the receiving side can tell.
    assert len(delivered) - len(set(delivered)) == lost_confirmations
    record_figures("faults", transport_faults=sum(
        1 for call in plan if call <= transport.calls), mails_checked=len(message_ids),
        resent_after_lost_confirmation=lost_confirmations)  # fmt: skip
