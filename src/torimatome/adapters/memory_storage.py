"""In-memory storage: the zero-configuration default and the backend of shops' test suites.

Real code, not a fake: it honours the same contract as SQLite (proved by the conformance
suite). Transactions are serialised by a lock and rolled back through an undo journal, so a
failed unit of work leaves every table exactly as it was, at a cost proportional to what it
changed rather than to the size of the data.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from ..domain.accounts import Account
from ..domain.errors import NAMED_TWICE, VERSION_MOVED, Conflict, StorageError
from ..domain.lines import PENDING_STATUSES, RequestLine
from ..domain.messages import Message
from ..domain.requests import OrderRequest, is_closed
from ..domain.users import User
from ..ports.storage import (
    IdempotencyRecord,
    OutboxMail,
    PurgeCounts,
    RequestQuery,
)

__all__ = ["DELETED", "Change", "MemoryStorage"]

_MISSING = object()


class _Deleted:
    def __repr__(self) -> str:
        return "DELETED"


#: The value of a :class:`Change` that removed its key.
DELETED: Any = _Deleted()


@attrs.frozen
class Change:
    """One net change of a committed unit of work: ``table``'s ``key`` now holds ``value`` (or
    was removed: ``value is DELETED``). Tables are named as ``CHANGE_TABLES`` in
    :mod:`torimatome.adapters.change_codec` lists them."""

    table: str
    key: Any
    value: Any


class _Tables:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.users: dict[str, User] = {}
        self.logins: dict[str, str] = {}
        self.passwords: dict[str, str] = {}
        self.requests: dict[str, OrderRequest] = {}  # lines inside are not kept current
        self.lines: dict[str, RequestLine] = {}
        self.request_lines: dict[str, tuple[str, ...]] = {}
        self.messages: dict[str, Message] = {}
        self.threads: dict[str, list[str]] = {}
        self.outbox: dict[str, OutboxMail] = {}
        self.idempotency: dict[tuple[str, str], IdempotencyRecord] = {}

    def names(self) -> dict[int, str]:
        """Each table's name by the table's identity, for the change feed."""
        return {id(table): name for name, table in vars(self).items()}


class _Journal:
    """Undo entries recorded by every write, replayed backwards on rollback; with ``names``,
    also the unit's net changes (table, key, new value or ``DELETED``) for the change feed."""

    def __init__(self, names: dict[int, str] | None = None) -> None:
        self.entries: list[Callable[[], None]] = []
        self.open = True
        self._names = names
        self.changes: dict[tuple[str, Any], Any] = {}

    def set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        self.entries.append(lambda: _restore(table, key, old))
        table[key] = value
        if self._names is not None:
            self.changes[(self._names[id(table)], key)] = value

    def delete(self, table: dict[Any, Any], key: Any) -> None:
        old = table.pop(key, _MISSING)
        self.entries.append(lambda: _restore(table, key, old))
        if self._names is not None:
            self.changes[(self._names[id(table)], key)] = DELETED

    def append(self, table: dict[Any, list[Any]], key: Any, item: Any) -> None:
        items = table.get(key)
        self.set(table, key, [*(items or []), item])

    def rollback(self) -> None:
        for undo in reversed(self.entries):
            undo()
        self.entries.clear()
        self.changes.clear()


def _restore(table: dict[Any, Any], key: Any, old: Any) -> None:
    if old is _MISSING:
        table.pop(key, None)
    else:
        table[key] = old


class _Repo:
    def __init__(self, tables: _Tables, j: _Journal, write: bool) -> None:
        self._tables, self.j, self.write = tables, j, write

    @property
    def t(self) -> _Tables:
        """The tables, only while the unit of work lasts (reads and writes alike)."""
        self._live()
        return self._tables

    def _writable(self) -> None:
        self._live()
        if not self.write:
            raise StorageError("Write attempted in a read-only unit of work.")

    def _live(self) -> None:
        if not self.j.open:
            raise StorageError("A repository was used after its unit of work ended.")

    def _account_exists(self, account_id: str) -> None:
        if account_id not in self.t.accounts:
            raise StorageError(f"Unknown account {account_id!r}.")


class _Accounts(_Repo):
    def add(self, account: Account) -> None:
        self._writable()
        if account.id in self.t.accounts:
            raise Conflict(f"Account {account.id!r} already exists.")
        self.j.set(self.t.accounts, account.id, account)

    def get(self, account_id: str) -> Account | None:
        return self.t.accounts.get(account_id)

    def update(self, account: Account) -> None:
        self._writable()
        self.j.set(self.t.accounts, account.id, account)

    def all_ids(self) -> list[str]:
        return list(self.t.accounts)


