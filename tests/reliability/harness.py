"""What the reliability tests share: a cart and a mail log that several processes can use at
once, the scale knob, the figures file and the invariants every run must end with.

The cart and the mail log live in SQLite files of their own, apart from torimatome's database,
as a shop's cart and a mail server do: they commit on their own, so a fault or a kill between
them and torimatome's commit is a real fault between two systems.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from torimatome import CartEntry, CartRef, LinesOrdered, hookimpl

ROOT = Path(__file__).resolve().parents[2]

#: ``TORIMATOME_RELIABILITY=full`` (``make reliability``) runs the long version of every test;
#: otherwise a fast slice of the same code runs with ``make test``.
FULL = os.environ.get("TORIMATOME_RELIABILITY", "") == "full"


def scale(fast: int, full: int) -> int:
    """How many operations, kill points or examples: ``full`` in the long run."""
    return full if FULL else fast


def record_figures(section: str, **counts: int) -> None:
    """Add counters to the figures file (``TORIMATOME_FIGURES``), summing repeated runs."""
    path = os.environ.get("TORIMATOME_FIGURES")
    if not path:
        return
    file = Path(path)
    data: dict[str, dict[str, int]] = json.loads(file.read_text()) if file.exists() else {}
    bucket = data.setdefault(section, {})
    for name, value in counts.items():
        bucket[name] = bucket.get(name, 0) + int(value)
    file.write_text(json.dumps(data, indent=2, sort_keys=True))


def connect(path: Path | str) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, timeout=60)
    connection.execute("PRAGMA busy_timeout = 60000")
    connection.execute("PRAGMA journal_mode = WAL")
    return connection


@contextmanager
def transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


class SharedCart:
    """A shop cart in its own SQLite file, shared by every process: one row per cart entry."""

    def __init__(self, path: Path | str) -> None:
        self.db = connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS cart (ref TEXT PRIMARY KEY, line_id TEXT NOT NULL, "
            "coordinator_id TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL)"
        )
        self.calls = 0

    @hookimpl
    def torimatome_add_to_cart(
        self, account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        self.calls += 1
        refs = []
        with transaction(self.db):
            for entry in entries:
                ref = f"cart-{os.getpid()}-{time.monotonic_ns()}-{len(refs)}"
                self.db.execute(
                    "INSERT INTO cart VALUES (?, ?, ?, ?, ?)",
                    (ref, entry.line_id, coordinator_id, entry.sku, entry.quantity),
                )
                refs.append(CartRef(entry.line_id, ref))
        return refs

    @hookimpl
    def torimatome_remove_from_cart(
        self, account_id: str, coordinator_id: str, refs: Sequence[CartRef]
    ) -> None:
        self.calls += 1
        with transaction(self.db):
            for ref in refs:
                self.db.execute("DELETE FROM cart WHERE ref = ?", (ref.ref,))

    @hookimpl
    def torimatome_lines_ordered(self, event: LinesOrdered) -> None:
        with transaction(self.db):
            for line_id in event.line_ids:
                self.db.execute("DELETE FROM cart WHERE line_id = ?", (line_id,))

    def line_ids(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT line_id FROM cart")]

    def close(self) -> None:
        self.db.close()


class MailLog:
    """A mail transport that appends each Message-ID it accepts to a shared log file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @hookimpl
    def torimatome_send_mail(self, message: EmailMessage) -> bool:
        line = f"{message['Message-ID']}\n".encode()
        # One write of a short line with O_APPEND: whole lines, even from several processes.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return True

    def ids(self) -> list[str]:
        if not self.path.exists():
            return []
        return self.path.read_text().split()


def _start(job: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.worker", json.dumps(job)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait(procs: Sequence[subprocess.Popen[str]], deadline: float, allow_kill: bool) -> None:
    for proc in procs:
        try:
            _, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"a worker hung: {proc.args}\n{err}") from None
        if proc.returncode != 0 and not (allow_kill and proc.returncode == -signal.SIGKILL):
            raise AssertionError(f"a worker failed ({proc.returncode}): {proc.args}\n{err}")


