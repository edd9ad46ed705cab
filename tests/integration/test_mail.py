"""Mail: composed in the same unit of work as the change, delivered later, never lost or doubled."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from torimatome import Choice, Config, NewUser, hookimpl

from .office import Office, make_office


def recipients(office: Office) -> list[str]:
    return [str(m["To"]) for m in office.mail.sent]


def test_a_request_mails_the_requester_and_every_coordinator(office: Office) -> None:
    office.request(office.sato, message="急ぎです")
    report = office.app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (2, 0, 0)
    by_to = {str(m["To"]): m for m in office.mail.sent}
    assert set(by_to) == {"佐藤 <sato@example.com>", "山田 <boss@example.com>"}
    assert "ご注文依頼を受け付けました" in str(by_to["佐藤 <sato@example.com>"]["Subject"])
    assert "佐藤 様からご注文依頼が届きました" in str(by_to["山田 <boss@example.com>"]["Subject"])


def test_a_shared_address_gets_one_mail_and_it_is_the_coordinators_notice(
    storage_url: str,
) -> None:
    office = make_office(storage_url)
    shared = office.app.register_internal_user(
        office.boss.id, NewUser(login_id="shared", email="BOSS@Example.com", nickname="共有")
    ).user
    office.request(shared)
    office.app.deliver_mail()
    assert len(office.mail.sent) == 1
    assert "共有 様からご注文依頼が届きました" in str(office.mail.sent[0]["Subject"])


def test_the_coordinators_notice_carries_the_shops_consolidation_url(storage_url: str) -> None:
    class Urls:
        @hookimpl
        def torimatome_screen_url(self, screen: str, request_id: str | None) -> str:
            return f"https://shop.example/{screen}/{request_id}"

    office = make_office(storage_url, plugins=(Urls(),))
    request = office.request(office.sato)
    office.app.deliver_mail()
    bodies = {str(m["To"]): m.get_content() for m in office.mail.sent}
    assert f"https://shop.example/consolidation/{request.id}" in bodies["山田 <boss@example.com>"]
    assert f"https://shop.example/request/{request.id}" in bodies["佐藤 <sato@example.com>"]


def test_a_shop_without_a_request_screen_links_the_requester_to_their_status_page(
    storage_url: str,
) -> None:
    asked: list[tuple[str, str | None]] = []

    class Urls:
        @hookimpl
        def torimatome_screen_url(self, screen: str, request_id: str | None) -> str | None:
            asked.append((screen, request_id))
            return None if screen == "request" else f"https://shop.example/{screen}"

    office = make_office(storage_url, plugins=(Urls(),))
    request = office.request(office.sato)
    office.app.deliver_mail()
    bodies = {str(m["To"]): m.get_content() for m in office.mail.sent}
    assert "https://shop.example/request_status" in bodies["佐藤 <sato@example.com>"]
    assert ("request", request.id) in asked
    assert ("request_status", request.id) in asked


def test_addresses_are_resolved_when_the_change_commits(office: Office) -> None:
    office.request(office.sato)
    office.app.update_profile(office.sato.id, office.sato.id, email="new@example.com")
    office.app.deliver_mail()
    assert "佐藤 <sato@example.com>" in recipients(office)


def test_messages_never_go_to_the_cart(office: Office) -> None:
    seen = []

    class SpyCart:
        @hookimpl
        def torimatome_add_to_cart(self, entries: list[object]) -> None:
            seen.extend(entries)

    office.app.pm.register(SpyCart())
    request = office.request(office.sato, message="ナイショの伝言")
    office.app.post_message(office.sato.id, request.id, "スレッドの伝言")
    office.app.decide(office.boss.id, {request.lines[0].id: Choice.CONSOLIDATE})
    assert seen
    assert all("伝言" not in repr(entry) for entry in seen)


def test_without_a_transport_mail_stays_pending_and_the_report_says_so(storage_url: str) -> None:
    office = make_office(storage_url)
    office.app.pm.unregister(office.mail)
    office.request(office.sato)
    report = office.app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (0, 0, 2)
    assert report.reason == "no mail transport configured"


def test_a_failing_transport_keeps_the_mail_and_retries_with_backoff(office: Office) -> None:
    office.request(office.sato)
    office.mail.fail_next = 3
    first = office.app.deliver_mail()
    assert (first.sent, first.failed, first.pending) == (0, 2, 2)
    assert "ConnectionError" in (first.reason or "")
    assert office.app.deliver_mail().sent == 0  # not due yet
    office.clock.advance(seconds=60)
    second = office.app.deliver_mail()
    assert (second.sent, second.failed) == (1, 1)
    office.clock.advance(seconds=60)
    assert office.app.deliver_mail().sent == 0  # second failure backs off 120 s
    office.clock.advance(seconds=60)
    assert office.app.deliver_mail().sent == 1
    assert len(office.mail.sent) == 2
    assert office.app.deliver_mail().pending == 0


def test_a_transport_that_returns_none_has_not_sent_the_mail(storage_url: str) -> None:
    class Silent:
        @hookimpl
        def torimatome_send_mail(self) -> None:
            return None

    office = make_office(storage_url)
    office.app.pm.unregister(office.mail)
    office.app.pm.register(Silent())
    office.request(office.sato)
    report = office.app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (0, 2, 2)


def test_backoff_is_capped(storage_url: str) -> None:
    config = Config(scrypt_n=2**4, mail_retry_base_seconds=10, mail_retry_cap_seconds=40)
    office = make_office(storage_url, config=config)
    office.request(office.sato)
    office.mail.fail_next = 10**6
    delays = []
    for _ in range(6):
        office.app.deliver_mail()
        with office.app.storage.unit_of_work(write=False) as uow:
            mail = uow.outbox.all()[0]
        assert mail.next_attempt_at is not None
        delays.append((mail.next_attempt_at - office.clock.now).total_seconds())
        office.clock.now = mail.next_attempt_at
    assert delays == [10, 20, 40, 40, 40, 40]


def test_other_events_are_mailed_only_when_configured(storage_url: str) -> None:
    quiet = make_office(storage_url)
    request = quiet.request(quiet.sato)
    quiet.app.post_message(quiet.boss.id, request.id, "確認しました")
    quiet.app.decide(quiet.boss.id, {request.lines[0].id: Choice.HOLD})
    assert quiet.app.deliver_mail().sent == 2
    quiet.app.close()

    url = storage_url.replace("office.sqlite3", "chatty.sqlite3")
    events = {"request_submitted", "message_posted", "lines_decided", "lines_ordered"}
    chatty = make_office(url, config=Config(scrypt_n=2**4, mail_events=events))
    request = chatty.request(chatty.sato)
    chatty.app.post_message(chatty.boss.id, request.id, "確認しました")
    chatty.app.post_message(chatty.sato.id, request.id, "ありがとうございます")
    chatty.app.decide(chatty.boss.id, {request.lines[0].id: Choice.CONSOLIDATE})
    chatty.app.record_order(chatty.boss.id, "O-1", [request.lines[0].id])
    chatty.app.deliver_mail()
    subjects = [(str(m["To"]), str(m["Subject"])) for m in chatty.mail.sent]
    assert len(subjects) == 6
    assert (
        "佐藤 <sato@example.com>",
        "【伝言メッセージ】とりまとめ担当者からメッセージが届きました",
    ) in subjects
    assert (
        "山田 <boss@example.com>",
        "【伝言メッセージ】佐藤 様からメッセージが届きました",
    ) in subjects
    assert all("確認しました" not in s for _, s in subjects)


def test_a_header_with_a_newline_from_a_shops_template_never_reaches_the_outbox(
    storage_url: str,
) -> None:
    class Evil:
        @hookimpl
        def torimatome_compose_mail(self) -> EmailMessage:
            message = EmailMessage(policy=email.policy.compat32)
            message["Subject"] = "hello\r\nBcc: victim@example.com"
            message.set_payload("body")
            return message  # type: ignore[return-value]

    office = make_office(storage_url, plugins=(Evil(),))
    office.request(office.sato)
    office.app.deliver_mail()
    assert len(office.mail.sent) == 2
    assert all("victim" not in m.as_string() for m in office.mail.sent)


def test_mail_is_iso_2022_jp_on_request_with_a_utf8_fallback(storage_url: str) -> None:
    office = make_office(storage_url, config=Config(scrypt_n=2**4, mail_charset="iso-2022-jp"))
    office.request(office.sato)
    office.app.update_profile(office.sato.id, office.sato.id, nickname="佐藤🍣")
    office.request(office.sato)
    office.app.deliver_mail()
    charsets = [m.get_content_charset() for m in office.mail.sent]
    assert charsets[:2] == ["iso-2022-jp", "iso-2022-jp"]
    assert {m["Content-Transfer-Encoding"] for m in office.mail.sent[:2]} == {"7bit"}
    assert "utf-8" in charsets[2:]
    assert all(m.get_content() for m in office.mail.sent)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("relay mx\udcff.example"),  # bytes decoded with surrogateescape
        OSError("line one\r\nline two\x00\x1b[31m"),
        RuntimeError("x" * 100_000),
    ],
    ids=["lone-surrogate", "controls", "huge"],
)
def test_any_transport_error_text_is_stored_and_reported_safely(
    storage_url: str, error: Exception
) -> None:
    class Failing:
        @hookimpl
        def torimatome_send_mail(self, message: object) -> bool:
            raise error

    office = make_office(storage_url, plugins=(Failing(),))
    office.request(office.sato)
    report = office.app.deliver_mail()  # never raises for transport trouble
    assert (report.sent, report.failed, report.pending) == (0, 2, 2)
    assert report.reason is not None
    assert report.reason.isprintable()
    assert len(report.reason) <= 500
    with office.app.storage.unit_of_work(write=False) as uow:
        assert all(m.last_error == report.reason for m in uow.outbox.all())
    office.app.close()
