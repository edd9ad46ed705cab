"""Who may do what: the matrix through the API, deactivation, and the walls between users."""

from __future__ import annotations

import pytest

from torimatome import (
    AccessDenied,
    Choice,
    Feature,
    InvalidInput,
    NewUser,
    NotFound,
    Role,
)
from torimatome.domain.errors import ACCESS_DENIED_JA

from .office import Office, make_office


def test_every_cell_of_the_matrix_is_enforced_for_both_roles(office: Office) -> None:
    app = office.app
    for spec in app.matrix.rows():
        for user in (office.boss, office.sato):
            allowed = user.role in spec.allowed
            assert app.can(user.id, spec.code) is allowed, (spec.code, user.role)
            if allowed:
                app.require(user.id, spec.code)
            else:
                with pytest.raises(AccessDenied) as caught:
                    app.require(user.id, spec.code)
                assert caught.value.ja == ACCESS_DENIED_JA


def test_internal_users_cannot_reach_the_coordinators_screens(office: Office) -> None:
    app, sato = office.app, office.sato
    (line,) = office.request(sato).lines
    calls = [
        lambda: app.pending(sato.id),
        lambda: app.pending_count(sato.id),
        lambda: app.decide(sato.id, {line.id: Choice.CONSOLIDATE}),
        lambda: app.release(sato.id, line.id),
        lambda: app.record_order(sato.id, "O-1", [line.id]),
        lambda: app.record_order_status(sato.id, "O-1", "x"),
        lambda: app.history(sato.id),
        lambda: app.register_internal_user(sato.id, NewUser(email="x@example.com")),
        lambda: app.users(sato.id),
        lambda: app.update_profile(sato.id, sato.id, facility_name="本社"),
        lambda: app.update_profile(sato.id, office.suzuki.id, nickname="x"),
        lambda: app.update_account_settings(sato.id, locale="en"),
    ]
    for call in calls:
        with pytest.raises(AccessDenied):
            call()
    assert app.pending_count(office.boss.id) == 1


def test_coordinators_do_not_file_requests(office: Office) -> None:
    with pytest.raises(AccessDenied):
        office.request(office.boss)
    assert office.app.my_requests(office.boss.id).items == ()


def test_deactivation_takes_effect_on_the_very_next_call(office: Office) -> None:
    app, boss, sato = office.app, office.boss, office.sato
    (line,) = office.request(sato).lines
    app.deactivate_user(boss.id, sato.id)
    with pytest.raises(AccessDenied):
        office.request(sato)
    with pytest.raises(AccessDenied):
        app.my_requests(sato.id)
    with pytest.raises(AccessDenied):
        app.authenticate("sato", office.passwords["sato"])
    # Their open lines stay visible to the coordinators.
    assert [ln.id for g in app.pending(boss.id) for ln in g.lines] == [line.id]
    app.reactivate_user(boss.id, sato.id)
    assert app.my_requests(sato.id).items[0].lines[0].id == line.id


def test_the_last_active_coordinator_cannot_be_deactivated(office: Office) -> None:
    app, boss = office.app, office.boss
    with pytest.raises(InvalidInput):
        app.deactivate_user(boss.id, boss.id)
    second = app.register_coordinator(boss.id, NewUser(login_id="boss2", email="b2@example.com"))
    assert second.user.role is Role.COORDINATOR
    app.deactivate_user(boss.id, second.user.id)
    with pytest.raises(InvalidInput):
        app.deactivate_user(boss.id, boss.id)


def test_any_coordinator_of_the_account_may_decide_and_is_recorded(office: Office) -> None:
    app, boss = office.app, office.boss
    second = app.register_coordinator(boss.id, NewUser(login_id="boss2")).user
    (line,) = office.request(office.sato).lines
    app.decide(second.id, {line.id: Choice.HOLD})
    stored = app.get_request(boss.id, line.request_id).lines[0]
    assert stored.decided_by == second.id
    assert stored.decided_at == office.clock.now


def test_an_internal_user_sees_nothing_of_another_users_requests(office: Office) -> None:
    app = office.app
    request = office.request(office.sato, message="私のメモ")
    app.post_message(office.sato.id, request.id, "こんにちは")
    for call in (
        lambda: app.get_request(office.suzuki.id, request.id),
        lambda: app.thread(office.suzuki.id, request.id),
        lambda: app.post_message(office.suzuki.id, request.id, "覗き見"),
        lambda: app.withdraw(office.suzuki.id, request.lines[0].id),
        lambda: app.copy_request(office.suzuki.id, request.id),
    ):
        with pytest.raises(NotFound):
            call()
    assert app.my_requests(office.suzuki.id).items == ()


