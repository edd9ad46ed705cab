"""SQLite storage: the durable default (``sqlite:///path``), on the standard library's sqlite3.

One connection per :class:`SqliteStorage`, guarded by a lock, so units of work of one process
run one after another; several processes may open the same file, each with its own connection,
and SQLite's locks (with ``busy_timeout``) serialise their writers. The connection runs in
autocommit mode (``isolation_level=None``) and every unit of work issues its own ``BEGIN
IMMEDIATE`` (write) or ``BEGIN`` (read-only) and ``COMMIT`` / ``ROLLBACK``, so a writer takes the
write lock up front instead of failing half-way on an upgrade from a read lock.

Every ``sqlite3.Error`` leaving a repository or a commit becomes a :class:`StorageError` with the
driver's error as ``__cause__`` (a uniqueness clash on insert becomes :class:`Conflict`). Values
are converted to and from rows by ``rows`` (cattrs); the schema and its migrations live in
``sqlite_schema``.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import sqlite3
import threading
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from ..domain.accounts import Account
from ..domain.errors import NAMED_TWICE, VERSION_MOVED, ConfigurationError, Conflict, StorageError
from ..domain.lines import OPEN_STATUSES, RequestLine
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.users import User
from ..ports.config import SYNCHRONOUS_MODES, Config
from ..ports.storage import (
    AccountRepository,
    IdempotencyRecord,
    IdempotencyRepository,
    MessageRepository,
    OutboxMail,
    OutboxRepository,
    PurgeCounts,
    RequestQuery,
    RequestRepository,
    Storage,
    UnitOfWork,
    UserRepository,
)
from . import sqlite_schema
from .rows import from_row, to_micros, to_row

__all__ = ["MINIMUM_SQLITE", "SqliteStorage"]

T = TypeVar("T")

#: STRICT tables arrived in SQLite 3.37.0.
MINIMUM_SQLITE = (3, 37, 0)
_URL_PREFIX = "sqlite:///"
# Stay well under SQLITE_MAX_VARIABLE_NUMBER (32766 since 3.32) for IN (...) lists.
_CHUNK = 500
_UNIQUE_ERRORS = frozenset({"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"})


# -- SQL built from the value classes, so a column list never drifts from its fields ----------


@functools.cache
def _fields(cls: type) -> list[str]:
    return [f.name for f in attrs.fields(cls) if f.name != "lines"]


@functools.cache
def _select(cls: type, table: str) -> str:
    return ", ".join(f'{table}."{name}"' for name in _fields(cls))


@functools.cache
def _insert(cls: type, table: str, *extra: str) -> str:
    names = [*_fields(cls), *extra]
    columns = ", ".join(f'"{name}"' for name in names)
    values = ", ".join(f":{name}" for name in names)
    return f"INSERT INTO {table} ({columns}) VALUES ({values})"


def _assign(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}" = :{name}' for name in names)


# Oldest request first, then the request's lines in order; the trailing rowid settles equal
# positions by insertion, as MemoryStorage's stable sort does.
_LINE_ORDER = "submitted_at, request_id, position, rowid"
# The IN list repeats the partial index's WHERE verbatim, which is how SQLite recognises that
# the index (lines_pending) can answer the query; its columns then give the order too.
_PENDING = "account_id = ? AND status IN ('requested', 'on_hold')"
PENDING_LINES_SQL = (
    f"SELECT {_select(RequestLine, 'lines')} FROM lines WHERE {_PENDING} ORDER BY {_LINE_ORDER}"
)
PENDING_COUNT_SQL = f"SELECT count(*) AS n FROM lines WHERE {_PENDING}"
LINES_OF_ORDER_SQL = (
    f"SELECT {_select(RequestLine, 'lines')} FROM lines "
    f"WHERE account_id = ? AND order_id = ? ORDER BY {_LINE_ORDER}"
)
# The stored closed / decided flags of the requests of the named lines, recomputed by the
# domain's rules (closed: no line in an open state; decided: some line has a decision).
_OPEN = ", ".join(f"'{status.value}'" for status in sorted(OPEN_STATUSES))
_REFRESH_FLAGS = (
    "UPDATE requests SET "
    f"closed = NOT EXISTS (SELECT 1 FROM lines WHERE lines.request_id = requests.id "
    f"AND lines.status IN ({_OPEN})), "
    "decided = EXISTS (SELECT 1 FROM lines WHERE lines.request_id = requests.id "
    "AND lines.decided_at IS NOT NULL) "
    "WHERE id IN (SELECT request_id FROM lines WHERE id IN ({marks}))"
)
# A line's identity (id, request_id, account_id, requester_id, position) never changes.
_LINE_MUTABLE = [
    n
    for n in _fields(RequestLine)
    if n not in ("id", "request_id", "account_id", "requester_id", "position")
]
_UPDATE_LINE = (
    f"UPDATE lines SET {_assign(_LINE_MUTABLE)} WHERE id = :id AND version = :expected_version"
)
_USER_MUTABLE = [n for n in _fields(User) if n not in ("id", "login_id")]
_UPDATE_USER = (
    f"UPDATE users SET {_assign(_USER_MUTABLE)} WHERE id = :id AND version = :expected_version"
)
_UPSERT_ACCOUNT = (
    _insert(Account, "accounts")
    + " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n in _fields(Account) if n != "id")
)
# users_by_role answers it, its implicit rowid giving registration order. Named outright: on
# a small table the planner would rather scan in rowid order, which grows with the account.
COORDINATORS_SQL = (
    f"SELECT {_select(User, 'users')} FROM users INDEXED BY users_by_role "
    "WHERE account_id = ? AND role = 'coordinator' ORDER BY rowid"
)
_DOOMED = "account_id = :account_id AND submitted_at < :before AND closed = 1"
_DOOMED_IDS = f"SELECT id FROM requests WHERE {_DOOMED}"
_KEPT_OPEN = (
    "SELECT count(*) AS n FROM requests "
    "WHERE account_id = :account_id AND submitted_at < :before AND closed = 0"
)
# Delivered mails whose request is gone (outbox_orphans answers it).
_ORPHAN_MAILS = (
    "FROM outbox WHERE account_id = :account_id AND orphaned = 1 AND sent_at IS NOT NULL"
)
# A mail names a request that is not stored: marked at insert, so the purge finds it by index.
_INSERT_MAIL = _insert(OutboxMail, "outbox", "orphaned").replace(
    ":orphaned",
    "(:request_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM requests WHERE id = :request_id))",
)


def page_sql(query: RequestQuery) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of one history page (public for the query-plan tests).

    Newest first on the keyset ``(submitted_at, id)``; ``after`` means strictly older than the
    given pair in that order. Retention hides closed requests submitted before
    ``visible_since``; ``closed`` and ``decided`` are the stored flags ``update_lines`` keeps.
    """
    where = ["account_id = :account_id", "(closed = 0 OR submitted_at >= :visible_since)"]
    params: dict[str, Any] = {
        "account_id": query.account_id,
        "visible_since": to_micros(query.visible_since),
        "limit": max(query.limit, 0),
    }
    if query.requester_id is not None:
        where.append("requester_id = :requester_id")
        params["requester_id"] = query.requester_id
    if query.submitted_from is not None:
        where.append("submitted_at >= :submitted_from")
        params["submitted_from"] = to_micros(query.submitted_from)
    if query.submitted_before is not None:
        where.append("submitted_at < :submitted_before")
        params["submitted_before"] = to_micros(query.submitted_before)
    if query.decided_only:
        where.append("decided = 1")
    if query.after is not None:
        where.append("(submitted_at, id) < (:after_at, :after_id)")
        params["after_at"] = to_micros(query.after[0])
        params["after_id"] = query.after[1]
    sql = (
        f"SELECT {_select(OrderRequest, 'requests')} FROM requests WHERE {' AND '.join(where)} "
        "ORDER BY submitted_at DESC, id DESC LIMIT :limit"
    )
    return sql, params


