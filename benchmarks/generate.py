"""A deterministic office history for the benchmarks: accounts, users and 18 months of requests.

``build_plan(lines, seed)`` draws the whole history from one seeded generator, so a size and a
seed always give the same data. The plan is then loaded in bulk, outside any measurement:
``load_sqlite`` writes straight into torimatome's schema with ``executemany`` (one transaction),
``load_memory`` goes through the storage port in large units of work. Both hold exactly the
same rows, so both adapters (and the raw-SQL baseline, which works on a copy of the SQLite
file) start from the same state.

The shape, per size (10k, 100k or 1M request lines):
- one large account (``acc-main``) with 3 coordinators, about one internal user per 330 lines
  (2,878 at 1M, at least 40) and 95 % of the lines; a neighbour account with the rest, so
  every query has another office's rows to skip;
- requests of 1 to 5 lines spread evenly over the last 18 months: the oldest three months lie
  before the 15-month retention window (what three monthly purges remove);
- lines mostly ordered, some deleted or withdrawn, a few consolidated and not yet ordered
  (their requests stay open at any age), and exactly 500 pending (requested or on hold) lines
  in the large account, the newest ones, from the same 30 requesters whatever the size;
- a message thread on one request in four, one delivered confirmation mail per request.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Iterator
from decimal import Decimal

import attrs

from torimatome.adapters.memory_storage import MemoryStorage
from torimatome.adapters.rows import settings_to_json
from torimatome.adapters.sqlite_storage import SqliteStorage
from torimatome.domain import dates
from torimatome.domain.accounts import Account, AccountSettings
from torimatome.domain.lines import LineStatus, RequestLine
from torimatome.domain.messages import Message
from torimatome.domain.requests import OrderRequest
from torimatome.domain.roles import Role
from torimatome.domain.users import User
from torimatome.ports.storage import OutboxMail

__all__ = [
    "MAIN",
    "NEIGHBOUR",
    "NOW",
    "PENDING",
    "SIZES",
    "Plan",
    "build_plan",
    "load_memory",
    "load_sqlite",
    "parse_sizes",
]

#: The benchmark's "now": every history ends here (a Tuesday noon in Tokyo).
NOW = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
MAIN = "acc-main"
NEIGHBOUR = "acc-next"
#: Pending lines of the large account, the same at every size.
PENDING = 500
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
#: 18 months: the oldest three lie before the 15-month retention window, one for each of the
#: benchmark's three monthly purges.
_SPAN_DAYS = 548
#: The pending backlog comes from this many requesters at every size, so that the pending
#: list returns the same work whatever the size of the history behind it.
_PENDING_REQUESTERS = 30
_MAIL_RAW = (
    "From: torimatome@localhost\r\nTo: {to}\r\nSubject: =?utf-8?b?5rOo5paH5L6d6aC8?=\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n"
)
_BODY = (
    "ご注文依頼を受け付けました。依頼番号 {rid}。とりまとめ担当者の確認をお待ちください。\r\n" * 4
)
_PRODUCTS = [
    (f"SKU-{n:05d}", f"コピー用紙 A4 {n}箱", Decimal(f"{300 + (n * 37) % 9000}.00"))
    for n in range(2000)
]
_MESSAGES = ["至急お願いします", "来週で大丈夫です", "承知しました", "在庫を確認します", "了解です"]


def parse_sizes(text: str | None) -> list[str]:
    """``"10k,100k"`` → ``["10k", "100k"]``; None or empty means every size."""
    if not text:
        return list(SIZES)
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in SIZES]
    if unknown:
        raise SystemExit(f"unknown size(s) {unknown}; choose from {list(SIZES)}")
    return names


@attrs.define
class Plan:
    """The history as plain tuples in the column order of torimatome's tables."""

    lines_total: int
    accounts: list[tuple[str, str]] = attrs.Factory(list)
    users: list[tuple[str, str, str, str, str, str]] = attrs.Factory(list)
    requests: list[tuple[str, str, str, int, str]] = attrs.Factory(list)
    # id, request_id, account_id, requester_id, submitted_at, position, sku, name, quantity,
    # unit_price, status, version, cart_ref, order_id, order_status, decided_by, decided_at
    lines: list[tuple[object, ...]] = attrs.Factory(list)
    messages: list[tuple[str, str, str, str, int, str]] = attrs.Factory(list)
    mails: list[tuple[object, ...]] = attrs.Factory(list)
    closed: dict[str, bool] = attrs.Factory(dict)
    decided: dict[str, bool] = attrs.Factory(dict)


def _micros(value: dt.datetime) -> int:
    return dates.to_micros(value)