def run_workers(
    active: Sequence[dict[str, Any]],
    *,
    background: Sequence[dict[str, Any]] = (),
    stop: Path,
    timeout: float,
    allow_kill: bool = False,
) -> list[int]:
    """Start one process per job (``python -m tests.reliability.worker``), all at once; wait
    for the ``active`` ones, then create ``stop`` and wait for the ``background`` ones (which
    loop until it exists). Everything must end within ``timeout`` seconds; whatever is left
    then is killed and the test fails. Returns each process's return code."""
    procs = [_start(job) for job in [*active, *background]]
    deadline = time.monotonic() + timeout
    try:
        _wait(procs[: len(active)], deadline, allow_kill)
        stop.touch()
        _wait(procs[len(active) :], deadline, allow_kill)
    finally:
        stop.touch()
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
    return [proc.returncode for proc in procs]


# -- invariants --------------------------------------------------------------------------------

PENDING = ("requested", "on_hold")
STATES = ("requested", "on_hold", "consolidated", "ordered", "deleted", "withdrawn")


def invariant_violations(db_path: Path | str, cart_path: Path | str | None) -> list[str]:
    """Every way the stored state breaks a promise, read straight from the files."""
    found: list[str] = []
    db = connect(db_path)
    try:
        check = db.execute("PRAGMA integrity_check").fetchall()
        if check != [("ok",)]:
            found.append(f"integrity_check: {check}")
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            found.append(f"foreign_key_check: {fk[:5]}")
        rows = db.execute(
            "SELECT id, status, cart_ref, decided_by, decided_at, order_id, account_id FROM lines"
        ).fetchall()
        for line_id, status, cart_ref, decided_by, decided_at, order_id, _ in rows:
            if status not in STATES:
                found.append(f"{line_id}: unknown state {status!r}")
            if status == "consolidated" and (cart_ref is None or decided_by is None):
                found.append(f"{line_id}: consolidated without a cart ref or a decider")
            if status in ("requested", "withdrawn") and cart_ref is not None:
                found.append(f"{line_id}: {status} but holds cart ref {cart_ref}")
            if status == "ordered" and order_id is None:
                found.append(f"{line_id}: ordered without an order id")
            if status in ("consolidated", "deleted", "on_hold") and decided_at is None:
                found.append(f"{line_id}: {status} without a decision time")
        for (account_id,) in db.execute("SELECT id FROM accounts").fetchall():
            listed = db.execute(
                "SELECT count(*) FROM lines WHERE account_id = ? AND status IN (?, ?)",
                (account_id, *PENDING),
            ).fetchone()[0]
            counted = sum(1 for r in rows if r[6] == account_id and r[1] in PENDING)
            if listed != counted:
                found.append(f"{account_id}: pending count {listed} != pending list {counted}")
        flags = db.execute(
            "SELECT r.id, r.closed, sum(l.status IN ('requested', 'on_hold', 'consolidated')) "
            "FROM requests r JOIN lines l ON l.request_id = r.id GROUP BY r.id"
        ).fetchall()
        for request_id, closed, open_lines in flags:
            if bool(closed) != (open_lines == 0):
                found.append(f"{request_id}: closed flag {closed} with {open_lines} open lines")
        if cart_path is not None:
            cart = SharedCart(cart_path)
            try:
                in_cart = Counter(cart.line_ids())
            finally:
                cart.close()
            consolidated = {r[0] for r in rows if r[1] == "consolidated"}
            for line_id, times in in_cart.items():
                if times != 1:
                    found.append(f"{line_id}: in the cart {times} times")
            for line_id in consolidated - set(in_cart):
                found.append(f"{line_id}: consolidated but not in the cart")
            for line_id in set(in_cart) - consolidated:
                found.append(f"{line_id}: in the cart but not consolidated")
    finally:
        db.close()
    return found
