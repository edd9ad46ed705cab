"""Mail composition for the outbox: who gets which mail for an event, and its text.

Mails are composed inside the unit of work of the change that caused them, with the
recipients' addresses as they are at that commit. Per event each distinct address
(case-insensitive) gets one mail; an address that is both requester and coordinator gets the
coordinator's notice (the seed warns that shared addresses receive both mails).
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from email import message_from_bytes, policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import attrs
import pluggy

from ..domain.errors import MailError
from ..domain.lines import RequestLine
from ..domain.requests import OrderRequest
from ..domain.roles import Role
from ..domain.text import forbidden_character
from ..domain.users import User
from ..ports.config import Config
from ..ports.mail import MailContext, broken_header
from ..ports.storage import OutboxMail, UnitOfWork
from .mail_templates import COORDINATOR, INTRO, REQUESTER, SUBJECTS, USER

__all__ = ["Mailer"]

log = logging.getLogger("torimatome")


_SCREENS = {REQUESTER: "request_status", COORDINATOR: "consolidation", USER: "request_status"}


class Mailer:
    """Composes the mails of one event and writes them to the outbox of the current unit."""

    def __init__(
        self, pm: pluggy.PluginManager, config: Config, new_id: Callable[[str], str]
    ) -> None:
        self.pm, self.config, self.new_id = pm, config, new_id

    def wants(self, event: str) -> bool:
        return event in self.config.mail_events

    def enqueue(
        self,
        uow: UnitOfWork,
        now: dt.datetime,
        base: MailContext,
        recipients: Iterable[tuple[User, str]],
    ) -> None:
        """Compose one mail per distinct address and add it to the outbox."""
        chosen: dict[str, tuple[User, str]] = {}
        for user, role in recipients:
            if not user.email or not user.active:
                continue
            key = user.email.lower()
            # An address shared by a requester and a coordinator gets the coordinator's notice.
            if key not in chosen or (role == COORDINATOR and chosen[key][1] != COORDINATOR):
                chosen[key] = (user, role)
        locale = base.account.settings.locale
        for user, role in chosen.values():
            ctx = attrs.evolve(base, recipient_role=role, url=self._url(role, base), at=now)
            raw, sent = self._compose(ctx, user, locale)
            uow.outbox.add(
                OutboxMail(
                    id=self.new_id("mail"),
                    account_id=base.account.id,
                    event=base.event,
                    recipient=user.email,
                    subject=str(sent["Subject"] or ""),
                    raw=raw,
                    created_at=now,
                    request_id=base.request.id if base.request else None,
                    next_attempt_at=now,
                )
            )

    def _url(self, role: str, ctx: MailContext) -> str | None:
        """The shop's link for this recipient: a requester's mail about one request links to
        that request (``"request"``), or to their status page if the shop has no such screen;
        a coordinator's to the consolidation screen."""
        request_id = ctx.request.id if ctx.request else None
        screens = [_SCREENS[role]]
        if role == REQUESTER and request_id is not None:
            screens.insert(0, "request")
        url = None
        for screen in screens:
            url = self._ask_url(screen, ctx.account.id, request_id)
            if url is not None:
                break
        return url

    def _ask_url(self, screen: str, account_id: str, request_id: str | None) -> str | None:
        try:
            url = self.pm.hook.torimatome_screen_url(
                screen=screen, account_id=account_id, request_id=request_id
            )
        except Exception:
            log.exception("torimatome_screen_url failed; the mail goes out without a link")
            return None
        if url is not None and (
            not isinstance(url, str) or forbidden_character(url, allow_line_breaks=False)
        ):
            log.error("torimatome_screen_url returned %r, not a one-line str; no link", url)
            return None
        return url

    def _compose(
        self, ctx: MailContext, recipient: User, locale: str
    ) -> tuple[bytes, EmailMessage]:
        """The shop's template if it gives a usable mail, else torimatome's own: its bytes, and
        the mail read back from them.

        A failing shop template must not stop the office's work (the request, the decision):
        it is logged and the built-in template is used instead.
        """
        try:
            custom = self.pm.hook.torimatome_compose_mail(
                event=ctx, recipient=recipient, locale=locale
            )
            if custom is not None:
                if not isinstance(custom, EmailMessage):
                    raise MailError(f"it returned {type(custom).__name__}, not EmailMessage")
                # A shop may hand back one shared template object: fill in a copy of it.
                return self._finish(copy.deepcopy(custom), ctx, recipient)
        except Exception:
            log.exception(
                "torimatome_compose_mail failed for %s (%s); torimatome's template is used",
                ctx.event,
                ctx.recipient_role,
            )
        try:
            return self._finish(self._template(ctx, recipient, locale), ctx, recipient)
        except MailError:
            raise
        except Exception as exc:
            raise MailError(f"Mail could not be composed: {exc!r}") from exc

    def _finish(
        self, message: EmailMessage, ctx: MailContext, recipient: User
    ) -> tuple[bytes, EmailMessage]:
        """Fill in the headers torimatome owns and refuse what could misdirect the mail; the
        bytes to store, serialised once, and the mail as a transport will read them."""
        # Header names only: reading a header's value parses it, which costs more than the rest.
        present = {name.lower() for name in message.keys()}  # noqa: SIM118 (a list of names)
        try:
            if "from" not in present:
                message["From"] = self._address(self.config.mail_from_name, self.config.mail_from)
            if "to" not in present:
                message["To"] = self._address(recipient.display_name, recipient.email)
            if "message-id" not in present:
                message["Message-ID"] = make_msgid(domain="torimatome.invalid")
            if "date" not in present and ctx.at is not None:
                message["Date"] = format_datetime(ctx.at)
        except (ValueError, TypeError) as exc:
            raise MailError(f"A mail header could not be set: {exc}") from exc
        if self.config.mail_charset == "iso-2022-jp":
            _headers_in_iso_2022_jp(message)
        try:
            return _check_as_sent(message, recipient)
        except MailError:
            if message["To"] is None or recipient.email not in str(message["To"]):
                raise
            # A display name the mail library renders ambiguously (an encoded word, say):
            # address the recipient by their bare address rather than risk another reading.
            message.replace_header("To", recipient.email)
            return _check_as_sent(message, recipient)

    @staticmethod
    def _address(name: str, email: str) -> str:
        local, _, domain = email.partition("@")
        return str(Address(display_name=name, username=local, domain=domain))

    def _template(self, ctx: MailContext, recipient: User, locale: str) -> EmailMessage:
        key = (ctx.event, ctx.recipient_role, locale)
        requester = ctx.requester.display_name if ctx.requester else ""
        subject = SUBJECTS[key].format(requester=requester)
        ja = locale == "ja"
        lines = [f"{recipient.display_name} 様" if ja else f"Dear {recipient.display_name},", ""]
        lines.append(INTRO[key])
        lines.extend(self._details(ctx, ja))
        if ctx.event == "user_registered":
            # The login ID, never the password: that one is handed over in person.
            lines += ["", f"{'ログインID' if ja else 'Login ID'}: {recipient.login_id}"]
        if ctx.url:
            lines += ["", ctx.url]
        lines += ["", "-- ", ctx.account.name]
        body = "\n".join(lines) + "\n"
        message = EmailMessage()
        message["Subject"] = subject
        charset = self.config.mail_charset
        if charset == "iso-2022-jp":
            try:
                body.encode("iso-2022-jp")
            except UnicodeEncodeError:
                charset = "utf-8"  # a character ISO-2022-JP cannot carry: fall back whole
        # ISO-2022-JP is 7-bit by design (RFC 1468): send it as is, not quoted-printable, unless
        # a line would pass SMTP's 998-octet limit (a very long post).
        cte = None
        if charset == "iso-2022-jp":
            longest = max(len(line.encode("iso-2022-jp")) for line in body.splitlines())
            cte = "7bit" if longest <= 900 else "base64"
        message.set_content(body, charset=charset, cte=cte)
        return message

    def _details(self, ctx: MailContext, ja: bool) -> list[str]:
        out: list[str] = []
        requests = ctx.requests or ((ctx.request,) if ctx.request is not None else ())
        for request in requests:
            zone = ctx.account.zone
            at = request.submitted_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
            out += ["", f"{'依頼番号' if ja else 'Request'}: {request.id}"]
            out.append(f"{'依頼日時' if ja else 'Submitted'}: {at} ({ctx.account.timezone})")
            # Requests of a shared address may come from several people: name only the one
            # the context knows.
            if ctx.requester is not None and request.requester_id == ctx.requester.id:
                out.append(f"{'依頼者' if ja else 'Requester'}: {ctx.requester.display_name}")
            for line in _lines_of(request, ctx.line_ids):
                status = line.status.label("ja" if ja else "en")
                out.append(
                    f"  - {line.name} ({line.sku}) × {line.quantity}  "
                    f"{'¥'}{line.unit_price:,}  [{status}]"
                )
            if request.message and ctx.event == "request_submitted":
                out.append(f"{'伝言メッセージ' if ja else 'Message'}: {request.message}")
        if ctx.message is not None:
            out += ["", f"{'メッセージ' if ja else 'Message'}: {ctx.message.body}"]
        if ctx.order_id is not None:
            out.append(f"{'注文番号' if ja else 'Order'}: {ctx.order_id}")
        return out


