"""In-memory storage: the zero-configuration default and the backend of shops' test suites.

Real code, not a fake: it honours the same contract as SQLite (proved by the conformance
suite). Transactions are serialised by a lock and rolled back through an undo journal, so a
failed unit of work leaves every table exactly as it was, at a cost proportional to what it
changed rather than to the size of the data.

Like the SQLite schema, it keeps secondary indexes so that the hot reads cost what they return,
not what the account has accumulated: each account's and each requester's requests sorted on
(submitted_at, id) for history pages and the purge, each account's pending lines, the unsent
mails, each request's mails and the mails whose request is gone, and each account's users.
"""

from __future__ import annotations

import bisect
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
from ..domain.roles import Role
from ..domain.users import User
from ..ports.storage import (
    IdempotencyRecord,
    OutboxMail,
    PurgeCounts,
    RequestQuery,
)

__all__ = ["DELETED", "PRIMARY_TABLES", "Change", "MemoryStorage"]

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


#: The tables that hold the data; every other attribute of ``_Tables`` is an index over them.
PRIMARY_TABLES = (
    "accounts",
    "users",
    "logins",
    "passwords",
    "requests",
    "lines",
    "request_lines",
    "messages",
    "threads",
    "outbox",
    "mail_order",
    "idempotency",
)


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
        # Each mail's place in insertion order, the tie-breaker of due() and all() (SQLite's
        # rowid): a dict's own order cannot be trusted, since a rollback re-adds a key last.
        self.mail_order: dict[str, int] = {}
        self.next_mail_order = 0
        # Secondary indexes, kept current by every write (and by the journal's undo).
        self.account_users: dict[str, list[str]] = {}
        self.account_requests: dict[str, list[tuple[dt.datetime, str]]] = {}
        self.requester_requests: dict[str, list[tuple[dt.datetime, str]]] = {}
        self.pending: dict[str, dict[str, None]] = {}
        self.unsent: dict[str, None] = {}
        self.request_mails: dict[str, dict[str, None]] = {}
        self.orphans: dict[str, dict[str, None]] = {}  # account → mails whose request is gone

    def names(self) -> dict[int, str]:
        """Each primary table's name by the table's identity, for the change feed (the
        secondary indexes are not fed: :meth:`reindex` rebuilds them)."""
        return {id(getattr(self, name)): name for name in PRIMARY_TABLES}

    def reindex(self) -> None:
        """Rebuild every secondary index from the primary tables (after a replay)."""
        self.account_users = {}
        for user_id, user in self.users.items():
            self.account_users.setdefault(user.account_id, []).append(user_id)
        self.account_requests, self.requester_requests = {}, {}
        for request_id, request in self.requests.items():
            key = (request.submitted_at, request_id)
            self.account_requests.setdefault(request.account_id, []).append(key)
            self.requester_requests.setdefault(request.requester_id, []).append(key)
        for index in (self.account_requests, self.requester_requests):
            for keys in index.values():
                keys.sort()
        self.pending = {}
        for line_id, line in self.lines.items():
            if line.status in PENDING_STATUSES:
                self.pending.setdefault(line.account_id, {})[line_id] = None
        self.unsent = {mail_id: None for mail_id, m in self.outbox.items() if m.sent_at is None}
        self.next_mail_order = max(self.mail_order.values(), default=-1) + 1
        self.request_mails, self.orphans = {}, {}
        for mail_id, mail in self.outbox.items():
            if mail.request_id is not None:
                self.request_mails.setdefault(mail.request_id, {})[mail_id] = None
                if mail.request_id not in self.requests:
                    self.orphans.setdefault(mail.account_id, {})[mail_id] = None


