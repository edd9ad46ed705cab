"""A mail transport over SMTP, on the standard library's :mod:`smtplib`.

One connection per ``deliver_mail()`` run (opened at the first send, closed when the run
ends), per thread, so deliverers in threads never share one. A server that cannot be reached
fails the rest of that run at once instead of waiting out a timeout per mail; every failure
leaves the mail in the outbox for the next run.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage

from ..domain.errors import ConfigurationError, MailError
from ..domain.text import forbidden_character
from ..domain.views import DeliveryReport
from ..ports.hookspecs import hookimpl
from ..ports.mail import broken_header

__all__ = ["SmtpMailTransport"]

log = logging.getLogger("torimatome")


class SmtpMailTransport:
    """Sends each mail with ``SMTP.send_message`` to the addresses of its ``To`` header.

    Args:
        host, port: the SMTP server (a submission port such as 587 with ``starttls=True``).
        starttls: upgrade the connection with STARTTLS before anything else is said.
        ssl_context: the TLS settings for STARTTLS (default: the system's, verifying the host).
        username, password: log in after STARTTLS when both are given.
        timeout: seconds for connecting and for each server reply; keep it well under
            ``Config.mail_claim_seconds``, or a stalled send may outlast its claim and another
            deliverer send the mail again.
        local_hostname: the name said in EHLO (default: this machine's FQDN).
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int = 25,
        *,
        starttls: bool = False,
        ssl_context: ssl.SSLContext | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
    ) -> None:
        if (
            not isinstance(host, str)
            or not host
            or forbidden_character(host, allow_line_breaks=False)
        ):
            raise ConfigurationError(f"SMTP host must be a one-line str, not {host!r}.")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError(f"SMTP port must be 1-65535, not {port!r}.")
        for name, value in (
            ("local_hostname", local_hostname),
            ("username", username),
            ("password", password),
        ):
            if value is not None and (
                not isinstance(value, str)
                or not value
                or forbidden_character(value, allow_line_breaks=False)
            ):
                raise ConfigurationError(f"SMTP {name} must be a one-line str or None.")
        if (username is None) != (password is None):
            raise ConfigurationError("Give both an SMTP username and a password, or neither.")
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, int | float)
            or not 0 < timeout <= 3600
        ):
            raise ConfigurationError(f"SMTP timeout must be seconds in (0, 3600], not {timeout!r}.")
        self.host, self.port = host, port
        self.starttls, self.ssl_context = starttls, ssl_context
        self.username, self.password = username, password
        self.timeout, self.local_hostname = float(timeout), local_hostname
        self._local = threading.local()

    # -- the delivery run ----------------------------------------------------------------------

    @hookimpl
    def torimatome_delivery_started(self) -> None:
        self._disconnect()  # a connection left over from a run that never finished
        self._local.in_run = True
        self._local.down = None

    @hookimpl
    def torimatome_delivery_finished(self, report: DeliveryReport) -> None:
        self._disconnect()
        self._local.in_run = False
        self._local.down = None

    @hookimpl
    def torimatome_send_mail(self, message: EmailMessage) -> bool:
        recipients = _recipients(message)
        try:
            connection = self._connection()
            options = ["BODY=8BITMIME"] if _has_8bit(message) else []
            try:
                connection.send_message(message, to_addrs=recipients, mail_options=options)
            except smtplib.SMTPResponseException as exc:
                if exc.smtp_code == 421:  # the server is closing the connection
                    self._disconnect()
                raise
            except smtplib.SMTPRecipientsRefused:
                raise  # smtplib has reset the transaction: the connection serves the next mail
            except OSError:  # a broken connection (SMTPServerDisconnected, a timeout, a reset)
                self._disconnect()
                raise
        finally:
            if not getattr(self._local, "in_run", False):
                self._disconnect()  # called outside a deliver_mail() run: one mail, one call
        return True  # send_message raises unless every recipient was accepted

    # -- the connection ------------------------------------------------------------------------

    def _connection(self) -> smtplib.SMTP:
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        down = getattr(self._local, "down", None)
        if down is not None:
            raise ConnectionError(f"SMTP server {self.host}:{self.port} unreachable: {down}")
        try:
            connection = self._connect()
        except (OSError, smtplib.SMTPException) as exc:
            self._local.down = f"{type(exc).__name__}: {exc}"
            raise
        self._local.connection = connection
        return connection

    def _connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(
            self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
        )
        try:
            connection.ehlo()
            if self.starttls:
                connection.starttls(context=self.ssl_context or ssl.create_default_context())
                connection.ehlo()
            if self.username is not None and self.password is not None:
                connection.login(self.username, self.password)
        except BaseException:
            connection.close()
            raise
        return connection

    def _disconnect(self) -> None:
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is None:
            return
        try:
            connection.quit()
        except (OSError, smtplib.SMTPException):
            connection.close()  # the mails are sent; a failed goodbye changes nothing


def _recipients(message: EmailMessage) -> list[str]:
    """The envelope recipients: the addresses of the one ``To`` header torimatome wrote."""
    broken = broken_header(message)
    if broken is not None:
        raise MailError(f"The mail header {broken!r} carries a line break.")
    if message.get_all("To") is None or len(message.get_all("To") or ()) != 1:
        raise MailError("A mail to send needs exactly one To header.")
    header = message["To"]
    addresses = [a.addr_spec for a in getattr(header, "addresses", ())]
    if not addresses or any(forbidden_character(a, allow_line_breaks=False) for a in addresses):
        raise MailError("The mail's To header names no usable address.")
    return addresses


def _has_8bit(message: EmailMessage) -> bool:
    return any(
        str(part.get("Content-Transfer-Encoding", "")).lower() == "8bit" for part in message.walk()
    )
