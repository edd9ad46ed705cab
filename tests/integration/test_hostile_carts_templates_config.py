"""Hostile carts, mail templates, configuration and caller objects; each test guards one class
of fault."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from email.message import EmailMessage
from typing import Any

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
    FeatureSpec,
    InvalidInput,
    NewUser,
    hookimpl,
)

from .office import make_office, snapshot


class PerCoordinatorCart:
    """A shop cart kept per coordinator, as the hooks' coordinator_id invites."""

    def __init__(self) -> None:
        self.carts: dict[str, dict[str, CartEntry]] = {}

    @hookimpl
    def torimatome_add_to_cart(
        self, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        cart = self.carts.setdefault(coordinator_id, {})
        for entry in entries:
            cart[f"row-{entry.line_id}"] = entry
        return [CartRef(e.line_id, f"row-{e.line_id}") for e in entries]

    @hookimpl
    def torimatome_remove_from_cart(self, coordinator_id: str, refs: Sequence[CartRef]) -> None:
        for ref in refs:
            self.carts.get(coordinator_id, {}).pop(ref.ref, None)

    def lines(self) -> list[str]:
        return sorted(e.line_id for cart in self.carts.values() for e in cart.values())


def test_a_release_by_another_coordinator_empties_the_cart_that_holds_the_line(
    storage_url: str,
) -> None:
    cart = PerCoordinatorCart()
    office = make_office(storage_url, plugins=(cart,))
    app = office.app
    tanaka = app.register_coordinator(office.boss.id, NewUser(login_id="tanaka")).user
    (line,) = office.request(office.sato).lines
    app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE})
    app.release(tanaka.id, line.id)
    assert cart.lines() == []
    app.decide(tanaka.id, {line.id: Choice.CONSOLIDATE})
    assert cart.lines() == [line.id]


@pytest.mark.parametrize(
    "answer",
    [
        lambda e: [CartRef(e[0].line_id, None), CartRef(e[1].line_id, "r-2")],  # type: ignore[arg-type]
        lambda e: [CartRef(e[0].line_id, 12345), CartRef(e[1].line_id, "r-2")],  # type: ignore[arg-type]
        lambda e: [CartRef(e[0].line_id, "row-x"), CartRef(e[1].line_id, "row-x")],
        lambda e: [CartRef(e[0].line_id, "r-1", "abc"), CartRef(e[1].line_id, "r-2")],  # type: ignore[arg-type]
        lambda e: [CartRef(e[0].line_id, "r-1", 99.5), CartRef(e[1].line_id, "r-2")],  # type: ignore[arg-type]
        lambda e: [CartRef(e[0].line_id, "r\n1"), CartRef(e[1].line_id, "r-2")],
    ],
    ids=["none-ref", "int-ref", "shared-ref", "text-price", "float-price", "newline-ref"],
)
def test_a_malformed_cart_answer_is_a_cart_error_and_is_handed_back(
    storage_url: str, answer: Any
) -> None:
    handed_back: list[CartRef] = []

    class Odd:
        @hookimpl
        def torimatome_add_to_cart(self, entries: Sequence[CartEntry]) -> list[CartRef]:
            return list(answer(entries))

        @hookimpl
        def torimatome_remove_from_cart(self, refs: Sequence[CartRef]) -> None:
            handed_back.extend(refs)

    office = make_office(storage_url, plugins=(Odd(),))
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    before = snapshot(office)
    with pytest.raises(CartError):
        office.app.decide(office.boss.id, {a.id: "consolidate", b.id: "consolidate"},
                          idempotency_key="k")  # fmt: skip
    assert snapshot(office) == before
    assert len(handed_back) == 2


def test_a_shared_template_object_cannot_send_one_accounts_mail_to_another(
    storage_url: str,
) -> None:
    notice = EmailMessage()
    notice["Subject"] = "New order request"
    notice.set_content("Please have a look.")

    class Templates:
        @hookimpl
        def torimatome_compose_mail(self, event: Any) -> EmailMessage | None:
            return notice if event.recipient_role == "coordinator" else None

    office = make_office(storage_url, plugins=(Templates(),))
    other = office.app.create_account("他社", coordinator=NewUser(login_id="b-boss",
                                                                  email="b-boss@b.example"))  # fmt: skip
    b_staff = office.app.register_internal_user(other.user.id, NewUser(login_id="b-staff")).user
    office.request(office.sato)
    office.app.submit_request(b_staff.id, office.lines(("Z", 1)))
    office.app.deliver_mail()
    coordinator_mails = [
        str(m["To"]) for m in office.mail.sent if m["Subject"] == "New order request"
    ]
    assert sorted(coordinator_mails) == ["b-boss <b-boss@b.example>", "山田 <boss@example.com>"]
    assert notice["To"] is None  # the shop's own object was left alone


@pytest.mark.parametrize("header", ["To", "Cc", "Bcc"])
def test_a_template_that_re_addresses_a_mail_is_not_used(storage_url: str, header: str) -> None:
    class Sneaky:
        @hookimpl
        def torimatome_compose_mail(self, recipient: Any) -> EmailMessage:
            message = EmailMessage()
            message["Subject"] = "hi"
            message[header] = "spy@example.com"
            message.set_content("x")
            return message

    office = make_office(storage_url, plugins=(Sneaky(),))
    office.request(office.sato)
    office.app.deliver_mail()
    assert len(office.mail.sent) == 2
    for message in office.mail.sent:
        assert "spy@example.com" not in message.as_string()
        assert str(message["Subject"]) != "hi"