class _Journal:
    """Undo entries recorded by every write, replayed backwards on rollback; with ``names``,
    also the unit's net changes (table, key, new value or ``DELETED``) for the change feed.

    Every write records its undo *before* it changes anything, and each undo is harmless if
    the change never happened: an interrupt (Ctrl-C) may land between the two, and the
    rollback must still leave every table and index exactly as it was.
    """

    def __init__(self, names: dict[int, str] | None = None) -> None:
        self.entries: list[Callable[[], object]] = []
        self.open = True
        self._names = names
        self.changes: dict[tuple[str, Any], Any] = {}

    def set(self, table: dict[Any, Any], key: Any, value: Any) -> None:
        old = table.get(key, _MISSING)
        self.entries.append(lambda: _restore(table, key, old))
        table[key] = value
        if self._names is not None and id(table) in self._names:
            self.changes[(self._names[id(table)], key)] = value

    def delete(self, table: dict[Any, Any], key: Any) -> None:
        old = table.get(key, _MISSING)
        self.entries.append(lambda: _restore(table, key, old))
        table.pop(key, None)
        if self._names is not None and id(table) in self._names:
            self.changes[(self._names[id(table)], key)] = DELETED

    def append(self, table: dict[Any, list[Any]], key: Any, item: Any) -> None:
        items = table.get(key)
        self.set(table, key, [*(items or []), item])

    def insort(self, table: dict[Any, list[Any]], key: Any, item: Any) -> None:
        """Add ``item`` (not yet there) to the sorted list ``table[key]`` (created if missing)."""
        items = table.setdefault(key, [])
        self.entries.append(lambda: _remove_sorted(items, item))
        bisect.insort(items, item)

    def remove_sorted(self, table: dict[Any, list[Any]], key: Any, item: Any) -> None:
        items = table.get(key)
        if items is not None and _contains_sorted(items, item):
            self.entries.append(lambda: _contains_sorted(items, item) or bisect.insort(items, item))
            _remove_sorted(items, item)

    def drop_from_head(self, items: list[Any], gone: Collection[Any]) -> None:
        """Remove ``gone`` from the sorted list ``items``, where they sit near its start."""
        if not gone:
            return
        head = bisect.bisect_right(items, max(gone))
        old = items[:head]
        kept = [item for item in old if item not in gone]
        size = len(items)

        def undo() -> None:
            if len(items) != size:  # the head was rewritten (one list operation, all or none)
                items[: len(kept)] = old

        self.entries.append(undo)
        items[:head] = kept

    def mark(self, table: dict[Any, dict[str, None]], key: Any, member: str, on: bool) -> None:
        """Put ``member`` in (or take it out of) the set ``table[key]``."""
        self.mark_in(table.setdefault(key, {}), member, on)

    def mark_in(self, members: dict[str, None], member: str, on: bool) -> None:
        """Put ``member`` in (or take it out of) ``members``, an insertion-ordered set."""
        if on and member not in members:
            self.entries.append(lambda: members.pop(member, None))
            members[member] = None
        elif not on and member in members:
            self.entries.append(lambda: members.__setitem__(member, None))
            del members[member]

    def rollback(self) -> None:
        for undo in reversed(self.entries):
            undo()
        self.entries.clear()
        self.changes.clear()


def _contains_sorted(items: list[Any], item: Any) -> bool:
    index = bisect.bisect_left(items, item)
    return index < len(items) and items[index] == item