class _Users(_Repo):
    def add(self, user: User, password_hash: str) -> None:
        self._writable()
        self._account_exists(user.account_id)
        if user.login_id in self.t.logins or user.id in self.t.users:
            raise Conflict(f"Login ID {user.login_id!r} is already in use.")
        self.j.set(self.t.users, user.id, user)
        self.j.set(self.t.logins, user.login_id, user.id)
        self.j.set(self.t.passwords, user.id, password_hash)

    def get(self, user_id: str) -> User | None:
        return self.t.users.get(user_id)

    def by_login_id(self, login_id: str) -> User | None:
        user_id = self.t.logins.get(login_id)
        return None if user_id is None else self.t.users[user_id]

    def in_account(self, account_id: str) -> list[User]:
        return [u for u in self.t.users.values() if u.account_id == account_id]

    def update(self, user: User) -> None:
        self._writable()
        stored = self.t.users.get(user.id)
        if stored is None or stored.version + 1 != user.version:
            raise Conflict(f"User {user.id!r} changed since it was loaded.")
        if stored.login_id != user.login_id:
            raise StorageError("A login ID never changes.")
        self.j.set(self.t.users, user.id, user)

    def password_hash(self, user_id: str) -> str | None:
        return self.t.passwords.get(user_id)

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        self._writable()
        if user_id not in self.t.users:
            raise StorageError(f"Unknown user {user_id!r}.")
        self.j.set(self.t.passwords, user_id, password_hash)


class _Requests(_Repo):
    def add(self, request: OrderRequest) -> None:
        self._writable()
        self._account_exists(request.account_id)
        if request.id in self.t.requests or any(ln.id in self.t.lines for ln in request.lines):
            raise Conflict(f"Request {request.id!r} already exists.")
        for line in request.lines:
            if (line.request_id, line.account_id, line.requester_id) != (
                request.id, request.account_id, request.requester_id,
            ):  # fmt: skip
                raise StorageError(f"Line {line.id!r} does not belong to its request.")
        self.j.set(self.t.requests, request.id, attrs.evolve(request, lines=()))
        self.j.set(self.t.request_lines, request.id, tuple(ln.id for ln in request.lines))
        for line in request.lines:
            self.j.set(self.t.lines, line.id, line)

    def _assemble(self, request_id: str) -> OrderRequest:
        header = self.t.requests[request_id]
        lines = tuple(self.t.lines[i] for i in self.t.request_lines[request_id])
        return attrs.evolve(header, lines=lines)

    def get(self, request_id: str) -> OrderRequest | None:
        return self._assemble(request_id) if request_id in self.t.requests else None

    def lines(self, line_ids: Collection[str]) -> dict[str, RequestLine]:
        return {i: self.t.lines[i] for i in line_ids if i in self.t.lines}

    def lines_of_order(self, account_id: str, order_id: str) -> list[RequestLine]:
        found = [
            ln
            for ln in self.t.lines.values()
            if ln.account_id == account_id and ln.order_id == order_id
        ]
        return sorted(found, key=self._line_order)

    def _line_order(self, line: RequestLine) -> tuple[dt.datetime, str, int]:
        return (self.t.requests[line.request_id].submitted_at, line.request_id, line.position)

    def update_lines(self, lines: Sequence[RequestLine]) -> None:
        self._writable()
        stale: dict[str, str] = {}
        seen: set[str] = set()
        for line in lines:
            stored = self.t.lines.get(line.id)
            if line.id in seen:
                stale[line.id] = NAMED_TWICE
            elif stored is None or stored.version + 1 != line.version:
                stale[line.id] = VERSION_MOVED
            seen.add(line.id)
        if stale:
            raise Conflict(lines=stale)
        for line in lines:
            stored = self.t.lines[line.id]
            # A line's identity never changes, whatever the caller passed.
            kept = attrs.evolve(
                line,
                request_id=stored.request_id,
                account_id=stored.account_id,
                requester_id=stored.requester_id,
                position=stored.position,
            )
            self.j.set(self.t.lines, line.id, kept)

    def pending_lines(self, account_id: str) -> list[RequestLine]:
        found = [
            ln
            for ln in self.t.lines.values()
            if ln.account_id == account_id and ln.status in PENDING_STATUSES
        ]
        return sorted(found, key=self._line_order)

    def pending_count(self, account_id: str) -> int:
        return len(self.pending_lines(account_id))

    def page(self, query: RequestQuery) -> list[OrderRequest]:
        self._live()
        if query.limit < 1:
            raise StorageError("limit must be at least 1.")
        keyed = []
        for request_id, header in self.t.requests.items():
            if header.account_id != query.account_id:
                continue
            if query.requester_id is not None and header.requester_id != query.requester_id:
                continue
            at = header.submitted_at
            if query.submitted_from is not None and at < query.submitted_from:
                continue
            if query.submitted_before is not None and at >= query.submitted_before:
                continue
            if query.after is not None and (at, request_id) >= query.after:
                continue
            request = self._assemble(request_id)
            if request.closed and at < query.visible_since:
                continue
            if query.decided_only and not request.decided:
                continue
            keyed.append(((at, request_id), request))
        keyed.sort(key=lambda pair: pair[0], reverse=True)
        return [request for _, request in keyed[: query.limit]]

    def purge(self, account_id: str, before: dt.datetime, *, dry_run: bool) -> PurgeCounts:
        if not dry_run:
            self._writable()
        doomed, kept_open = [], 0
        for request_id, header in self.t.requests.items():
            if header.account_id != account_id or header.submitted_at >= before:
                continue
            lines = [self.t.lines[i] for i in self.t.request_lines[request_id]]
            if is_closed(lines):
                doomed.append(request_id)
            else:
                kept_open += 1
        doomed_set = set(doomed)
        # Delivered mails of doomed requests, and delivered mails whose request an earlier
        # purge already took (they were still waiting then).
        mails = [
            m.id
            for m in self.t.outbox.values()
            if m.sent_at is not None
            and m.request_id is not None
            and (
                m.request_id in doomed_set
                or (m.account_id == account_id and m.request_id not in self.t.requests)
            )
        ]
        n_lines = sum(len(self.t.request_lines[r]) for r in doomed)
        n_messages = sum(len(self.t.threads.get(r, ())) for r in doomed)
        if not dry_run:
            for request_id in doomed:
                for line_id in self.t.request_lines[request_id]:
                    self.j.delete(self.t.lines, line_id)
                for message_id in self.t.threads.get(request_id, ()):
                    self.j.delete(self.t.messages, message_id)
                self.j.delete(self.t.threads, request_id)
                self.j.delete(self.t.request_lines, request_id)
                self.j.delete(self.t.requests, request_id)
            for mail_id in mails:
                self.j.delete(self.t.outbox, mail_id)
        return PurgeCounts(len(doomed), n_lines, n_messages, len(mails), kept_open)


