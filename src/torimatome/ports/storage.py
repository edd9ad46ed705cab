"""The storage port: a unit of work with small repositories.

A storage adapter (memory, SQLite or a plugin's) implements :class:`Storage`. Every application
call runs inside one unit of work: ``with storage.unit_of_work() as uow:`` commits when the block
ends and rolls back when it raises, so no error leaves partial state behind. Adapters translate
their driver's errors into :class:`torimatome.StorageError` (or :class:`Conflict` for a version
or uniqueness clash). The contract is proved by ``torimatome.testing``'s conformance suite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

import attrs

from ..domain.accounts import Account
from ..domain.lines import RequestLine
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.users import User

__all__ = [
    "AccountRepository",
    "IdempotencyRecord",
    "IdempotencyRepository",
    "MessageRepository",
    "OutboxMail",
    "OutboxRepository",
    "PurgeCounts",
    "RequestQuery",
    "RequestRepository",
    "Storage",
    "UnitOfWork",
    "UserRepository",
]


@attrs.frozen
class RequestQuery:
    """A page of one account's requests, newest first, keyset-paginated on (submitted_at, id).

    ``visible_since`` hides *closed* requests submitted before it (retention); open ones always
    show. ``after`` is the (submitted_at, id) of the previous page's last item.
    """

    account_id: str
    limit: int
    visible_since: dt.datetime
    requester_id: str | None = None
    submitted_from: dt.datetime | None = None
    submitted_before: dt.datetime | None = None
    decided_only: bool = False
    after: tuple[dt.datetime, str] | None = None


@attrs.frozen
class OutboxMail:
    """A composed mail waiting for (or done with) delivery; ``raw`` is the RFC 5322 bytes."""

    id: str
    account_id: str
    event: str
    recipient: str
    subject: str
    raw: bytes = attrs.field(repr=False)
    created_at: dt.datetime
    request_id: str | None = None
    attempts: int = 0
    next_attempt_at: dt.datetime | None = None
    sent_at: dt.datetime | None = None
    last_error: str | None = None


@attrs.frozen
class IdempotencyRecord:
    """The first result of an act done under an actor's idempotency key."""

    actor_id: str
    key: str
    operation: str
    fingerprint: str
    result: str
    created_at: dt.datetime


@attrs.frozen
class PurgeCounts:
    """What one account's purge deleted (or would delete), and the open requests it kept."""

    requests: int = 0
    lines: int = 0
    messages: int = 0
    mails: int = 0
    kept_open: int = 0


class AccountRepository(Protocol):
    def add(self, account: Account) -> None: ...
    def get(self, account_id: str) -> Account | None: ...
    def update(self, account: Account) -> None: ...
    def all_ids(self) -> list[str]: ...


class UserRepository(Protocol):
    def add(self, user: User, password_hash: str) -> None:
        """Store a new user; a login ID already in use raises ``Conflict``."""

    def get(self, user_id: str) -> User | None: ...
    def by_login_id(self, login_id: str) -> User | None: ...
    def in_account(self, account_id: str) -> list[User]:
        """Users of the account, in registration order."""

    def many(self, user_ids: Collection[str]) -> dict[str, User]:
        """The named users that exist (missing ids are simply absent), so a view names the
        people it shows without loading the whole account."""

    def coordinators(self, account_id: str) -> list[User]:
        """The account's coordinators, active or not, in registration order."""

    def update(self, user: User) -> None:
        """Store ``user`` whose version is the stored version + 1, else ``Conflict``."""

    def password_hash(self, user_id: str) -> str | None: ...
    def set_password_hash(self, user_id: str, password_hash: str) -> None: ...


