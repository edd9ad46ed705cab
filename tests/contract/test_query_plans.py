"""Every statement the hot calls run on SQLite is answered from an index.

The calls the benchmarks measure (submit, decide, pending list and count, history pages with
every filter, the status page, a request and its thread, posting, mail delivery, a dry and a
real purge) run on a database built by the benchmark generator; each SELECT, UPDATE and DELETE
they send is traced and put through ``EXPLAIN QUERY PLAN``. A full scan of a table, or a sort
where an index should give the order, fails the test, so an index regression fails
``make test`` instead of a customer's month-end.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest
from benchmarks import generate
from benchmarks.run import (
    CONFIG,
    COORDINATOR,
    DECIDER,
    FILTERED,
    STATUS_USER,
    SUBMITTER,
    Clock,
    Shop,
)

import torimatome
from torimatome import NewLine

#: Statements allowed to read a whole table, and why.
ALLOWED_SCANS = {
    # The purge job lists every account once (a handful of rows, one per office).
    "SELECT id FROM accounts ORDER BY rowid",
}
#: Statements allowed a sort step: the due mails are the unsent ones only (few at any time),
#: ordered by an expression (coalesce) no index holds.
ALLOWED_SORTS = ("FROM outbox WHERE sent_at IS NULL AND (next_attempt_at IS NULL",)


def traced_calls(path: Path) -> list[str]:
    """Run the hot calls on ``path`` and return every statement they sent, in order."""
    app = torimatome.open(f"sqlite:///{path}", plugins=[Shop()], clock=Clock(), config=CONFIG)
    seen: list[str] = []
    app.storage._connection.set_trace_callback(seen.append)  # type: ignore[attr-defined]
    cart = [NewLine(sku="SKU-1", name="紙", quantity=1, unit_price=Decimal("100"))] * 3
    app.submit_request(SUBMITTER, cart, "至急")
    lines = [ln for group in app.pending(DECIDER) for ln in group.lines][:6]
    app.decide(
        DECIDER,
        {ln.id: ("consolidate", "hold", "delete")[i % 3] for i, ln in enumerate(lines)},
        {ln.id: ln.version for ln in lines},
    )
    app.pending_count(COORDINATOR)
    since, until = dt.date(2026, 3, 1), dt.date(2026, 8, 31)
    app.history(COORDINATOR, since=since, until=until)
    app.history(COORDINATOR, requester_id=FILTERED)
    first = app.history(COORDINATOR, since=since, until=until, requester_id=FILTERED, limit=2)
    app.history(COORDINATOR, since=since, until=until, requester_id=FILTERED, limit=2,
                cursor=first.next_cursor)  # fmt: skip
    mine = app.my_requests(STATUS_USER)
    request_id = mine.items[0].id
    app.get_request(STATUS_USER, request_id)
    app.post_message(STATUS_USER, request_id, "来週で大丈夫です")
    app.thread(STATUS_USER, request_id)
    app.deliver_mail()
    app.purge_expired(dry_run=True)
    app.purge_expired()
    app.close()
    return seen


@pytest.fixture(scope="module", params=[True, False], ids=["analyzed", "not-analyzed"])
def statements(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, list[str]]:
    path = tmp_path_factory.mktemp("plans") / "office.sqlite3"
    # Enough users that naming a page's people is a small part of them, as in a real office.
    plan = generate.build_plan(3000, min_users=400)
    generate.load_sqlite(plan, str(path), analyze=request.param)
    queries: list[str] = []
    for sql in traced_calls(path):
        if sql.split(None, 1)[0] in ("SELECT", "UPDATE", "DELETE") and sql not in queries:
            queries.append(sql)
    return path, queries


def test_the_hot_calls_send_the_statements_this_test_knows(
    statements: tuple[Path, list[str]],
) -> None:
    _, queries = statements
    # A guard against a vacuous pass: the calls above do reach the database.
    assert len(queries) > 40
    for table in ("requests", "lines", "messages", "outbox", "users", "idempotency"):
        assert any(f"FROM {table}" in q or f"UPDATE {table}" in q for q in queries), table


def test_every_hot_statement_is_answered_from_an_index(
    statements: tuple[Path, list[str]],
) -> None:
    path, queries = statements
    db = sqlite3.connect(path)
    try:
        failures = []
        for sql in queries:
            details = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            scans = [d for d in details if d.startswith("SCAN")]
            # (A DISTINCT over the few ids a call names may use a temporary tree; an ORDER BY
            # over a table's rows may not.)
            sorts = [d for d in details if "TEMP B-TREE" in d and "ORDER BY" in d]
            if scans and sql not in ALLOWED_SCANS:
                failures.append((sql[:200], details))
            if sorts and not any(part in sql for part in ALLOWED_SORTS):
                failures.append((sql[:200], details))
    finally:
        db.close()
    assert not failures, "\n".join(f"{sql}\n  -> {details}" for sql, details in failures)
