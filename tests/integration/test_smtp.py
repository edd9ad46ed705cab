"""The SMTP transport against a real SMTP server (aiosmtpd) on 127.0.0.1, started by the tests.

What arrived is parsed with ``email.message_from_bytes``, as a mail reader would. A server that
is down or refuses a recipient leaves the mail in the outbox: never lost, never sent twice.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import torimatome
from torimatome import Config, ConfigurationError, MailError, NewLine, NewUser, hookimpl
from torimatome.adapters.smtp_transport import SmtpMailTransport

from .office import Clock


class Mailbox:
    """The server's side: what it accepted, per connection, and whom it refuses."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.refuse: set[str] = set()
        self.connections = 0
        self.close_after_next_data = False

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.close_after_next_data:
            self.close_after_next_data = False
            return "421 4.3.2 Service shutting down"
        self.received.append((list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        return [
            message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
            for _, raw in self.received
        ]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if m["To"].addresses[0].addr_spec == address]


def _assert_each_mail_once(server: Server) -> None:
    ids = [m["Message-ID"] for m in server.mailbox.messages()]
    assert len(ids) == len(set(ids))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    def __init__(self, **options: Any) -> None:
        self.mailbox = Mailbox()
        self.port = _free_port()
        self.options = options
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    server.start()
    yield server
    server.stop()


def _office(port: int, *, charset: str = "utf-8", boss: str = "山田", **smtp: Any) -> Any:
    clock = Clock()
    smtp.setdefault("timeout", 10)
    transport = SmtpMailTransport("127.0.0.1", port, **smtp)
    config = Config(
        scrypt_n=2**4,
        mail_charset=charset,
        mail_from="order@shop.example.jp",
        mail_from_name="アスクル商事 とりまとめ",
    )
    app = torimatome.open("memory://", plugins=[transport], clock=clock, config=config)
    reg = app.create_account(
        "サンプル商事",
        coordinator=NewUser(login_id="boss", email="boss@example.com", nickname=boss),
    )
    users = [reg.user]
    for login, name in (("sato", "佐藤"), ("suzuki", "鈴木")):
        users.append(
            app.register_internal_user(
                reg.user.id, NewUser(login_id=login, email=f"{login}@example.com", nickname=name)
            ).user
        )
    return app, clock, users


def _submit(app: Any, user: Any, name: str = "コピー用紙 A4") -> Any:
    line = NewLine(sku="A-1", name=name, quantity=5, unit_price=Decimal(480))
    return app.submit_request(user.id, [line], message="至急お願いします")


def test_the_seeds_mails_arrive_and_read_back_in_japanese(server: Server) -> None:
    app, _, (_, sato, _) = _office(server.port)
    _submit(app, sato)
    report = app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (2, 0, 0)
    assert sorted(rcpts[0] for rcpts, _ in server.mailbox.received) == [
        "boss@example.com",
        "sato@example.com",
    ]
    (confirmation,) = server.mailbox.to("sato@example.com")
    assert confirmation["Subject"] == "【ご注文依頼確認】ご注文依頼を受け付けました"
    assert confirmation["To"].addresses[0].display_name == "佐藤"
    assert confirmation["From"].addresses[0].display_name == "アスクル商事 とりまとめ"
    assert "コピー用紙 A4" in confirmation.get_content()
    (notice,) = server.mailbox.to("boss@example.com")
    assert notice["Subject"] == "【注文とりまとめ】佐藤 様からご注文依頼が届きました"
    assert "至急お願いします" in notice.get_content()
    assert server.mailbox.connections == 1  # one connection for the whole run


def test_iso_2022_jp_mails_carry_headers_and_body_in_iso_2022_jp(server: Server) -> None:
    app, _, (_, sato, _) = _office(server.port, charset="iso-2022-jp")
    _submit(app, sato)
    app.deliver_mail()
    (_, raw), _ = sorted(server.mailbox.received)  # the coordinator's notice first
    assert raw.isascii()  # 7-bit clean, as ISO-2022-JP mail must be
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "Subject: =?iso-2022-jp?b?" in headers
    assert "From: =?iso-2022-jp?b?" in headers
    assert "To: =?iso-2022-jp?b?" in headers
    mail = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert mail.get_content_charset() == "iso-2022-jp"
    assert mail["Subject"] == "【注文とりまとめ】佐藤 様からご注文依頼が届きました"
    assert mail["To"].addresses[0].display_name == "山田"
    assert mail["From"].addresses[0].display_name == "アスクル商事 とりまとめ"
    assert "コピー用紙 A4" in mail.get_content()


def test_a_character_iso_2022_jp_cannot_carry_falls_back_to_utf_8(server: Server) -> None:
    app, _, (_, sato, _) = _office(server.port, charset="iso-2022-jp", boss="𠮷田 🍣")
    _submit(app, sato, name="髙島屋の🍣")
    app.deliver_mail()
    notice = server.mailbox.to("boss@example.com")[0]
    raw = next(raw for rcpts, raw in server.mailbox.received if rcpts == ["boss@example.com"])
    assert b"To: =?utf-8?" in raw  # the name ISO-2022-JP cannot carry
    assert b"Subject: =?iso-2022-jp?" in raw  # the subject it can
    assert notice["To"].addresses[0].display_name == "𠮷田 🍣"
    assert notice.get_content_charset() == "utf-8"
    assert "髙島屋の🍣" in notice.get_content()


def test_a_server_that_is_down_leaves_every_mail_for_the_next_run(server: Server) -> None:
    app, clock, (_, sato, suzuki) = _office(server.port)
    server.stop()
    _submit(app, sato)
    _submit(app, suzuki)
    report = app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (0, 4, 4)
    assert report.reason is not None
    assert "ConnectionRefusedError" in report.reason
    server.start()
    clock.advance(hours=1)  # past the backoff
    report = app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (4, 0, 0)
    clock.advance(days=1)
    assert app.deliver_mail().sent == 0
    assert sorted(rcpts[0] for rcpts, _ in server.mailbox.received) == [
        "boss@example.com",  # one notice per request
        "boss@example.com",
        "sato@example.com",
        "suzuki@example.com",
    ]
    _assert_each_mail_once(server)


def test_a_refused_recipient_waits_while_the_others_go_out_once(server: Server) -> None:
    app, clock, (_, sato, suzuki) = _office(server.port)
    server.mailbox.refuse = {"sato@example.com"}
    _submit(app, sato)
    _submit(app, suzuki)
    report = app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (3, 1, 1)
    assert report.reason is not None
    assert "550" in report.reason
    assert server.mailbox.connections == 1  # a refusal does not cost the connection
    server.mailbox.refuse = set()
    clock.advance(hours=1)
    assert app.deliver_mail().sent == 1
    clock.advance(days=1)
    assert app.deliver_mail().sent == 0
    arrived = sorted(rcpts[0] for rcpts, _ in server.mailbox.received)
    assert arrived == [
        "boss@example.com",
        "boss@example.com",
        "sato@example.com",
        "suzuki@example.com",
    ]
    _assert_each_mail_once(server)


def test_a_server_closing_midway_costs_one_mail_a_retry_not_the_run(server: Server) -> None:
    app, clock, (_, sato, suzuki) = _office(server.port)
    _submit(app, sato)
    _submit(app, suzuki)
    server.mailbox.close_after_next_data = True
    report = app.deliver_mail()
    assert (report.sent, report.failed, report.pending) == (3, 1, 1)
    assert "421" in (report.reason or "")
    assert server.mailbox.connections == 2  # the rest of the run went over a new connection
    clock.advance(hours=1)
    assert app.deliver_mail().sent == 1
    assert len(server.mailbox.received) == 4
    _assert_each_mail_once(server)


def test_starttls_then_login_over_a_verified_connection() -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    logins: list[str] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        logins.append(auth_data.login.decode())
        return AuthResult(success=True)

    server = Server(
        tls_context=server_context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    server.start()
    try:
        app, _, (_, sato, _) = _office(
            server.port, starttls=True, ssl_context=client_context, username="shop", password="pw"
        )
        _submit(app, sato)
        assert app.deliver_mail().sent == 2
        assert logins == ["shop"]
        # A client that does not trust the server's certificate sends nothing.
        untrusting, _, (_, sato2, _) = _office(server.port, starttls=True, timeout=5)
        _submit(untrusting, sato2)
        report = untrusting.deliver_mail()
        assert (report.sent, report.pending) == (0, 2)
        assert "CERTIFICATE_VERIFY_FAILED" in (report.reason or "")
    finally:
        server.stop()
    assert len(server.mailbox.received) == 2


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_login_is_used_when_configured() -> None:
    seen: list[tuple[str, str]] = []

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")

    server = Server(authenticator=authenticator, auth_require_tls=False, auth_required=True)
    server.start()
    try:
        app, _, (_, sato, _) = _office(server.port, username="shop", password="s3cret")
        _submit(app, sato)
        assert app.deliver_mail().sent == 2
        assert seen == [("shop", "s3cret")]
        wrong, _, (_, sato2, _) = _office(server.port, username="shop", password="nope", timeout=2)
        _submit(wrong, sato2)
        report = wrong.deliver_mail()
        assert (report.sent, report.pending) == (0, 2)
        assert len(server.mailbox.received) == 2  # only the first office's
    finally:
        server.stop()


def test_the_transport_refuses_a_mail_without_one_clear_recipient(server: Server) -> None:
    transport = SmtpMailTransport("127.0.0.1", server.port, timeout=10)
    message = EmailMessage()
    message["Subject"] = "x"
    with pytest.raises(MailError, match="exactly one To"):
        transport.torimatome_send_mail(message)
    message["To"] = "a@example.com"
    message["From"] = "b@example.com"
    message.set_content("本文")
    assert transport.torimatome_send_mail(message) is True  # outside a run: connect, send, quit
    assert len(server.mailbox.received) == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("Subject", "注文\nBcc: thief@example.net"),
        ("Subject", "x\r\nBcc: thief@example.net"),
        ("Subject", "x\rBcc: thief@example.net"),
        ("X-Shop\nBcc", "thief@example.net"),
    ],
)
def test_a_header_that_breaks_a_line_is_refused_before_anything_is_sent(
    server: Server, name: str, value: str
) -> None:
    transport = SmtpMailTransport("127.0.0.1", server.port, timeout=10)
    message = EmailMessage()
    message["To"] = "a@example.com"
    message["From"] = "b@example.com"
    message.set_content("本文")
    message.set_raw(name, value)  # what a careless template could do
    with pytest.raises(MailError, match="line break"):
        transport.torimatome_send_mail(message)
    assert server.mailbox.received == []
    assert server.mailbox.connections == 0


