"""Accounts, users and permissions: registration, roles, profiles and the matrix."""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from ..domain.accounts import (
    DEFAULT_TIMEZONE,
    Account,
    AccountSettings,
    check_account_name,
    check_timezone,
)
from ..domain.errors import (
    AccessDenied,
    AuthenticationFailed,
    InvalidInput,
    NotFound,
    StorageError,
)
from ..domain.events import UserRegistered
from ..domain.features import Feature
from ..domain.message_policy import GraphemePolicy, WidthPolicy
from ..domain.roles import Role
from ..domain.users import FACILITY_FIELDS, NewUser, User, validate_profile
from ..domain.validation import check_id, check_login_id, check_text
from ..domain.views import Registration
from ..ports.mail import MailContext
from ..ports.storage import UnitOfWork
from .core import Service
from .mail_templates import USER
from .mailer import coordinators

__all__ = ["Accounts"]

_MAX_PASSWORD = 128
_MIN_PASSWORD = 8


class Accounts(Service):
    """Accounts, users and permissions."""

    def create_account(
        self,
        name: str,
        *,
        coordinator: NewUser,
        timezone: str = DEFAULT_TIMEZONE,
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
            raise InvalidInput(
                f"Login ID {login_id!r} is already in use.",
                ja="このログインIDは既に使われています",
                field="login_id",
            )
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
        if not isinstance(role, str) or role not in Role._value2member_map_:
            raise InvalidInput(
                "role must be Role.COORDINATOR or Role.INTERNAL.",
                ja="役割の指定が正しくありません",
                field="role",
            )
        role = Role(role)
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
        """The active user with this login ID and password, else :class:`AuthenticationFailed`.

        A password hashed at an older cost is rehashed at the current one on success.
        """
        login = check_login_id(login_id)
        if not isinstance(password, str) or len(password) > _MAX_PASSWORD:
            raise InvalidInput("password must be a str.", field="password")
        with self._unit(write=False) as uow:
            user = uow.users.by_login_id(login)
            hashed = uow.users.password_hash(user.id) if user else None
        ok = self._hasher.verify(password, hashed or self._dummy_hash)
        outdated = hashed is not None and self._hasher.needs_rehash(hashed)
        if outdated:
            # A hash made at an older cost checks faster than the dummy an unknown login pays
            # for; pay the current cost too, so timing does not tell which login IDs exist.
            self._hasher.verify(password, self._dummy_hash)
        if user is None or not ok or not user.active:
            raise AuthenticationFailed()
        if outdated:
            with self._unit() as uow:
                uow.users.set_password_hash(user.id, self._hasher.hash(password))
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
                raise AuthenticationFailed(
                    "The current password is incorrect.", ja="現在のパスワードが正しくありません"
                )
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
        cart_message_policy: WidthPolicy | GraphemePolicy | None = None,
    ) -> Account:
        """Change the account's message policies, retention window or mail locale (会社情報)."""
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.COMPANY_INFO_CHANGE)
            account = self._account(uow, user.account_id)
            changes: dict[str, Any] = {}
            if message_policy is not None:
                changes["message_policy"] = message_policy
            if cart_message_policy is not None:
                changes["cart_message_policy"] = cart_message_policy
            if retention_months is not None:
                changes["retention_months"] = retention_months
            if locale is not None:
                changes["locale"] = locale
            settings = _check_settings(attrs.evolve(account.settings, **changes))
            updated = attrs.evolve(account, settings=settings)
            uow.accounts.update(updated)
            return updated

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


def _check_settings(settings: object) -> AccountSettings:
    if not isinstance(settings, AccountSettings):
        raise InvalidInput("settings must be AccountSettings.", field="settings")
    for name in ("message_policy", "cart_message_policy"):
        if not isinstance(getattr(settings, name), WidthPolicy | GraphemePolicy):
            raise InvalidInput(f"{name} must be WidthPolicy or GraphemePolicy.", field=name)
    return settings