# -- the connection of one unit of work ------------------------------------------------------


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    # Plain dicts, not sqlite3.Row: cattrs tests `name in row`, which a Row answers by value.
    return {column[0]: value for column, value in zip(cursor.description, row, strict=True)}


def _storage_error(exc: sqlite3.Error) -> StorageError:
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    return StorageError(f"SQLite failed ({name}): {exc}", ja=StorageError.default_ja)


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _marks(items: Sequence[object]) -> str:
    return ", ".join("?" * len(items))


def _by_id(session: _Session, select: str, ids: Collection[str], kind: type[T]) -> dict[str, T]:
    """The rows of ``select`` whose id is one of ``ids``, as values, in the order asked (as
    MemoryStorage answers), read in chunks within SQLite's parameter limit."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, T] = {}
    for chunk in _chunks(wanted):
        for row in session.rows(f"{select} WHERE id IN ({_marks(chunk)})", chunk):
            found[row["id"]] = from_row(row, kind)
    return {i: found[i] for i in wanted if i in found}


class _Session:
    """Runs the statements of one unit of work and translates every driver error."""

    def __init__(self, connection: sqlite3.Connection, write: bool) -> None:
        self.connection = connection
        self.write = write
        self.ended = False

    def _usable(self) -> None:
        if self.ended:
            raise StorageError("This unit of work has ended; open a new one.")

    def writable(self) -> None:
        self._usable()
        if not self.write:
            raise StorageError("Write attempted in a read-only unit of work.")

    def run(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self._usable()
        try:
            return self.connection.execute(sql, params)
        except sqlite3.Error as exc:
            raise _storage_error(exc) from exc

    def run_many(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        self._usable()
        try:
            return self.connection.executemany(sql, params)
        except sqlite3.Error as exc:
            raise _storage_error(exc) from exc

    def rows(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        self._usable()
        try:
            cursor = self.connection.cursor()
            cursor.row_factory = None  # tuples; the dicts are built below
            cursor.execute(sql, params)
            # fetchall steps the statement too, so it can fail as much as execute.
            found: list[tuple[Any, ...]] = cursor.fetchall()
        except sqlite3.Error as exc:
            raise _storage_error(exc) from exc
        if not found:
            return []
        # Plain dicts, not sqlite3.Row: cattrs tests `name in row`, which a Row answers by
        # value. The column names are read once per statement, not once per row.
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in found]

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def insert(self, sql: str, params: Any, conflict: str, *, many: bool = False) -> None:
        """Insert; a unique or primary-key clash is :class:`Conflict`, anything else a
        :class:`StorageError` (a missing parent row, for one)."""
        self.writable()
        try:
            if many:
                self.connection.executemany(sql, params)
            else:
                self.connection.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            if getattr(exc, "sqlite_errorname", None) in _UNIQUE_ERRORS:
                raise Conflict(conflict) from exc
            raise _storage_error(exc) from exc
        except sqlite3.Error as exc:
            raise _storage_error(exc) from exc

    @contextmanager
    def savepoint(self, name: str) -> Iterator[None]:
        """A nested transaction: undone on any exception, even one the caller then catches."""
        self.run(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            self.run(f"ROLLBACK TO {name}")
            self.run(f"RELEASE {name}")
            raise
        self.run(f"RELEASE {name}")


# -- repositories ------------------------------------------------------------------------------


class _Repo:
    def __init__(self, session: _Session) -> None:
        self.s = session


class _Accounts(_Repo):
    def add(self, account: Account) -> None:
        self.s.insert(
            _insert(Account, "accounts"), to_row(account), f"Account {account.id!r} already exists."
        )

    def get(self, account_id: str) -> Account | None:
        row = self.s.one(
            f"SELECT {_select(Account, 'accounts')} FROM accounts WHERE id = ?", (account_id,)
        )
        return None if row is None else from_row(row, Account)

    def update(self, account: Account) -> None:
        # An upsert, as MemoryStorage stores whatever it is given; the rowid (creation order
        # for all_ids) survives an update.
        self.s.writable()
        self.s.run(_UPSERT_ACCOUNT, to_row(account))

    def all_ids(self) -> list[str]:
        return [r["id"] for r in self.s.rows("SELECT id FROM accounts ORDER BY rowid")]


class _Users(_Repo):
    _SELECT = f"SELECT {_select(User, 'users')} FROM users"

    def add(self, user: User, password_hash: str) -> None:
        self.s.insert(
            _insert(User, "users", "password_hash"),
            {**to_row(user), "password_hash": password_hash},
            f"Login ID {user.login_id!r} is already in use.",
        )

    def get(self, user_id: str) -> User | None:
        row = self.s.one(f"{self._SELECT} WHERE id = ?", (user_id,))
        return None if row is None else from_row(row, User)

    def by_login_id(self, login_id: str) -> User | None:
        row = self.s.one(f"{self._SELECT} WHERE login_id = ?", (login_id,))
        return None if row is None else from_row(row, User)

    def in_account(self, account_id: str) -> list[User]:
        rows = self.s.rows(f"{self._SELECT} WHERE account_id = ? ORDER BY rowid", (account_id,))
        return [from_row(r, User) for r in rows]

    def many(self, user_ids: Collection[str]) -> dict[str, User]:
        return _by_id(self.s, self._SELECT, user_ids, User)

    def coordinators(self, account_id: str) -> list[User]:
        rows = self.s.rows(COORDINATORS_SQL, (account_id,))
        return [from_row(r, User) for r in rows]

    def update(self, user: User) -> None:
        self.s.writable()
        stored = self.s.one("SELECT version, login_id FROM users WHERE id = ?", (user.id,))
        if stored is None or stored["version"] + 1 != user.version:
            raise Conflict(f"User {user.id!r} changed since it was loaded.")
        if stored["login_id"] != user.login_id:
            raise StorageError("A login ID never changes.")
        cursor = self.s.run(_UPDATE_USER, {**to_row(user), "expected_version": user.version - 1})
        if cursor.rowcount != 1:  # unreachable under BEGIN IMMEDIATE; kept as the real guard
            raise Conflict(f"User {user.id!r} changed since it was loaded.")

    def password_hash(self, user_id: str) -> str | None:
        row = self.s.one("SELECT password_hash FROM users WHERE id = ?", (user_id,))
        return None if row is None else str(row["password_hash"])

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self.s.writable()
        cursor = self.s.run(
            "UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id)
        )
        if cursor.rowcount != 1:
            # The hash lives in the user's row: there is nowhere to keep it for an unknown user.
            raise StorageError(f"Unknown user {user_id!r}.")


class _Stale(Exception):
    """A line of an update_lines batch had moved on (never leaves the adapter)."""


class _Requests(_Repo):
    _SELECT_LINES = f"SELECT {_select(RequestLine, 'lines')} FROM lines"

    def add(self, request: OrderRequest) -> None:
        self.s.writable()
        for line in request.lines:
            if (line.request_id, line.account_id, line.requester_id) != (
                request.id,
                request.account_id,
                request.requester_id,
            ):
                raise StorageError(f"Line {line.id!r} does not belong to request {request.id!r}.")
        header = {**to_row(request), "closed": request.closed, "decided": request.decided}
        conflict = f"Request {request.id!r} already exists."
        # All or nothing even if the caller catches a clash on a later line and commits.
        with self.s.savepoint("add_request"):
            self.s.insert(_insert(OrderRequest, "requests", "closed", "decided"), header, conflict)
            self.s.insert(
                _insert(RequestLine, "lines", "submitted_at"),
                [{**to_row(ln), "submitted_at": header["submitted_at"]} for ln in request.lines],
                conflict,
                many=True,
            )
            # Mails stored earlier under this id are no longer orphans (outbox_by_request).
            self.s.run(
                "UPDATE outbox SET orphaned = 0 WHERE request_id = ? AND orphaned = 1",
                (request.id,),
            )

    def get(self, request_id: str) -> OrderRequest | None:
        header = self.s.one(
            f"SELECT {_select(OrderRequest, 'requests')} FROM requests WHERE id = ?",
            (request_id,),
        )
        return None if header is None else self._assemble([header])[0]

    def _line_rows(self, request_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """Line rows per request, in insertion order (= the order of ``request.lines``)."""
        grouped: dict[str, list[dict[str, Any]]] = {r: [] for r in request_ids}
        for chunk in _chunks(request_ids):
            rows = self.s.rows(
                f"{self._SELECT_LINES} WHERE request_id IN ({_marks(chunk)}) "
                "ORDER BY request_id, rowid",
                chunk,
            )
            for row in rows:
                grouped[row["request_id"]].append(row)
        return grouped

    def _assemble(self, headers: list[dict[str, Any]]) -> list[OrderRequest]:
        lines = self._line_rows([h["id"] for h in headers])
        return [from_row({**h, "lines": lines[h["id"]]}, OrderRequest) for h in headers]

    def lines(self, line_ids: Collection[str]) -> dict[str, RequestLine]:
        return _by_id(self.s, self._SELECT_LINES, line_ids, RequestLine)

    def lines_of_order(self, account_id: str, order_id: str) -> list[RequestLine]:
        rows = self.s.rows(LINES_OF_ORDER_SQL, (account_id, order_id))
        return [from_row(r, RequestLine) for r in rows]

    def update_lines(self, lines: Sequence[RequestLine]) -> None:
        self.s.writable()
        if not lines:
            return
        named = [line.id for line in lines]
        twice = {i: NAMED_TWICE for i in named if named.count(i) > 1}
        if twice:
            raise Conflict(lines=twice)
        # The savepoint keeps "nothing is stored" true even when the caller catches the
        # Conflict and goes on to commit the unit of work.
        try:
            with self.s.savepoint("update_lines"):
                # One statement for the batch; a line whose version moved matches no row.
                changed = self.s.run_many(
                    _UPDATE_LINE,
                    [{**to_row(line), "expected_version": line.version - 1} for line in lines],
                ).rowcount
                if changed != len(lines):
                    raise _Stale
                for chunk in _chunks(named):
                    self.s.run(_REFRESH_FLAGS.format(marks=_marks(chunk)), chunk)
        except _Stale:
            # Rolled back: name every line whose stored version is not the one replaced.
            stored = self.lines(named)
            raise Conflict(
                lines={
                    line.id: VERSION_MOVED
                    for line in lines
                    if line.id not in stored or stored[line.id].version + 1 != line.version
                }
            ) from None

    def pending_lines(self, account_id: str) -> list[RequestLine]:
        return [from_row(r, RequestLine) for r in self.s.rows(PENDING_LINES_SQL, (account_id,))]

    def pending_count(self, account_id: str) -> int:
        row = self.s.one(PENDING_COUNT_SQL, (account_id,))
        return 0 if row is None else int(row["n"])

    def page(self, query: RequestQuery) -> list[OrderRequest]:
        _at_least_one(query.limit)
        sql, params = page_sql(query)
        return self._assemble(self.s.rows(sql, params))

    def purge(
        self, account_id: str, before: dt.datetime, *, dry_run: bool, limit: int | None = None
    ) -> PurgeCounts:
        if limit is not None:
            _at_least_one(limit)
        if not dry_run:
            self.s.writable()
        if dry_run or limit is None:
            return self._purge_all(account_id, before, dry_run=dry_run)
        p: dict[str, Any] = {"account_id": account_id, "before": to_micros(before)}
        # The oldest doomed requests first, read from requests_history; the batch is small, so
        # its ids go into IN lists instead of repeating the doomed query per table.
        ids = [
            r["id"]
            for r in self.s.rows(
                f"{_DOOMED_IDS} ORDER BY submitted_at, id LIMIT :limit", {**p, "limit": limit}
            )
        ]
        finishing = len(ids) < limit
        n_lines = n_messages = n_mails = 0
        with self.s.savepoint("purge"):
            if finishing:
                # Delivered mails whose request an earlier purge already took (they were still
                # waiting then): swept once, when the account's purge finishes.
                n_mails += self.s.run(f"DELETE {_ORPHAN_MAILS}", p).rowcount
            for chunk in _chunks(ids):
                marks = _marks(chunk)
                n_lines += self._count(
                    f"SELECT count(*) AS n FROM lines WHERE request_id IN ({marks})", chunk
                )
                n_messages += self._count(
                    f"SELECT count(*) AS n FROM messages WHERE request_id IN ({marks})", chunk
                )
                # Undelivered mails stay: only delivered ones go, before their request does; the
                # waiting ones are marked as orphans.
                n_mails += self.s.run(
                    f"DELETE FROM outbox WHERE request_id IN ({marks}) AND sent_at IS NOT NULL",
                    chunk,
                ).rowcount
                self.s.run(f"UPDATE outbox SET orphaned = 1 WHERE request_id IN ({marks})", chunk)
                # Lines and messages follow through ON DELETE CASCADE.
                self.s.run(f"DELETE FROM requests WHERE id IN ({marks})", chunk)
        return PurgeCounts(
            requests=len(ids),
            lines=n_lines,
            messages=n_messages,
            mails=n_mails,
            kept_open=self._count(_KEPT_OPEN, p) if finishing else 0,
        )

    def _count(self, sql: str, params: Any) -> int:
        row = self.s.one(sql, params)
        return 0 if row is None else int(row["n"])

    def _purge_all(self, account_id: str, before: dt.datetime, *, dry_run: bool) -> PurgeCounts:
        p = {"account_id": account_id, "before": to_micros(before)}

        def count(sql: str) -> int:
            return self._count(sql, p)

        # Counted and deleted in one transaction with the same conditions, so a dry run's
        # counts are the real run's.
        # Delivered mails of doomed requests, and delivered mails whose request an earlier purge
        # already took (they were still waiting then).
        delivered = f"FROM outbox WHERE sent_at IS NOT NULL AND request_id IN ({_DOOMED_IDS})"
        counts = PurgeCounts(
            requests=count(f"SELECT count(*) AS n FROM requests WHERE {_DOOMED}"),
            lines=count(f"SELECT count(*) AS n FROM lines WHERE request_id IN ({_DOOMED_IDS})"),
            messages=count(
                f"SELECT count(*) AS n FROM messages WHERE request_id IN ({_DOOMED_IDS})"
            ),
            mails=count(f"SELECT count(*) AS n {delivered}")
            + count(f"SELECT count(*) AS n {_ORPHAN_MAILS}"),
            kept_open=count(_KEPT_OPEN),
        )
        if not dry_run:
            with self.s.savepoint("purge"):
                # Undelivered mails stay: only delivered ones go, before their request does; the
                # waiting ones are marked as orphans.
                self.s.run(f"DELETE {_ORPHAN_MAILS}", p)
                self.s.run(f"DELETE {delivered}", p)
                self.s.run(f"UPDATE outbox SET orphaned = 1 WHERE request_id IN ({_DOOMED_IDS})", p)
                # Lines and messages follow through ON DELETE CASCADE.
                self.s.run(f"DELETE FROM requests WHERE {_DOOMED}", p)
        return counts


class _Messages(_Repo):
    def add(self, message: Message) -> None:
        self.s.insert(
            _insert(Message, "messages"), to_row(message), f"Message {message.id!r} already exists."
        )

    def for_request(self, request_id: str) -> list[Message]:
        rows = self.s.rows(
            f"SELECT {_select(Message, 'messages')} FROM messages WHERE request_id = ? "
            "ORDER BY posted_at, rowid",
            (request_id,),
        )
        return [from_row(r, Message) for r in rows]

    def for_requests(self, request_ids: Collection[str]) -> dict[str, list[Message]]:
        wanted = list(dict.fromkeys(request_ids))
        threads: dict[str, list[Message]] = {r: [] for r in wanted}
        for chunk in _chunks(wanted):
            # messages_thread gives (request_id, posted_at, rowid) order: one read per chunk.
            rows = self.s.rows(
                f"SELECT {_select(Message, 'messages')} FROM messages "
                f"WHERE request_id IN ({_marks(chunk)}) ORDER BY request_id, posted_at, rowid",
                chunk,
            )
            for row in rows:
                threads[row["request_id"]].append(from_row(row, Message))
        return threads


class _Outbox(_Repo):
    _SELECT = f"SELECT {_select(OutboxMail, 'outbox')} FROM outbox"

    def add(self, mail: OutboxMail) -> None:
        self.s.insert(_INSERT_MAIL, to_row(mail), f"Mail {mail.id!r} already exists.")

    def due(self, now: dt.datetime, limit: int) -> list[OutboxMail]:
        _at_least_one(limit)
        rows = self.s.rows(
            f"{self._SELECT} WHERE sent_at IS NULL "
            "AND (next_attempt_at IS NULL OR next_attempt_at <= :now) "
            "ORDER BY coalesce(next_attempt_at, created_at), created_at, rowid LIMIT :limit",
            {"now": to_micros(now), "limit": max(limit, 0)},
        )
        return [from_row(r, OutboxMail) for r in rows]

    def _change(self, mail_id: str, assignments: str, params: dict[str, Any]) -> None:
        self.s.writable()
        cursor = self.s.run(
            f"UPDATE outbox SET {assignments} WHERE id = :id", {**params, "id": mail_id}
        )
        if cursor.rowcount != 1:
            raise StorageError(f"Unknown mail {mail_id!r}.")

    def mark_sent(self, mail_id: str, at: dt.datetime) -> None:
        self._change(mail_id, "sent_at = :at", {"at": to_micros(at)})

    def reschedule(
        self, mail_id: str, *, attempts: int, next_attempt_at: dt.datetime, error: str
    ) -> None:
        self._change(
            mail_id,
            "attempts = :attempts, next_attempt_at = :next, last_error = :error",
            {"attempts": attempts, "next": to_micros(next_attempt_at), "error": error},
        )

    def claim(self, mail_id: str, until: dt.datetime) -> None:
        self._change(mail_id, "next_attempt_at = :until", {"until": to_micros(until)})

    def pending_count(self) -> int:
        row = self.s.one("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
        return 0 if row is None else int(row["n"])

    def get(self, mail_id: str) -> OutboxMail | None:
        row = self.s.one(f"{self._SELECT} WHERE id = ?", (mail_id,))
        return None if row is None else from_row(row, OutboxMail)

    def all(self) -> list[OutboxMail]:
        rows = self.s.rows(f"{self._SELECT} ORDER BY created_at, rowid")
        return [from_row(r, OutboxMail) for r in rows]


class _Idempotency(_Repo):
    def get(self, actor_id: str, key: str) -> IdempotencyRecord | None:
        row = self.s.one(
            f"SELECT {_select(IdempotencyRecord, 'idempotency')} FROM idempotency "
            'WHERE actor_id = ? AND "key" = ?',
            (actor_id, key),
        )
        return None if row is None else from_row(row, IdempotencyRecord)

    def add(self, record: IdempotencyRecord) -> None:
        self.s.insert(
            _insert(IdempotencyRecord, "idempotency"),
            to_row(record),
            "Idempotency key already used.",
        )

    def delete(self, actor_id: str, key: str) -> None:
        self.s.writable()
        self.s.run('DELETE FROM idempotency WHERE actor_id = ? AND "key" = ?', (actor_id, key))

    def purge(self, before: dt.datetime) -> int:
        self.s.writable()
        cursor = self.s.run("DELETE FROM idempotency WHERE created_at < ?", (to_micros(before),))
        return int(cursor.rowcount)


class _UnitOfWork:
    # Typed as the port's repositories: callers see only what the port promises.
    def __init__(self, session: _Session) -> None:
        self.accounts: AccountRepository = _Accounts(session)
        self.users: UserRepository = _Users(session)
        self.requests: RequestRepository = _Requests(session)
        self.messages: MessageRepository = _Messages(session)
        self.outbox: OutboxRepository = _Outbox(session)
        self.idempotency: IdempotencyRepository = _Idempotency(session)


# -- the storage -------------------------------------------------------------------------------


def _check_sqlite_version() -> None:
    found = sqlite3.sqlite_version_info
    if tuple(found) < MINIMUM_SQLITE:
        need = ".".join(map(str, MINIMUM_SQLITE))
        have = ".".join(map(str, found))
        raise ConfigurationError(
            f"torimatome's SQLite storage needs SQLite {need} or newer (STRICT tables); this "
            f"Python is linked against SQLite {have}. Use a newer Python build, or another "
            "storage backend.",
            ja=f"SQLite ストレージには SQLite {need} 以上が必要です（STRICT テーブル）。"
            f"この Python の SQLite は {have} です",
        )


def _check_synchronous(value: object) -> str:
    # The value is spliced into a PRAGMA (pragmas take no parameters): only known words pass.
    if not isinstance(value, str) or value.upper() not in SYNCHRONOUS_MODES:
        raise ConfigurationError(f"synchronous must be one of {SYNCHRONOUS_MODES}, got {value!r}.")
    return value.upper()


def _check_busy_timeout(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(f"busy_timeout_ms must be an int ≥ 0, got {value!r}.")
    return value


def _rollback(connection: sqlite3.Connection) -> None:
    # SQLite may already have rolled back (SQLITE_FULL, SQLITE_IOERR...); a failing ROLLBACK
    # must not hide the error that caused it.
    with suppress(sqlite3.Error):
        if connection.in_transaction:
            connection.execute("ROLLBACK")


class SqliteStorage:
    """Storage in one SQLite file (or a private ``:memory:`` database).

    Args:
        path: the database file (created if missing) or ``":memory:"``.
        synchronous: ``PRAGMA synchronous`` (``FULL`` survives power loss; ``NORMAL`` in WAL
            mode survives a crash of the process).
        busy_timeout_ms: how long a unit of work waits for another process's writer.

    Raises:
        ConfigurationError: SQLite older than 3.37, a bad option, or a database written by a
            newer torimatome.
        StorageError: the file cannot be opened or migrated.
    """

    def __init__(
        self, path: str, *, synchronous: str = "FULL", busy_timeout_ms: int = 10_000
    ) -> None:
        _check_sqlite_version()
        self.path = path
        self.synchronous = _check_synchronous(synchronous)
        self.busy_timeout_ms = _check_busy_timeout(busy_timeout_ms)
        self._lock = threading.RLock()
        self._active = False
        self._connection: sqlite3.Connection | None = self._connect()

    @classmethod
    def from_url(cls, url: str, config: Config | None = None) -> SqliteStorage:
        """Open ``sqlite:///relative/path``, ``sqlite:////absolute/path`` or
        ``sqlite:///:memory:``, tuned by ``config`` (``sqlite_synchronous``,
        ``busy_timeout_ms``) when given."""
        if not isinstance(url, str) or not url.startswith(_URL_PREFIX):
            raise ConfigurationError(
                f"A SQLite URL looks like sqlite:///path/to/file.sqlite3, not {url!r}."
            )
        path = url[len(_URL_PREFIX) :]
        if not path or "?" in path or "#" in path:
            # A query string would silently become part of the file name; options go in Config.
            raise ConfigurationError(
                f"A SQLite URL names a file and nothing else (options go in Config): {url!r}."
            )
        if config is None:
            return cls(path)
        return cls(
            path, synchronous=config.sqlite_synchronous, busy_timeout_ms=config.busy_timeout_ms
        )

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                isolation_level=None,  # we issue BEGIN / COMMIT ourselves
                check_same_thread=False,  # the lock below serialises every use
                timeout=self.busy_timeout_ms / 1000,
            )
        except sqlite3.Error as exc:
            raise StorageError(
                f"Cannot open the SQLite database {os.path.abspath(self.path)!r}: {exc} "
                "(does its folder exist and may this process write there?)"
            ) from exc
        try:
            connection.row_factory = _dict_row
            # busy_timeout first, so switching to WAL waits for another process's lock.
            connection.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms:d}")
            connection.execute("PRAGMA foreign_keys = ON")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute(f"PRAGMA synchronous = {self.synchronous}")
            sqlite_schema.migrate(connection)
        except sqlite3.Error as exc:
            connection.close()
            raise _storage_error(exc) from exc
        except BaseException:
            connection.close()
            raise
        return connection

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[UnitOfWork]:
        """One transaction: commit when the block ends, roll back when it raises.

        Units of work do not nest; a second one opened inside the first is a StorageError
        (SQLite has one transaction per connection).
        """
        with self._lock:
            connection = self._connection
            if connection is None:
                raise StorageError("The storage is closed.")
            if self._active:
                raise StorageError("Units of work do not nest: finish the open one first.")
            self._active = True
            session = _Session(connection, write)
            try:
                session.run("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield _UnitOfWork(session)
                except BaseException:
                    _rollback(connection)
                    raise
                try:
                    connection.execute("COMMIT")
                except sqlite3.Error as exc:
                    _rollback(connection)
                    raise _storage_error(exc) from exc
            finally:
                session.ended = True
                self._active = False

    def close(self) -> None:
        """Close the connection; later units of work raise StorageError. Idempotent."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is not None:
                connection.close()


if TYPE_CHECKING:

    def _satisfies_the_port(storage: SqliteStorage) -> Storage:
        return storage  # mypy proves SqliteStorage structurally implements Storage


def _at_least_one(limit: int) -> None:
    """The port's limits are at least 1 (as the memory storage checks too): a zero or
    negative one is a caller's bug, refused rather than answered with nothing."""
    if limit < 1:
        raise StorageError("limit must be at least 1.")
