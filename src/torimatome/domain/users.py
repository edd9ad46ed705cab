"""Users, their roles and the profile fields each of them may change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .errors import InvalidInput
from .roles import Role
from .validation import check_bool, check_email, check_login_id, check_text

__all__ = [
    "FACILITY_FIELDS",
    "PERSONAL_FIELDS",
    "NewUser",
    "User",
    "validate_profile",
]

#: Fields every user may change for themselves (登録情報, except the password: see
#: ``change_password``).
PERSONAL_FIELDS = frozenset(
    {
        "nickname",
        "gender",
        "industry",
        "job_type",
        "work_region",
        "email",
        "news_mail",
        "price_drop_mail",
    }
)
#: 施設情報: only a coordinator may change them.
FACILITY_FIELDS = frozenset({"facility_name", "department", "address", "phone"})
_BOOL_FIELDS = frozenset({"news_mail", "price_drop_mail"})
_MAX_LENGTH = {"nickname": 64, "gender": 32, "phone": 32}


@attrs.frozen
class User:
    """A person who logs in: a coordinator or an internal user of one account."""

    id: str
    account_id: str
    login_id: str
    role: Role
    active: bool = True
    nickname: str = ""
    email: str = ""
    gender: str = ""
    industry: str = ""
    job_type: str = ""
    work_region: str = ""
    news_mail: bool = False
    price_drop_mail: bool = False
    facility_name: str = ""
    department: str = ""
    address: str = ""
    phone: str = ""
    version: int = 1

    @property
    def display_name(self) -> str:
        return self.nickname or self.login_id

    def changed(self, **fields: Any) -> User:
        """A new version of this user with ``fields`` replaced (and the version moved on)."""
        return attrs.evolve(self, version=self.version + 1, **fields)


@attrs.frozen(kw_only=True)
class NewUser:
    """What a coordinator enters to register a user; ``login_id=None`` generates one."""

    login_id: str | None = None
    email: str = ""
    nickname: str = ""
    gender: str = ""
    industry: str = ""
    job_type: str = ""
    work_region: str = ""
    news_mail: bool = False
    price_drop_mail: bool = False
    facility_name: str = ""
    department: str = ""
    address: str = ""
    phone: str = ""

    def profile(self) -> dict[str, Any]:
        """Every field but the login ID, validated."""
        fields = attrs.asdict(self)
        fields.pop("login_id")
        return validate_profile(fields)

    def checked_login_id(self) -> str | None:
        return None if self.login_id is None else check_login_id(self.login_id)


def validate_profile(fields: Mapping[str, object]) -> dict[str, Any]:
    """Validate profile fields by name; unknown names are refused, not ignored."""
    known = PERSONAL_FIELDS | FACILITY_FIELDS
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in known:
            raise InvalidInput(f"Unknown profile field {name!r}.", field=str(name))
        if name in _BOOL_FIELDS:
            out[name] = check_bool(value, name)
        elif name == "email":
            out[name] = check_email(value)
        else:
            out[name] = check_text(value, name, max_length=_MAX_LENGTH.get(name, 200))
    return out
