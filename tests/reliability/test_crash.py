"""SIGKILL at hundreds of points inside submit, decide, purge and mail delivery (every SQL
statement of the script is a kill point, the shop cart's own statements included). After each
kill the database reopens, passes ``PRAGMA integrity_check`` and every invariant, and each
decide, submit and purge was applied wholly or not at all; no mail is marked sent before the
transport took it, and every mail is delivered in the end (at least once: a kill between the
transport's acceptance and ``mark_sent`` sends it again after the claim period)."""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import sqlite3
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any

import torimatome
from torimatome import NewUser

from .harness import (
    MailLog,
    SharedCart,
    connect,
    invariant_violations,
    record_figures,
    run_workers,
    scale,
)
from .worker import CRASH_CONFIG


def message_id(raw: bytes) -> str:
    return str(message_from_bytes(raw)["Message-ID"])


DOOMED = "SELECT id FROM requests WHERE closed = 1 AND submitted_at < ?"


def requests(db: Path) -> set[str]:
    with sqlite3.connect(db) as connection:
        return {r for (r,) in connection.execute("SELECT id FROM requests")}


def versions(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as connection:
        return dict(connection.execute("SELECT id, version FROM lines").fetchall())


def doomed(db: Path, *, closed_only: bool = True) -> set[str]:
    # Old enough for the purge: anything filed on the crash worker's clock 800 days back.
    with sqlite3.connect(db) as connection:
        (newest,) = connection.execute("SELECT max(submitted_at) FROM requests").fetchone()
        cutoff = (newest or 0) - 400 * 86_400 * 10**6
        sql = DOOMED if closed_only else DOOMED.replace("closed = 1 AND ", "")
        return {r for (r,) in connection.execute(sql, (cutoff,))}


def run_once(
    tmp_path: Path, office: dict[str, Any], n: int, kill_phase: str, kill_at: int
) -> dict[str, Any]:
    intents = tmp_path / f"intents{n}.jsonl"
    out = tmp_path / f"crash{n}.json"
    job = {"role": "crash", "db": str(office["db"]), "cart": str(office["cart"]),
           "mail": str(office["mail"]),
           "requester": office["requester"], "coordinator": office["boss"], "seed": n,
           "kill_phase": kill_phase, "kill_at": kill_at, "intents": str(intents),
           "out": str(out)}  # fmt: skip
    returncode = run_workers([job], stop=tmp_path / "stop", timeout=120, allow_kill=True)[0]
    plan = (
        [json.loads(line) for line in intents.read_text().splitlines()] if intents.exists() else []
    )
    result = json.loads(out.read_text()) if out.exists() else None
    return {"returncode": returncode, "intents": plan, "result": result}


def test_a_worker_killed_anywhere_leaves_a_whole_consistent_database(tmp_path: Path) -> None:
    db, cart_path = tmp_path / "shop.sqlite3", tmp_path / "cart.sqlite3"
    app = torimatome.open(f"sqlite:///{db}", config=CRASH_CONFIG)
    reg = app.create_account(
        "サンプル商事", coordinator=NewUser(login_id="boss", email="b@example.com")
    )
    sato = app.register_internal_user(reg.user.id, NewUser(login_id="sato", email="s@example.com"))
    app.close()
    mail = MailLog(tmp_path / "sent.log")
    office = {"db": db, "cart": cart_path, "mail": mail.path, "boss": reg.user.id,
              "requester": sato.user.id}  # fmt: skip

    # A run without a kill says how many statements each phase of the script runs (the cart's
    # own included): each is a kill point. The long run tries every one, then random ones; the
    # fast slice a random dozen.
    clean = run_once(tmp_path, office, 0, "none", 0)
    assert clean["returncode"] == 0, clean
    assert clean["result"]["unexpected"] == []
    phases: dict[str, int] = clean["result"]["phases"]
    every = [(phase, at) for phase, count in phases.items() for at in range(1, count + 1)]
    statements = len(every)
    assert statements > 50
    rng = random.Random(2026)
    count = scale(12, 300)
    points = (every if count > statements else []) + [
        rng.choice(every) for _ in range(count - (statements if count > statements else 0))
    ]

    kills = orphans = unreleased = 0
    for n, (kill_phase, kill_at) in enumerate(points, start=1):
        before, doomed_before, filed_before = versions(db), doomed(db), requests(db)
        old_before = doomed(db, closed_only=False)
        run = run_once(tmp_path, office, n, kill_phase, kill_at)
        assert run["returncode"] in (0, -signal.SIGKILL), run
        kills += run["returncode"] == -signal.SIGKILL
        after = versions(db)

        # Every invariant holds on the reopened file, the cart aside (checked below).
        assert invariant_violations(db, None) == [], kill_at
        reopened = torimatome.open(f"sqlite:///{db}", config=CRASH_CONFIG)
        listed = sum(len(g.lines) for g in reopened.pending(office["boss"]))
        assert reopened.pending_count(office["boss"]) == listed
        reopened.close()

        released = {intent["release"] for intent in run["intents"] if "release" in intent}
        for intent in run["intents"]:
            if "decide" in intent:
                # Wholly applied (every line one step on) or not at all (none moved).
                # (A line the purge took since was closed, so its decide was applied.)
                # (A line released after it moved one step more.)
                steps = {
                    min(after[lid] - before.get(lid, 1), 1) if lid in released
                    else after[lid] - before.get(lid, 1) if lid in after else 1
                    for lid in intent["decide"]
                }  # fmt: skip
                assert steps in ({0}, {1}), (kill_at, intent, steps)
        # The purge takes only what was doomed, each request whole (its lines, messages and
        # delivered mails with it: foreign_key_check above), and as one unit per account.
        # (An old request this run's decide closed may go too; a recent one never.)
        vanished = filed_before - requests(db)
        assert vanished <= old_before, kill_at
        assert not vanished or doomed_before <= vanished, kill_at
        with sqlite3.connect(db) as connection:
            empty = connection.execute(
                "SELECT count(*) FROM requests r WHERE NOT EXISTS "
                "(SELECT 1 FROM lines l WHERE l.request_id = r.id)"
            ).fetchone()[0]
        assert empty == 0

        with sqlite3.connect(db) as connection:
            keys = connection.execute(
                "SELECT idempotency_key, count(*) FROM requests "
                "WHERE idempotency_key IS NOT NULL GROUP BY idempotency_key"
            ).fetchall()
            remembered = {k for (k,) in connection.execute('SELECT "key" FROM idempotency')}
            unmailed = connection.execute(
                "SELECT count(*) FROM requests r WHERE NOT EXISTS "
                "(SELECT 1 FROM outbox o WHERE o.request_id = r.id)"
            ).fetchone()[0]
            consolidated = {r for (r,) in connection.execute(
                "SELECT id FROM lines WHERE status = 'consolidated'")}  # fmt: skip
        # A mail is marked sent only after the transport took it.
        with sqlite3.connect(db) as connection:
            marked = [raw for (raw,) in connection.execute(
                "SELECT raw FROM outbox WHERE sent_at IS NOT NULL")]  # fmt: skip
        assert {message_id(raw) for raw in marked} <= set(mail.ids())
        # A submit is one unit: its request, its key and its mails together, never twice.
        assert all(count == 1 for _, count in keys)
        assert {k for k, _ in keys} == remembered
        assert unmailed == 0

        # The cart: every consolidated line is in it exactly once, with two exceptions a kill
        # can cause between the cart's commit and torimatome's (docs/reliability.md): an entry
        # for a line whose decide did not commit (the shop drops it, as the test does here),
        # and a line whose release did not commit, consolidated but out of the cart
        # (releasing it again repairs it, as the test does here).
        cart = connect(cart_path)
        in_cart = [lid for (lid,) in cart.execute("SELECT line_id FROM cart")]
        assert len(in_cart) == len(set(in_cart))
        outside = consolidated - set(in_cart)
        assert outside <= released, kill_at
        stray = [lid for lid in in_cart if lid not in consolidated]
        orphans += len(stray)
        cart.executemany("DELETE FROM cart WHERE line_id = ?", [(lid,) for lid in stray])
        unreleased += len(outside)
        if outside:
            repair = torimatome.open(f"sqlite:///{db}", plugins=[SharedCart(cart_path)],
                                     config=CRASH_CONFIG)  # fmt: skip
            for lid in outside:
                repair.release(office["boss"], lid)
            repair.close()
        cart.close()
    final = invariant_violations(db, cart_path)
    assert final == []
    # Every mail is delivered in the end: once the claims of killed deliverers run out.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    app = torimatome.open(f"sqlite:///{db}", plugins=[mail], config=CRASH_CONFIG,
                          clock=lambda: later)  # fmt: skip
    while app.deliver_mail().sent:
        pass
    with app.storage.unit_of_work(write=False) as uow:
        outbox = uow.outbox.all()
    app.close()
    assert all(m.sent_at is not None for m in outbox)
    sent = Counter(mail.ids())
    assert {message_id(m.raw) for m in outbox} <= set(sent)
    resent = sum(n - 1 for n in sent.values())
    record_figures("crash", kill_points=len(points), kills=kills, statements_per_run=statements,
                   cart_orphans_reconciled=orphans, released_out_of_cart_repaired=unreleased,
                   violations=len(final),
                   mails_delivered=len(sent), mails_resent_after_a_kill=resent)  # fmt: skip