class _Messages(_Repo):
    def add(self, message: Message) -> None:
        self._writable()
        if message.id in self.t.messages:
            raise Conflict(f"Message {message.id!r} already exists.")
        if message.request_id not in self.t.requests:
            raise StorageError(f"Message for unknown request {message.request_id!r}.")
        self.j.set(self.t.messages, message.id, message)
        self.j.append(self.t.threads, message.request_id, message.id)

    def for_request(self, request_id: str) -> list[Message]:
        thread = [self.t.messages[i] for i in self.t.threads.get(request_id, ())]
        # Stable sort keeps insertion order among posts of the same instant.
        return sorted(thread, key=lambda m: m.posted_at)


class _Outbox(_Repo):
    def add(self, mail: OutboxMail) -> None:
        self._writable()
        self._account_exists(mail.account_id)
        if mail.id in self.t.outbox:
            raise Conflict(f"Mail {mail.id!r} already exists.")
        self.j.set(self.t.outbox, mail.id, mail)

    def due(self, now: dt.datetime, limit: int) -> list[OutboxMail]:
        self._live()
        if limit < 1:
            raise StorageError("limit must be at least 1.")
        due = [
            m
            for m in self.t.outbox.values()
            if m.sent_at is None and (m.next_attempt_at is None or m.next_attempt_at <= now)
        ]
        due.sort(key=lambda m: (m.next_attempt_at or m.created_at, m.created_at))
        return due[:limit]

    def _replace(self, mail_id: str, **changes: Any) -> None:
        self._writable()
        mail = self.t.outbox.get(mail_id)
        if mail is None:
            raise StorageError(f"Unknown mail {mail_id!r}.")
        self.j.set(self.t.outbox, mail_id, attrs.evolve(mail, **changes))

    def mark_sent(self, mail_id: str, at: dt.datetime) -> None:
        self._replace(mail_id, sent_at=at)

    def reschedule(
        self, mail_id: str, *, attempts: int, next_attempt_at: dt.datetime, error: str
    ) -> None:
        self._replace(mail_id, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)

    def claim(self, mail_id: str, until: dt.datetime) -> None:
        self._replace(mail_id, next_attempt_at=until)

    def pending_count(self) -> int:
        return sum(1 for m in self.t.outbox.values() if m.sent_at is None)

    def get(self, mail_id: str) -> OutboxMail | None:
        return self.t.outbox.get(mail_id)

    def all(self) -> list[OutboxMail]:
        return sorted(self.t.outbox.values(), key=lambda m: m.created_at)


