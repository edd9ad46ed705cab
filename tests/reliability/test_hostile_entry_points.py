"""Every public entry point fuzzed: each argument is either a valid value or something hostile
(wrong types, None, huge and negative numbers, NaN and infinite decimals, a 10 MB string, lone
surrogates, control and bidi-override characters, SQL metacharacters, header-injection
newlines). The only outcomes are success or a torimatome error, and an error changes nothing.
Credentials: salted slow hashes compared in constant time, login IDs of a documented syntax,
generated passwords from ``secrets``."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import torimatome
from torimatome import Choice, NewLine, NewUser, Role, TorimatomeError
from torimatome.adapters import credentials

from ..integration.office import Office, make_office
from .harness import record_figures, scale

TEN_MB = "あ" * (10 * 1024 * 1024 // 3)  # 10 MB of UTF-8

hostile_text = st.sampled_from([
    TEN_MB, "", " ", "\ud800", "a\udfffb", "\u202eevil", "\u2066x\u2069", "\x00", "\x1b[31m",
    "\r\nBcc: evil@example.com", "x\nSubject: hi", "=?utf-8?b?PGV2aWxAZXhhbXBsZS5jb20+?=",
    "'; DROP TABLE lines; --", "\" OR 1=1 --", "%s%s%n", "../../etc/passwd", "\u200d" * 50,
    "e\u0301" * 40, "🇯🇵" * 30, "ｱｲｳ", "NaN", "-1", "1e309",
])  # fmt: skip
hostile = st.one_of(
    hostile_text,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([10**100, -(2**63), 2**63, 2**64 + 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            Decimal("NaN"),
            Decimal("sNaN"),
            Decimal("Infinity"),
            Decimal("-0"),
            Decimal("1E+999999"),
            Decimal("1E-999999"),
        ]
    ),
    st.text(max_size=40),
    st.binary(max_size=20),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.sampled_from([object(), dt.date(1, 1, 1), dt.datetime(9999, 12, 31), Role.COORDINATOR]),
)

keys = st.one_of(hostile_text, st.integers(), st.none(), st.text(max_size=10), st.booleans())


def maybe(valid: Any) -> st.SearchStrategy[Any]:
    """Mostly the valid value, so a hostile one often comes alone and reaches deep."""
    return st.one_of(st.just(valid), st.just(valid), hostile)


def new_lines(sku: Any, name: Any, qty: Any, price: Any) -> Any:
    return [NewLine(sku=sku, name=name, quantity=qty, unit_price=price)]


def consolidated_line(o: Office) -> str:
    (line,) = o.request(o.sato).lines
    o.app.decide(o.boss.id, {line.id: Choice.CONSOLIDATE})
    return line.id


def ordered(o: Office) -> str:
    o.app.record_order(o.boss.id, "O-1", [consolidated_line(o)])
    return "O-1"


# name -> (arguments from the office, the call)
Build = Callable[[Office], dict[str, st.SearchStrategy[Any]]]
ENTRY_POINTS: dict[str, tuple[Build, Callable[..., object]]] = {
    "create_account": (lambda o: {"name": maybe("新会社"), "login": maybe("newboss"), "email": maybe("n@example.com"), "tz": maybe("Asia/Tokyo")},
                       lambda o, name, login, email, tz: o.app.create_account(name, coordinator=NewUser(login_id=login, email=email), timezone=tz)),
    "register_internal_user": (lambda o: {"actor": maybe(o.boss.id), "login": maybe("newuser"), "email": maybe("u@example.com"), "nick": maybe("新人")},
                               lambda o, actor, login, email, nick: o.app.register_internal_user(actor, NewUser(login_id=login, email=email, nickname=nick))),
    "register_coordinator": (lambda o: {"actor": maybe(o.boss.id), "login": maybe("newco")},
                             lambda o, actor, login: o.app.register_coordinator(actor, NewUser(login_id=login))),
    "deactivate_user": (lambda o: {"actor": maybe(o.boss.id), "uid": maybe(o.suzuki.id)}, lambda o, actor, uid: o.app.deactivate_user(actor, uid)),
    "reactivate_user": (lambda o: {"actor": maybe(o.boss.id), "uid": maybe(o.suzuki.id)}, lambda o, actor, uid: o.app.reactivate_user(actor, uid)),
    "set_role": (lambda o: {"actor": maybe(o.boss.id), "uid": maybe(o.suzuki.id), "role": maybe(Role.INTERNAL)}, lambda o, actor, uid, role: o.app.set_role(actor, uid, role)),
    "authenticate": (lambda o: {"login": maybe("sato"), "pw": maybe(o.passwords["sato"])}, lambda o, login, pw: o.app.authenticate(login, pw)),
    "get_user": (lambda o: {"actor": maybe(o.boss.id), "uid": maybe(o.sato.id)}, lambda o, actor, uid: o.app.get_user(actor, uid)),
    "users": (lambda o: {"actor": maybe(o.boss.id)}, lambda o, actor: o.app.users(actor)),
    "update_profile": (lambda o: {"actor": maybe(o.sato.id), "uid": maybe(o.sato.id), "field": st.sampled_from(["nickname", "email", "gender", "industry", "job_type", "work_region", "news_mail", "facility_name", "phone", "role", "id", "version"]), "value": hostile},
                       lambda o, actor, uid, field, value: o.app.update_profile(actor, uid, **{field: value})),
    "change_password": (lambda o: {"actor": maybe(o.sato.id), "current": maybe(o.passwords["sato"]), "new": hostile},
                        lambda o, actor, current, new: o.app.change_password(actor, current=current, new=new)),
    "account": (lambda o: {"actor": maybe(o.boss.id)}, lambda o, actor: o.app.account(actor)),
    "update_account_settings": (lambda o: {"actor": maybe(o.boss.id), "months": maybe(15), "locale": maybe("en")},
                                lambda o, actor, months, locale: o.app.update_account_settings(actor, retention_months=months, locale=locale)),
    "can": (lambda o: {"actor": maybe(o.sato.id), "feature": maybe("consolidation")}, lambda o, actor, feature: o.app.can(actor, feature)),
    "require": (lambda o: {"actor": maybe(o.boss.id), "feature": maybe("purchase")}, lambda o, actor, feature: o.app.require(actor, feature)),
    "submit_request": (lambda o: {"actor": maybe(o.sato.id), "sku": maybe("A-1"), "name": maybe("紙"), "qty": maybe(2), "price": maybe(Decimal("100")), "message": maybe("至急"), "key": maybe("k-1")},
                       lambda o, actor, sku, name, qty, price, message, key: o.app.submit_request(actor, new_lines(sku, name, qty, price), message, idempotency_key=key)),
    "copy_request": (lambda o: {"actor": maybe(o.sato.id), "rid": maybe(o.request(o.sato).id), "message": maybe(None), "key": maybe(None)},
                     lambda o, actor, rid, message, key: o.app.copy_request(actor, rid, message=message, idempotency_key=key)),
    "withdraw": (lambda o: {"actor": maybe(o.sato.id), "lid": maybe(o.request(o.sato).lines[0].id)}, lambda o, actor, lid: o.app.withdraw(actor, lid)),
    "post_message": (lambda o: {"actor": maybe(o.sato.id), "rid": maybe(o.request(o.sato).id), "body": maybe("よろしく")}, lambda o, actor, rid, body: o.app.post_message(actor, rid, body)),
    "thread": (lambda o: {"actor": maybe(o.sato.id), "rid": maybe(o.request(o.sato).id)}, lambda o, actor, rid: o.app.thread(actor, rid)),
    "pending": (lambda o: {"actor": maybe(o.boss.id)}, lambda o, actor: o.app.pending(actor)),
    "pending_count": (lambda o: {"actor": maybe(o.boss.id)}, lambda o, actor: o.app.pending_count(actor)),
    "decide": (lambda o: (lambda lid: {"actor": maybe(o.boss.id), "choices": st.one_of(st.just({lid: Choice.CONSOLIDATE}), st.dictionaries(keys, hostile, max_size=3), st.dictionaries(st.just(lid), hostile, max_size=1), hostile),
                                       "versions": st.one_of(st.just({lid: 1}), st.dictionaries(keys, hostile, max_size=3), st.dictionaries(st.just(lid), hostile, max_size=1), hostile), "key": maybe("d-1")})(o.request(o.sato).lines[0].id),
               lambda o, actor, choices, versions, key: o.app.decide(actor, choices, versions, idempotency_key=key)),
    "release": (lambda o: {"actor": maybe(o.boss.id), "lid": maybe(consolidated_line(o))}, lambda o, actor, lid: o.app.release(actor, lid)),
    "record_order": (lambda o: {"actor": maybe(o.boss.id), "oid": maybe("O-1"), "lid": maybe(consolidated_line(o)), "status": maybe("受付")},
                     lambda o, actor, oid, lid, status: o.app.record_order(actor, oid, [lid], order_status=status)),
    "record_order_status": (lambda o: {"actor": maybe(o.boss.id), "oid": maybe(ordered(o)), "status": maybe("出荷済み")},
                            lambda o, actor, oid, status: o.app.record_order_status(actor, oid, status)),
    "get_request": (lambda o: {"actor": maybe(o.boss.id), "rid": maybe(o.request(o.sato).id)}, lambda o, actor, rid: o.app.get_request(actor, rid)),
    "history": (lambda o: {"actor": maybe(o.boss.id), "since": maybe(dt.date(2026, 4, 1)), "until": maybe(None), "who": maybe(None), "limit": maybe(10), "cursor": maybe(None)},
                lambda o, actor, since, until, who, limit, cursor: o.app.history(actor, since, until, who, limit, cursor)),
    "my_requests": (lambda o: {"actor": maybe(o.sato.id), "since": maybe(None), "until": maybe(dt.date(2026, 5, 1)), "limit": maybe(10), "cursor": maybe(None)},
                    lambda o, actor, since, until, limit, cursor: o.app.my_requests(actor, since, until, limit, cursor)),
    "purge_expired": (lambda o: {"dry_run": maybe(True)}, lambda o, dry_run: o.app.purge_expired(dry_run)),
}  # fmt: skip


def snapshot(o: Office) -> tuple[Any, ...]:
    """Everything stored and everything each account's users can see (roles and active flags
    as they are now, since a fuzzed call may have changed them)."""
    app = o.app
    with app.storage.unit_of_work(write=False) as uow:
        ids = uow.accounts.all_ids()
        accounts = tuple(uow.accounts.get(i) for i in ids)
        users = tuple(u for i in ids for u in uow.users.in_account(i))
        hashes = tuple(uow.users.password_hash(u.id) for u in users)
        outbox = tuple((m.id, m.sent_at, m.attempts) for m in uow.outbox.all())
        pending = tuple(tuple(uow.requests.pending_lines(i)) for i in ids)
    views = tuple(
        app.history(u.id, limit=500).items
        if u.role is Role.COORDINATOR
        else app.my_requests(u.id, limit=500).items
        for u in users
        if u.active
    )
    return (accounts, users, hashes, outbox, pending, views, frozenset(o.cart.line_ids()))


def test_every_public_entry_point_is_fuzzed() -> None:
    """A new public method of App must join ENTRY_POINTS (deliver_mail, close, now and
    plugins take no input)."""
    public = {name for name, _ in inspect.getmembers(torimatome.App, inspect.isfunction)
              if not name.startswith("_")}  # fmt: skip
    assert public - set(ENTRY_POINTS) == {"deliver_mail", "close", "now", "plugins"}


@pytest.mark.parametrize("entry_point", sorted(ENTRY_POINTS))
def test_hostile_arguments_give_success_or_a_torimatome_error_and_an_error_changes_nothing(
    entry_point: str, storage_url: str
) -> None:
    office = make_office(storage_url)
    build, call = ENTRY_POINTS[entry_point]
    strategies = build(office)
    tried = errors = 0

    @settings(max_examples=scale(12, 120), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.fixed_dictionaries(strategies))
    def fuzz(args: dict[str, Any]) -> None:
        nonlocal tried, errors
        tried += 1
        before = snapshot(office)
        refused: TorimatomeError | None = None
        try:
            call(office, **args)
        except TorimatomeError as exc:
            refused = exc  # anything else fails the test
        if refused is not None:
            errors += 1
            assert refused.code
            assert snapshot(office) == before, (entry_point, args, refused)

    fuzz()
    office.app.close()
    record_figures("fuzz", **{f"examples:{entry_point}": tried, f"refused:{entry_point}": errors})


# -- credentials -------------------------------------------------------------------------------


def test_passwords_are_stored_only_as_salted_slow_hashes_compared_in_constant_time() -> None:
    hasher = credentials.ScryptHasher(n=2**4)
    first, second = hasher.hash("correct horse"), hasher.hash("correct horse")
    assert first != second  # salted
    assert "correct horse" not in first
    assert first.startswith("scrypt$n=16,r=8,p=1$")
    assert hasher.verify("correct horse", first)
    assert not hasher.verify("correct horsf", first)
    assert not hasher.verify("correct horse", "scrypt$garbage")
    # The comparison is hmac.compare_digest, never ==, on the derived key.
    source = ast.parse(Path(credentials.__file__).read_text())
    calls = {ast.unparse(n.func) for n in ast.walk(source) if isinstance(n, ast.Call)}
    assert "hmac.compare_digest" in calls
    assert "hashlib.scrypt" in calls
    # Production cost: scrypt at n=2**14 unless configured.
    assert credentials.ScryptHasher().n == 2**14


def test_stored_password_hashes_never_hold_the_password(tmp_path: Path) -> None:
    office = make_office(f"sqlite:///{tmp_path / 'o.sqlite3'}")
    office.app.change_password(
        office.sato.id, current=office.passwords["sato"], new="ひみつのパスワード"
    )
    office.app.close()
    raw = (tmp_path / "o.sqlite3").read_bytes()
    for password in [*office.passwords.values(), "ひみつのパスワード"]:
        assert password.encode() not in raw


def test_generated_login_ids_and_passwords_come_from_secrets_and_follow_the_documented_syntax(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drawn: list[object] = []
    real = credentials.secrets.choice

    def spy(seq: Any) -> Any:
        drawn.append(seq)
        return real(seq)

    monkeypatch.setattr(credentials.secrets, "choice", spy)
    office = make_office("memory://")
    before = len(drawn)
    reg = office.app.register_internal_user(office.boss.id, NewUser(email="x@example.com"))
    assert len(drawn) - before >= len(reg.password) + len(reg.user.login_id) - 1
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    assert "letter or digit" in docs  # the login ID syntax is written down
    for bad in ["", "a b", "a\nb", "x" * 65, "'; --", "ｱｲｳ", "\u202eabc"]:
        with pytest.raises(torimatome.InvalidInput):
            office.app.register_internal_user(office.boss.id, NewUser(login_id=bad))