def test_another_accounts_objects_are_not_found_exactly_like_missing_ones(storage_url: str) -> None:
    ours = make_office(storage_url)
    other = ours.app.create_account("他社", coordinator=NewUser(login_id="other-boss"))
    other_user = ours.app.register_internal_user(other.user.id, NewUser(login_id="other-u")).user
    request = ours.app.submit_request(other_user.id, ours.lines(("Z", 1)))
    line_id = request.lines[0].id
    ours.app.post_message(other_user.id, request.id, "他社の話")

    def not_found_text(call: object) -> tuple[str, str]:
        with pytest.raises(NotFound) as caught:
            call()  # type: ignore[operator]
        return caught.value.kind, caught.value.code

    boss = ours.boss.id
    for foreign, missing in (
        (lambda: ours.app.get_request(boss, request.id), lambda: ours.app.get_request(boss, "req_x")),
        (lambda: ours.app.thread(boss, request.id), lambda: ours.app.thread(boss, "req_x")),
        (lambda: ours.app.decide(boss, {line_id: "hold"}), lambda: ours.app.decide(boss, {"l_x": "hold"})),
        (lambda: ours.app.release(boss, line_id), lambda: ours.app.release(boss, "l_x")),
        (lambda: ours.app.history(boss, requester_id=other_user.id), lambda: ours.app.history(boss, requester_id="u_x")),
        (lambda: ours.app.deactivate_user(boss, other_user.id), lambda: ours.app.deactivate_user(boss, "u_x")),
        (lambda: ours.app.get_user(boss, other_user.id), lambda: ours.app.get_user(boss, "u_x")),
        (lambda: ours.app.post_message(boss, request.id, "x"), lambda: ours.app.post_message(boss, "req_x", "x")),
        (lambda: ours.app.record_order(boss, "O", [line_id]), lambda: ours.app.record_order(boss, "O", ["l_x"])),
    ):  # fmt: skip
        assert not_found_text(foreign) == not_found_text(missing)
    assert ours.app.pending_count(boss) == 0
    assert ours.app.history(boss).items == ()
    assert ours.app.pending_count(other.user.id) == 1
    ours.app.close()


def test_facility_fields_are_changed_by_coordinators_only(office: Office) -> None:
    app = office.app
    me = app.update_profile(office.sato.id, office.sato.id, nickname="さとう", news_mail=True)
    assert (me.nickname, me.news_mail, me.version) == ("さとう", True, 2)
    changed = app.update_profile(office.boss.id, office.sato.id, facility_name="大阪支店")
    assert changed.facility_name == "大阪支店"
    assert changed.nickname == "さとう"
    assert app.can(office.sato.id, Feature.FACILITY_INFO_CHANGE) is False


def test_a_renamed_users_old_messages_show_the_new_name(office: Office) -> None:
    app = office.app
    request = office.request(office.sato)
    posted = app.post_message(office.sato.id, request.id, "よろしくお願いします")
    app.update_profile(office.sato.id, office.sato.id, nickname="佐藤（経理）")
    (message,) = app.thread(office.boss.id, request.id)
    assert message.id == posted.id
    assert message.author_id == office.sato.id
    assert message.author_name == "佐藤（経理）"


def test_password_change_needs_the_current_password(office: Office) -> None:
    app = office.app
    with pytest.raises(AccessDenied):
        app.change_password(office.sato.id, current="wrong-one", new="new-password-1")
    app.change_password(office.sato.id, current=office.passwords["sato"], new="new-password-1")
    assert app.authenticate("sato", "new-password-1").id == office.sato.id
    with pytest.raises(AccessDenied):
        app.authenticate("sato", office.passwords["sato"])
    with pytest.raises(AccessDenied):
        app.authenticate("nobody", "whatever-password")


def test_a_role_change_applies_on_the_very_next_call(office: Office) -> None:
    app, boss, sato = office.app, office.boss, office.sato
    (line,) = office.request(sato).lines
    promoted = app.set_role(boss.id, sato.id, Role.COORDINATOR)
    assert promoted.role is Role.COORDINATOR
    assert app.pending_count(sato.id) == 1
    with pytest.raises(AccessDenied):
        office.request(sato)
    with pytest.raises(AccessDenied):  # nobody approves their own request
        app.decide(sato.id, {line.id: Choice.CONSOLIDATE})
    app.decide(boss.id, {line.id: Choice.HOLD})
    app.set_role(sato.id, boss.id, Role.INTERNAL)
    with pytest.raises(AccessDenied):
        app.pending(boss.id)
    with pytest.raises(InvalidInput):
        app.set_role(sato.id, sato.id, Role.INTERNAL)  # the last active coordinator
    with pytest.raises(InvalidInput):
        app.set_role(sato.id, boss.id, "admin")  # type: ignore[arg-type]
