"""Deciding (とりまとめ → 決定する, DESIGN §1): the coordinator's atomic batch, planned purely."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest

from torimatome.domain.cart import CartEntry, CartRef, PriceChange
from torimatome.domain.decide import (
    MAX_BATCH,
    Choice,
    DecisionPlan,
    complete_decision,
    parse_choices,
    plan_decision,
)
from torimatome.domain.errors import CartError, Conflict, InvalidInput
from torimatome.domain.lines import LineStatus, RequestLine

NOW = dt.datetime(2026, 4, 1, 1, 30, tzinfo=dt.UTC)
COORDINATOR = "coord-1"


def make_line(
    line_id: str,
    *,
    status: LineStatus = LineStatus.REQUESTED,
    version: int = 1,
    sku: str | None = None,
    price: str = "120",
    quantity: int = 2,
) -> RequestLine:
    return RequestLine(
        id=line_id,
        request_id="R1",
        account_id="A1",
        requester_id="U1",
        position=0,
        sku=sku or f"SKU-{line_id}",
        name=f"商品 {line_id}",
        quantity=quantity,
        unit_price=Decimal(price),
        status=status,
        version=version,
    )


def by_id(*lines: RequestLine) -> dict[str, RequestLine]:
    return {line.id: line for line in lines}


def plan(
    lines: dict[str, RequestLine],
    choices: dict[str, Choice],
    versions: dict[str, int] | None = None,
) -> DecisionPlan:
    return plan_decision(lines, choices, versions or {}, coordinator_id=COORDINATOR, now=NOW)


# --- parse_choices -------------------------------------------------------------------------


@pytest.mark.parametrize("choices", [{}, None, [("L1", "hold")], "L1", 3, {"L1"}])
def test_parse_choices_refuses_an_empty_map_or_a_non_mapping(choices: object) -> None:
    with pytest.raises(InvalidInput):
        parse_choices(choices, None)


@pytest.mark.parametrize("choice", ["approve", "HOLD", "", None, 1, True, "consolidate "])
def test_parse_choices_refuses_an_unknown_choice(choice: object) -> None:
    with pytest.raises(InvalidInput):
        parse_choices({"L1": choice}, None)


@pytest.mark.parametrize("line_id", [1, None, "", "x" * 65, ("L1",)])
def test_parse_choices_refuses_a_malformed_line_id(line_id: object) -> None:
    with pytest.raises(InvalidInput):
        parse_choices({line_id: "hold"}, None)


def test_parse_choices_accepts_a_choice_or_its_string_value() -> None:
    parsed, versions = parse_choices({"L1": Choice.CONSOLIDATE, "L2": "hold", "L3": "delete"}, None)
    assert parsed == {"L1": Choice.CONSOLIDATE, "L2": Choice.HOLD, "L3": Choice.DELETE}
    assert all(type(choice) is Choice for choice in parsed.values())
    assert versions == {}


def test_parse_choices_accepts_versions_for_named_lines() -> None:
    parsed, versions = parse_choices({"L1": "hold", "L2": "delete"}, {"L1": 4, "L2": 1})
    assert parsed == {"L1": Choice.HOLD, "L2": Choice.DELETE}
    assert versions == {"L1": 4, "L2": 1}


def test_a_versions_map_must_cover_every_chosen_line() -> None:
    # Otherwise a forgotten entry would silently skip that line's staleness check.
    with pytest.raises(InvalidInput):
        parse_choices({"L1": "hold", "L2": "delete"}, {"L1": 4})
    with pytest.raises(InvalidInput):
        parse_choices({"L1": "hold"}, {})


@pytest.mark.parametrize("version", [True, False, "2", -1, 0, 1.0, None, Decimal(2)])
def test_parse_choices_refuses_a_malformed_version(version: object) -> None:
    with pytest.raises(InvalidInput):
        parse_choices({"L1": "hold"}, {"L1": version})


def test_versions_of_lines_the_batch_does_not_name_are_ignored() -> None:
    # A screen posts back the versions of every line it showed; only the named lines count.
    _, versions = parse_choices({"L1": "hold"}, {"L1": 1, "L2": 3})
    assert versions == {"L1": 1}


@pytest.mark.parametrize("versions", [[("L1", 1)], "L1", 1])
def test_parse_choices_refuses_versions_that_are_not_a_mapping(versions: object) -> None:
    with pytest.raises(InvalidInput):
        parse_choices({"L1": "hold"}, versions)


def test_parse_choices_refuses_more_than_a_thousand_lines() -> None:
    assert MAX_BATCH == 1000
    at_limit = {f"L{i}": "hold" for i in range(1000)}
    parsed, _ = parse_choices(at_limit, None)
    assert len(parsed) == 1000
    with pytest.raises(InvalidInput):
        parse_choices({**at_limit, "L1000": "hold"}, None)


# --- plan_decision -------------------------------------------------------------------------


def test_a_stale_version_is_a_conflict_naming_every_stale_line() -> None:
    lines = by_id(make_line("L1", version=2), make_line("L2", version=5), make_line("L3"))
    choices = {"L1": Choice.HOLD, "L2": Choice.DELETE, "L3": Choice.CONSOLIDATE}
    with pytest.raises(Conflict) as caught:
        plan(lines, choices, {"L1": 1, "L2": 4, "L3": 1})
    assert set(caught.value.lines) == {"L1", "L2"}
    assert "L1" in str(caught.value)
    assert "L2" in str(caught.value)


def test_a_conflict_names_stale_and_already_decided_lines_together() -> None:
    lines = by_id(
        make_line("L1", version=2),
        make_line("L2", status=LineStatus.WITHDRAWN, version=2),
        make_line("L3"),
    )
    choices = {"L1": Choice.HOLD, "L2": Choice.HOLD, "L3": Choice.HOLD}
    with pytest.raises(Conflict) as caught:
        plan(lines, choices, {"L1": 1})
    assert set(caught.value.lines) == {"L1", "L2"}


@pytest.mark.parametrize(
    "status",
    [LineStatus.CONSOLIDATED, LineStatus.ORDERED, LineStatus.DELETED, LineStatus.WITHDRAWN],
)
@pytest.mark.parametrize("choice", list(Choice))
def test_a_line_that_is_no_longer_pending_makes_the_batch_a_conflict(
    status: LineStatus, choice: Choice
) -> None:
    lines = by_id(make_line("L1", status=status, version=2), make_line("L2"))
    with pytest.raises(Conflict) as caught:
        plan(lines, {"L1": choice, "L2": Choice.HOLD})
    assert set(caught.value.lines) == {"L1"}
    assert status.value in caught.value.lines["L1"]


def test_a_current_version_is_accepted() -> None:
    lines = by_id(make_line("L1", version=7))
    result = plan(lines, {"L1": Choice.DELETE}, {"L1": 7})
    assert [line.id for line in result.deleted] == ["L1"]


def test_holding_a_line_already_on_hold_is_allowed() -> None:
    lines = by_id(make_line("L1", status=LineStatus.ON_HOLD, version=2))
    result = plan(lines, {"L1": Choice.HOLD}, {"L1": 2})
    (held,) = result.held
    assert held.status is LineStatus.ON_HOLD
    assert held.version == 3
    assert held.decided_by == COORDINATOR
    assert held.decided_at == NOW


def test_held_and_deleted_lines_are_moved_and_stamped_with_the_decider() -> None:
    lines = by_id(make_line("L1"), make_line("L2"))
    result = plan(lines, {"L1": Choice.HOLD, "L2": Choice.DELETE})
    assert [(ln.id, ln.status) for ln in result.held] == [("L1", LineStatus.ON_HOLD)]
    assert [(ln.id, ln.status) for ln in result.deleted] == [("L2", LineStatus.DELETED)]
    for line in (*result.held, *result.deleted):
        assert line.version == 2
        assert (line.decided_by, line.decided_at) == (COORDINATOR, NOW)
    assert result.to_consolidate == ()
    assert result.entries == ()


def test_consolidated_lines_become_cart_entries_with_their_provenance() -> None:
    lines = by_id(
        make_line("L1", sku="A-1", price="398", quantity=3),
        make_line("L2", sku="A-1", price="398", quantity=1),
        make_line("L3"),
    )
    result = plan(lines, {"L1": Choice.CONSOLIDATE, "L2": Choice.CONSOLIDATE})
    assert result.entries == (
        CartEntry(line_id="L1", sku="A-1", name="商品 L1", quantity=3, unit_price=Decimal(398)),
        CartEntry(line_id="L2", sku="A-1", name="商品 L2", quantity=1, unit_price=Decimal(398)),
    )
    # Consolidated lines only change once the cart accepted them.
    assert result.to_consolidate == (lines["L1"], lines["L2"])
    assert result.coordinator_id == COORDINATOR
    assert result.at == NOW


def test_a_cart_entry_has_no_field_that_could_carry_a_message() -> None:
    fields = set(attrs.fields_dict(CartEntry))
    assert fields == {"line_id", "sku", "name", "quantity", "unit_price"}
    assert not any("message" in name or "note" in name for name in fields)


def test_a_plan_touches_only_the_lines_it_names() -> None:
    lines = by_id(make_line("L1"), make_line("L2"), make_line("L3"))
    result = plan(lines, {"L2": Choice.HOLD})
    named = {ln.id for ln in (*result.held, *result.deleted, *result.to_consolidate)}
    assert named == {"L2"}
    assert lines["L1"].status is LineStatus.REQUESTED
    assert lines["L2"].status is LineStatus.REQUESTED


# --- complete_decision ---------------------------------------------------------------------


def _consolidating_plan() -> DecisionPlan:
    lines = by_id(
        make_line("L1", price="100"),
        make_line("L2", price="250"),
        make_line("L3", price="80"),
        make_line("L4"),
        make_line("L5"),
    )
    return plan(
        lines,
        {
            "L1": Choice.CONSOLIDATE,
            "L2": Choice.CONSOLIDATE,
            "L3": Choice.CONSOLIDATE,
            "L4": Choice.HOLD,
            "L5": Choice.DELETE,
        },
    )


def test_a_missing_cart_ref_is_a_cart_error() -> None:
    with pytest.raises(CartError):
        complete_decision(_consolidating_plan(), [CartRef("L1", "c1"), CartRef("L2", "c2")])


def test_a_duplicate_cart_ref_is_a_cart_error() -> None:
    refs = [CartRef("L1", "c1"), CartRef("L2", "c2"), CartRef("L3", "c3"), CartRef("L3", "c4")]
    with pytest.raises(CartError):
        complete_decision(_consolidating_plan(), refs)


def test_an_extra_cart_ref_is_a_cart_error() -> None:
    refs = [CartRef("L1", "c1"), CartRef("L2", "c2"), CartRef("L3", "c3"), CartRef("L4", "c4")]
    with pytest.raises(CartError):
        complete_decision(_consolidating_plan(), refs)


def test_something_that_is_not_a_cart_ref_is_a_cart_error() -> None:
    refs = [CartRef("L1", "c1"), CartRef("L2", "c2"), ("L3", "c3")]
    with pytest.raises(CartError):
        complete_decision(_consolidating_plan(), refs)  # type: ignore[arg-type]


def test_complete_decision_reports_only_the_prices_that_drifted() -> None:
    refs = [
        CartRef("L1", "c1", current_unit_price=Decimal("100.00")),  # same amount
        CartRef("L2", "c2", current_unit_price=Decimal("260")),  # drifted
        CartRef("L3", "c3"),  # the cart does not know
    ]
    _, decision = complete_decision(_consolidating_plan(), refs)
    assert decision.price_changes == (
        PriceChange(
            line_id="L2",
            sku="SKU-L2",
            requested_unit_price=Decimal("250"),
            current_unit_price=Decimal("260"),
        ),
    )


def test_complete_decision_consolidates_and_stamps_lines_without_rewriting_prices() -> None:
    refs = [
        CartRef("L3", "c3"),
        CartRef("L1", "c1", current_unit_price=Decimal("90")),
        CartRef("L2", "c2"),
    ]
    the_plan = _consolidating_plan()
    new_lines, decision = complete_decision(the_plan, refs)
    by_line = {line.id: line for line in new_lines}
    assert set(by_line) == {"L1", "L2", "L3", "L4", "L5"}
    for line_id, ref, price in (("L1", "c1", "100"), ("L2", "c2", "250"), ("L3", "c3", "80")):
        line = by_line[line_id]
        assert line.status is LineStatus.CONSOLIDATED
        assert line.cart_ref == ref
        assert line.unit_price == Decimal(price)
        assert line.version == 2
        assert (line.decided_by, line.decided_at) == (COORDINATOR, NOW)
    assert by_line["L4"].status is LineStatus.ON_HOLD
    assert by_line["L5"].status is LineStatus.DELETED
    assert decision.consolidated == ("L1", "L2", "L3")
    assert decision.held == ("L4",)
    assert decision.deleted == ("L5",)
    assert [ref.line_id for ref in decision.cart_refs] == ["L1", "L2", "L3"]
    assert [change.line_id for change in decision.price_changes] == ["L1"]


def test_a_plan_without_consolidation_completes_with_no_cart_refs() -> None:
    lines = by_id(make_line("L1"))
    new_lines, decision = complete_decision(plan(lines, {"L1": Choice.HOLD}), [])
    assert [line.status for line in new_lines] == [LineStatus.ON_HOLD]
    assert decision.consolidated == ()
    assert decision.cart_refs == ()
    assert decision.price_changes == ()
