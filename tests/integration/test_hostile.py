"""Hostile input and edge cases at the public API; each test guards one class of fault."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator, Sequence
from decimal import Decimal
from email.message import EmailMessage

import pytest

import torimatome
from torimatome import (
    Choice,
    Config,
    ConfigurationError,
    InvalidInput,
    NewLine,
    NewUser,
    NotFound,
    hookimpl,
)

from .office import Office, make_office, snapshot


def test_zwj_cannot_glue_a_long_text_into_one_character(office: Office) -> None:
    glued = "\u200d".join(["あ"] * 51)
    with pytest.raises(InvalidInput):
        office.request(office.sato, message=glued)
    family = "👨\u200d👩\u200d👧\u200d👦" * 50  # real ZWJ emoji still cost 2 each
    office.request(office.sato, message=family)


def test_a_pile_of_combining_marks_is_not_one_character(office: Office) -> None:
    request = office.request(office.sato)
    with pytest.raises(InvalidInput):
        office.app.post_message(office.sato.id, request.id, "a" + "\u0301" * 1_000_000)
    with pytest.raises(InvalidInput):
        office.request(office.sato, message="e" + "\u0301" * 600)  # 60 blocks of ten: 120


def test_a_ten_megabyte_message_is_refused_with_the_limit_it_broke(office: Office) -> None:
    request = office.request(office.sato)
    before = snapshot(office)
    for call in (
        lambda: office.request(office.sato, message="x" * 10_000_000),
        lambda: office.app.post_message(office.sato.id, request.id, "x" * 10_000_000),
        lambda: office.app.register_internal_user(office.boss.id, NewUser(nickname="x" * 10**7)),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert "100" in caught.value.ja or "64" in caught.value.ja
    assert snapshot(office) == before


@pytest.mark.parametrize(
    "char", ["\u200e", "\u200f", "\u061c", "\ufeff", "\u2060", "\u00ad", "\ufffe", "\U000e0001"]
)
def test_invisible_format_characters_are_refused_everywhere(office: Office, char: str) -> None:
    request = office.request(office.sato)
    for call in (
        lambda: office.request(office.sato, message=f"a{char}b"),
        lambda: office.app.post_message(office.sato.id, request.id, f"a{char}b"),
        lambda: office.app.update_profile(office.sato.id, office.sato.id, nickname=f"a{char}b"),
        lambda: office.app.submit_request(office.sato.id, [NewLine(
            sku=f"A{char}", name="x", quantity=1, unit_price=Decimal(1))]),
    ):  # fmt: skip
        with pytest.raises(InvalidInput):
            call()


def test_int_and_str_subclasses_cannot_fool_the_checks(office: Office) -> None:
    class Sly(int):
        def __ge__(self, other: object) -> bool:
            return True

        def __le__(self, other: object) -> bool:
            return True

    for quantity in (Sly(0), Sly(-5), Sly(10**30)):
        with pytest.raises(InvalidInput):
            office.app.submit_request(office.sato.id, [NewLine(
                sku="A", name="x", quantity=quantity, unit_price=Decimal(1))])  # fmt: skip

    class Twin(str):
        def __hash__(self) -> int:
            return 1

    request = office.app.submit_request(office.sato.id, [NewLine(
        sku=Twin("A-1"), name=Twin("紙"), quantity=Sly(2), unit_price=Decimal(1))])  # fmt: skip
    line = request.lines[0]
    assert (type(line.sku), type(line.name), type(line.quantity)) == (str, str, int)


def test_a_sequence_whose_len_lies_cannot_smuggle_in_lines(office: Office) -> None:
    class Liar(Sequence[NewLine]):
        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> NewLine:  # type: ignore[override]
            raise IndexError

        def __iter__(self) -> Iterator[NewLine]:
            return iter([NewLine(sku="A", name="x", quantity=1, unit_price=Decimal(1))] * 5000)

    with pytest.raises(InvalidInput):
        office.app.submit_request(office.sato.id, Liar())


def test_far_dates_are_invalid_input_not_an_overflow(office: Office) -> None:
    for since in (dt.date(1, 1, 1), dt.date(9999, 12, 31)):
        with pytest.raises(InvalidInput):
            office.app.history(office.boss.id, since=since)


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "Mars/Olympus"])
def test_timezones_that_depend_on_the_host_are_refused(zone: str) -> None:
    app = torimatome.open("memory://", config=Config(scrypt_n=2**4))
    with pytest.raises(InvalidInput):
        app.create_account("x", coordinator=NewUser(login_id="boss"), timezone=zone)


@pytest.mark.parametrize(
    "options",
    [
        {"mail_from": "shop@example.com\r\nBcc: spy@example.com"},
        {"mail_from": "not an address"},
        {"mail_from_name": "Shop\nBcc: spy@example.com"},
    ],
)
def test_configured_mail_headers_are_checked_when_set(options: dict[str, str]) -> None:
    with pytest.raises(ConfigurationError):
        Config(**options)  # type: ignore[arg-type]


class BrokenUrls:
    @hookimpl
    def torimatome_screen_url(self) -> str:
        raise KeyError("no such screen")


class ByteUrls:
    @hookimpl
    def torimatome_screen_url(self) -> bytes:
        return b"https://shop.example/x"


class BrokenTemplate:
    @hookimpl
    def torimatome_compose_mail(self) -> EmailMessage:
        raise RuntimeError("template bug")


@pytest.mark.parametrize("plugin", [BrokenUrls(), ByteUrls(), BrokenTemplate()])
def test_a_failing_mail_hook_is_logged_and_the_built_in_template_is_used(
    storage_url: str, plugin: object, caplog: pytest.LogCaptureFixture
) -> None:
    office = make_office(storage_url, plugins=(plugin,))
    with caplog.at_level(logging.ERROR, logger="torimatome"):
        request = office.request(office.sato)  # the office's work goes on
    assert caplog.records
    office.app.deliver_mail()
    subjects = sorted(str(m["Subject"]) for m in office.mail.sent)
    assert subjects == sorted(["【ご注文依頼確認】ご注文依頼を受け付けました",
                               "【注文とりまとめ】佐藤 様からご注文依頼が届きました"])  # fmt: skip
    assert all("b'" not in m.get_content() for m in office.mail.sent)
    assert office.app.get_request(office.boss.id, request.id).id == request.id


def test_one_mail_per_address_per_event_across_requests_and_requesters(storage_url: str) -> None:
    events = {"request_submitted", "lines_decided", "lines_ordered"}
    office = make_office(storage_url, config=Config(scrypt_n=2**4, mail_events=events))
    app = office.app
    app.update_profile(office.boss.id, office.suzuki.id, email="SATO@example.com")
    requests = [office.request(who) for who in (office.sato, office.sato, office.suzuki)]
    ids = [r.lines[0].id for r in requests]
    app.deliver_mail()
    office.mail.sent.clear()
    app.decide(office.boss.id, dict.fromkeys(ids, Choice.CONSOLIDATE))
    app.record_order(office.boss.id, "O-1", ids)
    app.deliver_mail()
    to = [str(m["To"]).lower() for m in office.mail.sent]
    assert len(to) == 2  # one for the decision, one for the order
    assert all(address.endswith("<sato@example.com>") for address in to)
    body = office.mail.sent[0].get_content()
    assert all(r.id in body for r in requests)


def test_deliverers_side_by_side_never_send_a_mail_twice(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/office.sqlite3"
    office = make_office(url)
    for _ in range(3):
        office.request(office.sato)
    office.app.pm.unregister(office.mail)
    second = torimatome.open(url, clock=office.clock, config=Config(scrypt_n=2**4))
    sent: list[str] = []
    nested: list[torimatome.DeliveryReport] = []

    class Recording:
        def __init__(self, name: str, then: torimatome.App | None = None) -> None:
            self.name, self.then = name, then

        @hookimpl
        def torimatome_send_mail(self, message: EmailMessage) -> bool:
            sent.append(str(message["Message-ID"]))
            if self.then is not None and not nested:
                nested.append(self.then.deliver_mail())  # another cron run, mid-batch
            return True

    second.pm.register(Recording("B"))
    office.app.pm.register(Recording("A", then=second))
    report = office.app.deliver_mail()
    assert nested[0].sent == 0
    assert report.sent == 6
    assert len(sent) == len(set(sent)) == 6
    second.close()


def test_purge_leaves_no_copy_behind_and_an_old_key_starts_afresh(storage_url: str) -> None:
    office = make_office(storage_url)
    app = office.app
    office.mail.fail_next = 2  # the request's mails are still waiting at the first purge
    request = app.submit_request(office.sato.id, office.lines(("A", 1)), "秘密のメモ",
                                 idempotency_key="k1")  # fmt: skip
    app.decide(office.boss.id, {request.lines[0].id: Choice.DELETE})
    app.deliver_mail()
    office.clock.now += dt.timedelta(days=500)
    assert app.purge_expired().requests == 1
    assert app.deliver_mail().sent == 2  # sent after their request was purged...
    assert app.purge_expired().mails == 2  # ...and purged by the next run
    with app.storage.unit_of_work(write=False) as uow:
        assert uow.idempotency.get(office.sato.id, "k1") is None
        assert uow.outbox.all() == []
    again = app.submit_request(office.sato.id, office.lines(("A", 1)), "秘密のメモ",
                               idempotency_key="k1")  # fmt: skip
    assert again.id != request.id
    assert app.pending_count(office.boss.id) == 1


def test_an_idempotency_key_replays_only_within_its_time_to_live(office: Office) -> None:
    first = office.app.submit_request(office.sato.id, office.lines(("A", 1)), idempotency_key="k")
    office.clock.advance(hours=23)
    assert office.app.submit_request(office.sato.id, office.lines(("A", 1)),
                                     idempotency_key="k") == first  # fmt: skip
    office.clock.advance(hours=2)
    later = office.app.submit_request(office.sato.id, office.lines(("A", 1)), idempotency_key="k")
    assert later.id != first.id


def test_an_order_hidden_by_retention_is_not_found(office: Office) -> None:
    (line,) = office.request(office.sato).lines
    office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE})
    office.app.record_order(office.boss.id, "OLD-1", [line.id])
    office.clock.advance(days=500)
    with pytest.raises(NotFound):
        office.app.record_order_status(office.boss.id, "OLD-1", "お届け済み")