def _remove_sorted(items: list[Any], item: Any) -> bool:
    index = bisect.bisect_left(items, item)
    if index < len(items) and items[index] == item:
        del items[index]
        return True
    return False


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
        self.j.append(self.t.account_users, user.account_id, user.id)

    def get(self, user_id: str) -> User | None:
        return self.t.users.get(user_id)

    def by_login_id(self, login_id: str) -> User | None:
        user_id = self.t.logins.get(login_id)
        return None if user_id is None else self.t.users[user_id]

    def in_account(self, account_id: str) -> list[User]:
        users = self.t.users
        return [users[i] for i in self.t.account_users.get(account_id, ())]

    def many(self, user_ids: Collection[str]) -> dict[str, User]:
        users = self.t.users
        return {i: users[i] for i in user_ids if i in users}

    def coordinators(self, account_id: str) -> list[User]:
        return [u for u in self.in_account(account_id) if u.role is Role.COORDINATOR]

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
            if line.status in PENDING_STATUSES:
                self.j.mark(self.t.pending, line.account_id, line.id, True)
        # Mails stored earlier under this id are no longer orphans.
        for mail_id in self.t.request_mails.get(request.id, ()):
            self.j.mark(self.t.orphans, self.t.outbox[mail_id].account_id, mail_id, False)
        key = (request.submitted_at, request.id)
        self.j.insort(self.t.account_requests, request.account_id, key)
        self.j.insort(self.t.requester_requests, request.requester_id, key)

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
            if (stored.status in PENDING_STATUSES) != (kept.status in PENDING_STATUSES):
                self.j.mark(
                    self.t.pending, kept.account_id, kept.id, kept.status in PENDING_STATUSES
                )

    def pending_lines(self, account_id: str) -> list[RequestLine]:
        lines = self.t.lines
        found = [lines[i] for i in self.t.pending.get(account_id, ())]
        return sorted(found, key=self._line_order)

    def pending_count(self, account_id: str) -> int:
        return len(self.t.pending.get(account_id, ()))

    def page(self, query: RequestQuery) -> list[OrderRequest]:
        self._live()
        if query.limit < 1:
            raise StorageError("limit must be at least 1.")
        # Walk the sorted index newest first, between the period's bounds, until the page is
        # full: the cost follows the page, not the account's history.
        if query.requester_id is not None:
            keys = self.t.requester_requests.get(query.requester_id, [])
        else:
            keys = self.t.account_requests.get(query.account_id, [])
        high = len(keys)
        if query.submitted_before is not None:
            high = bisect.bisect_left(keys, (query.submitted_before,))
        if query.after is not None:
            high = min(high, bisect.bisect_left(keys, query.after))
        low = (
            0 if query.submitted_from is None else bisect.bisect_left(keys, (query.submitted_from,))
        )
        found: list[OrderRequest] = []
        for index in range(high - 1, low - 1, -1):
            at, request_id = keys[index]
            if self.t.requests[request_id].account_id != query.account_id:
                continue
            request = self._assemble(request_id)
            if request.closed and at < query.visible_since:
                continue
            if query.decided_only and not request.decided:
                continue
            found.append(request)
            if len(found) == query.limit:
                break
        return found

    def purge(
        self, account_id: str, before: dt.datetime, *, dry_run: bool, limit: int | None = None
    ) -> PurgeCounts:
        if limit is not None and limit < 1:
            raise StorageError("limit must be at least 1.")
        if not dry_run:
            self._writable()
        if dry_run:
            limit = None
        doomed: list[tuple[dt.datetime, str]] = []
        kept_open = 0
        keys = self.t.account_requests.get(account_id, [])
        # Oldest first, as far as the cutoff: the requests a purge may take. A batch stops at
        # its limit; the call that finishes the account has walked them all and counts the
        # open ones kept.
        end = bisect.bisect_left(keys, (before,))
        for index in range(end):
            at, request_id = keys[index]
            lines = [self.t.lines[i] for i in self.t.request_lines[request_id]]
            if not is_closed(lines):
                kept_open += 1
            elif limit is not None and len(doomed) == limit:
                break
            else:
                doomed.append((at, request_id))
        finishing = limit is None or len(doomed) < limit
        if not finishing:
            kept_open = 0
        doomed_set = {request_id for _, request_id in doomed}
        # Delivered mails of doomed requests, and (once the account's purge finishes) delivered
        # mails whose request an earlier purge already took (they were still waiting then).
        outbox = self.t.outbox
        candidates = [i for r in doomed_set for i in self.t.request_mails.get(r, ())]
        if finishing:
            candidates += self.t.orphans.get(account_id, ())
        mails = [i for i in candidates if outbox[i].sent_at is not None]
        n_lines = sum(len(self.t.request_lines[r]) for r in doomed_set)
        n_messages = sum(len(self.t.threads.get(r, ())) for r in doomed_set)
        if not dry_run:
            for key in doomed:
                request_id = key[1]
                header = self.t.requests[request_id]
                for line_id in self.t.request_lines[request_id]:
                    self.j.delete(self.t.lines, line_id)
                for message_id in self.t.threads.get(request_id, ()):
                    self.j.delete(self.t.messages, message_id)
                self.j.delete(self.t.threads, request_id)
                self.j.delete(self.t.request_lines, request_id)
                self.j.delete(self.t.requests, request_id)
                self.j.remove_sorted(self.t.requester_requests, header.requester_id, key)
            # The doomed are the oldest of the account's index: rewrite its head once rather
            # than shift the whole list for each of them.
            self.j.drop_from_head(keys, set(doomed))
            for mail_id in mails:
                self._forget_mail(mail_id)
            # The mails still waiting outlive their request: they become orphans.
            for request_id in doomed_set:
                for mail_id in self.t.request_mails.get(request_id, ()):
                    self.j.mark(self.t.orphans, outbox[mail_id].account_id, mail_id, True)
        return PurgeCounts(len(doomed), n_lines, n_messages, len(mails), kept_open)

    def _forget_mail(self, mail_id: str) -> None:
        mail = self.t.outbox[mail_id]
        self.j.delete(self.t.outbox, mail_id)
        self.j.delete(self.t.mail_order, mail_id)
        if mail.request_id is not None:
            self.j.mark(self.t.request_mails, mail.request_id, mail_id, False)
            self.j.mark(self.t.orphans, mail.account_id, mail_id, False)


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

    def for_requests(self, request_ids: Collection[str]) -> dict[str, list[Message]]:
        return {request_id: self.for_request(request_id) for request_id in request_ids}


