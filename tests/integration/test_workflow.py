"""The whole consolidated-ordering workflow through the public API, on every storage adapter."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from torimatome import (
    AccessDenied,
    Choice,
    Conflict,
    InvalidTransition,
    LineStatus,
    NewLine,
    NotFound,
)

from .office import Office


def test_a_request_goes_from_cart_to_order(office: Office) -> None:
    app, boss = office.app, office.boss
    request = office.request(office.sato, ("A-1", 2), ("B-2", 3), message="急ぎでお願いします")
    assert [ln.status for ln in request.lines] == [LineStatus.REQUESTED] * 2
    assert app.pending_count(boss.id) == 2

    decision = app.decide(boss.id, {ln.id: Choice.CONSOLIDATE for ln in request.lines})
    assert set(decision.consolidated) == {ln.id for ln in request.lines}
    assert office.cart.line_ids() == set(decision.consolidated)
    assert app.pending_count(boss.id) == 0

    ordered = app.record_order(boss.id, "ORD-1", list(decision.consolidated))
    assert {ln.status for ln in ordered} == {LineStatus.ORDERED}
    assert office.cart.line_ids() == set()
    app.record_order_status(boss.id, "ORD-1", "出荷済み")
    view = app.get_request(office.sato.id, request.id)
    assert {ln.order_status for ln in view.lines} == {"出荷済み"}
    assert {ln.order_id for ln in view.lines} == {"ORD-1"}


def test_held_line_stays_on_the_pending_list_and_deleted_line_leaves_it(office: Office) -> None:
    app, boss = office.app, office.boss
    held, deleted, kept = office.request(office.sato, ("A", 1), ("B", 1), ("C", 1)).lines
    app.decide(boss.id, {held.id: Choice.HOLD, deleted.id: Choice.DELETE})
    pending = {ln.id: ln.status for g in app.pending(boss.id) for ln in g.lines}
    assert pending == {held.id: LineStatus.ON_HOLD, kept.id: LineStatus.REQUESTED}


def test_a_decide_batch_touches_only_the_lines_it_names(office: Office) -> None:
    app, boss = office.app, office.boss
    first, second = office.request(office.sato, ("A", 1), ("B", 1)).lines
    app.decide(boss.id, {first.id: Choice.HOLD})
    stored = app.get_request(boss.id, first.request_id).lines
    assert stored[1] == second


def test_pending_list_is_grouped_by_requester_with_versions(office: Office) -> None:
    app, boss = office.app, office.boss
    office.request(office.sato, ("A", 1))
    office.clock.advance(minutes=1)
    office.request(office.suzuki, ("B", 1), ("C", 2))
    office.clock.advance(minutes=1)
    office.request(office.sato, ("D", 1))
    groups = app.pending(boss.id)
    assert [(g.requester_name, [ln.sku for ln in g.lines]) for g in groups] == [
        ("佐藤", ["A", "D"]),
        ("鈴木", ["B", "C"]),
    ]
    assert all(ln.version == 1 for g in groups for ln in g.lines)
    assert app.pending_count(boss.id) == sum(len(g.lines) for g in groups)


def test_stale_versions_make_the_whole_batch_a_conflict_and_change_nothing(office: Office) -> None:
    app, boss = office.app, office.boss
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    app.decide(boss.id, {a.id: Choice.HOLD})  # another tab moved line a
    with pytest.raises(Conflict) as caught:
        app.decide(boss.id, {a.id: Choice.DELETE, b.id: Choice.CONSOLIDATE},
                   versions={a.id: 1, b.id: 1})  # fmt: skip
    assert set(caught.value.lines) == {a.id}
    assert office.cart.line_ids() == set()
    assert app.get_request(boss.id, a.request_id).lines[1] == b


def test_a_withdrawn_line_cannot_be_decided_from_an_old_screen(office: Office) -> None:
    app, boss = office.app, office.boss
    (line,) = office.request(office.sato, ("A", 1)).lines
    app.withdraw(office.sato.id, line.id)
    with pytest.raises(Conflict) as caught:
        app.decide(boss.id, {line.id: Choice.CONSOLIDATE})
    assert caught.value.lines == {line.id: "already_withdrawn"}


def test_only_the_requester_withdraws_and_only_undecided_lines(office: Office) -> None:
    app, boss = office.app, office.boss
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    with pytest.raises(NotFound):
        app.withdraw(office.suzuki.id, a.id)
    with pytest.raises(AccessDenied):
        app.withdraw(boss.id, a.id)
    app.decide(boss.id, {b.id: Choice.CONSOLIDATE})
    with pytest.raises(InvalidTransition):
        app.withdraw(office.sato.id, b.id)
    assert app.withdraw(office.sato.id, a.id).status is LineStatus.WITHDRAWN


def test_release_takes_a_line_out_of_the_cart_and_back_to_pending(office: Office) -> None:
    app, boss = office.app, office.boss
    (line,) = office.request(office.sato, ("A", 1)).lines
    app.decide(boss.id, {line.id: Choice.CONSOLIDATE})
    released = app.release(boss.id, line.id)
    assert released.status is LineStatus.REQUESTED
    assert released.cart_ref is None
    assert office.cart.line_ids() == set()
    assert app.pending_count(boss.id) == 1
    with pytest.raises(InvalidTransition):
        app.release(boss.id, line.id)


def test_record_order_refuses_lines_that_are_not_consolidated_and_changes_nothing(
    office: Office,
) -> None:
    app, boss = office.app, office.boss
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    app.decide(boss.id, {a.id: Choice.CONSOLIDATE})
    with pytest.raises(InvalidTransition):
        app.record_order(boss.id, "ORD-9", [a.id, b.id])
    assert app.get_request(boss.id, a.request_id).lines[0].status is LineStatus.CONSOLIDATED
    with pytest.raises(NotFound):
        app.record_order_status(boss.id, "ORD-9", "出荷済み")


def test_unit_prices_are_never_rewritten_and_drift_is_reported(storage_url: str) -> None:
    from torimatome import MemoryCart

    from .office import make_office

    cart = MemoryCart(prices={"A": Decimal("120")})
    office = make_office(storage_url, cart=cart)
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    decision = office.app.decide(office.boss.id, {a.id: "consolidate", b.id: "consolidate"})
    drift = [(p.line_id, p.requested_unit_price, p.current_unit_price)
             for p in decision.price_changes]  # fmt: skip
    assert drift == [(a.id, Decimal("100"), Decimal("120"))]
    stored = office.app.get_request(office.boss.id, a.request_id).lines
    assert [ln.unit_price for ln in stored] == [Decimal("100"), Decimal("100")]


def test_copy_request_files_a_fresh_request_with_the_same_lines(office: Office) -> None:
    app = office.app
    old = office.request(office.sato, ("A", 2), ("B", 1), message="前回と同じ")
    app.post_message(office.sato.id, old.id, "メモ")
    app.decide(office.boss.id, {old.lines[0].id: Choice.DELETE})
    office.clock.advance(days=3)
    new = app.copy_request(office.sato.id, old.id)
    assert new.id != old.id
    assert new.submitted_at == office.clock.now
    assert [(ln.sku, ln.quantity, ln.status) for ln in new.lines] == [
        ("A", 2, LineStatus.REQUESTED),
        ("B", 1, LineStatus.REQUESTED),
    ]
    assert {ln.id for ln in new.lines}.isdisjoint({ln.id for ln in old.lines})
    assert app.thread(office.sato.id, new.id) == []
    with pytest.raises(NotFound):
        app.copy_request(office.suzuki.id, old.id)


def test_results_do_not_depend_on_a_naive_or_foreign_clock(storage_url: str) -> None:
    from .office import make_office

    office = make_office(storage_url)
    office.clock.now = dt.datetime(2026, 4, 6, 18, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    request = office.request(office.sato)
    assert request.submitted_at.tzinfo == dt.UTC
    assert request.submitted_at == dt.datetime(2026, 4, 6, 23, 0, tzinfo=dt.UTC)
    today_in_tokyo = dt.date(2026, 4, 7)
    page = office.app.my_requests(office.sato.id, since=today_in_tokyo, until=today_in_tokyo)
    assert [v.id for v in page.items] == [request.id]


def test_line_quantities_and_order_are_stored_exactly(office: Office) -> None:
    lines = [
        NewLine(sku="X-1", name="コピー用紙 A4", quantity=9999, unit_price=Decimal("1980.50")),
        NewLine(sku="X-2", name="👍🏽 付箋", quantity=1, unit_price=Decimal("0")),
    ]
    request = office.app.submit_request(office.sato.id, lines)
    stored = office.app.get_request(office.sato.id, request.id)
    assert [(ln.sku, ln.name, ln.quantity, ln.unit_price) for ln in stored.lines] == [
        (x.sku, x.name, x.quantity, x.unit_price) for x in lines
    ]
    assert str(stored.lines[0].unit_price) == "1980.50"
