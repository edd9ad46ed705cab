"""The mail port: what a mail template receives; transports are plugins.

A transport is any plugin implementing ``torimatome_send_mail(message)``; a template is any
plugin implementing ``torimatome_compose_mail(event, recipient, locale)``, which receives a
:class:`MailContext`.
"""

from __future__ import annotations

import datetime as dt
import re
from email.message import EmailMessage

import attrs

from ..domain.accounts import Account
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.users import User

__all__ = ["MailContext", "broken_header"]


@attrs.frozen
class MailContext:
    """What a mail template may use: passed to ``torimatome_compose_mail`` as ``event``.

    ``event`` is the event's name (``request_submitted``...), ``recipient_role`` one of
    ``requester``, ``coordinator`` or ``user``, ``url`` the shop's screen URL for that role,
    ``at`` when the change committed. ``requests`` holds every request the mail is about when
    one event touched several of the recipient's requests (``request`` is the first).
    """

    event: str
    account: Account
    actor: User
    recipient_role: str
    request: OrderRequest | None = None
    requester: User | None = None
    message: Message | None = None
    line_ids: tuple[str, ...] = ()
    order_id: str | None = None
    url: str | None = None
    at: dt.datetime | None = None
    requests: tuple[OrderRequest, ...] = ()


_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext: printable ASCII but the colon


def broken_header(message: EmailMessage) -> str | None:
    """The name of the first header that would not survive the wire as one header, or None.

    A name must be RFC 5322 ftext, and a value may break a line only to fold it (CRLF or LF
    followed by white space): any other break would start another header (``Bcc:``...) in the
    bytes sent. The raw values are read, because reading a header through the mail library
    unfolds it and hides the break. Composing and sending both check this.
    """
    for name, value in message.raw_items():
        text = str(value).replace("\r\n", "\n")
        folds = text.split("\n")[1:]
        if (
            not _FIELD_NAME.fullmatch(name)
            or "\r" in text
            or any(not line[:1].isspace() for line in folds)
        ):
            return name
    return None
