"""Benchmarks of torimatome's public API against the raw-SQL limit, measured in the same run.

``python -m benchmarks.run`` (what ``make bench`` runs) builds each database size, then times
every operation on torimatome's memory and SQLite adapters and on :mod:`benchmarks.baseline`,
alternating library and baseline calls so both see the same machine noise. It prints a table
and writes ``docs/performance.md``, ``docs/performance.json`` and ``docs/performance.png``.

Environment:
    TORIMATOME_BENCH_SIZES   comma-separated sizes (default ``10k,100k,1M``)
    TORIMATOME_BENCH_REPEAT  multiplies the number of repetitions (default 1)
    TORIMATOME_BENCH_OUT     folder for the report (default ``docs`` for a run of every size,
                             ``build/bench`` for fewer, so a quick run never replaces the
                             published figures)
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import torimatome
from torimatome import CartRef, Config, NewLine, hookimpl
from torimatome.adapters.memory_storage import MemoryStorage
from torimatome.adapters.sqlite_storage import SqliteStorage
from torimatome.domain import dates
from torimatome.ports.storage import OutboxMail

from . import generate
from .baseline import Baseline

__all__ = ["main", "run_size"]

COORDINATOR = f"{generate.MAIN}-c0"
DECIDER = f"{generate.MAIN}-c1"
SUBMITTER = f"{generate.MAIN}-u00003"
FILTERED = f"{generate.MAIN}-u00001"
STATUS_USER = f"{generate.MAIN}-u00002"
#: The accounts' timezone (the generator uses the default).
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


# -- the shop around the app: a cart, a mail transport and screen URLs that cost nothing ------


class Shop:
    @hookimpl
    def torimatome_add_to_cart(self, entries: list[Any]) -> list[CartRef]:
        return [CartRef(e.line_id, f"cart-{e.line_id}") for e in entries]

    @hookimpl
    def torimatome_remove_from_cart(self, refs: list[Any]) -> None:
        return None

    @hookimpl
    def torimatome_send_mail(self, message: Any) -> bool:
        return True

    @hookimpl
    def torimatome_screen_url(self, screen: str) -> str:
        return f"https://shop.example.jp/{screen}"


class HoldTimer:
    """A storage wrapper that records how long each write unit of work lasted (the time the
    SQLite write lock, or the memory adapter's lock, is held)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.holds: list[float] = []

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Any]:
        started = time.perf_counter()
        with self.inner.unit_of_work(write=write) as uow:
            yield uow
        if write:
            self.holds.append(time.perf_counter() - started)

    def close(self) -> None:
        self.inner.close()


class Backend:
    """Registers a ready storage object under a scheme of its own."""

    def __init__(self, scheme: str, storage: Any) -> None:
        self.scheme, self.storage = scheme, storage

    @hookimpl
    def torimatome_register_storage(self, registry: Any) -> None:
        registry.add(self.scheme, lambda url, config: self.storage)


class Clock:
    """The benchmark's clock: NOW, moving on with real time (so every write has its instant)."""

    def __init__(self, start: dt.datetime = generate.NOW) -> None:
        self.start = start
        self.t0 = time.perf_counter()

    def __call__(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=time.perf_counter() - self.t0)

    def micros(self) -> int:
        return dates.to_micros(self())


CONFIG = Config(mail_batch=1000, scrypt_n=2**4)
#: The same app with no mail at all: what a submit costs besides composing its mails.
NO_MAIL = Config(mail_batch=1000, scrypt_n=2**4, mail_events=frozenset())


def _open(storage: Any, clock: Clock, config: Config = CONFIG) -> torimatome.App:
    return torimatome.open(
        "bench://", plugins=[Shop(), Backend("bench", storage)], clock=clock, config=config
    )


# -- timing ------------------------------------------------------------------------------------


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"median": statistics.median(ordered), "p95": p95, "n": len(ordered)}


