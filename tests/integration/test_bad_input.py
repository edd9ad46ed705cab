"""Bad input at every public entry point: a clear, typed error, and nothing changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from torimatome import (
    AccessDenied,
    Choice,
    Conflict,
    InvalidInput,
    NewLine,
    NewUser,
    NotFound,
    TorimatomeError,
)

from .office import Office, make_office, snapshot

LONG = "あ" * 51


def line(**overrides: Any) -> NewLine:
    fields: dict[str, Any] = {"sku": "A-1", "name": "コピー用紙", "quantity": 1,
                              "unit_price": Decimal("100")}  # fmt: skip
    fields.update(overrides)
    return NewLine(**fields)


def bad_calls(office: Office) -> list[tuple[str, Callable[[], object], type[Exception]]]:
    app, boss, sato = office.app, office.boss, office.sato
    request = office.request(sato, ("A", 1), ("B", 1))
    lid = request.lines[0].id
    return [
        ("quantity 0", lambda: app.submit_request(sato.id, [line(quantity=0)]), InvalidInput),
        ("quantity -1", lambda: app.submit_request(sato.id, [line(quantity=-1)]), InvalidInput),
        ("quantity huge", lambda: app.submit_request(sato.id, [line(quantity=10**30)]), InvalidInput),
        ("quantity over max", lambda: app.submit_request(sato.id, [line(quantity=10000)]), InvalidInput),
        ("quantity fraction", lambda: app.submit_request(sato.id, [line(quantity=1.5)]), InvalidInput),
        ("quantity string", lambda: app.submit_request(sato.id, [line(quantity="2")]), InvalidInput),
        ("quantity bool", lambda: app.submit_request(sato.id, [line(quantity=True)]), InvalidInput),
        ("price float", lambda: app.submit_request(sato.id, [line(unit_price=1.1)]), InvalidInput),
        ("price NaN", lambda: app.submit_request(sato.id, [line(unit_price=Decimal("NaN"))]), InvalidInput),
        ("price -1", lambda: app.submit_request(sato.id, [line(unit_price=Decimal("-1"))]), InvalidInput),
        ("no lines", lambda: app.submit_request(sato.id, []), InvalidInput),
        ("lines not a list", lambda: app.submit_request(sato.id, "A-1"), InvalidInput),  # type: ignore[arg-type]
        ("line not NewLine", lambda: app.submit_request(sato.id, [{"sku": "A"}]), InvalidInput),  # type: ignore[list-item]
        ("sku newline", lambda: app.submit_request(sato.id, [line(sku="A\nB")]), InvalidInput),
        ("long message", lambda: app.submit_request(sato.id, [line()], LONG), InvalidInput),
        ("message newline", lambda: app.submit_request(sato.id, [line()], "a\nb"), InvalidInput),
        ("message bidi", lambda: app.submit_request(sato.id, [line()], "a\u202eb"), InvalidInput),
        ("message control", lambda: app.submit_request(sato.id, [line()], "a\x07"), InvalidInput),
        ("message surrogate", lambda: app.submit_request(sato.id, [line()], "a\ud800"), InvalidInput),
        ("message not str", lambda: app.submit_request(sato.id, [line()], 5), InvalidInput),  # type: ignore[arg-type]
        ("actor None", lambda: app.submit_request(None, [line()]), InvalidInput),  # type: ignore[arg-type]
        ("actor unknown", lambda: app.submit_request("usr_nobody", [line()]), AccessDenied),
        ("idempotency key type", lambda: app.submit_request(sato.id, [line()], idempotency_key=5), InvalidInput),  # type: ignore[arg-type]
        ("withdraw unknown", lambda: app.withdraw(sato.id, "line_x"), NotFound),
        ("withdraw wrong type", lambda: app.withdraw(sato.id, 7), InvalidInput),  # type: ignore[arg-type]
        ("decide empty", lambda: app.decide(boss.id, {}), InvalidInput),
        ("decide bad choice", lambda: app.decide(boss.id, {lid: "approve"}), InvalidInput),
        ("decide list", lambda: app.decide(boss.id, [lid]), InvalidInput),  # type: ignore[arg-type]
        ("decide unknown", lambda: app.decide(boss.id, {lid: Choice.HOLD, "line_x": Choice.HOLD}), NotFound),
        ("decide stale", lambda: app.decide(boss.id, {lid: Choice.HOLD}, versions={lid: 7}), Conflict),
        ("decide bool version", lambda: app.decide(boss.id, {lid: Choice.HOLD}, versions={lid: True}), InvalidInput),
        ("post empty", lambda: app.post_message(sato.id, request.id, "   \n "), InvalidInput),
        ("post long", lambda: app.post_message(sato.id, request.id, LONG), InvalidInput),
        ("post control", lambda: app.post_message(sato.id, request.id, "a\x00"), InvalidInput),
        ("post unknown request", lambda: app.post_message(sato.id, "req_x", "hi"), NotFound),
        ("history since>until", lambda: app.history(boss.id, since=dt.date(2026, 5, 1), until=dt.date(2026, 4, 1)), InvalidInput),
        ("history datetime", lambda: app.history(boss.id, since=dt.datetime(2026, 4, 1)), InvalidInput),  # type: ignore[arg-type]
        ("history limit 0", lambda: app.history(boss.id, limit=0), InvalidInput),
        ("history limit huge", lambda: app.history(boss.id, limit=10**9), InvalidInput),
        ("history bad cursor", lambda: app.history(boss.id, cursor="!!!"), InvalidInput),
        ("register bad email", lambda: app.register_internal_user(boss.id, NewUser(email="a@b\r\nBcc: x@y")), InvalidInput),
        ("register newline name", lambda: app.register_internal_user(boss.id, NewUser(nickname="a\nb")), InvalidInput),
        ("register bad login", lambda: app.register_internal_user(boss.id, NewUser(login_id="a b")), InvalidInput),
        ("register taken login", lambda: app.register_internal_user(boss.id, NewUser(login_id="sato")), InvalidInput),
        ("register not NewUser", lambda: app.register_internal_user(boss.id, {"login_id": "x"}), InvalidInput),  # type: ignore[arg-type]
        ("profile unknown field", lambda: app.update_profile(sato.id, sato.id, role="coordinator"), InvalidInput),
        ("profile bool type", lambda: app.update_profile(sato.id, sato.id, news_mail="yes"), InvalidInput),
        ("profile header injection", lambda: app.update_profile(sato.id, sato.id, email="x@y.z\nBcc: a@b"), InvalidInput),
        ("order id newline", lambda: app.record_order(boss.id, "O\n1", [lid]), InvalidInput),
        ("order lines str", lambda: app.record_order(boss.id, "O1", lid), InvalidInput),  # type: ignore[arg-type]
        ("status empty", lambda: app.record_order_status(boss.id, "O1", ""), InvalidInput),
        ("retention zero", lambda: app.update_account_settings(boss.id, retention_months=0), InvalidInput),
        ("locale", lambda: app.update_account_settings(boss.id, locale="fr"), InvalidInput),
        ("purge dry_run type", lambda: app.purge_expired(dry_run="yes"), InvalidInput),  # type: ignore[arg-type]
        ("password short", lambda: app.change_password(sato.id, current=office.passwords["sato"], new="short"), InvalidInput),
    ]  # fmt: skip


def test_every_bad_call_raises_its_typed_error_and_changes_nothing(storage_url: str) -> None:
    office = make_office(storage_url)
    calls = bad_calls(office)
    before = snapshot(office)
    for name, call, expected in calls:
        with pytest.raises(expected) as caught:
            call()
        error = caught.value
        assert isinstance(error, TorimatomeError), name
        assert error.code, name
        assert error.ja, name
        assert error.en, name
        assert snapshot(office) == before, name
    office.app.close()


def test_an_over_long_message_error_says_the_measured_length_and_the_limit(office: Office) -> None:
    with pytest.raises(InvalidInput) as caught:
        office.request(office.sato, message="あ" * 56)
    assert (
        caught.value.ja
        == "メッセージは全角50文字（半角100文字）以内で入力してください（現在 112/100）"
    )
    assert caught.value.details["measured"] == 112


anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec="utf-8", categories=("Cc", "Cf", "Zl", "Zp")), max_size=5),
    st.binary(max_size=10),
    st.lists(st.integers(), max_size=3),
    st.dates(),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sku=anything, name=anything, quantity=anything, price=anything, message=anything)
def test_fuzzed_submissions_either_succeed_or_raise_a_torimatome_error(
    office: Office, sku: object, name: object, quantity: object, price: object, message: object
) -> None:
    app = office.app
    before = snapshot(office)
    try:
        new_line = NewLine(sku=sku, name=name, quantity=quantity, unit_price=price)  # type: ignore[arg-type]
        app.submit_request(office.sato.id, [new_line], message)  # type: ignore[arg-type]
    except TorimatomeError:
        assert snapshot(office) == before
