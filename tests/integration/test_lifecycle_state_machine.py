"""A Hypothesis state machine drives the app on each adapter against a tiny model.

Random submits, withdraws, decides (some from stale screens), releases and orders; after every
step the pending list, the pending count, the cart, every line's state and the history must
agree with the model, and no line may ever be in two places.
"""

from __future__ import annotations

import shutil
import tempfile

import hypothesis.strategies as st
import pytest
from hypothesis import settings
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from torimatome import Choice, Conflict, InvalidTransition, LineStatus

from .office import Office, make_office

PENDING = {LineStatus.REQUESTED, LineStatus.ON_HOLD}
CHOICE_TARGET = {
    Choice.CONSOLIDATE: LineStatus.CONSOLIDATED,
    Choice.HOLD: LineStatus.ON_HOLD,
    Choice.DELETE: LineStatus.DELETED,
}


class Lifecycle(RuleBasedStateMachine):
    url = "memory://"
    lines = Bundle("lines")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = tempfile.mkdtemp()
        self.office: Office | None = None
        self.status: dict[str, LineStatus] = {}
        self.version: dict[str, int] = {}
        self.owner: dict[str, str] = {}
        self.request_of: dict[str, str] = {}
        self.decided: dict[str, bool] = {}
        self.orders = 0

    @property
    def o(self) -> Office:
        assert self.office is not None
        return self.office

    @initialize()
    def open_office(self) -> None:
        url = self.url.replace("TMP", self.tmp)
        self.office = make_office(url)

    def teardown(self) -> None:
        if self.office is not None:
            self.office.app.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _changed(self, line_id: str, status: LineStatus, decided: bool) -> None:
        self.status[line_id] = status
        self.version[line_id] += 1
        self.decided[line_id] = decided

    @rule(target=lines, who=st.sampled_from(["sato", "suzuki"]), n=st.integers(1, 3))
    def submit(self, who: str, n: int) -> object:
        user = getattr(self.o, who)
        self.o.clock.advance(seconds=1)
        request = self.o.request(user, *[(f"SKU-{i}", i + 1) for i in range(n)])
        for line in request.lines:
            self.status[line.id] = LineStatus.REQUESTED
            self.version[line.id] = 1
            self.owner[line.id] = user.id
            self.request_of[line.id] = request.id
            self.decided[line.id] = False
        return multiple(*(line.id for line in request.lines))

    @rule(line_id=lines)
    def withdraw(self, line_id: str) -> None:
        if self.status[line_id] in PENDING:
            self.o.app.withdraw(self.owner[line_id], line_id)
            self._changed(line_id, LineStatus.WITHDRAWN, self.decided[line_id])
        else:
            with pytest.raises(InvalidTransition):
                self.o.app.withdraw(self.owner[line_id], line_id)

    @rule(
        batch=st.lists(st.tuples(lines, st.sampled_from(list(Choice))), min_size=1, max_size=4),
        stale=st.booleans(),
    )
    def decide(self, batch: list[tuple[str, Choice]], stale: bool) -> None:
        choices = dict(batch)
        versions = {i: self.version[i] - (1 if stale and self.version[i] > 1 else 0)
                    for i in choices}  # fmt: skip
        bad = [
            i for i in choices if self.status[i] not in PENDING or versions[i] != self.version[i]
        ]
        if bad:
            with pytest.raises(Conflict) as caught:
                self.o.app.decide(self.o.boss.id, choices, versions=versions)
            assert set(caught.value.lines) == set(bad)
            return
        decision = self.o.app.decide(self.o.boss.id, choices, versions=versions)
        for line_id, choice in choices.items():
            self._changed(line_id, CHOICE_TARGET[choice], True)
        assert set(decision.consolidated) == {
            i for i, c in choices.items() if c is Choice.CONSOLIDATE
        }

    @rule(line_id=lines)
    def release(self, line_id: str) -> None:
        if self.status[line_id] is LineStatus.CONSOLIDATED:
            self.o.app.release(self.o.boss.id, line_id)
            self._changed(line_id, LineStatus.REQUESTED, False)
        else:
            with pytest.raises(InvalidTransition):
                self.o.app.release(self.o.boss.id, line_id)

    @precondition(lambda self: any(s is LineStatus.CONSOLIDATED for s in self.status.values()))
    @rule(extra=st.lists(lines, max_size=2), take=st.integers(1, 5))
    def order(self, extra: list[str], take: int) -> None:
        chosen = [i for i, s in self.status.items() if s is LineStatus.CONSOLIDATED][:take]
        ids = list(dict.fromkeys(chosen + extra))
        self.orders += 1
        order_id = f"ORD-{self.orders}"
        if all(self.status[i] is LineStatus.CONSOLIDATED for i in ids):
            self.o.app.record_order(self.o.boss.id, order_id, ids)
            for line_id in ids:
                self._changed(line_id, LineStatus.ORDERED, True)
        else:
            with pytest.raises(InvalidTransition):
                self.o.app.record_order(self.o.boss.id, order_id, ids)

    @rule(line_id=consumes(lines))
    def forget(self, line_id: str) -> None:
        """Let the bundle shrink so later rules pick newer lines too."""

    @invariant()
    def app_agrees_with_the_model(self) -> None:
        if self.office is None:
            return
        app, boss = self.o.app, self.o.boss.id
        pending = [ln for g in app.pending(boss) for ln in g.lines]
        ids = [ln.id for ln in pending]
        assert len(ids) == len(set(ids)), "a line is listed twice"
        assert {ln.id: ln.status for ln in pending} == {
            i: s for i, s in self.status.items() if s in PENDING
        }
        assert {ln.id: ln.version for ln in pending} == {i: self.version[i] for i in ids}
        assert app.pending_count(boss) == len(pending)
        consolidated = {i for i, s in self.status.items() if s is LineStatus.CONSOLIDATED}
        assert self.o.cart.line_ids() == consolidated
        history = app.history(boss, limit=500).items
        shown = {ln.id: ln.status for view in history for ln in view.lines}
        decided_requests = {self.request_of[i] for i, d in self.decided.items() if d}
        assert {view.id for view in history} == decided_requests
        for line_id, status in shown.items():
            assert status is self.status[line_id]
        # No line in two places, as the app itself shows them: the pending list, the cart and
        # the lines every request view reports as done (ordered, deleted, withdrawn).
        done = set()
        for request_id in set(self.request_of.values()):
            for line in app.get_request(boss, request_id).lines:
                assert line.status is self.status[line.id]
                if line.status not in PENDING and line.status is not LineStatus.CONSOLIDATED:
                    done.add(line.id)
        places = [set(ids), self.o.cart.line_ids(), done]
        assert sum(len(p) for p in places) == len(set().union(*places)) == len(self.status)


def _machine(url: str) -> type[Lifecycle]:
    return type("LifecycleOn", (Lifecycle,), {"url": url})


TestLifecycleOnMemory = settings(max_examples=40, stateful_step_count=25, deadline=None)(
    _machine("memory://")
).TestCase
TestLifecycleOnSqlite = settings(max_examples=15, stateful_step_count=20, deadline=None)(
    _machine("sqlite:///TMP/office.sqlite3")
).TestCase
