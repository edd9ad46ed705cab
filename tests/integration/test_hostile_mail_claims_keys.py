"""Mail as the wire reads it, delivery claims, idempotency keys and wiring at the edges; each
test guards one class of fault."""

from __future__ import annotations

import base64
import datetime as dt
import logging
from email.message import EmailMessage
from typing import Any

import pytest

import torimatome
from torimatome import (
    Choice,
    Config,
    ConfigurationError,
    GraphemePolicy,
    InvalidInput,
    NewUser,
    hookimpl,
)

from .office import Office, make_office


def _sent_to(message: EmailMessage) -> list[str]:
    """The addresses a transport reads from the To header, after a round trip through bytes."""
    import email
    import email.policy

    again = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    return [a.addr_spec for a in again["To"].addresses]


def test_an_encoded_word_in_a_nickname_cannot_redirect_mail(storage_url: str) -> None:
    office = make_office(storage_url)
    evil = base64.b64encode(b"evil@attacker.example").decode()
    office.app.update_profile(office.sato.id, office.sato.id, nickname=f"=?utf-8?b?{evil}?=")
    office.request(office.sato)
    office.app.deliver_mail()
    assert sorted(a for m in office.mail.sent for a in _sent_to(m)) == [
        "boss@example.com",
        "sato@example.com",
    ]


@pytest.mark.parametrize("email", ["a,b@example.com", 'a"b@example.com', "a(b)@example.com",
                                   "a<b@example.com", "a;b@example.com", "a..b@example.com"])  # fmt: skip
def test_addresses_a_header_would_have_to_quote_are_refused(office: Office, email: str) -> None:
    with pytest.raises(InvalidInput):
        office.app.update_profile(office.boss.id, office.boss.id, email=email)


class Resent:
    @hookimpl
    def torimatome_compose_mail(self) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = "hi"
        message["Resent-Date"] = "Thu, 03 Dec 2026 00:00:00 +0000"
        message["Resent-To"] = "evil@attacker.example"
        message.set_content("x")
        return message


class BadHeaderName:
    @hookimpl
    def torimatome_compose_mail(self) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = "hi"
        message.add_header("X-A: b\r\nBcc", "evil@attacker.example")
        message.set_content("x")
        return message


class SlipPayload:
    @hookimpl
    def torimatome_compose_mail(self, recipient: Any) -> EmailMessage:
        message = EmailMessage()
        message["Subject"] = "hi"
        message.set_payload(f"{recipient.display_name} 様")  # set_content was meant
        return message


class NoSubject:
    @hookimpl
    def torimatome_compose_mail(self) -> EmailMessage:
        message = EmailMessage()
        message.set_content("no subject here")
        return message


@pytest.mark.parametrize("plugin", [Resent(), BadHeaderName(), SlipPayload()])
def test_a_template_that_would_misbehave_on_the_wire_is_replaced(
    storage_url: str, plugin: object, caplog: pytest.LogCaptureFixture
) -> None:
    office = make_office(storage_url, plugins=(plugin,))
    with caplog.at_level(logging.ERROR, logger="torimatome"):
        office.request(office.sato)
    office.app.deliver_mail()
    assert len(office.mail.sent) == 2
    for message in office.mail.sent:
        assert "evil@attacker.example" not in message.as_string()
        assert str(message["Subject"]) != "hi"
    assert caplog.records


def test_a_template_without_a_subject_is_stored_with_an_empty_one(storage_url: str) -> None:
    office = make_office(storage_url, plugins=(NoSubject(),))
    office.request(office.sato)
    with office.app.storage.unit_of_work(write=False) as uow:
        assert {m.subject for m in uow.outbox.all()} == {""}


def test_a_mail_whose_claim_ran_out_mid_chunk_is_left_to_whoever_claims_it_next(
    office: Office,
) -> None:
    for _ in range(3):
        office.request(office.sato)  # six mails: one chunk, one claim of 600 s
    office.app.pm.unregister(office.mail)
    sent: list[str] = []
    second_run: list[torimatome.DeliveryReport] = []
    nested = False

    class Slow:
        @hookimpl
        def torimatome_send_mail(self, message: EmailMessage) -> bool:
            nonlocal nested
            sent.append(str(message["Message-ID"]))
            if nested:
                return True  # the second run's relay is quick
            office.clock.advance(seconds=300)  # the first run's relay: five minutes a mail
            if len(sent) == 2:
                # The first run's chunk claim has run out: another cron run takes the rest.
                nested = True
                second_run.append(office.app.deliver_mail())
            return True

    office.app.pm.register(Slow())
    first = office.app.deliver_mail()
    assert len(sent) == len(set(sent)) == 6  # every mail once, none twice
    assert first.sent + second_run[0].sent == 6
    assert second_run[0].sent >= 4