class _Outbox(_Repo):
    def add(self, mail: OutboxMail) -> None:
        self._writable()
        self._account_exists(mail.account_id)
        if mail.id in self.t.outbox:
            raise Conflict(f"Mail {mail.id!r} already exists.")
        self.j.set(self.t.outbox, mail.id, mail)
        self.j.set(self.t.mail_order, mail.id, self.t.next_mail_order)
        self.t.next_mail_order += 1  # never taken back: gaps are harmless, reuse is not
        if mail.sent_at is None:
            self.j.mark_in(self.t.unsent, mail.id, True)
        if mail.request_id is not None:
            self.j.mark(self.t.request_mails, mail.request_id, mail.id, True)
            if mail.request_id not in self.t.requests:
                self.j.mark(self.t.orphans, mail.account_id, mail.id, True)

    def due(self, now: dt.datetime, limit: int) -> list[OutboxMail]:
        self._live()
        if limit < 1:
            raise StorageError("limit must be at least 1.")
        outbox = self.t.outbox
        # Ties are broken by each mail's place in insertion order, as SQLite does by rowid.
        due = [
            m
            for m in (outbox[i] for i in self.t.unsent)
            if m.next_attempt_at is None or m.next_attempt_at <= now
        ]
        order = self.t.mail_order
        due.sort(key=lambda m: (m.next_attempt_at or m.created_at, m.created_at, order[m.id]))
        return due[:limit]

    def _replace(self, mail_id: str, **changes: Any) -> None:
        self._writable()
        mail = self.t.outbox.get(mail_id)
        if mail is None:
            raise StorageError(f"Unknown mail {mail_id!r}.")
        self.j.set(self.t.outbox, mail_id, attrs.evolve(mail, **changes))

    def mark_sent(self, mail_id: str, at: dt.datetime) -> None:
        self._replace(mail_id, sent_at=at)
        self.j.mark_in(self.t.unsent, mail_id, False)

    def reschedule(
        self, mail_id: str, *, attempts: int, next_attempt_at: dt.datetime, error: str
    ) -> None:
        self._replace(mail_id, attempts=attempts, next_attempt_at=next_attempt_at, last_error=error)

    def claim(self, mail_id: str, until: dt.datetime) -> None:
        self._replace(mail_id, next_attempt_at=until)

    def pending_count(self) -> int:
        return len(self.t.unsent)

    def get(self, mail_id: str) -> OutboxMail | None:
        return self.t.outbox.get(mail_id)

    def all(self) -> list[OutboxMail]:
        order = self.t.mail_order
        return sorted(self.t.outbox.values(), key=lambda m: (m.created_at, order[m.id]))


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
        unit of work), then rebuild the indexes; ``on_commit`` is not called for them. Replay
        a whole journal in one call: each call rebuilds the indexes once."""
        with self._lock:
            for change in changes:
                if change.table not in PRIMARY_TABLES:
                    raise StorageError(f"Unknown table {change.table!r} in a change.")
                table = getattr(self._tables, change.table)
                if change.value is DELETED:
                    table.pop(change.key, None)
                else:
                    table[change.key] = change.value
            self._tables.reindex()

    def close(self) -> None:
        self._closed = True
