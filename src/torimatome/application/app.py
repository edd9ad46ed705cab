"""The application: every public call of torimatome, each in one unit of work.

Each call loads the acting user afresh and checks the restriction matrix first (nothing caches
permissions), validates its input before storage sees it, does its work in one unit of work
(mails go to the outbox in that same unit) and publishes its domain events after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, TypeVar

import attrs
import pluggy

from ..domain import dates
from ..domain.accounts import Account, AccountSettings, check_account_name, check_timezone
from ..domain.cart import CartEntry, CartRef
from ..domain.decide import Choice, complete_decision, parse_choices, plan_decision
from ..domain.errors import (
    AccessDenied,
    CartError,
    CartRefused,
    ConfigurationError,
    Conflict,
    InvalidInput,
    NotFound,
    StorageError,
    TorimatomeError,
)
from ..domain.events import (
    Event,
    LinesDecided,
    LinesOrdered,
    LineWithdrawn,
    MessagePosted,
    RequestSubmitted,
    UserRegistered,
)
from ..domain.features import Feature, RestrictionMatrix
from ..domain.lines import Act, RequestLine
from ..domain.message_policy import GraphemePolicy, WidthPolicy, check_thread_post
from ..domain.messages import Message
from ..domain.requests import NewLine, OrderRequest, validate_lines
from ..domain.roles import Role
from ..domain.users import FACILITY_FIELDS, NewUser, User, validate_profile
from ..domain.validation import (
    check_date,
    check_id,
    check_idempotency_key,
    check_limit,
    check_login_id,
    check_text,
)
from ..domain.views import (
    Decision,
    DeliveryReport,
    Page,
    PendingGroup,
    PurgeReport,
    Registration,
    RequestView,
)
from ..ports.clock import Clock
from ..ports.config import Config
from ..ports.credentials import IdGenerator, PasswordHasher, SecretGenerator
from ..ports.storage import IdempotencyRecord, RequestQuery, Storage, UnitOfWork
from .codec import converter, decode_cursor, encode_cursor, fingerprint
from .mail_templates import COORDINATOR, REQUESTER, USER
from .mailer import MailContext, Mailer, coordinators

__all__ = ["App"]

log = logging.getLogger("torimatome")
T = TypeVar("T")

_EVENT_HOOKS = {
    "request_submitted": "torimatome_request_submitted",
    "lines_decided": "torimatome_lines_decided",
    "message_posted": "torimatome_message_posted",
    "lines_ordered": "torimatome_lines_ordered",
    "line_withdrawn": "torimatome_line_withdrawn",
    "user_registered": "torimatome_user_registered",
}
_MAX_PASSWORD = 128
_MIN_PASSWORD = 8


class App:
    """One torimatome application: storage, plugins, clock and configuration wired together.

    Build it with :func:`torimatome.open`. Every method taking ``actor`` (the acting user's id)
    checks that user's role and active flag afresh on each call.
    """

    def __init__(
        self,
        *,
        storage: Storage,
        plugin_manager: pluggy.PluginManager,
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

    # --- plumbing ---------------------------------------------------------------------------

    def now(self) -> dt.datetime:
        """The app's clock, as an aware UTC instant."""
        value = self._clock()
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise ConfigurationError("The clock must return an aware datetime.")
        return value.astimezone(dt.UTC)

    @contextmanager
    def _unit(self, *, write: bool = True) -> Iterator[UnitOfWork]:
        """A unit of work whose stray driver errors surface as :class:`StorageError`."""
        try:
            with self.storage.unit_of_work(write=write) as uow:
                yield uow
        except TorimatomeError:
            raise
        except Exception as exc:
            raise StorageError(f"Storage failed: {exc!r}") from exc

    def _publish(self, events: Sequence[Event]) -> None:
        for event in events:
            hook = getattr(self.pm.hook, _EVENT_HOOKS[event.name])
            try:
                hook(event=event)
            except Exception:
                # The change is committed; a failing listener must not turn it into an error
                # the caller would retry.
                log.exception("torimatome event hook %s failed", event.name)

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

    def _replay(
        self,
        uow: UnitOfWork,
        actor_id: str,
        key: str | None,
        operation: str,
        digest: str,
        kind: type[T],
    ) -> T | None:
        if key is None:
            return None
        record = uow.idempotency.get(actor_id, key)
        if record is None:
            return None
        if record.operation != operation or record.fingerprint != digest:
            raise Conflict("This idempotency key was used for a different request.")
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

    # --- accounts and users -----------------------------------------------------------------

    def create_account(
        self,
        name: str,
        *,
        coordinator: NewUser,
        timezone: str = "Asia/Tokyo",
        settings: AccountSettings | None = None,
    ) -> Registration:
        """Create an office with its first coordinator (a shop's act: no actor)."""
        account = Account(
            id=self._new_id("acc"),
            name=check_account_name(name),
            timezone=check_timezone(timezone),
            settings=_check_settings(settings or AccountSettings()),
        )
        now = self.now()
        with self._unit() as uow:
            uow.accounts.add(account)
            registration, event = self._register(uow, account, coordinator, Role.COORDINATOR, now)
        self._publish([event])
        return registration

    def _register(
        self, uow: UnitOfWork, account: Account, new: object, role: Role, now: dt.datetime
    ) -> tuple[Registration, UserRegistered]:
        if not isinstance(new, NewUser):
            raise InvalidInput("The user must be given as NewUser(...).", field="user")
        profile = new.profile()
        login_id = new.checked_login_id()
        if login_id is None:
            login_id = self._unused_login_id(uow)
        elif uow.users.by_login_id(login_id) is not None:
            raise Conflict(f"Login ID {login_id!r} is already in use.")
        password = self._secrets.password()
        user = User(
            id=self._new_id("usr"), account_id=account.id, login_id=login_id, role=role, **profile
        )
        uow.users.add(user, self._hasher.hash(password))
        event = UserRegistered(account_id=account.id, user_id=user.id, role=role, at=now)
        if self._mailer.wants(event.name):
            base = MailContext(event.name, account, user, USER)
            self._mailer.enqueue(uow, now, base, [(user, USER)])
        return Registration(account=account, user=user, password=password), event

    def _unused_login_id(self, uow: UnitOfWork) -> str:
        for _ in range(20):
            candidate = self._secrets.login_id()
            if uow.users.by_login_id(candidate) is None:
                return candidate
        raise StorageError("Could not find an unused login ID.")

    def register_internal_user(self, actor: str, user: NewUser) -> Registration:
        """Register a 社内ユーザー; returns the one-time initial password."""
        return self._register_by(actor, user, Role.INTERNAL)

    def register_coordinator(self, actor: str, user: NewUser) -> Registration:
        """Register another とりまとめ担当者 of the actor's account."""
        return self._register_by(actor, user, Role.COORDINATOR)

    def _register_by(self, actor: str, new: NewUser, role: Role) -> Registration:
        now = self.now()
        with self._unit() as uow:
            coordinator = self._actor(uow, actor, Feature.INTERNAL_USER_MANAGEMENT)
            account = self._account(uow, coordinator.account_id)
            registration, event = self._register(uow, account, new, role, now)
        self._publish([event])
        return registration

    def _managed_user(self, uow: UnitOfWork, manager: User, user_id: object) -> User:
        uid = check_id(user_id, "user_id")
        user = uow.users.get(uid)
        if user is None or user.account_id != manager.account_id:
            raise NotFound("user", uid)
        return user

    def deactivate_user(self, actor: str, user_id: str) -> User:
        """Deactivate a user: from their next call on they can do nothing. The last active
        coordinator of an account cannot be deactivated."""
        with self._unit() as uow:
            manager = self._actor(uow, actor, Feature.INTERNAL_USER_MANAGEMENT)
            user = self._managed_user(uow, manager, user_id)
            if not user.active:
                return user
            if user.role is Role.COORDINATOR:
                self._keep_a_coordinator(uow, user)
            changed = user.changed(active=False)
            uow.users.update(changed)
            return changed

    def set_role(self, actor: str, user_id: str, role: Role) -> User:
        """Make a user a coordinator or an internal user; it applies on their very next call.
        The last active coordinator of an account keeps the role."""
        if not isinstance(role, Role):
            raise InvalidInput("role must be a torimatome.Role.", field="role")
        with self._unit() as uow:
            manager = self._actor(uow, actor, Feature.INTERNAL_USER_MANAGEMENT)
            user = self._managed_user(uow, manager, user_id)
            if user.role is role:
                return user
            if user.role is Role.COORDINATOR and user.active:
                self._keep_a_coordinator(uow, user)
            changed = user.changed(role=role)
            uow.users.update(changed)
            return changed

    def _keep_a_coordinator(self, uow: UnitOfWork, leaving: User) -> None:
        others = [
            u for u in coordinators(uow.users.in_account(leaving.account_id)) if u.id != leaving.id
        ]
        if not others:
            raise InvalidInput(
                "The last active coordinator of an account must stay one.",
                ja="有効なとりまとめ担当者が1人もいなくなるため、変更できません",
                field="user_id",
            )

    def reactivate_user(self, actor: str, user_id: str) -> User:
        with self._unit() as uow:
            manager = self._actor(uow, actor, Feature.INTERNAL_USER_MANAGEMENT)
            user = self._managed_user(uow, manager, user_id)
            if user.active:
                return user
            changed = user.changed(active=True)
            uow.users.update(changed)
            return changed

    def authenticate(self, login_id: str, password: str) -> User:
        """The active user with this login ID and password, else :class:`AccessDenied`."""
        login = check_login_id(login_id)
        if not isinstance(password, str) or len(password) > _MAX_PASSWORD:
            raise InvalidInput("password must be a str.", field="password")
        with self._unit(write=False) as uow:
            user = uow.users.by_login_id(login)
            hashed = uow.users.password_hash(user.id) if user else None
        ok = self._hasher.verify(password, hashed or self._dummy_hash)
        if user is None or not ok or not user.active:
            raise AccessDenied(en="The login ID or the password is incorrect.")
        return user

    def get_user(self, actor: str, user_id: str) -> User:
        with self._unit(write=False) as uow:
            if actor == user_id:
                return self._actor(uow, actor, Feature.PROFILE_CHANGE)
            manager = self._actor(uow, actor, Feature.INTERNAL_USER_MANAGEMENT)
            return self._managed_user(uow, manager, user_id)

    def users(self, actor: str) -> list[User]:
        """Every user of the actor's account (coordinators only)."""
        with self._unit(write=False) as uow:
            manager = self._actor(uow, actor, Feature.INTERNAL_USER_MANAGEMENT)
            return uow.users.in_account(manager.account_id)

    def update_profile(self, actor: str, user_id: str, **fields: Any) -> User:
        """Change profile fields: one's own personal fields; facility fields (施設情報) and
        other users' fields only as a coordinator."""
        if not fields:
            raise InvalidInput("Name at least one field to change.", field="fields")
        changes = validate_profile(fields)
        with self._unit() as uow:
            if actor == user_id:
                user = actor_user = self._actor(uow, actor, Feature.PROFILE_CHANGE)
            else:
                actor_user = self._actor(uow, actor, Feature.INTERNAL_USER_MANAGEMENT)
                user = self._managed_user(uow, actor_user, user_id)
            if FACILITY_FIELDS & changes.keys():
                self.matrix.require(actor_user.role, Feature.FACILITY_INFO_CHANGE)
            changed = user.changed(**changes)
            uow.users.update(changed)
            return changed

    def change_password(self, actor: str, *, current: str, new: str) -> None:
        """Change one's own password after proving the current one."""
        for field, value in (("current", current), ("new", new)):
            if not isinstance(value, str) or len(value) > _MAX_PASSWORD:
                raise InvalidInput(f"{field} must be a str.", field=field)
        check_text(new, "new", max_length=_MAX_PASSWORD, allow_empty=False)
        if len(new) < _MIN_PASSWORD:
            raise InvalidInput(
                f"The new password must have at least {_MIN_PASSWORD} characters.",
                ja=f"パスワードは{_MIN_PASSWORD}文字以上で入力してください",
                field="new",
            )
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.PROFILE_CHANGE)
            hashed = uow.users.password_hash(user.id) or self._dummy_hash
            if not self._hasher.verify(current, hashed):
                raise AccessDenied(en="The current password is incorrect.")
            uow.users.set_password_hash(user.id, self._hasher.hash(new))

    def account(self, actor: str) -> Account:
        """The actor's account."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.PROFILE_CHANGE)
            return self._account(uow, user.account_id)

    def update_account_settings(
        self,
        actor: str,
        *,
        message_policy: WidthPolicy | GraphemePolicy | None = None,
        retention_months: int | None = None,
        locale: str | None = None,
    ) -> Account:
        """Change the account's message policy, retention window or mail locale (会社情報)."""
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.COMPANY_INFO_CHANGE)
            account = self._account(uow, user.account_id)
            changes: dict[str, Any] = {}
            if message_policy is not None:
                changes["message_policy"] = message_policy
            if retention_months is not None:
                changes["retention_months"] = retention_months
            if locale is not None:
                changes["locale"] = locale
            settings = _check_settings(attrs.evolve(account.settings, **changes))
            updated = attrs.evolve(account, settings=settings)
            uow.accounts.update(updated)
            return updated

    # --- permissions -------------------------------------------------------------------------

    def can(self, actor: str, feature: Feature | str) -> bool:
        """Whether the actor may use ``feature`` now (False for unknown or inactive users)."""
        self.matrix.spec(feature)
        try:
            self.require(actor, feature)
        except AccessDenied:
            return False
        return True

    def require(self, actor: str, feature: Feature | str) -> None:
        """Raise :class:`AccessDenied` (お客様はこちらの画面を見ることができません) unless the
        actor may use ``feature``: guard a shop screen with it."""
        with self._unit(write=False) as uow:
            self._actor(uow, actor, feature)

    # --- requests -----------------------------------------------------------------------------

    def submit_request(
        self,
        actor: str,
        lines: Sequence[NewLine],
        message: str = "",
        *,
        idempotency_key: str | None = None,
    ) -> OrderRequest:
        """File a request (注文を依頼する) from the actor's cart; mails the requester and every
        coordinator. The same ``idempotency_key`` with the same payload returns the first
        request and changes nothing."""
        checked = validate_lines(lines, max_quantity=self.config.max_quantity)
        key = check_idempotency_key(idempotency_key)
        now = self.now()
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.REQUEST_ORDER)
            account = self._account(uow, user.account_id)
            text = account.settings.message_policy.check(
                message, allow_line_breaks=False, field="message"
            )
            digest = fingerprint({"lines": checked, "message": text})
            replay = self._replay(uow, user.id, key, "submit_request", digest, OrderRequest)
            if replay is not None:
                return replay
            request = self._new_request(uow, account, user, checked, text, key, now)
            self._remember(uow, user.id, key, "submit_request", digest, request, now)
            event = RequestSubmitted(
                account_id=account.id,
                request_id=request.id,
                requester_id=user.id,
                line_ids=tuple(ln.id for ln in request.lines),
                at=now,
            )
        self._publish([event])
        return request

    def _new_request(
        self,
        uow: UnitOfWork,
        account: Account,
        user: User,
        lines: Sequence[NewLine],
        message: str,
        key: str | None,
        now: dt.datetime,
    ) -> OrderRequest:
        request_id = self._new_id("req")
        request = OrderRequest(
            id=request_id,
            account_id=account.id,
            requester_id=user.id,
            submitted_at=now,
            message=message,
            lines=tuple(
                RequestLine(
                    id=self._new_id("line"),
                    request_id=request_id,
                    account_id=account.id,
                    requester_id=user.id,
                    position=index,
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                )
                for index, line in enumerate(lines)
            ),
            idempotency_key=key,
        )
        uow.requests.add(request)
        if self._mailer.wants("request_submitted"):
            base = MailContext("request_submitted", account, user, REQUESTER, request, user)
            everyone = uow.users.in_account(account.id)
            recipients = [(user, REQUESTER)] + [(c, COORDINATOR) for c in coordinators(everyone)]
            self._mailer.enqueue(uow, now, base, recipients)
        return request

    def copy_request(
        self, actor: str, request_id: str, *, idempotency_key: str | None = None
    ) -> OrderRequest:
        """File a new request with the lines of one of the actor's own past requests (new ids,
        new time, every line requested, an empty thread)."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.REQUEST_ORDER)
            _, old = self._request_for(uow, user, request_id, self.now())
        lines = [
            NewLine(sku=ln.sku, name=ln.name, quantity=ln.quantity, unit_price=ln.unit_price)
            for ln in old.lines
        ]
        return self.submit_request(actor, lines, old.message, idempotency_key=idempotency_key)

    def withdraw(self, actor: str, line_id: str) -> RequestLine:
        """The requester takes back one of their undecided (requested or held) lines."""
        lid = check_id(line_id, "line_id")
        now = self.now()
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.REQUEST_ORDER)
            line = uow.requests.lines([lid]).get(lid)
            if line is None or line.requester_id != user.id:
                raise NotFound("line", lid)
            moved = line.move(Act.WITHDRAW)
            uow.requests.update_lines([moved])
            event = LineWithdrawn(
                account_id=user.account_id,
                request_id=line.request_id,
                line_id=lid,
                requester_id=user.id,
                at=now,
            )
            if self._mailer.wants(event.name):
                account = self._account(uow, user.account_id)
                request = uow.requests.get(line.request_id)
                base = MailContext(event.name, account, user, COORDINATOR, request, user,
                                   line_ids=(lid,))  # fmt: skip
                others = coordinators(uow.users.in_account(account.id))
                self._mailer.enqueue(uow, now, base, [(c, COORDINATOR) for c in others])
        self._publish([event])
        return moved

    # --- the coordinator's screen --------------------------------------------------------------

    def pending(self, actor: str) -> list[PendingGroup]:
        """Every requested or held line of the account, grouped by requester (oldest first);
        each line carries the version to pass back to :meth:`decide`."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.CONSOLIDATION)
            lines = uow.requests.pending_lines(user.account_id)
            names = {u.id: u.display_name for u in uow.users.in_account(user.account_id)}
        groups: dict[str, list[RequestLine]] = {}
        for line in lines:
            groups.setdefault(line.requester_id, []).append(line)
        return [
            PendingGroup(requester_id=rid, requester_name=names.get(rid, ""), lines=tuple(group))
            for rid, group in groups.items()
        ]

    def pending_count(self, actor: str) -> int:
        """How many lines wait for a decision (the 依頼を見る button)."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.CONSOLIDATION)
            return uow.requests.pending_count(user.account_id)

    def decide(
        self,
        actor: str,
        choices: Mapping[str, Choice | str],
        versions: Mapping[str, int] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Decision:
        """Decide a batch (決定する): consolidate, hold or delete each named line, atomically.

        ``versions`` are the versions the coordinator saw (from :meth:`pending`); a line that
        moved since, or is no longer pending, makes the batch a :class:`Conflict` naming it.
        Consolidated lines go into the coordinator's cart; if the cart refuses or fails, no
        line changes.
        """
        parsed, seen = parse_choices(choices, versions)
        key = check_idempotency_key(idempotency_key)
        digest = fingerprint({"choices": parsed, "versions": seen})
        now = self.now()
        refs: list[CartRef] = []
        coordinator: User | None = None
        try:
            with self._unit() as uow:
                coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
                replay = self._replay(uow, coordinator.id, key, "decide", digest, Decision)
                if replay is not None:
                    return replay
                lines = uow.requests.lines(parsed)
                for line_id in parsed:
                    line = lines.get(line_id)
                    if line is None or line.account_id != coordinator.account_id:
                        raise NotFound("line", line_id)
                    if line.requester_id == coordinator.id:
                        # An internal user promoted to coordinator must not approve what they
                        # requested themselves: another coordinator decides those lines.
                        raise AccessDenied(
                            str(Feature.CONSOLIDATION),
                            en=f"Line {line_id!r} is your own request; another coordinator "
                            "decides it.",
                        )
                plan = plan_decision(lines, parsed, seen, coordinator_id=coordinator.id, now=now)
                if plan.entries:
                    refs = self._add_to_cart(coordinator, plan.entries)
                new_lines, decision = complete_decision(plan, refs)
                uow.requests.update_lines(new_lines)
                self._remember(uow, coordinator.id, key, "decide", digest, decision, now)
                request_ids = tuple(dict.fromkeys(ln.request_id for ln in new_lines))
                event = LinesDecided(
                    account_id=coordinator.account_id,
                    coordinator_id=coordinator.id,
                    consolidated=decision.consolidated,
                    held=decision.held,
                    deleted=decision.deleted,
                    request_ids=request_ids,
                    at=now,
                )
                self._mail_requesters(uow, coordinator, event.name, request_ids,
                                      tuple(parsed), now)  # fmt: skip
        except BaseException:
            if refs and coordinator is not None:
                self._compensate(coordinator, refs)
            raise
        self._publish([event])
        return decision

    def _add_to_cart(self, coordinator: User, entries: Sequence[CartEntry]) -> list[CartRef]:
        try:
            refs = self.pm.hook.torimatome_add_to_cart(
                account_id=coordinator.account_id,
                coordinator_id=coordinator.id,
                entries=list(entries),
            )
        except CartRefused:
            raise
        except CartError:
            raise
        except Exception as exc:
            raise CartError(f"The cart failed: {exc!r}") from exc
        if refs is None:
            raise CartError("No cart answered torimatome_add_to_cart.")
        return list(refs)

    def _compensate(self, coordinator: User, refs: Sequence[CartRef]) -> None:
        try:
            self.pm.hook.torimatome_remove_from_cart(
                account_id=coordinator.account_id, coordinator_id=coordinator.id, refs=list(refs)
            )
        except Exception:
            log.exception("torimatome could not take back cart lines %s", [r.ref for r in refs])

    def _mail_requesters(
        self,
        uow: UnitOfWork,
        actor: User,
        event_name: str,
        request_ids: Sequence[str],
        line_ids: tuple[str, ...],
        now: dt.datetime,
        order_id: str | None = None,
    ) -> None:
        if not self._mailer.wants(event_name):
            return
        account = self._account(uow, actor.account_id)
        for request_id in request_ids:
            request = uow.requests.get(request_id)
            requester = uow.users.get(request.requester_id) if request else None
            if request is None or requester is None:
                continue
            base = MailContext(event_name, account, actor, REQUESTER, request, requester,
                               line_ids=line_ids, order_id=order_id)  # fmt: skip
            self._mailer.enqueue(uow, now, base, [(requester, REQUESTER)])

    def release(self, actor: str, line_id: str) -> RequestLine:
        """Take a consolidated line back out of the cart: it is requested again."""
        lid = check_id(line_id, "line_id")
        with self._unit() as uow:
            coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
            line = uow.requests.lines([lid]).get(lid)
            if line is None or line.account_id != coordinator.account_id:
                raise NotFound("line", lid)
            moved = line.move(Act.RELEASE, cart_ref=None, decided_by=None, decided_at=None)
            uow.requests.update_lines([moved])
            if line.cart_ref is not None:
                try:
                    self.pm.hook.torimatome_remove_from_cart(
                        account_id=coordinator.account_id,
                        coordinator_id=coordinator.id,
                        refs=[CartRef(line.id, line.cart_ref)],
                    )
                except Exception as exc:
                    raise CartError(f"The cart could not release the line: {exc!r}") from exc
        return moved

    def record_order(
        self, actor: str, order_id: str, line_ids: Sequence[str], *, order_status: str = ""
    ) -> list[RequestLine]:
        """After checkout: the consolidated lines the order contained become ordered."""
        oid = check_text(order_id, "order_id", max_length=64, allow_empty=False)
        status = check_text(order_status, "order_status", max_length=100)
        if isinstance(line_ids, str) or not isinstance(line_ids, Sequence) or not line_ids:
            raise InvalidInput("line_ids must be a non-empty list of line ids.", field="line_ids")
        ids = list(dict.fromkeys(check_id(i, "line_ids") for i in line_ids))
        now = self.now()
        with self._unit() as uow:
            coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
            lines = uow.requests.lines(ids)
            moved = []
            for lid in ids:
                line = lines.get(lid)
                if line is None or line.account_id != coordinator.account_id:
                    raise NotFound("line", lid)
                moved.append(line.move(Act.ORDER, order_id=oid, order_status=status or None))
            uow.requests.update_lines(moved)
            request_ids = tuple(dict.fromkeys(ln.request_id for ln in moved))
            event = LinesOrdered(
                account_id=coordinator.account_id,
                coordinator_id=coordinator.id,
                order_id=oid,
                line_ids=tuple(ids),
                request_ids=request_ids,
                at=now,
            )
            self._mail_requesters(uow, coordinator, event.name, request_ids, tuple(ids), now,
                                  order_id=oid)  # fmt: skip
        self._publish([event])
        return moved

    def record_order_status(self, actor: str, order_id: str, status: str) -> list[RequestLine]:
        """The shop's later order-status text (出荷済み...) for every line of an order."""
        oid = check_text(order_id, "order_id", max_length=64, allow_empty=False)
        text = check_text(status, "status", max_length=100, allow_empty=False)
        with self._unit() as uow:
            coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
            lines = uow.requests.lines_of_order(coordinator.account_id, oid)
            if not lines:
                raise NotFound("order", oid)
            moved = [line.with_order_status(text) for line in lines]
            uow.requests.update_lines(moved)
        return moved

    # --- messages -----------------------------------------------------------------------------

    def post_message(self, actor: str, request_id: str, body: str) -> Message:
        """Post on a request's thread: its requester or any coordinator of the account."""
        now = self.now()
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.MESSAGES)
            account, request = self._request_for(uow, user, request_id, now)
            text = check_thread_post(account.settings.message_policy, body, field="body")
            message = Message(
                id=self._new_id("msg"),
                request_id=request.id,
                author_id=user.id,
                body=text,
                posted_at=now,
                author_name=user.display_name,
            )
            uow.messages.add(message)
            event = MessagePosted(
                account_id=account.id,
                request_id=request.id,
                message_id=message.id,
                author_id=user.id,
                at=now,
            )
            if self._mailer.wants(event.name):
                requester = uow.users.get(request.requester_id)
                base = MailContext(event.name, account, user, REQUESTER, request, requester,
                                   message=message)  # fmt: skip
                if user.role is Role.COORDINATOR and requester is not None:
                    recipients = [(requester, REQUESTER)]
                else:
                    everyone = uow.users.in_account(account.id)
                    recipients = [(c, COORDINATOR) for c in coordinators(everyone)]
                self._mailer.enqueue(uow, now, base, recipients)
        self._publish([event])
        return message

    def thread(self, actor: str, request_id: str) -> list[Message]:
        """A request's messages in time order, each with its author's current name."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.MESSAGES)
            _, request = self._request_for(uow, user, request_id, self.now())
            names = {u.id: u.display_name for u in uow.users.in_account(user.account_id)}
            return _named(uow.messages.for_request(request.id), names)

    # --- views ---------------------------------------------------------------------------------

    def get_request(self, actor: str, request_id: str) -> RequestView:
        """One request with its lines and thread: a coordinator sees any of the account's, an
        internal user only their own."""
        now = self.now()
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, _view_feature(uow, actor))
            _, request = self._request_for(uow, user, request_id, now)
            names = {u.id: u.display_name for u in uow.users.in_account(user.account_id)}
            return self._view(uow, request, names)

    def _view(
        self, uow: UnitOfWork, request: OrderRequest, names: Mapping[str, str]
    ) -> RequestView:
        return RequestView(
            id=request.id,
            account_id=request.account_id,
            requester_id=request.requester_id,
            submitted_at=request.submitted_at,
            message=request.message,
            lines=request.lines,
            requester_name=names.get(request.requester_id, ""),
            thread=tuple(_named(uow.messages.for_request(request.id), names)),
        )

    def history(
        self,
        actor: str,
        since: dt.date | None = None,
        until: dt.date | None = None,
        requester_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RequestView]:
        """注文とりまとめの履歴: decided requests, newest first, filtered by request period
        (calendar days in the account's timezone, both ends inclusive) and/or requester."""
        return self._page(actor, Feature.CONSOLIDATION, since, until, requester_id, limit,
                          cursor, decided_only=True)  # fmt: skip

    def my_requests(
        self,
        actor: str,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RequestView]:
        """ご注文依頼状況確認: the actor's own requests with line states and threads."""
        return self._page(actor, Feature.REQUEST_STATUS, since, until, None, limit, cursor,
                          decided_only=False, own=True)  # fmt: skip

    def _page(
        self,
        actor: str,
        feature: Feature,
        since: object,
        until: object,
        requester_id: object,
        limit: object,
        cursor: object,
        *,
        decided_only: bool,
        own: bool = False,
    ) -> Page[RequestView]:
        first = check_date(since, "since")
        last = check_date(until, "until")
        size = check_limit(limit)
        after = decode_cursor(cursor)
        now = self.now()
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, feature)
            account = self._account(uow, user.account_id)
            people = uow.users.in_account(account.id)
            names = {u.id: u.display_name for u in people}
            who: str | None = user.id if own else None
            if requester_id is not None:
                rid = check_id(requester_id, "requester_id")
                if rid not in names:
                    raise NotFound("user", rid)
                who = rid
            start, end = dates.day_range(first, last, account.zone)
            query = RequestQuery(
                account_id=account.id,
                limit=size + 1,
                visible_since=self._visible_since(account, now),
                requester_id=who,
                submitted_from=start,
                submitted_before=end,
                decided_only=decided_only,
                after=after,
            )
            found = uow.requests.page(query)
            items = tuple(self._view(uow, r, names) for r in found[:size])
        next_cursor = None
        if len(found) > size:
            last_item = items[-1]
            next_cursor = encode_cursor(last_item.submitted_at, last_item.id)
        return Page(items=items, next_cursor=next_cursor)

    # --- jobs -----------------------------------------------------------------------------------

    def purge_expired(self, dry_run: bool = False) -> PurgeReport:
        """Delete what the views already hide: closed requests submitted before each account's
        retention window, with their lines, messages and delivered mails (a cron job)."""
        if not isinstance(dry_run, bool):
            raise InvalidInput("dry_run must be a bool.", field="dry_run")
        now = self.now()
        totals = {"requests": 0, "lines": 0, "messages": 0, "mails": 0, "kept_open": 0}
        with self._unit(write=False) as uow:
            account_ids = uow.accounts.all_ids()
        for account_id in account_ids:
            with self._unit(write=not dry_run) as uow:
                account = uow.accounts.get(account_id)
                if account is None:
                    continue
                before = self._visible_since(account, now)
                counts = uow.requests.purge(account.id, before, dry_run=dry_run)
            for name in totals:
                totals[name] += getattr(counts, name)
        return PurgeReport(dry_run=dry_run, **totals)

    def deliver_mail(self) -> DeliveryReport:
        """Send every pending mail whose next attempt is due (a cron job); never raises for
        transport trouble. A failed send is retried later with capped exponential backoff."""
        now = self.now()
        if not self.pm.hook.torimatome_send_mail.get_hookimpls():
            with self._unit(write=False) as uow:
                waiting = uow.outbox.pending_count()
            return DeliveryReport(pending=waiting, reason="no mail transport configured")
        lease = dt.timedelta(seconds=self.config.mail_retry_base_seconds)
        with self._unit() as uow:
            due = uow.outbox.due(now, self.config.mail_batch)
            # Claim the batch so a concurrent deliverer does not send the same mails.
            for mail in due:
                uow.outbox.reschedule(mail.id, attempts=mail.attempts,
                                      next_attempt_at=now + lease,
                                      error=mail.last_error or "")  # fmt: skip
        sent = failed = 0
        reasons: list[str] = []
        for mail in due:
            message = message_from_bytes(mail.raw, _class=EmailMessage, policy=policy.default)
            try:
                ok = self.pm.hook.torimatome_send_mail(message=message) is True
                error = "" if ok else "the transport did not confirm the mail"
            except Exception as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            with self._unit() as uow:
                if ok:
                    uow.outbox.mark_sent(mail.id, self.now())
                    sent += 1
                else:
                    attempts = mail.attempts + 1
                    uow.outbox.reschedule(mail.id, attempts=attempts,
                                          next_attempt_at=now + self._backoff(attempts),
                                          error=error[:500])  # fmt: skip
                    failed += 1
                    reasons.append(error)
        with self._unit(write=False) as uow:
            waiting = uow.outbox.pending_count()
        reason = reasons[0] if reasons else None
        return DeliveryReport(sent=sent, failed=failed, pending=waiting, reason=reason)

    def _backoff(self, attempts: int) -> dt.timedelta:
        base = self.config.mail_retry_base_seconds
        seconds = min(self.config.mail_retry_cap_seconds, base * 2 ** min(attempts - 1, 30))
        return dt.timedelta(seconds=seconds)

    def close(self) -> None:
        """Release the storage (connections, files)."""
        self.storage.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _named(messages: Sequence[Message], names: Mapping[str, str]) -> list[Message]:
    return [attrs.evolve(m, author_name=names.get(m.author_id, m.author_name)) for m in messages]


def _view_feature(uow: UnitOfWork, actor: object) -> Feature:
    """Coordinators read requests on the consolidation screen, internal users on their status
    screen; the matrix decides the rest."""
    user = uow.users.get(actor) if isinstance(actor, str) else None
    if user is not None and user.role is Role.COORDINATOR:
        return Feature.CONSOLIDATION
    return Feature.REQUEST_STATUS


def _check_settings(settings: object) -> AccountSettings:
    if not isinstance(settings, AccountSettings):
        raise InvalidInput("settings must be AccountSettings.", field="settings")
    if not isinstance(settings.message_policy, WidthPolicy | GraphemePolicy):
        raise InvalidInput(
            "message_policy must be WidthPolicy or GraphemePolicy.", field="message_policy"
        )
    return settings
