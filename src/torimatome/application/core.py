"""The plumbing every application call shares: units of work, the actor check, events,
visibility and idempotent replays."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import attrs

from ..domain import dates
from ..domain.accounts import Account
from ..domain.errors import (
    AccessDenied,
    ConfigurationError,
    Conflict,
    NotFound,
    StorageError,
    TorimatomeError,
)
from ..domain.events import Event
from ..domain.features import Feature, RestrictionMatrix
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.roles import Role
from ..domain.users import User
from ..domain.validation import check_id
from ..ports.clock import Clock
from ..ports.config import Config
from ..ports.credentials import IdGenerator, PasswordHasher, SecretGenerator
from ..ports.storage import IdempotencyRecord, Storage, UnitOfWork
from .codec import converter
from .mailer import Mailer
from .plugins import PluginManager, call_each

log = logging.getLogger("torimatome")
T = TypeVar("T")


__all__ = ["Service", "checked_instant", "with_current_names"]


# Instants a clock may give: with room on both sides for every window and filter computed
# from them (15 months back, ten years ahead).
_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_LATEST = dt.datetime(9000, 1, 1, tzinfo=dt.UTC)


def checked_instant(value: object) -> dt.datetime:
    """A clock's answer as an aware UTC instant, or ConfigurationError."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ConfigurationError(f"The clock must return an aware datetime, not {value!r}.")
    try:
        instant = value.astimezone(dt.UTC)
    except OverflowError:
        raise ConfigurationError(f"The clock's time is out of range: {value!r}.") from None
    if not _EARLIEST <= instant < _LATEST:
        raise ConfigurationError(f"The clock's time is out of range: {value!r}.")
    return instant


class Service:
    """The wiring and the checks every call starts with; the call groups build on it."""

    def __init__(
        self,
        *,
        storage: Storage,
        plugin_manager: PluginManager,
        clock: Clock,
        config: Config,
        hasher: PasswordHasher,
        secrets: SecretGenerator,
        new_id: IdGenerator,
        matrix: RestrictionMatrix,
    ) -> None:
        self.storage = storage
        self.pm = plugin_manager
        self.config = config
        self.matrix = matrix
        self._clock = clock
        self._hasher = hasher
        self._secrets = secrets
        self._new_id = new_id
        self._mailer = Mailer(plugin_manager, config, new_id)
        # Checking an unknown login against this costs what a real check costs, so timing does
        # not tell which login IDs exist.
        self._dummy_hash = hasher.hash(secrets.password())

    def now(self) -> dt.datetime:
        """The app's clock, as an aware UTC instant."""
        return checked_instant(self._clock())

    @contextmanager
    def _unit(self, *, write: bool = True) -> Iterator[UnitOfWork]:
        """A unit of work whose stray driver errors surface as :class:`StorageError`.

        Adapters translate their own driver errors; this is the safety net for a plugin
        backend that does not, so callers only ever see torimatome errors. Hook calls inside a
        unit translate their own failures first (``CartError``, ``MailError``).
        """
        try:
            with self.storage.unit_of_work(write=write) as uow:
                yield uow
        except TorimatomeError:
            raise
        except Exception as exc:
            raise StorageError(f"Storage failed: {exc!r}") from exc

    def _publish(self, events: Sequence[Event]) -> None:
        # The change is committed: a failing listener must not turn it into an error the
        # caller would retry, nor keep the other listeners from hearing of it.
        for event in events:
            call_each(self.pm, f"torimatome_{event.name}", event=event)

    def _actor(self, uow: UnitOfWork, actor: object, feature: Feature | str) -> User:
        actor_id = check_id(actor, "actor")
        user = uow.users.get(actor_id)
        if user is None or not user.active:
            raise AccessDenied(str(feature))
        self.matrix.require(user.role, feature)
        return user

    def _account(self, uow: UnitOfWork, account_id: str) -> Account:
        account = uow.accounts.get(account_id)
        if account is None:
            raise StorageError(f"Account {account_id!r} of a stored user is missing.")
        return account

    def _visible_since(self, account: Account, now: dt.datetime) -> dt.datetime:
        return dates.window_start(now, account.zone, account.settings.retention_months)

    def _visible(self, account: Account, request: OrderRequest, now: dt.datetime) -> bool:
        return not (request.closed and request.submitted_at < self._visible_since(account, now))

    def _request_for(
        self, uow: UnitOfWork, user: User, request_id: object, now: dt.datetime
    ) -> tuple[Account, OrderRequest]:
        """A request the user may see: their own, or any of the account's for a coordinator."""
        rid = check_id(request_id, "request_id")
        request = uow.requests.get(rid)
        if request is None or request.account_id != user.account_id:
            raise NotFound("request", rid)
        if user.role is not Role.COORDINATOR and request.requester_id != user.id:
            raise NotFound("request", rid)
        account = self._account(uow, user.account_id)
        if not self._visible(account, request, now):
            raise NotFound("request", rid)
        return account, request

    def _names(self, uow: UnitOfWork, account_id: str, user_ids: Iterable[str]) -> dict[str, str]:
        """The current display names of the account's users among ``user_ids``, for views
        that show who wrote or asked (one read, however many users the account has)."""
        found = uow.users.many(set(user_ids))
        return {i: u.display_name for i, u in found.items() if u.account_id == account_id}

    def _replay(
        self,
        uow: UnitOfWork,
        actor_id: str,
        key: str | None,
        operation: str,
        digest: str,
        kind: type[T],
        now: dt.datetime,
    ) -> T | None:
        if key is None:
            return None
        record = uow.idempotency.get(actor_id, key)
        if record is None:
            return None
        ttl = dt.timedelta(seconds=self.config.idempotency_ttl_seconds)
        if record.created_at + ttl <= now:
            # An expired key is free again; the write unit stores the new record in its place.
            uow.idempotency.delete(actor_id, key)
            return None
        if record.operation != operation or record.fingerprint != digest:
            raise Conflict(
                "This idempotency key was already used for a different request.",
                ja="この操作は別の内容ですでに受け付けています（操作キーの再利用）",
            )
        return converter.loads(record.result, kind)

    def _remember(
        self,
        uow: UnitOfWork,
        actor_id: str,
        key: str | None,
        operation: str,
        digest: str,
        result: Any,
        now: dt.datetime,
    ) -> None:
        if key is not None:
            uow.idempotency.add(
                IdempotencyRecord(actor_id, key, operation, digest, converter.dumps(result), now)
            )


def with_current_names(messages: Sequence[Message], names: Mapping[str, str]) -> list[Message]:
    return [attrs.evolve(m, author_name=names.get(m.author_id, m.author_name)) for m in messages]