def _timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(
    runs: dict[str, Callable[[], Callable[[], Any]]], reps: int, warmup: int = 2
) -> dict[str, dict[str, float]]:
    """Time each named run ``reps`` times, interleaved; each run is a setup returning the call
    to time (setups are not timed)."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for i in range(warmup + reps):
        for name, setup in runs.items():
            call = setup()
            # No collection inside a timed call (the data set is frozen out of the collector's
            # sight after it is built; see run_size).
            gc.disable()
            try:
                took = _timed(call)
            finally:
                gc.enable()
            if i >= warmup:
                samples[name].append(took)
    return {name: _stats(s) for name, s in samples.items()}


# -- one size ----------------------------------------------------------------------------------


def _day_micros(day: dt.date) -> int:
    return dates.to_micros(dt.datetime.combine(day, dt.time(), TOKYO))


def run_size(
    name: str, lines: int, workdir: Path, repeat: int = 1, *, smoke: bool = False
) -> dict[str, Any]:
    """Build one size and run every benchmark on it; returns the figures. ``smoke`` runs each
    operation twice and delivers 20 mails instead of 1,000 (the test suite's check that the
    benchmarks still run; its figures mean nothing)."""
    out: dict[str, Any] = {
        "lines": lines,
        "build_seconds": {},
        "ops": {},
        "holds": {},
        "history_peak_kib": {},
    }
    started = time.perf_counter()
    plan = generate.build_plan(lines)
    out["build_seconds"]["plan"] = time.perf_counter() - started
    template = workdir / f"{name}.sqlite3"
    started = time.perf_counter()
    generate.load_sqlite(plan, str(template))
    out["build_seconds"]["sqlite"] = time.perf_counter() - started
    lib_path, base_path = workdir / f"{name}-lib.sqlite3", workdir / f"{name}-base.sqlite3"
    shutil.copyfile(template, lib_path)
    shutil.copyfile(template, base_path)
    template.unlink()
    started = time.perf_counter()
    memory = MemoryStorage()
    generate.load_memory(plan, memory)
    out["build_seconds"]["memory"] = time.perf_counter() - started
    out["rows"] = {
        "requests": len(plan.requests),
        "lines": len(plan.lines),
        "messages": len(plan.messages),
        "mails": len(plan.mails),
        "users": len(plan.users),
    }
    # The status user's newest open request (or newest at all) gets the posted messages.
    own = [r[0] for r in plan.requests if r[2] == STATUS_USER]
    own_request = next((r for r in reversed(own) if not plan.closed[r]), own[-1])
    del plan
    # Millions of long-lived objects: keep the collector from walking them during the run.
    gc.collect()
    gc.freeze()

    clock = Clock()
    sqlite_storage = SqliteStorage(str(lib_path))
    apps = {"memory": _open(memory, clock), "sqlite": _open(sqlite_storage, clock)}
    base = Baseline(str(base_path))
    visible_since = dates.to_micros(dates.window_start(generate.NOW, TOKYO, 15))
    period_from = (generate.NOW - dt.timedelta(days=200)).date()
    period_to = period_from + dt.timedelta(days=30)
    start, end = _day_micros(period_from), _day_micros(period_to + dt.timedelta(days=1))
    # A requester over a year: a full page at every size.
    both_from = (generate.NOW - dt.timedelta(days=400)).date()
    both_to = both_from + dt.timedelta(days=365)
    b_start, b_end = _day_micros(both_from), _day_micros(both_to + dt.timedelta(days=1))
    reads = 2 if smoke else max(10, 100 * repeat)
    writes = 2 if smoke else max(10, 60 * repeat)
    mails = 20 if smoke else 1000

    def runs(
        lib: Callable[[torimatome.App], Any], baseline: Callable[[], Any]
    ) -> dict[str, Callable[[], Callable[[], Any]]]:
        return {
            "memory": lambda: lambda: lib(apps["memory"]),
            "sqlite": lambda: lambda: lib(apps["sqlite"]),
            "baseline": lambda: baseline,
        }

    def record(op: str, figures: dict[str, dict[str, float]]) -> None:
        out["ops"][op] = figures
        b = figures["baseline"]["median"]
        print(
            f"  {name:>5} {op:<18} baseline {b * 1e3:9.3f} ms   "
            + "   ".join(
                f"{k} {figures[k]['median'] * 1e3:9.3f} ms ({figures[k]['median'] / b:5.2f}x)"
                for k in ("sqlite", "memory")
            ),
            flush=True,
        )

    # Reads first, on the generated state (500 pending lines).
    record(
        "pending",
        measure(runs(lambda a: a.pending(COORDINATOR), lambda: base.pending(COORDINATOR)), reads),
    )
    record(
        "pending_count",
        measure(
            runs(lambda a: a.pending_count(COORDINATOR), lambda: base.pending_count(COORDINATOR)),
            reads,
        ),
    )
    record(
        "history_period",
        measure(
            runs(
                lambda a: a.history(COORDINATOR, since=period_from, until=period_to),
                lambda: base.history(COORDINATOR, visible_since, start=start, end=end),
            ),
            reads,
        ),
    )
    record(
        "history_requester",
        measure(
            runs(
                lambda a: a.history(COORDINATOR, requester_id=FILTERED),
                lambda: base.history(COORDINATOR, visible_since, requester=FILTERED),
            ),
            reads,
        ),
    )
    record(
        "history_both",
        measure(
            runs(
                lambda a: a.history(
                    COORDINATOR, since=both_from, until=both_to, requester_id=FILTERED
                ),
                lambda: base.history(
                    COORDINATOR, visible_since, start=b_start, end=b_end, requester=FILTERED
                ),
            ),
            reads,
        ),
    )
    record(
        "status_page",
        measure(
            runs(
                lambda a: a.my_requests(STATUS_USER),
                lambda: base.history(STATUS_USER, visible_since, decided_only=False, own=True),
            ),
            reads,
        ),
    )

    for adapter, app in apps.items():
        gc.collect()
        tracemalloc.start()
        app.history(COORDINATOR, since=period_from, until=period_to)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["history_peak_kib"][adapter] = peak / 1024

    # Writes.
    cart = [
        NewLine(sku="SKU-00001", name="コピー用紙 A4 5箱", quantity=2, unit_price=Decimal("2480")),
        NewLine(sku="SKU-00002", name="ボールペン 黒 10本", quantity=5, unit_price=Decimal("550")),
        NewLine(
            sku="SKU-00003", name="クリアファイル 100枚", quantity=1, unit_price=Decimal("980")
        ),
    ]
    apps["sqlite"].submit_request(SUBMITTER, cart, "至急お願いします")
    raw = _one_raw(lib_path)
    base_cart = [(ln.sku, ln.name, ln.quantity, str(ln.unit_price)) for ln in cart]
    record(
        "submit",
        measure(
            runs(
                lambda a: a.submit_request(SUBMITTER, cart, "至急お願いします"),
                lambda: base.submit(SUBMITTER, base_cart, "至急お願いします", raw, clock.micros()),
            ),
            writes,
        ),
    )

    quiet = {
        "memory": _open(memory, clock, NO_MAIL),
        "sqlite": _open(sqlite_storage, clock, NO_MAIL),
    }
    record(
        "submit_no_mail",
        measure(
            {
                "memory": lambda: lambda: quiet["memory"].submit_request(SUBMITTER, cart, "至急"),
                "sqlite": lambda: lambda: quiet["sqlite"].submit_request(SUBMITTER, cart, "至急"),
                "baseline": lambda: (
                    lambda: base.submit(SUBMITTER, base_cart, "至急", None, clock.micros())
                ),
            },
            writes,
        ),
    )

    acts = ["consolidate", "hold", "delete"]

    def lib_decide(app: torimatome.App) -> Callable[[], Any]:
        lines = [ln for g in app.pending(DECIDER) for ln in g.lines][:20]
        choices = {ln.id: acts[i % 3] for i, ln in enumerate(lines)}
        versions = {ln.id: ln.version for ln in lines}
        return lambda: app.decide(DECIDER, choices, versions)

    def base_decide() -> Callable[[], Any]:
        lines = [ln for _, _, g in base.pending(DECIDER) for ln in g][:20]
        choices = {ln[0]: acts[i % 3] for i, ln in enumerate(lines)}
        versions = {ln[0]: ln[10] for ln in lines}
        return lambda: base.decide(DECIDER, choices, versions, clock.micros())

    record(
        "decide",
        measure(
            {
                "memory": lambda: lib_decide(apps["memory"]),
                "sqlite": lambda: lib_decide(apps["sqlite"]),
                "baseline": base_decide,
            },
            writes,
        ),
    )
    record(
        "post_message",
        measure(
            runs(
                lambda a: a.post_message(STATUS_USER, own_request, "来週で大丈夫です"),
                lambda: base.post_message(
                    STATUS_USER, own_request, "来週で大丈夫です", clock.micros(), visible_since
                ),
            ),
            writes,
        ),
    )

    # deliver_mail of 1,000 mails: the outbox is drained, then refilled in bulk (not timed).
    def lib_deliver(app: torimatome.App, adapter: str) -> Callable[[], Any]:
        app.deliver_mail()
        _fill_outbox(adapter, memory, lib_path, raw, clock, mails)
        return lambda: _check_sent(app.deliver_mail(), mails)

    def base_deliver() -> Callable[[], Any]:
        base.deliver(clock.micros(), 600_000_000, 10**6)
        _fill_outbox("baseline", memory, base_path, raw, clock, mails)
        return lambda: base.deliver(clock.micros(), 600_000_000, mails)

    record(
        "deliver_mail_1000",
        measure(
            {
                "memory": lambda: lib_deliver(apps["memory"], "memory"),
                "sqlite": lambda: lib_deliver(apps["sqlite"], "sqlite"),
                "baseline": base_deliver,
            },
            1 if smoke else max(3, 7 * repeat),
            warmup=1,
        ),
    )

    # purge_expired of a month's worth, three times: the history holds three months before the
    # window, so the cron job runs as if two months ago, one month ago and now. Each run is
    # timed whole, and each write unit's hold of the lock is recorded.
    apps["sqlite"].close()
    timers = {"memory": HoldTimer(memory), "sqlite": HoldTimer(SqliteStorage(str(lib_path)))}
    purges: dict[str, list[float]] = {"memory": [], "sqlite": [], "baseline": []}
    for months_ago in (2, 1, 0):
        then = generate.NOW - dt.timedelta(days=30 * months_ago)
        for adapter, timer in timers.items():
            app = _open(timer, Clock(then))
            gc.disable()
            purges[adapter].append(_timed(app.purge_expired))
            gc.enable()
        window = dates.to_micros(dates.window_start(then, TOKYO, 15))
        before = dict.fromkeys((generate.MAIN, generate.NEIGHBOUR), window)
        keys_before = dates.to_micros(then - dt.timedelta(seconds=CONFIG.idempotency_ttl_seconds))
        gc.disable()
        purges["baseline"].append(
            _timed(partial(base.purge, before, CONFIG.purge_batch, max(keys_before, window)))
        )
        gc.enable()
    for adapter, timer in timers.items():
        out["holds"][adapter] = _hold_stats(timer.holds)
        timer.close()
    out["holds"]["baseline"] = _hold_stats(base.holds)
    record("purge_month", {k: _stats(v) for k, v in purges.items()})
    base.close()
    memory.close()
    gc.unfreeze()  # the data dies with this call; the collector may see it again
    for path in (lib_path, base_path):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return out


def _hold_stats(holds: list[float]) -> dict[str, float]:
    if not holds:
        return {"units": 0, "median": 0.0, "p95": 0.0, "max": 0.0}
    s = _stats(holds)
    return {"units": len(holds), "median": s["median"], "p95": s["p95"], "max": max(holds)}


def _check_sent(report: Any, expected: int) -> None:
    if report.sent != expected:
        raise RuntimeError(f"deliver_mail sent {report.sent}, expected {expected}: {report}")


def _one_raw(path: Path) -> bytes:
    db = sqlite3.connect(path)
    try:
        row = db.execute(
            "SELECT raw FROM outbox WHERE event = 'request_submitted' ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
    finally:
        db.close()
    return bytes(row[0])


_filled = 0


def _fill_outbox(
    adapter: str, memory: MemoryStorage, path: Path, raw: bytes, clock: Clock, count: int
) -> None:
    """``count`` due mails, added in bulk outside the measurement."""
    global _filled
    _filled += 1
    now = clock()
    ids = [f"bulk-{adapter}-{_filled}-{i:04d}" for i in range(count)]
    if adapter == "memory":
        with memory.unit_of_work() as uow:
            for mail_id in ids:
                uow.outbox.add(
                    OutboxMail(
                        mail_id,
                        generate.MAIN,
                        "request_submitted",
                        "someone@example.jp",
                        "subject",
                        raw,
                        now,
                        next_attempt_at=now,
                    )
                )
        return
    at = dates.to_micros(now)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO outbox (id, account_id, event, recipient, subject, raw, created_at, "
            "request_id, attempts, next_attempt_at) "
            "VALUES (?, ?, 'request_submitted', 'someone@example.jp', 'subject', ?, ?, NULL, 0, ?)",
            [(i, generate.MAIN, raw, at, at) for i in ids],
        )
        db.execute("COMMIT")
    finally:
        db.close()


# -- the report --------------------------------------------------------------------------------


def main() -> None:
    sizes = generate.parse_sizes(os.environ.get("TORIMATOME_BENCH_SIZES"))
    repeat = int(os.environ.get("TORIMATOME_BENCH_REPEAT", "1"))
    every_size = set(sizes) == set(generate.SIZES)
    out_dir = Path(os.environ.get("TORIMATOME_BENCH_OUT", "docs" if every_size else "build/bench"))
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="torimatome-bench-") as tmp:
        for name in sizes:
            print(f"size {name}: building and measuring...", flush=True)
            results[name] = run_size(name, generate.SIZES[name], Path(tmp), repeat)
            gc.collect()  # the size's data is unreachable now
    elapsed = time.perf_counter() - started
    from . import report

    meta = {
        "command": "make bench"
        + (f" TORIMATOME_BENCH_SIZES={','.join(sizes)}" if len(sizes) < 3 else ""),
        "sizes": sizes,
        "elapsed_seconds": elapsed,
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "torimatome": torimatome.__version__,
        "machine": report.machine(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    report.write(out_dir, meta, results)
    print(f"done in {elapsed:.0f} s; wrote {out_dir}/performance.md")


if __name__ == "__main__":
    main()