def test_a_folded_header_is_not_a_line_break(server: Server) -> None:
    transport = SmtpMailTransport("127.0.0.1", server.port, timeout=10)
    message = EmailMessage()
    message["To"] = "a@example.com"
    message["From"] = "b@example.com"
    message.set_raw(
        "Subject", "=?iso-2022-jp?b?GyRCN29MPhsoQg==?=\n =?iso-2022-jp?b?GyRCN29MPhsoQg==?="
    )
    message.set_content("本文")
    assert transport.torimatome_send_mail(message) is True
    assert server.mailbox.messages()[0]["Subject"] == "件名件名"


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"host": ""}, "host"),
        ({"host": "smtp.example.com\r\nRCPT TO:<x@y>"}, "host"),
        ({"port": 0}, "port"),
        ({"port": True}, "port"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"username": "shop"}, "password"),
        ({"local_hostname": "evil\r\nRSET"}, "local_hostname"),
        ({"local_hostname": 12345}, "local_hostname"),
        ({"username": 123, "password": "pw"}, "username"),
        ({"username": "shop", "password": b"pw"}, "password"),
        ({"username": "shop\n", "password": "pw"}, "username"),
    ],
)
def test_bad_settings_are_a_configuration_error(options: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        SmtpMailTransport(**options)


def test_clock_is_used_for_retries_not_wall_time(server: Server) -> None:
    app, clock, (_, sato, _) = _office(server.port)
    server.stop()
    _submit(app, sato)
    app.deliver_mail()
    server.start()
    assert app.deliver_mail().sent == 0  # not due yet on the app's clock
    clock.advance(seconds=61)
    assert app.deliver_mail().sent == 2


def test_deliverers_in_threads_each_use_their_own_connection_and_send_each_mail_once(
    server: Server,
) -> None:
    import threading

    app, _, (_, sato, suzuki) = _office(server.port)
    for _ in range(15):
        _submit(app, sato)
        _submit(app, suzuki)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            app.deliver_mail()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert app.deliver_mail().pending == 0
    assert len(server.mailbox.received) == 60  # 30 requests, two mails each
    _assert_each_mail_once(server)
    assert server.mailbox.connections <= 3


def test_a_failing_listener_of_the_run_never_leaves_the_connection_open(server: Server) -> None:
    class FailingListener:
        @hookimpl
        def torimatome_delivery_finished(self, report: Any) -> None:
            raise RuntimeError("metrics are down")

    clock = Clock()
    transport = SmtpMailTransport("127.0.0.1", server.port, timeout=10)
    app = torimatome.open(
        "memory://",
        plugins=[FailingListener(), transport],
        clock=clock,
        config=Config(scrypt_n=2**4),
    )
    reg = app.create_account(
        "商事", coordinator=NewUser(login_id="boss", email="boss@example.com", nickname="山田")
    )
    sato = app.register_internal_user(
        reg.user.id, NewUser(login_id="sato", email="sato@example.com", nickname="佐藤")
    ).user
    _submit(app, sato)
    assert app.deliver_mail().sent == 2
    assert transport._local.connection is None  # the transport still heard the run end
    server.stop()
    server.start()  # the server restarts between two cron runs
    _submit(app, sato)
    report = app.deliver_mail()
    assert (report.sent, report.failed) == (2, 0)
