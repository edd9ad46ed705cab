"""The cron jobs: mail delivery from the outbox and the retention purge."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes, policy
from email.message import EmailMessage

from ..domain.errors import InvalidInput
from ..domain.views import DeliveryReport, PurgeReport
from .core import Service

__all__ = ["Jobs"]


class Jobs(Service):
    """The cron jobs."""

    def purge_expired(self, dry_run: bool = False) -> PurgeReport:
        """Delete what the views already hide: closed requests submitted before each account's
        retention window, with their lines, messages and delivered mails (a cron job)."""
        if not isinstance(dry_run, bool):
            raise InvalidInput("dry_run must be a bool.", field="dry_run")
        now = self.now()
        totals = {"requests": 0, "lines": 0, "messages": 0, "mails": 0, "kept_open": 0}
        with self._unit(write=False) as uow:
            account_ids = uow.accounts.all_ids()
        for account_id in account_ids:
            with self._unit(write=not dry_run) as uow:
                account = uow.accounts.get(account_id)
                if account is None:
                    continue
                before = self._visible_since(account, now)
                counts = uow.requests.purge(account.id, before, dry_run=dry_run)
            for name in totals:
                totals[name] += getattr(counts, name)
        return PurgeReport(dry_run=dry_run, **totals)

    def deliver_mail(self) -> DeliveryReport:
        """Send every pending mail whose next attempt is due (a cron job); never raises for
        transport trouble. A failed send is retried later with capped exponential backoff."""
        now = self.now()
        if not self.pm.hook.torimatome_send_mail.get_hookimpls():
            with self._unit(write=False) as uow:
                waiting = uow.outbox.pending_count()
            return DeliveryReport(pending=waiting, reason="no mail transport configured")
        lease = dt.timedelta(seconds=self.config.mail_retry_base_seconds)
        with self._unit() as uow:
            due = uow.outbox.due(now, self.config.mail_batch)
            # Claim the batch so a concurrent deliverer does not send the same mails.
            for mail in due:
                uow.outbox.reschedule(mail.id, attempts=mail.attempts,
                                      next_attempt_at=now + lease,
                                      error=mail.last_error or "")  # fmt: skip
        sent = failed = 0
        reasons: list[str] = []
        for mail in due:
            message = message_from_bytes(mail.raw, _class=EmailMessage, policy=policy.default)
            try:
                ok = self.pm.hook.torimatome_send_mail(message=message) is True
                error = "" if ok else "the transport did not confirm the mail"
            except Exception as exc:
                ok, error = False, f"{type(exc).__name__}: {exc}"
            with self._unit() as uow:
                if ok:
                    uow.outbox.mark_sent(mail.id, self.now())
                    sent += 1
                else:
                    attempts = mail.attempts + 1
                    uow.outbox.reschedule(mail.id, attempts=attempts,
                                          next_attempt_at=now + self._backoff(attempts),
                                          error=error[:500])  # fmt: skip
                    failed += 1
                    reasons.append(error)
        with self._unit(write=False) as uow:
            waiting = uow.outbox.pending_count()
        reason = reasons[0] if reasons else None
        return DeliveryReport(sent=sent, failed=failed, pending=waiting, reason=reason)

    def _backoff(self, attempts: int) -> dt.timedelta:
        base = self.config.mail_retry_base_seconds
        seconds = min(self.config.mail_retry_cap_seconds, base * 2 ** min(attempts - 1, 30))
        return dt.timedelta(seconds=seconds)
