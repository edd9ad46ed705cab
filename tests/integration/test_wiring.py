"""Wiring mistakes fail at open() with a clear error; the reference cart never hides silently."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence

import pytest

import torimatome
from torimatome import (
    AuthenticationFailed,
    CartEntry,
    CartError,
    CartRef,
    Choice,
    Config,
    ConfigurationError,
    Conflict,
    InvalidTransition,
    MemoryMailTransport,
    hookimpl,
)

from .office import Office, make_office


def test_a_plugin_class_instead_of_an_instance_is_refused_at_open() -> None:
    with pytest.raises(ConfigurationError, match=r"MemoryMailTransport\(\)"):
        torimatome.open("memory://", plugins=[MemoryMailTransport])


def test_a_hook_method_without_hookimpl_is_refused_at_open() -> None:
    class Forgetful:
        def torimatome_send_mail(self, message: object) -> bool:
            return True

    with pytest.raises(ConfigurationError, match="without @hookimpl"):
        torimatome.open("memory://", plugins=[Forgetful()])


def test_a_hook_with_a_misspelt_argument_or_name_is_refused_at_open() -> None:
    class WrongArgument:
        @hookimpl
        def torimatome_send_mail(self, mesage: object) -> bool:
            return True

    class WrongName:
        @hookimpl
        def torimatome_send_mails(self, message: object) -> bool:
            return True

    for plugin in (WrongArgument(), WrongName()):
        with pytest.raises(ConfigurationError):
            torimatome.open("memory://", plugins=[plugin])


def test_an_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="memory, sqlite"):
        torimatome.open("postgres://db/office")


@pytest.mark.parametrize(
    "options",
    [{"scrypt_n": 3}, {"max_quantity": 0}, {"mail_events": {"nope"}}, {"mail_charset": "sjis"}],
)
def test_bad_configuration_is_a_configuration_error(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Config(**options)  # type: ignore[arg-type]


def test_the_reference_cart_warns_once_when_it_answers_for_a_durable_store(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    office = make_office(f"sqlite:///{tmp_path}/office.sqlite3")
    office.app.pm.unregister(office.cart)  # as if the shop forgot its cart bridge
    first, second = office.request(office.sato, ("A", 1), ("B", 1)).lines
    with caplog.at_level(logging.WARNING, logger="torimatome"):
        office.app.decide(office.boss.id, {first.id: Choice.CONSOLIDATE})
        office.app.decide(office.boss.id, {second.id: Choice.CONSOLIDATE})
    warnings = [r for r in caplog.records if "reference cart" in r.getMessage()]
    assert len(warnings) == 1
    assert office.app.default_cart.line_ids() == {first.id, second.id}


def test_a_cart_answering_something_odd_is_a_cart_error_and_is_taken_back(
    storage_url: str,
) -> None:
    taken_back: list[CartRef] = []

    class Odd:
        @hookimpl
        def torimatome_add_to_cart(self, entries: Sequence[CartEntry]) -> list[object]:
            return [CartRef(entries[0].line_id, "ok-1"), ("tuple", "ref")]

        @hookimpl
        def torimatome_remove_from_cart(self, refs: Sequence[CartRef]) -> None:
            taken_back.extend(refs)

    office = make_office(storage_url, plugins=(Odd(),))
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    with pytest.raises(CartError):
        office.app.decide(office.boss.id, {a.id: Choice.CONSOLIDATE, b.id: Choice.CONSOLIDATE})
    assert taken_back == [CartRef(a.id, "ok-1")]
    assert office.app.pending_count(office.boss.id) == 2


def test_a_failed_login_says_so_in_both_languages(office: Office) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        office.app.authenticate("sato", "not-the-password")
    assert caught.value.code == "authentication_failed"
    assert caught.value.ja == "ログインIDまたはパスワードが正しくありません"


def test_conflict_reasons_are_codes_with_words_in_both_languages(office: Office) -> None:
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    office.app.withdraw(office.sato.id, b.id)
    office.app.decide(office.boss.id, {a.id: Choice.HOLD})
    with pytest.raises(Conflict) as caught:
        office.app.decide(office.boss.id, {a.id: "delete", b.id: "delete"},
                          versions={a.id: 1, b.id: 1})  # fmt: skip
    assert caught.value.lines == {a.id: "version_moved", b.id: "already_withdrawn"}
    assert "すでに「取消」です" in caught.value.ja
    assert Conflict.reason_text("version_moved", "ja") == "画面を開いた後に変更されました"


def test_mails_carry_a_date_from_the_apps_clock(office: Office) -> None:
    office.request(office.sato)
    office.app.deliver_mail()
    assert {m["Date"].datetime for m in office.mail.sent} == {office.clock.now}


@pytest.mark.parametrize(
    "clock",
    [lambda: dt.datetime(2026, 4, 6, 9, 0), lambda: "now", "not callable", lambda: 1 / 0],
    ids=["naive", "not-a-datetime", "not-callable", "raising"],
)
def test_a_bad_clock_fails_at_open(clock: object) -> None:
    with pytest.raises(ConfigurationError):
        torimatome.open("memory://", clock=clock)  # type: ignore[arg-type]


def test_plugins_must_be_a_list() -> None:
    with pytest.raises(ConfigurationError):
        torimatome.open("memory://", plugins=MemoryMailTransport())  # type: ignore[arg-type]


def test_a_shop_cart_that_returns_none_is_warned_about_even_in_memory(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Forgetful:
        @hookimpl
        def torimatome_add_to_cart(self, entries: Sequence[CartEntry]) -> None:
            [CartRef(e.line_id, f"row-{e.line_id}") for e in entries]  # no return

    office = make_office("memory://", plugins=(Forgetful(),))
    office.app.pm.unregister(office.cart)
    (line,) = office.request(office.sato).lines
    with caplog.at_level(logging.WARNING, logger="torimatome"):
        office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE})
    assert any("returned None" in r.getMessage() for r in caplog.records)


def test_record_order_names_every_line_that_is_no_longer_consolidated(office: Office) -> None:
    app, boss = office.app, office.boss.id
    a, b, c = office.request(office.sato, ("A", 1), ("B", 1), ("C", 1)).lines
    app.decide(boss, {a.id: Choice.CONSOLIDATE, b.id: Choice.CONSOLIDATE, c.id: Choice.CONSOLIDATE})
    app.release(boss, b.id)  # between the shop's checkout and record_order
    app.release(boss, c.id)
    with pytest.raises(InvalidTransition) as caught:
        app.record_order(boss, "W-1", [a.id, b.id, c.id])
    assert caught.value.lines == {b.id: "requested", c.id: "requested"}
    assert "（ほか1点）" in caught.value.ja
    assert app.record_order(boss, "W-1", [a.id])[0].status.value == "ordered"


def test_an_impossible_act_reads_well_in_japanese(office: Office) -> None:
    (line,) = office.request(office.sato).lines
    with pytest.raises(InvalidTransition) as caught:
        office.app.release(office.boss.id, line.id)
    assert caught.value.ja.startswith(
        "この商品は現在「依頼中」のため、カゴからの取り出しはできません"
    )
