"""Deciding (とりまとめ → 決定する): the coordinator's atomic batch, planned without I/O.

:func:`plan_decision` checks every named line is current and decidable and returns the lines
after the decision, plus the cart entries for the consolidated ones. :func:`complete_decision`
fills in the cart's references once the cart accepted. Either every line is valid, or the whole
batch is a :class:`Conflict` naming the stale lines.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from .cart import CartEntry, CartRef, PriceChange
from .errors import VERSION_MOVED, CartError, Conflict, InvalidInput, already
from .lines import Act, RequestLine
from .text import forbidden_character
from .validation import check_price, plain_int, plain_str
from .views import Decision

__all__ = ["Choice", "DecisionPlan", "complete_decision", "parse_choices", "plan_decision"]

MAX_BATCH = 1000
MAX_REF_LENGTH = 200


class Choice(enum.StrEnum):
    """The three buttons per line: とりまとめ / 保留 / 削除."""

    CONSOLIDATE = "consolidate"
    HOLD = "hold"
    DELETE = "delete"

    @property
    def act(self) -> Act:
        return Act(self.value)


@attrs.frozen
class DecisionPlan:
    """Lines as they will be stored, the cart entries to send and their order."""

    held: tuple[RequestLine, ...]
    deleted: tuple[RequestLine, ...]
    to_consolidate: tuple[RequestLine, ...]
    entries: tuple[CartEntry, ...]
    coordinator_id: str
    at: dt.datetime


def _brief(value: object) -> str:
    """A caller's value in an error message, never longer than a line."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _items(mapping: Mapping[Any, Any], field: str) -> list[tuple[Any, Any]]:
    """The pairs of a caller's mapping; a mapping that fails to iterate is bad input."""
    try:
        return list(mapping.items())
    except Exception:
        raise InvalidInput(f"{field} could not be read as a mapping.", field=field) from None


def parse_choices(choices: object, versions: object) -> tuple[dict[str, Choice], dict[str, int]]:
    """Validate the caller's ``{line_id: Choice}`` and optional ``{line_id: version}`` maps."""
    if not isinstance(choices, Mapping) or not choices:
        raise InvalidInput(
            "choices must be a non-empty {line_id: Choice} mapping.", field="choices"
        )
    if len(choices) > MAX_BATCH:
        raise InvalidInput(f"A batch decides at most {MAX_BATCH} lines.", field="choices")
    parsed: dict[str, Choice] = {}
    for line_id, choice in _items(choices, "choices"):
        if not isinstance(line_id, str) or not line_id or len(line_id) > 64:
            raise InvalidInput(
                f"Invalid line id {_brief(line_id)}; line ids are str.", field="choices"
            )
        line_id = plain_str(line_id)
        if isinstance(choice, Choice):
            parsed[line_id] = choice
        elif isinstance(choice, str) and choice in Choice._value2member_map_:
            parsed[line_id] = Choice(choice)
        else:
            raise InvalidInput(
                f"Invalid choice {_brief(choice)} for line {_brief(line_id)}.", field="choices"
            )
    parsed_versions: dict[str, int] = {}
    if versions is not None:
        if not isinstance(versions, Mapping):
            raise InvalidInput("versions must be a {line_id: version} mapping.", field="versions")
        if len(versions) > 10 * MAX_BATCH:
            raise InvalidInput("Too many versions for one screen.", field="versions")
        for line_id, version in _items(versions, "versions"):
            if not isinstance(line_id, str):
                raise InvalidInput(
                    f"Invalid line id {_brief(line_id)} in versions.", field="versions"
                )
            line_id = plain_str(line_id)  # compare as a plain str, whatever its class says
            if isinstance(version, bool) or not isinstance(version, int):
                raise InvalidInput(f"Invalid version {_brief(version)}.", field="versions")
            version = plain_int(version)
            if version < 1:
                raise InvalidInput(f"Invalid version {_brief(version)}.", field="versions")
            # A screen posts back every version it showed; only the named lines count.
            if line_id not in parsed:
                continue
            parsed_versions[line_id] = version
        # A versions map that misses a chosen line would quietly skip its staleness check.
        unversioned = sorted(set(parsed) - set(parsed_versions))
        if unversioned:
            raise InvalidInput(
                f"versions has no entry for {unversioned[0]!r}; give every chosen line's version "
                "or pass versions=None.",
                ja="決定する商品すべての版を指定してください",
                field="versions",
            )
    return parsed, parsed_versions


