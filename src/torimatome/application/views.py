"""Reading requests: one request, the consolidation history and the status page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from ..domain import dates
from ..domain.errors import NotFound
from ..domain.features import Feature
from ..domain.messages import Message
from ..domain.requests import OrderRequest
from ..domain.validation import check_date, check_id, check_limit
from ..domain.views import Page, RequestView
from ..ports.storage import RequestQuery, UnitOfWork
from .codec import decode_cursor, encode_cursor
from .core import Service, with_current_names

__all__ = ["Views"]


class Views(Service):
    """Reading requests."""

    def get_request(self, actor: str, request_id: str) -> RequestView:
        """One request with its lines and thread: a coordinator sees any of the account's, an
        internal user only their own."""
        now = self.now()
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, Feature.REQUEST_STATUS)
            _, request = self._request_for(uow, user, request_id, now)
            return self._views(uow, user.account_id, [request])[0]

    def _views(
        self, uow: UnitOfWork, account_id: str, requests: Sequence[OrderRequest]
    ) -> list[RequestView]:
        """Requests with their threads and the current names of everyone shown."""
        threads = uow.messages.for_requests([r.id for r in requests])
        people = {r.requester_id for r in requests}
        people.update(m.author_id for thread in threads.values() for m in thread)
        names = self._names(uow, account_id, people)
        return [self._view(r, threads[r.id], names) for r in requests]

    def _view(
        self, request: OrderRequest, thread: Sequence[Message], names: Mapping[str, str]
    ) -> RequestView:
        return RequestView(
            id=request.id,
            account_id=request.account_id,
            requester_id=request.requester_id,
            submitted_at=request.submitted_at,
            message=request.message,
            lines=request.lines,
            requester_name=names.get(request.requester_id, ""),
            thread=tuple(with_current_names(thread, names)),
        )

    def history(
        self,
        actor: str,
        since: dt.date | None = None,
        until: dt.date | None = None,
        requester_id: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RequestView]:
        """注文とりまとめの履歴: decided requests, newest first, filtered by request period
        (calendar days in the account's timezone, both ends inclusive) and/or requester."""
        return self._page(actor, Feature.CONSOLIDATION, since, until, requester_id, limit,
                          cursor, decided_only=True)  # fmt: skip

    def my_requests(
        self,
        actor: str,
        since: dt.date | None = None,
        until: dt.date | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[RequestView]:
        """ご注文依頼状況確認: the actor's own requests with line states and threads."""
        return self._page(actor, Feature.REQUEST_STATUS, since, until, None, limit, cursor,
                          decided_only=False, own=True)  # fmt: skip

    def _page(
        self,
        actor: str,
        feature: Feature,
        since: object,
        until: object,
        requester_id: object,
        limit: object,
        cursor: object,
        *,
        decided_only: bool,
        own: bool = False,
    ) -> Page[RequestView]:
        first = check_date(since, "since")
        last = check_date(until, "until")
        size = check_limit(limit)
        after = decode_cursor(cursor)
        now = self.now()
        with self._unit(write=False) as uow:
            user = self._actor(uow, actor, feature)
            account = self._account(uow, user.account_id)
            who: str | None = user.id if own else None
            if requester_id is not None:
                rid = check_id(requester_id, "requester_id")
                target = uow.users.get(rid)
                if target is None or target.account_id != account.id:
                    raise NotFound("user", rid)
                who = rid
            start, end = dates.day_range(first, last, account.zone)
            query = RequestQuery(
                account_id=account.id,
                limit=size + 1,
                visible_since=self._visible_since(account, now),
                requester_id=who,
                submitted_from=start,
                submitted_before=end,
                decided_only=decided_only,
                after=after,
            )
            found = uow.requests.page(query)
            items = tuple(self._views(uow, account.id, found[:size]))
        next_cursor = None
        if len(found) > size:
            last_item = items[-1]
            next_cursor = encode_cursor(last_item.submitted_at, last_item.id)
        return Page(items=items, next_cursor=next_cursor)
