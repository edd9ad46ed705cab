"""Several processes on one SQLite file: requesters, two coordinators deciding from stale views,
two mail deliverers and a purge, all at once. Afterwards nothing is lost, duplicated or
half-done, and every loser got a torimatome refusal (never a raw sqlite3 error, never a hang).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
from collections import Counter
from email import message_from_bytes
from pathlib import Path
from typing import Any

import torimatome
from torimatome import Choice, NewUser

from .harness import MailLog, SharedCart, invariant_violations, record_figures, run_workers, scale
from .worker import CONFIG, lines


def build_office(tmp_path: Path) -> dict[str, Any]:
    """One account (two coordinators, three requesters) with a past that a purge may take:
    old closed requests, old open ones, some of their mails delivered and some waiting."""
    db, cart_path = tmp_path / "shop.sqlite3", tmp_path / "cart.sqlite3"
    mail_path = tmp_path / "sent.log"
    cart, mail = SharedCart(cart_path), MailLog(mail_path)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=800)
    app = torimatome.open(
        f"sqlite:///{db}", plugins=[cart, mail], config=CONFIG, clock=lambda: past
    )
    reg = app.create_account(
        "サンプル商事", coordinator=NewUser(login_id="boss", email="boss@example.com")
    )
    boss = reg.user.id
    deputy = app.register_coordinator(boss, NewUser(login_id="deputy", email="dep@example.com"))
    requesters = [
        app.register_internal_user(
            boss, NewUser(login_id=f"user{i}", email=f"user{i}@example.com")
        ).user.id
        for i in range(3)
    ]
    rng = random.Random(7)
    old_closed: set[str] = set()
    old_open: dict[str, set[str]] = {}
    for i in range(6):
        request = app.submit_request(requesters[i % 3], lines(rng))
        if i % 3:
            app.decide(boss, {ln.id: Choice.DELETE for ln in request.lines})
            old_closed.add(request.id)
        else:
            old_open[request.id] = {ln.id for ln in request.lines}
        if i == 2:
            app.deliver_mail()  # some of the past's mails were delivered, the rest still wait
    app.close()
    cart.close()
    return {"db": db, "cart": cart_path, "mail": mail_path, "boss": boss,
            "deputy": deputy.user.id, "requesters": requesters, "old_closed": old_closed,
            "old_open": old_open}  # fmt: skip


def test_processes_racing_on_one_file_lose_duplicate_and_leak_nothing(tmp_path: Path) -> None:
    office = build_office(tmp_path)
    ops = scale(25, 300)
    common = {"db": str(office["db"]), "cart": str(office["cart"]), "mail": str(office["mail"]),
              "stop": str(tmp_path / "stop")}  # fmt: skip
    active: list[dict[str, Any]] = [
        {"role": "requester", "actor": actor, "ops": ops, "seed": n, "key_prefix": f"k{n}"}
        for n, actor in enumerate(office["requesters"])
    ]
    # A double click landing on two server processes: the same user, payloads and keys.
    active.append({**active[0]})
    active += [
        {"role": "coordinator", "actor": actor, "ops": ops, "seed": 100 + n}
        for n, actor in enumerate((office["boss"], office["deputy"]))
    ]
    background = [{"role": "deliverer"}, {"role": "deliverer"}, {"role": "purger"}]
    jobs = [{**common, **job, "out": str(tmp_path / f"out{i}.json")}
            for i, job in enumerate(active + background)]  # fmt: skip

    run_workers(jobs[: len(active)], background=jobs[len(active) :], stop=tmp_path / "stop",
                timeout=scale(300, 900))  # fmt: skip
    results = [json.loads(Path(job["out"]).read_text()) for job in jobs]

    # Every loser was refused with Conflict, InvalidTransition or NotFound; nothing else.
    assert [u for r in results for u in r["unexpected"]] == []
    counts: Counter[str] = Counter()
    moves: Counter[str] = Counter()
    for result in results:
        counts.update(result["counts"])
        moves.update(result["moves"])

    # Mail: deliver what is left; every mail ever written was then sent exactly once.
    cart, mail = SharedCart(office["cart"]), MailLog(office["mail"])
    app = torimatome.open(f"sqlite:///{office['db']}", plugins=[cart, mail], config=CONFIG)
    while app.deliver_mail().sent:
        pass
    with app.storage.unit_of_work(write=False) as uow:
        outbox = uow.outbox.all()
    # The 依頼を見る count is the pending list, for both coordinators.
    for coordinator in (office["boss"], office["deputy"]):
        listed = sum(len(group.lines) for group in app.pending(coordinator))
        assert app.pending_count(coordinator) == listed
    app.close()
    cart.close()
    sent = mail.ids()
    duplicated = sum(n - 1 for n in Counter(sent).values())
    assert duplicated == 0
    assert all(m.sent_at is not None for m in outbox)
    assert {str(message_from_bytes(m.raw)["Message-ID"]) for m in outbox} <= set(sent)
    assert len(sent) == len(outbox) + counts["purged:mails"]

    # Lines: each successful move is exactly one version step, so no move was lost or applied
    # twice, whichever process made it and whoever lost the race.
    with sqlite3.connect(office["db"]) as connection:
        versions = dict(connection.execute("SELECT id, version FROM lines").fetchall())
        present = {r for (r,) in connection.execute("SELECT id FROM requests")}
    lost = {lid: (versions[lid] - 1, moves[lid]) for lid in versions if versions[lid] - 1 != moves[lid]}  # fmt: skip
    assert lost == {}
    purged_open = set(office["old_open"]) - present
    purged_lines = set().union(*(office["old_open"][r] for r in purged_open))
    assert set(moves) - set(versions) <= purged_lines
    # The twins filed one request per key between them.
    original, twin = results[0]["submitted"], results[3]["submitted"]
    assert {k: original[k] for k in original.keys() & twin.keys()} == {
        k: twin[k] for k in original.keys() & twin.keys()
    }
    filed = {rid for r in results for rid in r.get("submitted", {}).values()}
    assert filed <= present
    # The purge took the old closed requests (and old ones closed during the run), nothing new.
    assert not office["old_closed"] & present
    assert counts["purged:requests"] == len(office["old_closed"]) + len(purged_open)

    violations = invariant_violations(office["db"], office["cart"])
    assert violations == []

    refused = sum(v for k, v in counts.items() if k.split(":")[1] not in ("ok", "sent", "failed", "requests", "mails"))  # fmt: skip
    done = sum(v for k, v in counts.items() if k.endswith(":ok"))
    record_figures("processes", runs=1, processes=len(jobs), operations=done + refused,
                   refused=refused, moves=sum(moves.values()), mails_sent=len(sent),
                   lost=len(lost), duplicated=duplicated, violations=len(violations))  # fmt: skip