def plan_decision(
    lines: Mapping[str, RequestLine],
    choices: Mapping[str, Choice],
    versions: Mapping[str, int],
    *,
    coordinator_id: str,
    now: dt.datetime,
) -> DecisionPlan:
    """Check the batch against the lines as stored; any stale line makes it a Conflict."""
    stale: dict[str, str] = {}
    for line_id in choices:
        line = lines[line_id]
        expected = versions.get(line_id)
        # The state says more than the version: name it first.
        if not line.pending:
            stale[line_id] = already(line.status.value)
        elif expected is not None and expected != line.version:
            stale[line_id] = VERSION_MOVED
    if stale:
        raise Conflict(lines=stale)
    held: list[RequestLine] = []
    deleted: list[RequestLine] = []
    consolidate: list[RequestLine] = []
    for line_id, choice in choices.items():
        line = lines[line_id]
        if choice is Choice.CONSOLIDATE:
            consolidate.append(line)
            continue
        moved = line.move(choice.act, decided_by=coordinator_id, decided_at=now)
        (held if choice is Choice.HOLD else deleted).append(moved)
    entries = tuple(
        CartEntry(line_id=ln.id, sku=ln.sku, name=ln.name, quantity=ln.quantity,
                  unit_price=ln.unit_price)
        for ln in consolidate
    )  # fmt: skip
    return DecisionPlan(
        held=tuple(held),
        deleted=tuple(deleted),
        to_consolidate=tuple(consolidate),
        entries=entries,
        coordinator_id=coordinator_id,
        at=now,
    )


def _checked_ref(ref: object) -> CartRef:
    """A cart's answer as torimatome stores it: a one-line str ref, a sane current price."""
    if not isinstance(ref, CartRef):
        raise CartError(f"The cart answered {ref!r}, not a CartRef.")
    if (
        not isinstance(ref.ref, str)
        or not 1 <= len(ref.ref) <= MAX_REF_LENGTH
        or forbidden_character(ref.ref, allow_line_breaks=False)
        or not isinstance(ref.line_id, str)
    ):
        raise CartError(f"The cart answered a malformed ref: {ref!r}.")
    price = ref.current_unit_price
    if price is not None:
        try:
            price = check_price(price, "current_unit_price")
        except InvalidInput:
            raise CartError(f"The cart answered a malformed price: {ref!r}.") from None
    return CartRef(plain_str(ref.line_id), plain_str(ref.ref), price)


def complete_decision(
    plan: DecisionPlan, refs: Sequence[CartRef]
) -> tuple[list[RequestLine], Decision]:
    """Attach the cart's refs; the cart must answer exactly one well-formed ref per entry."""
    by_line: dict[str, CartRef] = {}
    seen_refs: set[str] = set()
    for answer in refs:
        ref = _checked_ref(answer)
        if ref.line_id in by_line or ref.ref in seen_refs:
            # Two lines sharing one cart row could not be released one at a time.
            raise CartError("The cart answered the same line or the same ref twice.")
        by_line[ref.line_id] = ref
        seen_refs.add(ref.ref)
    if set(by_line) != {entry.line_id for entry in plan.entries}:
        raise CartError("The cart did not answer exactly one CartRef per consolidated line.")
    consolidated = [
        line.move(
            Act.CONSOLIDATE,
            cart_ref=by_line[line.id].ref,
            decided_by=plan.coordinator_id,
            decided_at=plan.at,
        )
        for line in plan.to_consolidate
    ]
    price_changes = tuple(
        PriceChange(line.id, line.sku, line.unit_price, current)
        for line in plan.to_consolidate
        if (current := by_line[line.id].current_unit_price) is not None
        and current != line.unit_price
    )
    decision = Decision(
        consolidated=tuple(line.id for line in consolidated),
        held=tuple(line.id for line in plan.held),
        deleted=tuple(line.id for line in plan.deleted),
        cart_refs=tuple(by_line[line.id] for line in plan.to_consolidate),
        price_changes=price_changes,
    )
    return [*consolidated, *plan.held, *plan.deleted], decision
