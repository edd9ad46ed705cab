"""The request-line lifecycle (DESIGN §1): the only legal moves between line states."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from torimatome.domain.errors import InvalidTransition
from torimatome.domain.lines import (
    OPEN_STATUSES,
    PENDING_STATUSES,
    TRANSITIONS,
    Act,
    LineStatus,
    RequestLine,
)

S, A = LineStatus, Act

#: DESIGN.md §1, the lifecycle table, copied cell by cell (every other cell is "—").
DESIGN_TABLE: dict[tuple[LineStatus, Act], LineStatus] = {
    (S.REQUESTED, A.HOLD): S.ON_HOLD,
    (S.REQUESTED, A.CONSOLIDATE): S.CONSOLIDATED,
    (S.REQUESTED, A.DELETE): S.DELETED,
    (S.REQUESTED, A.WITHDRAW): S.WITHDRAWN,
    (S.ON_HOLD, A.HOLD): S.ON_HOLD,
    (S.ON_HOLD, A.CONSOLIDATE): S.CONSOLIDATED,
    (S.ON_HOLD, A.DELETE): S.DELETED,
    (S.ON_HOLD, A.WITHDRAW): S.WITHDRAWN,
    (S.CONSOLIDATED, A.RELEASE): S.REQUESTED,
    (S.CONSOLIDATED, A.ORDER): S.ORDERED,
}
TERMINAL = (S.DELETED, S.WITHDRAWN)
ALL_PAIRS = list(itertools.product(LineStatus, Act))


def make_line(status: LineStatus = S.REQUESTED, version: int = 3) -> RequestLine:
    return RequestLine(
        id="L1",
        request_id="R1",
        account_id="A1",
        requester_id="U1",
        position=0,
        sku="SKU-1",
        name="コピー用紙 A4",
        quantity=5,
        unit_price=Decimal("398"),
        status=status,
        version=version,
    )


def test_the_lifecycle_table_is_exactly_the_design_table() -> None:
    assert dict(TRANSITIONS) == DESIGN_TABLE


@pytest.mark.parametrize(("status", "act"), ALL_PAIRS, ids=lambda v: str(v))
def test_every_status_and_act_pair_follows_the_design_table(status: LineStatus, act: Act) -> None:
    line = make_line(status)
    before = attrs.evolve(line)
    target = DESIGN_TABLE.get((status, act))
    if target is not None:
        assert line.can(act)
        moved = line.move(act)
        assert moved.status is target
        assert moved.version == line.version + 1
        assert attrs.evolve(moved, status=status, version=line.version) == line
    else:
        assert not line.can(act)
        with pytest.raises(InvalidTransition) as caught:
            line.move(act)
        assert caught.value.line_id == "L1"
        assert caught.value.status == status.value
        assert caught.value.act == act.value
    assert line == before
    assert line.status is status
    assert line.version == 3


@pytest.mark.parametrize("status", TERMINAL)
def test_deleted_and_withdrawn_lines_are_terminal(status: LineStatus) -> None:
    line = make_line(status)
    for act in Act:
        assert not line.can(act)
        with pytest.raises(InvalidTransition):
            line.move(act)
    with pytest.raises(InvalidTransition):
        line.with_order_status("出荷済")


def test_a_held_line_can_be_consolidated_later() -> None:
    held = make_line().move(Act.HOLD)
    assert held.status is S.ON_HOLD
    assert held.move(Act.CONSOLIDATE).status is S.CONSOLIDATED


def test_a_released_line_returns_to_the_pending_list() -> None:
    released = make_line(S.CONSOLIDATED).move(Act.RELEASE)
    assert released.status is S.REQUESTED
    assert released.pending


def test_move_records_the_given_changes_with_the_new_state() -> None:
    at = dt.datetime(2026, 4, 1, 3, 0, tzinfo=dt.UTC)
    moved = make_line().move(Act.CONSOLIDATE, cart_ref="C-9", decided_by="U9", decided_at=at)
    assert (moved.cart_ref, moved.decided_by, moved.decided_at) == ("C-9", "U9", at)
    assert moved.unit_price == Decimal("398")
    assert moved.quantity == 5


def test_an_ordered_line_still_takes_order_status_texts() -> None:
    line = make_line(S.ORDERED)
    shipped = line.with_order_status("出荷済")
    delivered = shipped.with_order_status("お届け済")
    assert shipped.status is S.ORDERED
    assert shipped.order_status == "出荷済"
    assert shipped.version == line.version + 1
    assert delivered.order_status == "お届け済"
    assert delivered.version == line.version + 2
    assert line.order_status is None


@pytest.mark.parametrize("status", [s for s in LineStatus if s is not S.ORDERED])
def test_a_line_that_is_not_ordered_refuses_an_order_status(status: LineStatus) -> None:
    line = make_line(status)
    with pytest.raises(InvalidTransition):
        line.with_order_status("出荷済")
    assert line.order_status is None
    assert line.version == 3


def test_pending_and_open_statuses_match_the_design() -> None:
    assert {S.REQUESTED, S.ON_HOLD} == PENDING_STATUSES
    assert {S.REQUESTED, S.ON_HOLD, S.CONSOLIDATED} == OPEN_STATUSES
    for status in LineStatus:
        assert make_line(status).pending is (status in PENDING_STATUSES)


def test_every_status_has_a_japanese_and_an_english_label() -> None:
    assert [s.label_ja for s in LineStatus] == [
        "依頼中",
        "保留",
        "とりまとめ済",
        "注文済",
        "削除",
        "取消",
    ]
    for status in LineStatus:
        assert status.label("ja") == status.label_ja
        assert status.label("en") == status.label_en
        assert status.label_en


def test_a_line_amount_is_its_unit_price_times_its_quantity() -> None:
    assert make_line().amount == Decimal("1990")


@given(st.lists(st.sampled_from(list(Act)), max_size=30))
def test_random_act_sequences_never_leave_a_terminal_state_and_count_versions(
    acts: list[Act],
) -> None:
    line = make_line(version=1)
    accepted = 0
    reached_terminal = False
    for act in acts:
        try:
            line = line.move(act)
        except InvalidTransition:
            continue
        assert not reached_terminal, "a terminal line accepted a move"
        accepted += 1
        reached_terminal = line.status in TERMINAL
    if reached_terminal:
        assert line.status in TERMINAL
    assert line.version == 1 + accepted
