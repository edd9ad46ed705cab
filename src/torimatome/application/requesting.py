"""The requester's side: filing, copying and withdrawing requests, and message threads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from ..domain.accounts import Account
from ..domain.errors import NotFound
from ..domain.events import LineWithdrawn, MessagePosted, RequestSubmitted
from ..domain.features import Feature
from ..domain.lines import Act, RequestLine
from ..domain.message_policy import check_thread_post
from ..domain.messages import Message
from ..domain.requests import NewLine, OrderRequest, validate_lines
from ..domain.roles import Role
from ..domain.users import User
from ..domain.validation import check_id, check_idempotency_key
from ..ports.mail import MailContext
from ..ports.storage import UnitOfWork
from .codec import fingerprint
from .core import Service, with_current_names
from .mail_templates import COORDINATOR, REQUESTER
from .mailer import coordinators

__all__ = ["Requesting"]


class Requesting(Service):
    """The requester's side."""

    def submit_request(
        self,
        actor: str,
        lines: Sequence[NewLine],
        message: str = "",
        *,
        idempotency_key: str | None = None,
    ) -> OrderRequest:
        """File a request (注文を依頼する) from the actor's cart; mails the requester and every
        coordinator. The same ``idempotency_key`` with the same payload returns the first
        request and changes nothing."""
        checked = validate_lines(lines, max_quantity=self.config.max_quantity)
        key = check_idempotency_key(idempotency_key)
        now = self.now()
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.REQUEST_ORDER)
            account = self._account(uow, user.account_id)
            text = account.settings.cart_message_policy.check(
                message, allow_line_breaks=False, field="message"
            )
            digest = fingerprint({"lines": checked, "message": text})
            replay = self._replay(uow, user.id, key, "submit_request", digest, OrderRequest, now)
            if replay is not None and uow.requests.get(replay.id) is not None:
                return replay
            if replay is not None and key is not None:
                # The request it answered was purged since: the key is free again.
                uow.idempotency.delete(user.id, key)
            request = self._new_request(uow, account, user, checked, text, key, now)
            self._remember(uow, user.id, key, "submit_request", digest, request, now)
            event = RequestSubmitted(
                account_id=account.id,
                request_id=request.id,
                requester_id=user.id,
                line_ids=tuple(ln.id for ln in request.lines),
                at=now,
            )
        self._publish([event])
        return request

    def _new_request(
        self,
        uow: UnitOfWork,
        account: Account,
        user: User,
        lines: Sequence[NewLine],
        message: str,
        key: str | None,
        now: dt.datetime,
    ) -> OrderRequest:
        request_id = self._new_id("req")
        request = OrderRequest(
            id=request_id,
            account_id=account.id,
            requester_id=user.id,
            submitted_at=now,
            message=message,
            lines=tuple(
                RequestLine(
                    id=self._new_id("line"),
                    request_id=request_id,
                    account_id=account.id,
                    requester_id=user.id,
                    position=index,
                    sku=line.sku,
                    name=line.name,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                )
                for index, line in enumerate(lines)
            ),
            idempotency_key=key,
        )
        uow.requests.add(request)
        if self._mailer.wants("request_submitted"):
            base = MailContext("request_submitted", account, user, REQUESTER, request, user)
            staff = coordinators(uow.users.coordinators(account.id))
            recipients = [(user, REQUESTER)] + [(c, COORDINATOR) for c in staff]
            self._mailer.enqueue(uow, now, base, recipients)
        return request

    def copy_request(
        self,
        actor: str,
        request_id: str,
        *,
        message: str | None = None,
        idempotency_key: str | None = None,
    ) -> OrderRequest:
        """File a new request with the lines of one of the actor's own past requests (new ids,
        new time, every line requested, an empty thread); its message unless ``message`` is
        given (the policy may have tightened since)."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.REQUEST_ORDER)
            _, old = self._request_for(uow, user, request_id, self.now())
        lines = [
            NewLine(sku=ln.sku, name=ln.name, quantity=ln.quantity, unit_price=ln.unit_price)
            for ln in old.lines
        ]
        text = old.message if message is None else message
        return self.submit_request(actor, lines, text, idempotency_key=idempotency_key)

    def withdraw(self, actor: str, line_id: str) -> RequestLine:
        """The requester takes back one of their undecided (requested or held) lines."""
        lid = check_id(line_id, "line_id")
        now = self.now()
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.REQUEST_ORDER)
            line = uow.requests.lines([lid]).get(lid)
            if line is None or line.requester_id != user.id:
                raise NotFound("line", lid)
            moved = line.move(Act.WITHDRAW)
            uow.requests.update_lines([moved])
            event = LineWithdrawn(
                account_id=user.account_id,
                request_id=line.request_id,
                line_id=lid,
                requester_id=user.id,
                at=now,
            )
            if self._mailer.wants(event.name):
                account = self._account(uow, user.account_id)
                request = uow.requests.get(line.request_id)
                base = MailContext(event.name, account, user, COORDINATOR, request, user,
                                   line_ids=(lid,))  # fmt: skip
                others = coordinators(uow.users.coordinators(account.id))
                self._mailer.enqueue(uow, now, base, [(c, COORDINATOR) for c in others])
        self._publish([event])
        return moved

    def post_message(self, actor: str, request_id: str, body: str) -> Message:
        """Post on a request's thread: its requester or any coordinator of the account."""
        now = self.now()
        with self._unit() as uow:
            user = self._actor(uow, actor, Feature.MESSAGES)
            account, request = self._request_for(uow, user, request_id, now)
            text = check_thread_post(account.settings.message_policy, body, field="body")
            message = Message(
                id=self._new_id("msg"),
                request_id=request.id,
                author_id=user.id,
                body=text,
                posted_at=now,
                author_name=user.display_name,
            )
            uow.messages.add(message)
            event = MessagePosted(
                account_id=account.id,
                request_id=request.id,
                message_id=message.id,
                author_id=user.id,
                at=now,
            )
            if self._mailer.wants(event.name):
                requester = uow.users.get(request.requester_id)
                base = MailContext(event.name, account, user, REQUESTER, request, requester,
                                   message=message)  # fmt: skip
                if user.role is Role.COORDINATOR and requester is not None:
                    recipients = [(requester, REQUESTER)]
                else:
                    staff = coordinators(uow.users.coordinators(account.id))
                    recipients = [(c, COORDINATOR) for c in staff]
                self._mailer.enqueue(uow, now, base, recipients)
        self._publish([event])
        return message

    def thread(self, actor: str, request_id: str) -> list[Message]:
        """A request's messages in time order, each with its author's current name."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.MESSAGES)
            _, request = self._request_for(uow, user, request_id, self.now())
            thread = uow.messages.for_request(request.id)
            names = self._names(uow, user.account_id, (m.author_id for m in thread))
            return with_current_names(thread, names)
