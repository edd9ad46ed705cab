"""The practical limit: each benchmarked operation written directly against ``sqlite3``.

Every method does the durable work its torimatome counterpart does, on a copy of the same
database file (same schema, same indexes, same pragmas: WAL, ``synchronous=FULL``, foreign
keys on) and in the same transactions (``BEGIN IMMEDIATE`` for writes, ``BEGIN`` for reads),
with the least SQL that does it: the actor's row is read and checked, rows come back as plain
tuples, nothing is converted into objects, mails are stored as bytes composed in advance.
What it leaves out is what a library adds on top: validation, value objects, the plugin layer,
composing mail and the conversions between rows and values.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

__all__ = ["Baseline"]

_LINE_COLS = (
    "id, request_id, account_id, requester_id, position, sku, name, quantity, unit_price, "
    "status, version, cart_ref, order_id, order_status, decided_by, decided_at"
)
_CLOSED = "('ordered', 'deleted', 'withdrawn')"


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" * len(items))


class Baseline:
    """Raw-SQL versions of the benchmarked calls, on their own connection to ``path``."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout = 10000")
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = FULL")
        self._n = 0
        #: Seconds each write transaction of the last purge held the write lock.
        self.holds: list[float] = []

    def close(self) -> None:
        self.db.close()

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"base-{prefix}-{self._n:08d}"

    @contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _actor(self, db: sqlite3.Connection, actor: str, role: str | None = None) -> str:
        row = db.execute(
            "SELECT account_id, role, active FROM users WHERE id = ?", (actor,)
        ).fetchone()
        if row is None or not row[2] or (role is not None and row[1] != role):
            raise PermissionError(actor)
        return str(row[0])

    # -- writes ------------------------------------------------------------------------------

    def submit(
        self,
        actor: str,
        lines: Sequence[tuple[str, str, int, str]],
        message: str,
        raw: bytes | None,
        now: int,
    ) -> str:
        with self._tx(True) as db:
            account_id = self._actor(db, actor, "internal")
            db.execute("SELECT settings FROM accounts WHERE id = ?", (account_id,)).fetchone()
            rid = self._id("req")
            db.execute(
                "INSERT INTO requests VALUES (?, ?, ?, ?, ?, NULL, 0, 0)",
                (rid, account_id, actor, now, message),
            )
            db.executemany(
                "INSERT INTO lines (id, request_id, account_id, requester_id, submitted_at, "
                "position, sku, name, quantity, unit_price, status, version) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'requested', 1)",
                [(f"{rid}-{i}", rid, account_id, actor, now, i, *ln) for i, ln in enumerate(lines)],
            )
            if raw is None:
                return rid  # an app that mails nothing on a submit
            # The requester's confirmation and one notice per coordinator, current addresses.
            emails = [
                r[0]
                for r in db.execute(
                    "SELECT email FROM users WHERE account_id = ? AND role = 'coordinator' "
                    "AND active = 1",
                    (account_id,),
                )
            ]
            mine = db.execute("SELECT email FROM users WHERE id = ?", (actor,)).fetchone()[0]
            db.executemany(
                "INSERT INTO outbox (id, account_id, event, recipient, subject, raw, created_at, "
                "request_id, attempts, next_attempt_at) "
                "VALUES (?, ?, 'request_submitted', ?, 'subject', ?, ?, ?, 0, ?)",
                [(self._id("mail"), account_id, e, raw, now, rid, now) for e in [mine, *emails]],
            )
        return rid

    def decide(
        self, actor: str, choices: dict[str, str], versions: dict[str, int], now: int
    ) -> None:
        ids = list(choices)
        with self._tx(True) as db:
            account_id = self._actor(db, actor, "coordinator")
            rows = db.execute(
                f"SELECT id, account_id, requester_id, status, version, request_id FROM lines "
                f"WHERE id IN ({_marks(ids)})",
                ids,
            ).fetchall()
            found = {r[0]: r for r in rows}
            for lid in ids:
                r = found.get(lid)
                if r is None or r[1] != account_id or r[3] not in ("requested", "on_hold"):
                    raise LookupError(lid)
                if r[4] != versions[lid]:
                    raise LookupError(lid)
            target = {"consolidate": "consolidated", "hold": "on_hold", "delete": "deleted"}
            updates = [
                (
                    target[choices[lid]],
                    versions[lid] + 1,
                    f"cart-{lid}" if choices[lid] == "consolidate" else None,
                    actor,
                    now,
                    lid,
                    versions[lid],
                )
                for lid in ids
            ]
            cursor = db.executemany(
                "UPDATE lines SET status = ?, version = ?, cart_ref = ?, decided_by = ?, "
                "decided_at = ? WHERE id = ? AND version = ?",
                updates,
            )
            if cursor.rowcount != len(ids):
                raise LookupError("moved")
            touched = sorted({found[lid][5] for lid in ids})
            db.execute(
                f"UPDATE requests SET decided = 1, closed = NOT EXISTS (SELECT 1 FROM lines "
                f"WHERE lines.request_id = requests.id AND status NOT IN {_CLOSED}) "
                f"WHERE id IN ({_marks(touched)})",
                touched,
            )

    def post_message(self, actor: str, request_id: str, body: str, now: int, since: int) -> str:
        with self._tx(True) as db:
            account_id = self._actor(db, actor)
            row = db.execute(
                "SELECT account_id, requester_id, closed, submitted_at FROM requests WHERE id = ?",
                (request_id,),
            ).fetchone()
            if row is None or row[0] != account_id or (row[2] and row[3] < since):
                raise LookupError(request_id)
            db.execute("SELECT settings FROM accounts WHERE id = ?", (account_id,)).fetchone()
            name = db.execute("SELECT nickname FROM users WHERE id = ?", (actor,)).fetchone()[0]
            mid = self._id("msg")
            db.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)",
                (mid, request_id, actor, body, now, name),
            )
        return mid

    def deliver(self, now: int, claim_micros: int, batch: int, chunk: int = 20) -> int:
        """The outbox protocol torimatome runs (claim a chunk, renew each claim just before
        its send, mark it sent after), with a transport that accepts every mail."""
        sent = 0
        budget = batch
        while budget > 0:
            with self._tx(True) as db:
                due = db.execute(
                    "SELECT id, raw FROM outbox WHERE sent_at IS NULL "
                    "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
                    "ORDER BY coalesce(next_attempt_at, created_at), created_at, rowid LIMIT ?",
                    (now, min(chunk, budget)),
                ).fetchall()
                until = now + claim_micros
                db.executemany(
                    "UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                    [(until, r[0]) for r in due],
                )
            if not due:
                break
            budget -= len(due)
            for mail_id, _raw in due:
                with self._tx(True) as db:
                    row = db.execute(
                        "SELECT sent_at, next_attempt_at FROM outbox WHERE id = ?", (mail_id,)
                    ).fetchone()
                    if row[0] is not None or row[1] != until:
                        continue
                    db.execute(
                        "UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                        (until + 1, mail_id),
                    )
                with self._tx(True) as db:
                    row = db.execute(
                        "SELECT sent_at FROM outbox WHERE id = ?", (mail_id,)
                    ).fetchone()
                    db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (now, mail_id))
                    sent += 1
        with self._tx(False) as db:
            db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return sent

    def purge(self, before: dict[str, int], batch: int, keys_before: int) -> tuple[int, int]:
        """Each account's closed requests submitted before its window, ``batch`` requests per
        transaction, with their delivered mails (lines and messages by cascade), the orphaned
        delivered mails once per account, then the expired idempotency keys; returns
        (requests, lines) and records how long each transaction held the write lock."""
        requests = lines = 0
        for account_id, cutoff in before.items():
            while True:
                started = time.perf_counter()
                with self._tx(True) as db:
                    ids = [
                        r[0]
                        for r in db.execute(
                            "SELECT id FROM requests WHERE account_id = ? AND submitted_at < ? "
                            "AND closed = 1 ORDER BY submitted_at, id LIMIT ?",
                            (account_id, cutoff, batch),
                        )
                    ]
                    if len(ids) < batch:
                        db.execute(
                            "DELETE FROM outbox WHERE account_id = ? AND orphaned = 1 "
                            "AND sent_at IS NOT NULL",
                            (account_id,),
                        )
                    if ids:
                        db.execute(
                            f"UPDATE outbox SET orphaned = 1 WHERE request_id IN ({_marks(ids)}) "
                            "AND sent_at IS NULL",
                            ids,
                        )
                        lines += db.execute(
                            f"SELECT count(*) FROM lines WHERE request_id IN ({_marks(ids)})", ids
                        ).fetchone()[0]
                        db.execute(
                            f"DELETE FROM outbox WHERE sent_at IS NOT NULL "
                            f"AND request_id IN ({_marks(ids)})",
                            ids,
                        )
                        db.execute(f"DELETE FROM requests WHERE id IN ({_marks(ids)})", ids)
                self.holds.append(time.perf_counter() - started)
                requests += len(ids)
                if len(ids) < batch:
                    break
        with self._tx(True) as db:
            db.execute("DELETE FROM idempotency WHERE created_at < ?", (keys_before,))
        return requests, lines

    # -- reads -------------------------------------------------------------------------------

    def pending(self, actor: str) -> list[tuple[str, str, list[tuple[Any, ...]]]]:
        with self._tx(False) as db:
            account_id = self._actor(db, actor, "coordinator")
            rows = db.execute(
                f"SELECT {_LINE_COLS} FROM lines WHERE account_id = ? "
                "AND status IN ('requested', 'on_hold') "
                "ORDER BY submitted_at, request_id, position, rowid",
                (account_id,),
            ).fetchall()
            groups: dict[str, list[tuple[Any, ...]]] = {}
            for row in rows:
                groups.setdefault(row[3], []).append(row)
            names = dict(
                db.execute(
                    f"SELECT id, nickname FROM users WHERE id IN ({_marks(list(groups))})",
                    list(groups),
                ).fetchall()
            )
        return [(rid, names.get(rid, ""), group) for rid, group in groups.items()]

    def pending_count(self, actor: str) -> int:
        with self._tx(False) as db:
            account_id = self._actor(db, actor, "coordinator")
            n: int = db.execute(
                "SELECT count(*) FROM lines WHERE account_id = ? "
                "AND status IN ('requested', 'on_hold')",
                (account_id,),
            ).fetchone()[0]
        return n

    def history(
        self,
        actor: str,
        since: int,
        *,
        start: int | None = None,
        end: int | None = None,
        requester: str | None = None,
        decided_only: bool = True,
        limit: int = 50,
        own: bool = False,
    ) -> list[tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        """One page: request headers, their lines and threads, and the names shown."""
        with self._tx(False) as db:
            account_id = self._actor(db, actor, None if own else "coordinator")
            db.execute("SELECT timezone FROM accounts WHERE id = ?", (account_id,)).fetchone()
            where = ["account_id = ?", "(closed = 0 OR submitted_at >= ?)"]
            params: list[Any] = [account_id, since]
            if own:
                requester = actor
            if requester is not None:
                where.append("requester_id = ?")
                params.append(requester)
            if start is not None:
                where.append("submitted_at >= ?")
                params.append(start)
            if end is not None:
                where.append("submitted_at < ?")
                params.append(end)
            if decided_only:
                where.append("decided = 1")
            headers = db.execute(
                "SELECT id, account_id, requester_id, submitted_at, message, idempotency_key "
                f"FROM requests WHERE {' AND '.join(where)} "
                "ORDER BY submitted_at DESC, id DESC LIMIT ?",
                [*params, limit + 1],
            ).fetchall()[:limit]
            ids = [h[0] for h in headers]
            lines: dict[str, list[tuple[Any, ...]]] = {i: [] for i in ids}
            threads: dict[str, list[tuple[Any, ...]]] = {i: [] for i in ids}
            for row in db.execute(
                f"SELECT {_LINE_COLS} FROM lines WHERE request_id IN ({_marks(ids)}) "
                "ORDER BY request_id, rowid",
                ids,
            ):
                lines[row[1]].append(row)
            for row in db.execute(
                "SELECT id, request_id, author_id, body, posted_at, author_name FROM messages "
                f"WHERE request_id IN ({_marks(ids)}) ORDER BY request_id, posted_at, rowid",
                ids,
            ):
                threads[row[1]].append(row)
            people = {h[2] for h in headers} | {m[2] for t in threads.values() for m in t}
            names = dict(
                db.execute(
                    f"SELECT id, nickname FROM users WHERE id IN ({_marks(list(people))})",
                    list(people),
                ).fetchall()
            )
        return [((*h, names.get(h[2])), lines[h[0]], threads[h[0]]) for h in headers]