@pytest.mark.parametrize(
    "options",
    [
        {"mail_events": None},
        {"mail_events": 5},
        {"mail_events": "request_submitted"},
        {"scrypt_n": 2**20},
        {"scrypt_n": 2**64},
        {"mail_claim_seconds": 10**12},
        {"mail_retry_base_seconds": 10**12},
        {"idempotency_ttl_seconds": 10**12},
        {"max_quantity": 2**70},
        {"mail_batch": 0},
        {"busy_timeout_ms": True},
    ],
)
def test_extreme_configuration_is_refused_when_it_is_made(options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        Config(**options)


def test_the_largest_allowed_times_never_overflow(storage_url: str) -> None:
    ten_years = 10 * 366 * 86_400
    config = Config(scrypt_n=16, mail_claim_seconds=ten_years, mail_retry_base_seconds=ten_years,
                    mail_retry_cap_seconds=ten_years, idempotency_ttl_seconds=ten_years)  # fmt: skip
    office = make_office(storage_url, config=config)
    office.app.submit_request(office.sato.id, office.lines(("A", 1)), idempotency_key="k")
    office.app.submit_request(office.sato.id, office.lines(("A", 1)), idempotency_key="k")
    office.mail.fail_next = 1
    report = office.app.deliver_mail()
    assert (report.sent, report.failed) == (1, 1)
    office.app.purge_expired()


class BadFeatures:
    @hookimpl
    def torimatome_extra_features(self) -> int:
        return 5


class RaisingFeatures:
    @hookimpl
    def torimatome_extra_features(self) -> list[FeatureSpec]:
        raise RuntimeError("boom")


class RaisingStorage:
    @hookimpl
    def torimatome_register_storage(self, registry: Any) -> None:
        def factory(url: str, config: Config) -> Any:
            raise OSError("no such server")

        registry.add("broken", factory)


@pytest.mark.parametrize(
    ("url", "plugin"),
    [
        ("memory://", BadFeatures()),
        ("memory://", RaisingFeatures()),
        ("broken://x", RaisingStorage()),
        ("memory://\x00", None),
    ],
)
def test_plugins_failing_while_the_app_is_built_are_configuration_errors(
    url: str, plugin: object
) -> None:
    with pytest.raises(ConfigurationError):
        torimatome.open(url, plugins=[plugin] if plugin else [])


def test_a_feature_spec_with_an_unknown_role_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        FeatureSpec("gift", "ギフト", "Gift", {"coordinator", "admin"})  # type: ignore[arg-type]


def test_a_password_hashed_at_an_older_cost_is_rehashed_on_login(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/office.sqlite3"
    old = torimatome.open(url, config=Config(scrypt_n=16))
    reg = old.create_account("x", coordinator=NewUser(login_id="boss"))
    old.close()
    new = torimatome.open(url, config=Config(scrypt_n=32))
    with new.storage.unit_of_work(write=False) as uow:
        assert (uow.users.password_hash(reg.user.id) or "").startswith("scrypt$n=16,")
    assert new.authenticate("boss", reg.password).id == reg.user.id
    with new.storage.unit_of_work(write=False) as uow:
        assert (uow.users.password_hash(reg.user.id) or "").startswith("scrypt$n=32,")
    with pytest.raises(AuthenticationFailed):
        new.authenticate("boss", "wrong-password")
    new.close()


def test_a_very_long_post_in_iso_2022_jp_keeps_lines_within_smtp_limits(storage_url: str) -> None:
    events = {"request_submitted", "message_posted"}
    config = Config(scrypt_n=16, mail_charset="iso-2022-jp", mail_events=events)
    office = make_office(storage_url, config=config)
    office.app.update_account_settings(
        office.boss.id, message_policy=torimatome.WidthPolicy(limit=20_000)
    )
    request = office.request(office.sato)
    office.app.post_message(office.sato.id, request.id, "あ" * 5000)
    office.app.deliver_mail()
    for message in office.mail.sent:
        assert max(len(line) for line in message.as_bytes().splitlines()) <= 998


class Hostile(Mapping[Any, Any]):
    def __getitem__(self, key: Any) -> Any:
        raise RuntimeError("no")

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Any]:
        raise RuntimeError("no")


class Collider(str):
    def __hash__(self) -> int:
        return hash("line_x")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no")


def test_callers_objects_that_fail_to_read_are_invalid_input(storage_url: str) -> None:
    office = make_office(storage_url)
    (line,) = office.request(office.sato).lines
    app, boss = office.app, office.boss.id

    class BadList(Sequence[str]):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: Any) -> Any:
            raise RuntimeError("no")

        def __iter__(self) -> Iterator[str]:
            raise RuntimeError("no")

    for call in (
        lambda: app.decide(boss, Hostile()),
        lambda: app.decide(boss, {line.id: "hold"}, versions=Hostile()),
        lambda: app.decide(boss, {line.id: "hold"}, versions={Collider("x"): 1}),
        lambda: app.record_order(boss, "O-1", BadList()),
        lambda: app.submit_request(office.sato.id, BadList()),  # type: ignore[arg-type]
    ):
        with pytest.raises(InvalidInput):
            call()
    assert app.pending_count(boss) == 1
