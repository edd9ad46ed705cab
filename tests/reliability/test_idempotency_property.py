"""Idempotency keys as a property: over random sequences of submits and decides by several
actors reusing a few keys, the same key with the same payload returns the first result and
changes nothing, the same key with another payload is a Conflict and changes nothing, keys of
different actors never meet, and a refused call does not use its key up."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torimatome import Choice, Conflict, NewUser, TorimatomeError

from ..integration.office import make_office, snapshot
from .harness import record_figures, scale

KEYS = ["k1", "k2", "k3"]
steps = st.lists(
    st.tuples(st.sampled_from(["submit", "decide"]), st.integers(0, 1),
              st.sampled_from([*KEYS, None]), st.integers(0, 2)),
    min_size=1, max_size=20,
)  # fmt: skip


@settings(max_examples=scale(30, 300), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(work=steps)
def test_a_key_replays_its_first_result_refuses_another_payload_and_stays_with_its_actor(
    work: list[tuple[str, int, str | None, int]],
) -> None:
    office = make_office("memory://")
    app = office.app
    deputy = app.register_coordinator(office.boss.id, NewUser(login_id="deputy")).user
    requesters = [office.sato, office.suzuki]
    coordinators = [office.boss, deputy]
    # Lines to decide on, filed up front; decide payloads pick among them.
    pool = [ln.id for who in requesters for ln in office.request(who, ("A", 1), ("B", 1)).lines]
    first: dict[tuple[str, str, str], tuple[Any, Any]] = {}  # (op, actor, key) -> payload, result
    replays = conflicts = 0
    for op, who, key, variant in work:
        if op == "submit":
            actor = requesters[who].id
            payload: Any = (f"SKU-{variant}", variant + 1)
            call = lambda: app.submit_request(actor, office.lines(payload), idempotency_key=key)  # noqa: E731, B023
        else:
            actor = coordinators[who].id
            payload = {pool[variant]: Choice.HOLD, pool[3]: Choice.HOLD}
            call = lambda: app.decide(actor, payload, idempotency_key=key)  # noqa: E731, B023
        seen = first.get((op, actor, key)) if key is not None else None
        before = snapshot(office)
        outcome: Any
        try:
            outcome = call()
        except TorimatomeError as exc:
            outcome = exc
        if seen is None:
            # A fresh key (or none) never meets another actor's or operation's use of it.
            assert not isinstance(outcome, Conflict), outcome
            if key is not None and not isinstance(outcome, TorimatomeError):
                first[(op, actor, key)] = (payload, outcome)
            continue
        assert snapshot(office) == before  # a replay or a refusal changes nothing
        if seen[0] == payload:
            assert outcome == seen[1]
            replays += 1
        else:
            assert isinstance(outcome, Conflict)
            conflicts += 1
    app.close()
    record_figures("idempotency", sequences=1, replays=replays, key_conflicts=conflicts)
