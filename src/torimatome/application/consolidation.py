"""The coordinator's screen: the pending list, decide batches, release and orders."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Mapping, Sequence

import attrs

from ..domain.cart import CartEntry, CartRef
from ..domain.decide import MAX_BATCH, Choice, complete_decision, parse_choices, plan_decision
from ..domain.errors import AccessDenied, CartError, InvalidInput, InvalidTransition, NotFound
from ..domain.events import LinesDecided, LinesOrdered
from ..domain.features import Feature
from ..domain.lines import Act, RequestLine
from ..domain.requests import OrderRequest
from ..domain.users import User
from ..domain.validation import check_id, check_idempotency_key, check_text
from ..domain.views import Decision, PendingGroup
from ..ports.mail import MailContext
from ..ports.storage import UnitOfWork
from .codec import fingerprint
from .core import Service
from .mail_templates import REQUESTER

__all__ = ["Consolidation"]

log = logging.getLogger("torimatome")


class Consolidation(Service):
    """The coordinator's screen."""

    def pending(self, actor: str) -> list[PendingGroup]:
        """Every requested or held line of the account, grouped by requester (oldest first);
        each line carries the version to pass back to :meth:`decide`."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.CONSOLIDATION)
            lines = uow.requests.pending_lines(user.account_id)
            names = self._names(uow, user.account_id, (ln.requester_id for ln in lines))
        groups: dict[str, list[RequestLine]] = {}
        for line in lines:
            groups.setdefault(line.requester_id, []).append(line)
        return [
            PendingGroup(requester_id=rid, requester_name=names.get(rid, ""), lines=tuple(group))
            for rid, group in groups.items()
        ]

    def pending_count(self, actor: str) -> int:
        """How many lines wait for a decision (the 依頼を見る button)."""
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.CONSOLIDATION)
            return uow.requests.pending_count(user.account_id)

    def decide(
        self,
        actor: str,
        choices: Mapping[str, Choice | str],
        versions: Mapping[str, int] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> Decision:
        """Decide a batch (決定する): consolidate, hold or delete each named line, atomically.

        ``versions`` are the versions the coordinator saw (from :meth:`pending`); a line that
        moved since, or is no longer pending, makes the batch a :class:`Conflict` naming it.
        Consolidated lines go into the coordinator's cart; if the cart refuses or fails, no
        line changes.
        """
        parsed, seen = parse_choices(choices, versions)
        key = check_idempotency_key(idempotency_key)
        digest = fingerprint({"choices": parsed, "versions": seen})
        now = self.now()
        refs: list[CartRef] = []
        coordinator: User | None = None
        try:
            with self._unit() as uow:
                coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
                replay = self._replay(uow, coordinator.id, key, "decide", digest, Decision, now)
                if replay is not None:
                    return replay
                lines = uow.requests.lines(parsed)
                for line_id in parsed:
                    line = lines.get(line_id)
                    if line is None or line.account_id != coordinator.account_id:
                        raise NotFound("line", line_id)
                    if line.requester_id == coordinator.id:
                        # An internal user promoted to coordinator must not approve what they
                        # requested themselves: another coordinator decides those lines.
                        raise AccessDenied(
                            str(Feature.CONSOLIDATION),
                            en=f"Line {line_id!r} is your own request; another coordinator "
                            "decides it.",
                        )
                plan = plan_decision(lines, parsed, seen, coordinator_id=coordinator.id, now=now)
                if plan.entries:
                    refs = self._add_to_cart(coordinator.account_id, coordinator.id, plan.entries)
                new_lines, decision = complete_decision(plan, refs)
                uow.requests.update_lines(new_lines)
                self._remember(uow, coordinator.id, key, "decide", digest, decision, now)
                request_ids = tuple(dict.fromkeys(ln.request_id for ln in new_lines))
                event = LinesDecided(
                    account_id=coordinator.account_id,
                    coordinator_id=coordinator.id,
                    consolidated=decision.consolidated,
                    held=decision.held,
                    deleted=decision.deleted,
                    request_ids=request_ids,
                    at=now,
                )
                self._mail_requesters(uow, coordinator, event.name, request_ids,
                                      tuple(parsed), now)  # fmt: skip
        except BaseException:
            if refs and coordinator is not None:
                self._compensate(coordinator.account_id, coordinator.id, refs)
            raise
        self._publish([event])
        return decision

    def _add_to_cart(
        self, account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        try:
            refs = self.pm.hook.torimatome_add_to_cart(
                account_id=account_id, coordinator_id=coordinator_id, entries=list(entries)
            )
        except CartError:
            raise
        except Exception as exc:
            raise CartError(f"The cart failed: {exc!r}") from exc
        if refs is None:
            raise CartError("No cart answered torimatome_add_to_cart.")
        answered = list(refs) if isinstance(refs, list | tuple) else [refs]
        accepted = [ref for ref in answered if isinstance(ref, CartRef)]
        if len(accepted) != len(answered):
            # Take back what the cart did accept before refusing its malformed answer.
            self._compensate(account_id, coordinator_id, accepted)
            raise CartError("The cart answered with something other than a list of CartRef.")
        return accepted

    def _compensate(self, account_id: str, coordinator_id: str, refs: Sequence[CartRef]) -> None:
        try:
            self.pm.hook.torimatome_remove_from_cart(
                account_id=account_id, coordinator_id=coordinator_id, refs=list(refs)
            )
        except Exception:
            log.exception("torimatome could not take back cart lines %s", [r.ref for r in refs])

    def _mail_requesters(
        self,
        uow: UnitOfWork,
        actor: User,
        event_name: str,
        request_ids: Sequence[str],
        line_ids: tuple[str, ...],
        now: dt.datetime,
        order_id: str | None = None,
    ) -> None:
        if not self._mailer.wants(event_name):
            return
        account = self._account(uow, actor.account_id)
        # One mail per address per event: gather every request of the event under the address
        # its requester has now, then compose once per address.
        by_address: dict[str, list[tuple[User, OrderRequest]]] = {}
        for request_id in request_ids:
            request = uow.requests.get(request_id)
            requester = uow.users.get(request.requester_id) if request else None
            if request is None or requester is None or not requester.email:
                continue
            by_address.setdefault(requester.email.lower(), []).append((requester, request))
        for pairs in by_address.values():
            requester, first = pairs[0]
            base = MailContext(event_name, account, actor, REQUESTER, first, requester,
                               line_ids=line_ids, order_id=order_id,
                               requests=tuple(r for _, r in pairs))  # fmt: skip
            self._mailer.enqueue(uow, now, base, [(requester, REQUESTER)])

    def release(self, actor: str, line_id: str) -> RequestLine:
        """Take a consolidated line back out of the cart: it is requested again.

        If the cart gave the line up but the release then fails to commit, the line is put
        back in the cart (under the new reference the cart gives it, its version one step on),
        so a consolidated line is never left outside the cart.
        """
        lid = check_id(line_id, "line_id")
        given_up: tuple[RequestLine, str] | None = None
        try:
            with self._unit() as uow:
                coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
                line = uow.requests.lines([lid]).get(lid)
                if line is None or line.account_id != coordinator.account_id:
                    raise NotFound("line", lid)
                moved = line.move(Act.RELEASE, cart_ref=None, decided_by=None, decided_at=None)
                uow.requests.update_lines([moved])
                # Removed inside the unit: a cart that refuses leaves the line consolidated and
                # in the cart; a commit that fails after the cart let go puts it back (below).
                # The other order could leave a released line in the cart, where checkout
                # would buy it.
                if line.cart_ref is not None:
                    # The line sits in the cart of the coordinator who consolidated it, whoever
                    # releases it now.
                    owner = line.decided_by or coordinator.id
                    try:
                        self.pm.hook.torimatome_remove_from_cart(
                            account_id=coordinator.account_id,
                            coordinator_id=owner,
                            refs=[CartRef(line.id, line.cart_ref)],
                        )
                    except Exception as exc:
                        raise CartError(f"The cart could not release the line: {exc!r}") from exc
                    given_up = (line, owner)
        except BaseException:
            if given_up is not None:
                self._put_back(*given_up)
            raise
        return moved

    def _put_back(self, line: RequestLine, owner: str) -> None:
        """Undo a cart removal whose release did not commit: add the line to its cart again
        and store the new reference. Should that fail too, the line is taken back out of the
        cart again (a consolidated line outside the cart is repaired by releasing it; a stray
        cart line would be bought) and the failure is logged."""
        entry = CartEntry(line.id, line.sku, line.name, line.quantity, line.unit_price)
        try:
            refs = self._add_to_cart(line.account_id, owner, [entry])
        except Exception:
            log.exception("torimatome could not put line %s back in the cart", line.id)
            return
        try:
            (ref,) = refs
            if ref.line_id != line.id:
                raise CartError(f"The cart answered for {ref.line_id!r}, not {line.id!r}.")
            with self._unit() as uow:
                current = uow.requests.lines([line.id]).get(line.id)
                if current != line:
                    raise CartError(f"Line {line.id!r} moved while it was put back.")
                uow.requests.update_lines(
                    [attrs.evolve(line, cart_ref=ref.ref, version=line.version + 1)]
                )
        except Exception:
            self._compensate(line.account_id, owner, refs)
            log.exception("torimatome could not put line %s back in the cart", line.id)

    def record_order(
        self, actor: str, order_id: str, line_ids: Sequence[str], *, order_status: str = ""
    ) -> list[RequestLine]:
        """After checkout: the consolidated lines the order contained become ordered."""
        oid = check_text(order_id, "order_id", max_length=64, allow_empty=False)
        status = check_text(order_status, "order_status", max_length=100)
        if isinstance(line_ids, str) or not isinstance(line_ids, Sequence) or not line_ids:
            raise InvalidInput("line_ids must be a non-empty list of line ids.", field="line_ids")
        try:
            given = list(itertools.islice(iter(line_ids), MAX_BATCH + 1))
        except Exception:
            raise InvalidInput("line_ids could not be read as a list.", field="line_ids") from None
        if len(given) > MAX_BATCH:
            raise InvalidInput(f"An order holds at most {MAX_BATCH} lines.", field="line_ids")
        ids = list(dict.fromkeys(check_id(i, "line_ids") for i in given))
        now = self.now()
        with self._unit() as uow:
            coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
            lines = uow.requests.lines(ids)
            for lid in ids:
                line = lines.get(lid)
                if line is None or line.account_id != coordinator.account_id:
                    raise NotFound("line", lid)
            # Name every line that is no longer consolidated (released since checkout...), so
            # the shop can reconcile its order in one go.
            refused = {i: lines[i].status.value for i in ids if not lines[i].can(Act.ORDER)}
            if refused:
                first = next(iter(refused))
                raise InvalidTransition(first, refused[first], Act.ORDER.value, lines=refused)
            moved = [
                lines[i].move(Act.ORDER, order_id=oid, order_status=status or None) for i in ids
            ]
            uow.requests.update_lines(moved)
            request_ids = tuple(dict.fromkeys(ln.request_id for ln in moved))
            event = LinesOrdered(
                account_id=coordinator.account_id,
                coordinator_id=coordinator.id,
                order_id=oid,
                line_ids=tuple(ids),
                request_ids=request_ids,
                at=now,
            )
            self._mail_requesters(uow, coordinator, event.name, request_ids, tuple(ids), now,
                                  order_id=oid)  # fmt: skip
        self._publish([event])
        return moved

    def record_order_status(self, actor: str, order_id: str, status: str) -> list[RequestLine]:
        """The shop's later order-status text (出荷済み...) for every line of an order."""
        oid = check_text(order_id, "order_id", max_length=64, allow_empty=False)
        text = check_text(status, "status", max_length=100, allow_empty=False)
        now = self.now()
        with self._unit() as uow:
            coordinator = self._actor(uow, actor, Feature.CONSOLIDATION)
            account = self._account(uow, coordinator.account_id)
            lines = uow.requests.lines_of_order(account.id, oid)
            # An order whose requests the views already hide (closed, past the window) is gone
            # for every call, as it will be after the purge.
            requests = {r: uow.requests.get(r) for r in {ln.request_id for ln in lines}}
            visible = {
                r for r, request in requests.items()
                if request is not None and self._visible(account, request, now)
            }  # fmt: skip
            lines = [line for line in lines if line.request_id in visible]
            if not lines:
                raise NotFound("order", oid)
            moved = [line.with_order_status(text) for line in lines]
            uow.requests.update_lines(moved)
        return moved