class RequestRepository(Protocol):
    def add(self, request: OrderRequest) -> None: ...
    def get(self, request_id: str) -> OrderRequest | None: ...
    def lines(self, line_ids: Collection[str]) -> dict[str, RequestLine]:
        """The named lines that exist (missing ids are simply absent)."""

    def lines_of_order(self, account_id: str, order_id: str) -> list[RequestLine]: ...
    def update_lines(self, lines: Sequence[RequestLine]) -> None:
        """Store new versions of lines: each must be the stored version + 1, else ``Conflict``
        naming every stale line, and nothing is stored. A line's identity (request, account,
        requester, position) never changes; a line named twice is a ``Conflict``."""

    def pending_lines(self, account_id: str) -> list[RequestLine]:
        """Requested and on-hold lines, oldest request first, lines in request order."""

    def pending_count(self, account_id: str) -> int: ...
    def page(self, query: RequestQuery) -> list[OrderRequest]:
        """Up to ``query.limit`` requests matching the query, newest first."""

    def purge(
        self, account_id: str, before: dt.datetime, *, dry_run: bool, limit: int | None = None
    ) -> PurgeCounts:
        """Delete closed requests submitted before ``before`` with their lines, messages and
        *delivered* mails (and the account's delivered mails whose request is already gone);
        count open ones kept. ``dry_run`` counts without deleting.

        With ``limit``, at most that many requests go, the oldest first (``submitted_at``, then
        id), so a caller can purge in short transactions: it calls again until ``requests`` is
        below ``limit``. That last call finishes the account: it alone sweeps the orphaned
        delivered mails and counts ``kept_open`` (earlier calls report 0), so the calls' counts
        add up to one unlimited purge's. A dry run ignores ``limit`` and counts everything."""


class MessageRepository(Protocol):
    def add(self, message: Message) -> None: ...
    def for_request(self, request_id: str) -> list[Message]:
        """The thread in time order (posted_at, then insertion)."""

    def for_requests(self, request_ids: Collection[str]) -> dict[str, list[Message]]:
        """Several threads in one read (a history page's): each request id maps to what
        ``for_request`` gives, an empty list for a request without messages."""


class OutboxRepository(Protocol):
    def add(self, mail: OutboxMail) -> None: ...
    def due(self, now: dt.datetime, limit: int) -> list[OutboxMail]:
        """Unsent mails whose next attempt is due, oldest first."""

    def mark_sent(self, mail_id: str, at: dt.datetime) -> None: ...
    def reschedule(
        self, mail_id: str, *, attempts: int, next_attempt_at: dt.datetime, error: str
    ) -> None: ...
    def claim(self, mail_id: str, until: dt.datetime) -> None:
        """Keep a mail from ``due`` until ``until`` (a deliverer is sending it); attempts and
        the last error stay as they are."""

    def pending_count(self) -> int: ...
    def get(self, mail_id: str) -> OutboxMail | None: ...
    def all(self) -> list[OutboxMail]: ...


class IdempotencyRepository(Protocol):
    def get(self, actor_id: str, key: str) -> IdempotencyRecord | None: ...
    def add(self, record: IdempotencyRecord) -> None:
        """Store a record; an (actor, key) already stored raises ``Conflict``."""

    def delete(self, actor_id: str, key: str) -> None:
        """Forget one record (an expired key about to be reused); unknown ones are ignored."""

    def purge(self, before: dt.datetime) -> int:
        """Delete every record created before ``before``; returns how many."""


class UnitOfWork(Protocol):
    """The repositories of one transaction; they must not be used after it ends."""

    @property
    def accounts(self) -> AccountRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def requests(self) -> RequestRepository: ...
    @property
    def messages(self) -> MessageRepository: ...
    @property
    def outbox(self) -> OutboxRepository: ...
    @property
    def idempotency(self) -> IdempotencyRepository: ...


class Storage(Protocol):
    def unit_of_work(self, *, write: bool = True) -> AbstractContextManager[UnitOfWork]:
        """One transaction: commit when the block ends, roll back when it raises.

        Units of work do not nest (a backend raises ``StorageError``), and a repository used
        after its unit ended raises ``StorageError``. Values are aware datetimes (any zone;
        backends may return them in UTC), ids are unique per batch, ``limit`` is at least 1.
        """

    def close(self) -> None: ...
