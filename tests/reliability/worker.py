"""One worker process of the reliability tests: ``python -m tests.reliability.worker JOB``.

``JOB`` is JSON naming the role, the database, the shared cart and mail log, the actor and how
much to do. The worker writes what happened (successful moves per line, outcomes by kind, any
unexpected error) as JSON to ``out``; the test compares that with what the files hold.
A ``crash`` worker kills itself with SIGKILL when a chosen SQL statement starts.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import sqlite3
import sys
import time
import traceback
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import torimatome
from torimatome import (
    Choice,
    Config,
    Conflict,
    InvalidTransition,
    LineStatus,
    NewLine,
    NotFound,
)
from torimatome.ports.config import MAIL_EVENTS

from .harness import MailLog, SharedCart

#: What the loser of a race may get; anything else is a failure.
EXPECTED = (Conflict, InvalidTransition, NotFound)
CONFIG = Config(scrypt_n=2**4, mail_events=MAIL_EVENTS)
#: Crash workers mail only what the default mails: each request's mails are then checkable.
CRASH_CONFIG = Config(scrypt_n=2**4)
CHOICES = (Choice.CONSOLIDATE, Choice.HOLD, Choice.DELETE)


class Outcomes:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.moves: Counter[str] = Counter()
        self.unexpected: list[str] = []
        self.extra: dict[str, Any] = {}

    def attempt(self, kind: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = call(*args, **kwargs)
        except EXPECTED as exc:
            self.counts[f"{kind}:{exc.code}"] += 1
            return None
        except Exception as exc:
            self.unexpected.append(f"{kind}: {type(exc).__module__}.{type(exc).__name__}: {exc}")
            self.unexpected.append(traceback.format_exc()[-2000:])
            return None
        self.counts[f"{kind}:ok"] += 1
        return result

    def dump(self, path: str) -> None:
        data = {"counts": self.counts, "moves": self.moves, "unexpected": self.unexpected}
        Path(path).write_text(json.dumps({**data, **self.extra}))


def lines(rng: random.Random) -> list[NewLine]:
    return [
        NewLine(
            sku=f"SKU-{rng.randrange(20)}",
            name="商品",
            quantity=rng.randint(1, 5),
            unit_price=Decimal(rng.randrange(1, 5000)),
        )
        for _ in range(rng.randint(1, 3))
    ]


def requester(app: torimatome.App, job: dict[str, Any], out: Outcomes) -> None:
    rng = random.Random(job["seed"])
    actor = job["actor"]
    mine: list[str] = []
    submitted: dict[str, str] = {}
    for i in range(job["ops"]):
        if rng.random() < 0.65 or not mine:
            key = f"{job['key_prefix']}-{i}"
            payload = lines(rng)
            request = out.attempt("submit", app.submit_request, actor, payload, idempotency_key=key)
            if request is None:
                continue
            if rng.random() < 0.25:  # a double click: the same key and payload again
                again = out.attempt(
                    "replay", app.submit_request, actor, payload, idempotency_key=key
                )
                if again is not None and again.id != request.id:
                    out.unexpected.append(f"replay of {key} filed {again.id}, not {request.id}")
            submitted[key] = request.id
            mine.extend(ln.id for ln in request.lines)
        else:
            line_id = rng.choice(mine)
            if out.attempt("withdraw", app.withdraw, actor, line_id) is not None:
                out.moves[line_id] += 1
    out.extra["submitted"] = submitted


def coordinator(app: torimatome.App, job: dict[str, Any], out: Outcomes) -> None:
    rng = random.Random(job["seed"])
    actor = job["actor"]
    consolidated: list[str] = []
    for i in range(job["ops"]):
        view = app.pending(actor)
        time.sleep(rng.random() * 0.005)  # the view goes stale while the other side acts
        seen = [ln for group in view for ln in group.lines]
        roll = rng.random()
        if (roll < 0.7 or not consolidated) and seen:
            picked = rng.sample(seen, min(len(seen), rng.randint(1, 4)))
            choices = {ln.id: rng.choice(CHOICES) for ln in picked}
            versions = {ln.id: ln.version for ln in picked}
            key = f"{actor}-d{i}"
            decision = out.attempt(
                "decide", app.decide, actor, choices, versions, idempotency_key=key
            )
            if decision is None:
                continue
            for line_id in choices:
                out.moves[line_id] += 1
            consolidated.extend(decision.consolidated)
            if rng.random() < 0.2:  # a network retry of the same decision
                again = out.attempt(
                    "replay", app.decide, actor, choices, versions, idempotency_key=key
                )
                if again is not None and again != decision:
                    out.unexpected.append(f"replay of {key} answered {again}, not {decision}")
        elif roll < 0.85 and consolidated:
            line_id = consolidated.pop(rng.randrange(len(consolidated)))
            if out.attempt("release", app.release, actor, line_id) is not None:
                out.moves[line_id] += 1
        elif consolidated:
            rng.shuffle(consolidated)
            batch, consolidated[:] = consolidated[:3], consolidated[3:]
            order_id = f"O-{actor[-6:]}-{i}"
            if out.attempt("order", app.record_order, actor, order_id, batch) is not None:
                for line_id in batch:
                    out.moves[line_id] += 1


def until_stopped(job: dict[str, Any], step: Any) -> None:
    stop = Path(job["stop"])
    while not stop.exists():
        step()
        time.sleep(0.01)


def deliverer(app: torimatome.App, job: dict[str, Any], out: Outcomes) -> None:
    def step() -> None:
        report = app.deliver_mail()
        out.counts["mail:sent"] += report.sent
        out.counts["mail:failed"] += report.failed

    until_stopped(job, step)


def purger(app: torimatome.App, job: dict[str, Any], out: Outcomes) -> None:
    def step() -> None:
        report = out.attempt("purge", app.purge_expired)
        if report is not None:
            out.counts["purged:requests"] += report.requests
            out.counts["purged:mails"] += report.mails

    until_stopped(job, step)


# -- the crash worker --------------------------------------------------------------------------


class Killer:
    """Counts SQL statements on every connection it watches, per phase of the script (each
    phase starts when its intent is written); SIGKILL at statement ``at`` of phase ``phase``."""

    def __init__(self, phase: str, at: int) -> None:
        self.target = (phase, at)
        self.current = "open"
        self.counts: dict[str, int] = {self.current: 0}

    def watch(self, connection: sqlite3.Connection) -> None:
        connection.set_trace_callback(self.statement)

    def begin(self, phase: str) -> None:
        self.current = phase
        self.counts[phase] = 0

    def statement(self, _: str) -> None:
        self.counts[self.current] += 1
        if (self.current, self.counts[self.current]) == self.target:
            os.kill(os.getpid(), signal.SIGKILL)


def crash(job: dict[str, Any], out: Outcomes) -> None:
    """A fixed script of submits, a decide, a release, a purge and a mail delivery; killed at
    statement ``kill_at`` of phase ``kill_phase``."""
    rng = random.Random(job["seed"])
    killer = Killer(job["kill_phase"], job["kill_at"])
    intents = open(job["intents"], "a", buffering=1)  # noqa: SIM115 (kept open until the kill)

    def intent(kind: str, what: object) -> None:
        intents.write(json.dumps({kind: what}) + "\n")
        killer.begin(f"{kind}-{len(killer.counts)}")

    cart = SharedCart(job["cart"])
    url = f"sqlite:///{job['db']}"
    old = torimatome.open(url, plugins=[cart], config=CRASH_CONFIG,
                          clock=lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=800))  # fmt: skip
    app = torimatome.open(url, plugins=[cart, MailLog(job["mail"])], config=CRASH_CONFIG)
    for connection in (app.storage._connection, old.storage._connection, cart.db):  # type: ignore[attr-defined]
        killer.watch(connection)
    # A closed request old enough to purge: filed and deleted on a clock 800 days back.
    intent("aged", True)
    aged = old.submit_request(job["requester"], lines(rng))
    intent("decide", {ln.id: "delete" for ln in aged.lines})
    old.decide(job["coordinator"], {ln.id: Choice.DELETE for ln in aged.lines})
    for n in range(2):
        key = f"crash-{job['seed']}-{n}"
        intent("submit", key)
        app.submit_request(job["requester"], lines(rng), idempotency_key=key)
    intent("view", True)
    pending = [ln for group in app.pending(job["coordinator"]) for ln in group.lines]
    batch = rng.sample(pending, min(len(pending), 4))
    choices = {ln.id: rng.choice(CHOICES) for ln in batch}
    intent("decide", {k: v.value for k, v in choices.items()})
    app.decide(job["coordinator"], choices, {ln.id: ln.version for ln in batch})
    intent("view", True)
    held = [ln.id for r in app.history(job["coordinator"], limit=100).items for ln in r.lines
            if ln.status is LineStatus.CONSOLIDATED]  # fmt: skip
    if held:
        line_id = rng.choice(held)
        intent("release", line_id)
        app.release(job["coordinator"], line_id)
    intent("purge", True)
    app.purge_expired()
    intent("deliver", True)
    app.deliver_mail()
    out.extra["phases"] = killer.counts


ROLES = {"requester": requester, "coordinator": coordinator, "deliverer": deliverer,
         "purger": purger}  # fmt: skip


def main() -> None:
    job = json.loads(sys.argv[1])
    out = Outcomes()
    try:
        if job["role"] == "crash":
            crash(job, out)
        else:
            plugins = [SharedCart(job["cart"]), MailLog(job["mail"])]
            app = torimatome.open(f"sqlite:///{job['db']}", plugins=plugins, config=CONFIG)
            try:
                ROLES[job["role"]](app, job, out)
            finally:
                app.close()
    except Exception:
        out.unexpected.append(traceback.format_exc()[-3000:])
    out.dump(job["out"])


if __name__ == "__main__":
    main()
