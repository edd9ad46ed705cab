"""The cron jobs: mail delivery from the outbox and the retention purge."""

from __future__ import annotations

import datetime as dt
import logging
from email import message_from_bytes, policy
from email.message import EmailMessage

import attrs

from ..domain.errors import InvalidInput
from ..domain.views import DeliveryReport, PurgeReport
from ..ports.storage import OutboxMail, PurgeCounts
from .core import Service
from .plugins import call_each

__all__ = ["Jobs"]

log = logging.getLogger("torimatome")

# Mails claimed per transaction: small, so a claim is fresh when its mail is sent.
_CLAIM_CHUNK = 20


class Jobs(Service):
    """The cron jobs."""

    def purge_expired(self, dry_run: bool = False) -> PurgeReport:
        """Delete what the views already hide: closed requests submitted before each account's
        retention window, with their lines, messages and delivered mails (a cron job)."""
        if not isinstance(dry_run, bool):
            raise InvalidInput("dry_run must be a bool.", field="dry_run")
        now = self.now()
        totals = {field.name: 0 for field in attrs.fields(PurgeCounts)}
        with self._unit(write=False) as uow:
            account_ids = uow.accounts.all_ids()
        windows: list[dt.datetime] = []
        batch = self.config.purge_batch
        for account_id in account_ids:
            while True:
                # One short transaction per batch, so the write lock is never held for long
                # however much history an account has; a dry run counts in one read.
                with self._unit(write=not dry_run) as uow:
                    account = uow.accounts.get(account_id)
                    if account is None:
                        break
                    before = self._visible_since(account, now)
                    limit = None if dry_run else batch
                    counts = uow.requests.purge(account.id, before, dry_run=dry_run, limit=limit)
                for name in totals:
                    totals[name] += getattr(counts, name)
                if dry_run or counts.requests < batch:
                    windows.append(before)
                    break
        if not dry_run:
            # Idempotency keys hold copies of what they answered: expired ones go, and so does
            # every key older than the newest retention window, whose request may be gone.
            cutoff = now - dt.timedelta(seconds=self.config.idempotency_ttl_seconds)
            cutoff = max([cutoff, *windows])
            with self._unit() as uow:
                uow.idempotency.purge(cutoff)
        return PurgeReport(dry_run=dry_run, **totals)

    def deliver_mail(self) -> DeliveryReport:
        """Send every pending mail whose next attempt is due (a cron job); never raises for
        transport trouble. A failed send is retried later with capped exponential backoff.

        Mails are claimed a few at a time (their next attempt moved ``mail_claim_seconds``
        ahead), and each claim is renewed just before its mail is sent, so deliverers running
        side by side, in threads or processes, never pick the same mail unless one send alone
        outlasts a whole claim period.
        """
        if not self.pm.hook.torimatome_send_mail.get_hookimpls():
            with self._unit(write=False) as uow:
                waiting = uow.outbox.pending_count()
            return DeliveryReport(pending=waiting, reason="no mail transport configured")
        self._tell("torimatome_delivery_started")
        report = DeliveryReport(reason="the delivery run failed")
        try:
            report = self._deliver_due()
        finally:
            self._tell("torimatome_delivery_finished", report=report)
        return report

    def _tell(self, hook_name: str, **kwargs: object) -> None:
        """Call a delivery hook; a failing listener is logged, never raised (a cron job), and
        never keeps the others (a transport closing its connection) from being called."""
        call_each(self.pm, hook_name, **kwargs)

    def _deliver_due(self) -> DeliveryReport:
        sent = failed = 0
        reasons: list[str] = []
        budget = self.config.mail_batch
        while budget > 0:
            claimed = self._claim(min(_CLAIM_CHUNK, budget))
            if not claimed:
                break
            budget -= len(claimed)
            for mail, chunk_claim in claimed:
                claim = self._renew(mail, chunk_claim)
                if claim is None:
                    continue  # another deliverer took it over after our claim ran out
                error = self._send(mail)
                if error is None:
                    sent += 1
                else:
                    failed += 1
                    reasons.append(error)
                self._settle(mail, claim, error)
        with self._unit(write=False) as uow:
            waiting = uow.outbox.pending_count()
        reason = reasons[0] if reasons else None
        return DeliveryReport(sent=sent, failed=failed, pending=waiting, reason=reason)

    def _claim(self, limit: int) -> list[tuple[OutboxMail, dt.datetime]]:
        now = self.now()
        until = now + dt.timedelta(seconds=self.config.mail_claim_seconds)
        with self._unit() as uow:
            due = uow.outbox.due(now, limit)
            for mail in due:
                uow.outbox.claim(mail.id, until)
        return [(mail, until) for mail in due]

    def _renew(self, mail: OutboxMail, claim: dt.datetime) -> dt.datetime | None:
        """Just before sending, renew our claim on the mail for a whole claim period (compare
        and set in one unit), or give up if another deliverer holds it now."""
        with self._unit() as uow:
            current = uow.outbox.get(mail.id)
            if current is None or current.sent_at is not None or current.next_attempt_at != claim:
                return None
            renewed = self.now() + dt.timedelta(seconds=self.config.mail_claim_seconds)
            uow.outbox.claim(mail.id, renewed)
        return renewed

    def _send(self, mail: OutboxMail) -> str | None:
        """Hand one mail to the transport; the error text, or None once it confirmed."""
        message = message_from_bytes(mail.raw, _class=EmailMessage, policy=policy.default)
        try:
            answer = self.pm.hook.torimatome_send_mail(message=message)
        except Exception as exc:
            return _printable(f"{type(exc).__name__}: {exc}")
        if answer is True:
            return None
        if answer not in (None, False):
            # smtplib's send_message returns {} on success: a transport passing that on would
            # have its mails sent again and again, so say loudly what came back.
            log.warning("torimatome_send_mail returned %r; only True confirms a mail", answer)
        return _printable(f"the transport did not confirm the mail (it returned {answer!r})")

    def _settle(self, mail: OutboxMail, claim: dt.datetime, error: str | None) -> None:
        with self._unit() as uow:
            current = uow.outbox.get(mail.id)
            if current is None or current.sent_at is not None:
                return
            if error is None:
                uow.outbox.mark_sent(mail.id, self.now())
            elif current.next_attempt_at == claim:
                # Still ours: schedule the retry. (If another deliverer took the mail over after
                # our claim ran out, its own attempt decides what happens next.)
                attempts = mail.attempts + 1
                uow.outbox.reschedule(mail.id, attempts=attempts,
                                      next_attempt_at=self.now() + self._backoff(attempts),
                                      error=error[:500])  # fmt: skip

    def _backoff(self, attempts: int) -> dt.timedelta:
        base = self.config.mail_retry_base_seconds
        seconds = min(self.config.mail_retry_cap_seconds, base * 2 ** min(attempts - 1, 30))
        return dt.timedelta(seconds=seconds)


def _printable(text: str) -> str:
    """A transport's error text as it can be stored and shown: a lone surrogate (bytes decoded
    with ``surrogateescape``), a control character or a line break becomes ``?``, and it is
    cut to 500 characters."""
    return "".join(ch if ch.isprintable() else "?" for ch in text[:500])