def _headers_in_iso_2022_jp(message: EmailMessage) -> None:
    """Write Subject and the display names of From and To as ISO-2022-JP encoded words, as
    Japanese mail readers expect; a header with a character ISO-2022-JP cannot carry stays
    UTF-8. The encoded text is stored raw so the mail library does not re-encode it."""
    for name in ("Subject", "From", "To"):
        header = message[name]
        if header is None or str(header).isascii():
            continue
        try:
            if name == "Subject":
                value = Header(str(header), "iso-2022-jp", header_name=name).encode()
            else:
                value = ", ".join(_iso_2022_jp_address(name, a) for a in header.addresses)
        except UnicodeEncodeError:
            continue  # keep the UTF-8 encoded words the mail library writes
        del message[name]
        message.set_raw(name, value)


def _iso_2022_jp_address(name: str, address: Address) -> str:
    """One address with its display name as a single ISO-2022-JP encoded word.

    A name too long for one word raises UnicodeEncodeError so the header stays UTF-8: the
    mail library reads several encoded words in a display name back with spaces between them.
    """
    spec = f"<{address.addr_spec}>"
    if not address.display_name:
        return spec
    word = Header(address.display_name, "iso-2022-jp", header_name=name).encode()
    if "\n" in word:
        raise UnicodeEncodeError("iso-2022-jp", address.display_name, 0, 1, "name too long")
    # Within 78 characters a line, or the mail library would fold it again, in UTF-8.
    fits = len(name) + 2 + len(word) + 1 + len(spec) <= 78
    return f"{word}{' ' if fits else chr(10) + ' '}{spec}"