@pytest.mark.parametrize("answer", [1, {}, "ok", [True]])
def test_a_transport_answer_other_than_true_is_not_a_confirmation_and_is_named(
    storage_url: str, answer: object, caplog: pytest.LogCaptureFixture
) -> None:
    class Odd:
        @hookimpl
        def torimatome_send_mail(self) -> object:
            return answer

    office = make_office(storage_url)
    office.app.pm.unregister(office.mail)
    office.app.pm.register(Odd())
    office.request(office.sato)
    with caplog.at_level(logging.WARNING, logger="torimatome"):
        report = office.app.deliver_mail()
    assert report.sent == 0
    assert repr(answer) in (report.reason or "")
    assert any("only True confirms" in r.getMessage() for r in caplog.records)


def test_a_key_older_than_the_retention_window_never_replays_a_purged_request(
    storage_url: str,
) -> None:
    three_years = 3 * 366 * 86_400
    office = make_office(
        storage_url, config=Config(scrypt_n=16, idempotency_ttl_seconds=three_years)
    )
    app = office.app
    first = app.submit_request(office.sato.id, office.lines(("A", 1)), "秘密のメモ",
                               idempotency_key="k1")  # fmt: skip
    app.decide(office.boss.id, {first.lines[0].id: Choice.DELETE})
    office.clock.advance(days=500)
    app.purge_expired()
    with app.storage.unit_of_work(write=False) as uow:
        assert uow.idempotency.get(office.sato.id, "k1") is None
    again = app.submit_request(office.sato.id, office.lines(("A", 1)), "秘密のメモ",
                               idempotency_key="k1")  # fmt: skip
    assert again.id != first.id


def test_a_replay_of_a_request_gone_by_other_means_files_a_fresh_one(office: Office) -> None:
    app = office.app
    first = app.submit_request(office.sato.id, office.lines(("A", 1)), idempotency_key="k")
    app.decide(office.boss.id, {first.lines[0].id: Choice.DELETE})
    office.clock.advance(days=500)
    with app.storage.unit_of_work() as uow:  # as a purge with a long key TTL would leave it
        uow.requests.purge(office.account_id, office.clock.now, dry_run=False)
    again = app.submit_request(office.sato.id, office.lines(("A", 1)), idempotency_key="k")
    assert again.id != first.id
    assert app.pending_count(office.boss.id) == 1


def test_more_wiring_mistakes_are_configuration_errors() -> None:
    class Opaque:
        def __dir__(self) -> list[str]:
            raise RuntimeError("no")

    for plugins in ([None], [3], [Opaque()]):
        with pytest.raises(ConfigurationError):
            torimatome.open("memory://", plugins=plugins)
    with pytest.raises(ConfigurationError):
        Config(mail_events=[["request_submitted"]])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "instant",
    [
        dt.datetime.max.replace(tzinfo=dt.timezone(dt.timedelta(hours=-14))),
        dt.datetime(9999, 1, 1, tzinfo=dt.UTC),
        dt.datetime(1901, 1, 1, tzinfo=dt.UTC),
    ],
)
def test_a_clock_out_of_range_fails_at_open(instant: dt.datetime) -> None:
    with pytest.raises(ConfigurationError):
        torimatome.open("memory://", clock=lambda: instant)


def test_copy_request_may_take_a_new_message(office: Office) -> None:
    old = office.request(office.sato, message="あ" * 40)
    office.app.update_account_settings(office.boss.id, cart_message_policy=GraphemePolicy(limit=10))
    with pytest.raises(InvalidInput):
        office.app.copy_request(office.sato.id, old.id)
    new = office.app.copy_request(office.sato.id, old.id, message="前回と同じ")
    assert new.message == "前回と同じ"


def test_the_registration_mail_carries_the_login_id_but_never_the_password(
    storage_url: str,
) -> None:
    config = Config(scrypt_n=16, mail_events={"request_submitted", "user_registered"})
    office = make_office(storage_url, config=config)
    reg = office.app.register_internal_user(
        office.boss.id, NewUser(login_id="takahashi", email="t@example.com")
    )
    office.app.deliver_mail()
    (mail,) = [m for m in office.mail.sent if "t@example.com" in str(m["To"])]
    body = mail.get_content()
    assert "takahashi" in body
    assert reg.password not in body