def build_plan(lines: int, seed: int = 20261201, *, min_users: int = 40) -> Plan:
    """The whole history for about ``lines`` request lines, drawn from ``seed``; each account
    has at least ``min_users`` internal users."""
    rng = random.Random(seed)
    plan = Plan(lines_total=lines)
    accounts = [(MAIN, int(lines * 0.95)), (NEIGHBOUR, lines - int(lines * 0.95))]
    for account_id, _ in accounts:
        plan.accounts.append((account_id, f"株式会社{account_id}"))
    for account_id, share in accounts:
        coordinators = [f"{account_id}-c{i}" for i in range(3)]
        internals = [f"{account_id}-u{i:05d}" for i in range(max(min_users, share // 330))]
        for uid in coordinators:
            plan.users.append((uid, account_id, uid, "coordinator", f"担当 {uid[-2:]}", uid))
        for uid in internals:
            plan.users.append((uid, account_id, uid, "internal", f"社員 {uid[-5:]}", uid))
        _requests(plan, rng, account_id, share, coordinators, internals)
    return plan


def _requests(
    plan: Plan,
    rng: random.Random,
    account_id: str,
    share: int,
    coordinators: list[str],
    internals: list[str],
) -> None:
    start = _micros(NOW - dt.timedelta(days=_SPAN_DAYS))
    span = _micros(NOW) - start - 60_000_000
    sizes: list[int] = []
    total = 0
    while total < share:
        n = min(rng.randint(1, 5), share - total)
        sizes.append(n)
        total += n
    times = sorted(start + rng.randrange(span) for _ in sizes)
    pending_left = PENDING if account_id == MAIN else 10
    # The newest requests carry the pending backlog: walk back from the end.
    pending_from = len(sizes)
    count = 0
    while pending_from > 0 and count < pending_left:
        pending_from -= 1
        count += sizes[pending_from]
    week = 7 * 86_400_000_000
    for index, (n, at) in enumerate(zip(sizes, times, strict=True)):
        rid = f"{account_id}-r{index:07d}"
        people = internals[:_PENDING_REQUESTERS] if index >= pending_from else internals
        requester = people[rng.randrange(len(people))]
        message = _MESSAGES[rng.randrange(len(_MESSAGES))] if rng.random() < 0.3 else ""
        plan.requests.append((rid, account_id, requester, at, message))
        recent = _micros(NOW) - at < 2 * week
        statuses: list[str] = []
        for position in range(n):
            if index >= pending_from and pending_left > 0:
                status = "requested" if rng.random() < 0.8 else "on_hold"
                pending_left -= 1
            elif rng.random() < (0.3 if recent else 0.003):
                status = "consolidated"  # in the cart, not yet ordered: keeps the request open
            else:
                roll = rng.random()
                status = "ordered" if roll < 0.8 else "deleted" if roll < 0.92 else "withdrawn"
            statuses.append(status)
            sku, name, price = _PRODUCTS[rng.randrange(len(_PRODUCTS))]
            decided = status in ("consolidated", "ordered", "deleted") or (status == "on_hold")
            decider = coordinators[rng.randrange(len(coordinators))] if decided else None
            decided_at = at + rng.randrange(1, 3 * 86_400_000_000) if decided else None
            version = {"requested": 1, "on_hold": 2, "consolidated": 2, "ordered": 4}.get(status, 2)
            ordered = status == "ordered"
            plan.lines.append(
                (
                    f"{rid}-l{position}",
                    rid,
                    account_id,
                    requester,
                    at,
                    position,
                    sku,
                    name,
                    rng.randint(1, 20),
                    str(price),
                    status,
                    version,
                    f"cart-{rid}-{position}" if status in ("consolidated", "ordered") else None,
                    f"ord-{account_id}-{at // week}" if ordered else None,
                    "出荷済み" if ordered else None,
                    decider,
                    decided_at,
                )
            )
        plan.closed[rid] = all(s in ("ordered", "deleted", "withdrawn") for s in statuses)
        plan.decided[rid] = any(s not in ("requested", "withdrawn") for s in statuses)
        if rng.random() < 0.25:
            for k in range(rng.randint(1, 3)):
                author = requester if k % 2 == 0 else coordinators[0]
                body = _MESSAGES[rng.randrange(len(_MESSAGES))]
                posted = at + (k + 1) * 3_600_000_000
                plan.messages.append((f"{rid}-m{k}", rid, author, body, posted, author))
        raw = _MAIL_RAW.format(to=f"{requester}@example.jp", body=_BODY.format(rid=rid))
        plan.mails.append(
            (
                f"{rid}-mail",
                account_id,
                "request_submitted",
                f"{requester}@example.jp",
                "注文依頼",
                raw.encode(),
                at,
                rid,
                1,
                at,
                at + 60_000_000,
                None,
            )
        )


# -- loading ---------------------------------------------------------------------------------


def _user_row(u: tuple[str, str, str, str, str, str]) -> tuple[object, ...]:
    uid, account_id, login, role, nickname, _ = u
    return (
        uid,
        account_id,
        login,
        role,
        1,
        nickname,
        f"{uid}@example.jp",
        "",
        "",
        "",
        "",
        0,
        0,
        "",
        "",
        "",
        "",
        1,
        "bench-no-login",
    )


def load_sqlite(plan: Plan, path: str, *, analyze: bool = True) -> None:
    """Create ``path`` with torimatome's schema (through SqliteStorage) and bulk-load the plan;
    ``ANALYZE`` it unless told not to (the query-plan tests try both)."""
    SqliteStorage(path, synchronous="OFF").close()  # runs the migrations
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
        # The settings JSON is written by torimatome itself, so it is always current.
        settings = settings_to_json(AccountSettings())
        db.executemany(
            "INSERT INTO accounts VALUES (?, ?, 'Asia/Tokyo', ?)",
            [(a, name, settings) for a, name in plan.accounts],
        )
        db.executemany(
            f"INSERT INTO users VALUES ({', '.join('?' * 19)})", map(_user_row, plan.users)
        )
        db.executemany(
            "INSERT INTO requests VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            ((*r, plan.closed[r[0]], plan.decided[r[0]]) for r in plan.requests),
        )
        db.executemany(
            "INSERT INTO lines (id, request_id, account_id, requester_id, submitted_at, "
            "position, sku, name, quantity, unit_price, status, version, cart_ref, order_id, "
            f"order_status, decided_by, decided_at) VALUES ({', '.join('?' * 17)})",
            plan.lines,
        )
        db.executemany(
            "INSERT INTO messages (id, request_id, author_id, body, posted_at, author_name) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            plan.messages,
        )
        db.executemany(
            "INSERT INTO outbox (id, account_id, event, recipient, subject, raw, created_at, "
            "request_id, attempts, next_attempt_at, sent_at, last_error) "
            f"VALUES ({', '.join('?' * 12)})",
            plan.mails,
        )
        db.execute("COMMIT")
        if analyze:
            db.execute("ANALYZE")
    finally:
        db.close()


def _users(plan: Plan) -> Iterator[User]:
    for uid, account_id, login, role, nickname, _ in plan.users:
        yield User(uid, account_id, login, Role(role), nickname=nickname, email=f"{uid}@example.jp")


def load_memory(plan: Plan, storage: MemoryStorage, chunk: int = 20_000) -> None:
    """Fill a MemoryStorage with the plan through its own port, in units of ``chunk`` requests
    (so every index the adapter keeps is built the way writes build it)."""
    at = dates.from_micros
    with storage.unit_of_work() as uow:
        for a, name in plan.accounts:
            uow.accounts.add(Account(a, name))
        for user in _users(plan):
            uow.users.add(user, "bench-no-login")
    by_request: dict[str, list[RequestLine]] = {}
    statuses = {s.value: s for s in LineStatus}
    for ln in plan.lines:
        (
            lid,
            rid,
            account_id,
            requester,
            _,
            position,
            sku,
            name,
            qty,
            price,
            status,
            version,
            cart_ref,
            order_id,
            order_status,
            decided_by,
            decided_at,
        ) = ln
        by_request.setdefault(str(rid), []).append(
            RequestLine(
                str(lid),
                str(rid),
                str(account_id),
                str(requester),
                int(position),
                str(sku),
                str(name),
                int(qty),
                Decimal(str(price)),
                statuses[str(status)],
                int(version),
                cart_ref,
                order_id,
                order_status,
                decided_by,
                None if decided_at is None else at(int(decided_at)),
            )
        )
    threads: dict[str, list[Message]] = {}
    for mid, rid, author, body, posted, author_name in plan.messages:
        threads.setdefault(rid, []).append(Message(mid, rid, author, body, at(posted), author_name))
    mails = {
        m[7]: OutboxMail(
            str(m[0]),
            str(m[1]),
            str(m[2]),
            str(m[3]),
            str(m[4]),
            m[5],
            at(m[6]),
            str(m[7]),
            int(m[8]),
            at(m[9]),
            at(m[10]),
        )
        for m in plan.mails
    }
    for start in range(0, len(plan.requests), chunk):
        with storage.unit_of_work() as uow:
            for rid, account_id, requester, submitted, message in plan.requests[
                start : start + chunk
            ]:
                uow.requests.add(
                    OrderRequest(
                        rid, account_id, requester, at(submitted), message, tuple(by_request[rid])
                    )
                )
                for m in threads.get(rid, ()):
                    uow.messages.add(m)
                uow.outbox.add(mails[rid])
