"""The mail port: what a mail template receives; transports are plugins.

A transport is any plugin implementing ``torimatome_send_mail(message)``; a template is any
plugin implementing ``torimatome_compose_mail(event, recipient, locale)``, which receives a
:class:`MailContext`.
"""

from __future__ import annotations

import datetime as dt

import attrs

from ..domain.accounts import Account
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.users import User

__all__ = ["MailContext"]


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