class _Idempotency(_Repo):
    def get(self, actor_id: str, key: str) -> IdempotencyRecord | None:
        return self.t.idempotency.get((actor_id, key))

    def add(self, record: IdempotencyRecord) -> None:
        self._writable()
        if (record.actor_id, record.key) in self.t.idempotency:
            raise Conflict("Idempotency key already used.")
        self.j.set(self.t.idempotency, (record.actor_id, record.key), record)

    def delete(self, actor_id: str, key: str) -> None:
        self._writable()
        self.j.delete(self.t.idempotency, (actor_id, key))

    def purge(self, before: dt.datetime) -> int:
        self._writable()
        old = [k for k, r in self.t.idempotency.items() if r.created_at < before]
        for k in old:
            self.j.delete(self.t.idempotency, k)
        return len(old)


class _UnitOfWork:
    def __init__(self, tables: _Tables, journal: _Journal, write: bool) -> None:
        self._journal = journal
        self._accounts = _Accounts(tables, journal, write)
        self._users = _Users(tables, journal, write)
        self._requests = _Requests(tables, journal, write)
        self._messages = _Messages(tables, journal, write)
        self._outbox = _Outbox(tables, journal, write)
        self._idempotency = _Idempotency(tables, journal, write)

    def _live(self) -> None:
        if not self._journal.open:
            raise StorageError("A unit of work was used after it ended.")

    @property
    def accounts(self) -> _Accounts:
        self._live()
        return self._accounts

    @property
    def users(self) -> _Users:
        self._live()
        return self._users

    @property
    def requests(self) -> _Requests:
        self._live()
        return self._requests

    @property
    def messages(self) -> _Messages:
        self._live()
        return self._messages

    @property
    def outbox(self) -> _Outbox:
        self._live()
        return self._outbox

    @property
    def idempotency(self) -> _Idempotency:
        self._live()
        return self._idempotency


class MemoryStorage:
    """Storage in this process's memory; ``memory://`` URLs open a fresh one each time.

    ``on_commit``, when given, receives the net :class:`Change` list of every write unit of
    work just before it commits; if it raises, the unit rolls back and the caller gets a
    :class:`StorageError`. With :meth:`replay` that is enough to make a durable backend of it
    (a journal file, a replica); ``torimatome.adapters.change_codec`` turns changes into JSON.
    """

    def __init__(self, *, on_commit: Callable[[list[Change]], None] | None = None) -> None:
        self._tables = _Tables()
        self._names = self._tables.names()
        self._on_commit = on_commit
        self._lock = threading.Lock()
        self._closed = False
        self._owner: int | None = None

    @classmethod
    def from_url(cls, url: str, config: object = None) -> MemoryStorage:
        return cls()

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[_UnitOfWork]:
        if self._closed:
            raise StorageError("The storage is closed.")
        if self._owner == threading.get_ident():
            raise StorageError("Units of work do not nest.")
        with self._lock:
            self._owner = threading.get_ident()
            journal = _Journal(self._names if self._on_commit is not None else None)
            try:
                yield _UnitOfWork(self._tables, journal, write)
                if journal.changes and self._on_commit is not None:
                    changes = [Change(t, k, v) for (t, k), v in journal.changes.items()]
                    try:
                        self._on_commit(changes)
                    except Exception as exc:
                        raise StorageError(f"The commit hook failed: {exc!r}") from exc
            except BaseException:
                journal.rollback()
                raise
            finally:
                journal.open = False
                self._owner = None

    def replay(self, changes: Sequence[Change]) -> None:
        """Apply changes a previous ``on_commit`` received, in order (at start-up, before any
        unit of work); ``on_commit`` is not called for them."""
        with self._lock:
            for change in changes:
                table = getattr(self._tables, change.table, None)
                if not isinstance(table, dict):
                    raise StorageError(f"Unknown table {change.table!r} in a change.")
                if change.value is DELETED:
                    table.pop(change.key, None)
                else:
                    table[change.key] = change.value

    def close(self) -> None:
        self._closed = True
