"""Reference mail transports: captured in memory (tests) and printed to a console (demo).

Neither is registered by default: there is no default transport, so mails wait in the outbox
until the shop passes one (``torimatome.open(url, plugins=[transport])``).
"""

from __future__ import annotations

import sys
from email.message import EmailMessage
from typing import TextIO

from ..ports.hookspecs import hookimpl

__all__ = ["ConsoleMailTransport", "MemoryMailTransport"]


class MemoryMailTransport:
    """Keeps every delivered mail in ``sent``; ``fail_next`` makes the next sends fail."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail_next = 0

    @hookimpl
    def torimatome_send_mail(self, message: EmailMessage) -> bool:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise ConnectionError("simulated transport failure")
        self.sent.append(message)
        return True

    def to(self, address: str) -> list[EmailMessage]:
        """Mails delivered to ``address`` (case-insensitive)."""
        return [m for m in self.sent if str(m["To"]).lower().endswith(address.lower() + ">")
                or str(m["To"]).lower() == address.lower()]  # fmt: skip


class ConsoleMailTransport:
    """Prints each mail's headers and text body, as a readable transcript."""

    def __init__(self, stream: TextIO | None = None, indent: str = "    ") -> None:
        self.stream = stream
        self.indent = indent

    @hookimpl
    def torimatome_send_mail(self, message: EmailMessage) -> bool:
        out = self.stream or sys.stdout
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        print(f"{self.indent}✉ To: {message['To']}", file=out)
        print(f"{self.indent}  Subject: {message['Subject']}", file=out)
        for line in text.rstrip().splitlines():
            print(f"{self.indent}  | {line}", file=out)
        return True