_ADDRESSING = ("cc", "bcc", "resent-")


def _check_as_sent(message: EmailMessage, recipient: User) -> tuple[bytes, EmailMessage]:
    """torimatome chose the recipient at commit: a template may word the mail, not re-address
    it. The check reads the mail back from its bytes, as a transport will, so nothing the mail
    library renders differently (an encoded word in a name, a header name with a line break)
    slips past it."""
    try:
        raw = message.as_bytes()
        sent = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    except Exception as exc:
        raise MailError(f"The mail could not be serialised: {exc!r}") from exc
    if message.defects or sent.defects:
        raise MailError(f"The mail is malformed: {message.defects or sent.defects}.")
    broken = broken_header(message)
    if broken is not None:
        raise MailError(f"The mail header {broken!r} is malformed.")
    names = [name.lower() for name in sent]  # a message iterates its header names
    if any(name.startswith(_ADDRESSING) for name in names) or names.count("to") != 1:
        raise MailError("A composed mail must have one To and no Cc, Bcc or Resent- headers.")
    addresses = [address.addr_spec.lower() for address in sent["To"].addresses]
    if addresses != [recipient.email.lower()]:
        raise MailError(
            f"A composed mail must be addressed to its recipient only, not {addresses}."
        )
    return raw, sent


def _lines_of(request: OrderRequest, line_ids: Sequence[str]) -> list[RequestLine]:
    wanted = set(line_ids)
    return [ln for ln in request.lines if not wanted or ln.id in wanted]


def coordinators(users: Iterable[User]) -> list[User]:
    return [u for u in users if u.role is Role.COORDINATOR and u.active]
