"""Users, roles and profile fields (DESIGN §1, Accounts and users)."""

from __future__ import annotations

import attrs
import pytest

from torimatome.domain.errors import InvalidInput
from torimatome.domain.roles import Role
from torimatome.domain.users import (
    FACILITY_FIELDS,
    PERSONAL_FIELDS,
    NewUser,
    User,
    validate_profile,
)

#: DESIGN.md §1, "Shapes the public API returns": the User fields, in order.
USER_FIELDS = [
    "id",
    "account_id",
    "login_id",
    "role",
    "active",
    "nickname",
    "email",
    "gender",
    "industry",
    "job_type",
    "work_region",
    "news_mail",
    "price_drop_mail",
    "facility_name",
    "department",
    "address",
    "phone",
    "version",
]


def make_user(**changes: object) -> User:
    return attrs.evolve(
        User(id="U1", account_id="A1", login_id="taro", role=Role.INTERNAL), **changes
    )


def test_the_profile_fields_are_the_personal_and_the_facility_fields() -> None:
    assert {
        "nickname",
        "gender",
        "industry",
        "job_type",
        "work_region",
        "email",
        "news_mail",
        "price_drop_mail",
    } == PERSONAL_FIELDS
    assert {"facility_name", "department", "address", "phone"} == FACILITY_FIELDS
    assert not PERSONAL_FIELDS & FACILITY_FIELDS


def test_a_user_has_exactly_the_documented_fields() -> None:
    assert [field.name for field in attrs.fields(User)] == USER_FIELDS


@pytest.mark.parametrize("name", ["password", "login_id", "role", "active", "version", "Nickname"])
def test_validate_profile_refuses_unknown_field_names(name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_profile({name: "x"})
    assert caught.value.field == name


@pytest.mark.parametrize("value", ["yes", 1, 0, None, "True"], ids=repr)
@pytest.mark.parametrize("name", ["news_mail", "price_drop_mail"])
def test_validate_profile_wants_real_bools_for_the_mail_opt_ins(name: str, value: object) -> None:
    with pytest.raises(InvalidInput):
        validate_profile({name: value})


@pytest.mark.parametrize(
    "value", ["太郎\n", "太\r郎", "太郎\r\n", "太\x00郎", "太\u202e郎"], ids=repr
)
def test_validate_profile_refuses_line_breaks_and_controls_in_the_nickname(value: str) -> None:
    with pytest.raises(InvalidInput):
        validate_profile({"nickname": value})


def test_validate_profile_refuses_a_malformed_email() -> None:
    with pytest.raises(InvalidInput):
        validate_profile({"email": "taro@example.com\r\nBcc: x@example.com"})


def test_validate_profile_refuses_an_over_long_nickname() -> None:
    assert validate_profile({"nickname": "あ" * 64}) == {"nickname": "あ" * 64}
    with pytest.raises(InvalidInput):
        validate_profile({"nickname": "あ" * 65})


def test_validate_profile_returns_the_checked_fields_exactly_as_given() -> None:
    fields = {
        "nickname": "Jose\u0301",
        "email": "jose@example.com",
        "news_mail": True,
        "price_drop_mail": False,
        "facility_name": "本社",
        "phone": "03-0000-0000",
    }
    assert validate_profile(fields) == fields


def test_validate_profile_of_nothing_is_nothing() -> None:
    assert validate_profile({}) == {}


def test_a_new_users_profile_is_every_field_but_the_login_id() -> None:
    new = NewUser(login_id="hanako", nickname="花子", email="hanako@example.com", news_mail=True)
    profile = new.profile()
    assert set(profile) == PERSONAL_FIELDS | FACILITY_FIELDS
    assert "login_id" not in profile
    assert profile["nickname"] == "花子"
    assert profile["email"] == "hanako@example.com"
    assert profile["news_mail"] is True
    assert profile["phone"] == ""


def test_a_new_users_profile_is_validated() -> None:
    with pytest.raises(InvalidInput):
        NewUser(nickname="花子\n").profile()


def test_a_new_users_login_id_is_checked_or_left_for_generation() -> None:
    assert NewUser().checked_login_id() is None
    assert NewUser(login_id="hanako").checked_login_id() == "hanako"
    with pytest.raises(InvalidInput):
        NewUser(login_id="花子").checked_login_id()


def test_changing_a_user_bumps_the_version_and_keeps_the_original() -> None:
    user = make_user(version=4)
    renamed = user.changed(nickname="太郎")
    assert renamed.nickname == "太郎"
    assert renamed.version == 5
    assert renamed.changed(active=False).version == 6
    assert user.nickname == ""
    assert user.version == 4


def test_a_users_display_name_falls_back_to_the_login_id() -> None:
    assert make_user().display_name == "taro"
    assert make_user(nickname="太郎").display_name == "太郎"


def test_roles_have_japanese_and_english_labels() -> None:
    assert Role.COORDINATOR.label_ja == "とりまとめ担当者"
    assert Role.INTERNAL.label_ja == "社内ユーザー"
    assert Role.COORDINATOR.label_en
    assert Role.INTERNAL.label_en
    assert Role("coordinator") is Role.COORDINATOR
