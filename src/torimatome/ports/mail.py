"""The mail port: transports deliver composed messages; the outbox keeps them until then.

A transport is any plugin implementing ``torimatome_send_mail(message)``.
"""

from __future__ import annotations

from email.message import EmailMessage
from typing import Protocol

from .storage import OutboxMail

__all__ = ["MailTransport", "OutboxMail"]


class MailTransport(Protocol):
    def torimatome_send_mail(self, message: EmailMessage) -> bool | None: ...
