"""History, status pages, pagination, the 15-month window and the purge."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import attrs
import pytest

from torimatome import Choice, NotFound

from .office import FAST, Office, make_office

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


def at_tokyo(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=TOKYO).astimezone(dt.UTC)


def test_history_lists_decided_requests_only_newest_first(office: Office) -> None:
    app = office.app
    first = office.request(office.sato)
    office.clock.advance(minutes=1)
    second = office.request(office.suzuki)
    office.clock.advance(minutes=1)
    office.request(office.sato)  # undecided: on the pending list, not in history
    app.decide(office.boss.id, {first.lines[0].id: Choice.HOLD, second.lines[0].id: Choice.DELETE})
    assert [v.id for v in app.history(office.boss.id).items] == [second.id, first.id]


def test_period_filter_uses_whole_days_in_the_accounts_timezone(office: Office) -> None:
    app = office.app
    ids = {}
    for label, instant in (
        ("before", at_tokyo(2026, 3, 31, 23, 59, 59)),
        ("first", at_tokyo(2026, 4, 1, 0, 0)),
        ("last", at_tokyo(2026, 4, 30, 23, 59, 59)),
        ("after", at_tokyo(2026, 5, 1, 0, 0)),
    ):
        office.clock.now = instant
        request = office.request(office.sato)
        app.decide(office.boss.id, {request.lines[0].id: Choice.HOLD})
        ids[label] = request.id
    april = app.history(office.boss.id, since=dt.date(2026, 4, 1), until=dt.date(2026, 4, 30))
    assert [v.id for v in april.items] == [ids["last"], ids["first"]]
    only_since = app.history(office.boss.id, since=dt.date(2026, 5, 1))
    assert [v.id for v in only_since.items] == [ids["after"]]
    mine = app.my_requests(office.sato.id, until=dt.date(2026, 3, 31))
    assert [v.id for v in mine.items] == [ids["before"]]


def test_history_filters_by_requester_and_both(office: Office) -> None:
    app = office.app
    requests = []
    for who in (office.sato, office.suzuki, office.sato):
        office.clock.advance(days=1)
        request = office.request(who)
        app.decide(office.boss.id, {request.lines[0].id: Choice.HOLD})
        requests.append(request)
    by_sato = app.history(office.boss.id, requester_id=office.sato.id)
    assert [v.id for v in by_sato.items] == [requests[2].id, requests[0].id]
    day = (office.clock.now.astimezone(TOKYO) - dt.timedelta(days=2)).date()
    both = app.history(office.boss.id, since=day, until=day, requester_id=office.sato.id)
    assert [v.id for v in both.items] == [requests[0].id]


def test_pages_walk_every_request_once_even_with_equal_timestamps(office: Office) -> None:
    app = office.app
    made = []
    for i in range(23):
        if i % 4 == 0:
            office.clock.advance(minutes=1)  # many requests share one instant
        request = office.request(office.sato)
        app.decide(office.boss.id, {request.lines[0].id: Choice.HOLD})
        made.append(request.id)
    seen, cursor, pages = [], None, 0
    while True:
        page = app.history(office.boss.id, limit=5, cursor=cursor)
        seen += [v.id for v in page.items]
        pages += 1
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(made)
    assert len(seen) == len(set(seen)) == 23
    assert pages == 5
    mine = app.my_requests(office.sato.id, limit=23)
    assert [v.id for v in mine.items] == seen
    assert mine.next_cursor is None


def test_views_carry_the_full_thread_and_the_requesters_name(office: Office) -> None:
    app = office.app
    request = office.request(office.sato, message="カゴの伝言")
    app.post_message(office.sato.id, request.id, "一つ目")
    office.clock.advance(seconds=1)
    app.post_message(office.boss.id, request.id, "二つ目")
    app.decide(office.boss.id, {request.lines[0].id: Choice.HOLD})
    (view,) = app.history(office.boss.id).items
    assert view.requester_name == "佐藤"
    assert view.message == "カゴの伝言"
    assert [(m.author_name, m.body) for m in view.thread] == [
        ("佐藤", "一つ目"),
        ("山田", "二つ目"),
    ]
    assert app.my_requests(office.sato.id).items[0].thread == view.thread


def _old_and_new(office: Office) -> dict[str, str]:
    """Requests in and out of the window, as of 2027-07-10 in Tokyo (window from 2026-04-10)."""
    app, boss = office.app, office.boss
    made = {}
    for label, instant, choice in (
        ("old_closed", at_tokyo(2026, 4, 9, 23, 59), Choice.DELETE),
        ("old_open", at_tokyo(2026, 4, 9, 12, 0), Choice.HOLD),
        ("edge_closed", at_tokyo(2026, 4, 10, 0, 0), Choice.DELETE),
    ):
        office.clock.now = instant
        request = office.request(office.sato)
        app.post_message(office.sato.id, request.id, "メモ")
        app.decide(boss.id, {request.lines[0].id: choice})
        made[label] = request.id
    office.clock.now = at_tokyo(2027, 7, 10, 10, 0)
    return made


def test_views_hide_closed_requests_before_the_window_and_show_open_ones(office: Office) -> None:
    made = _old_and_new(office)
    app = office.app
    visible = {v.id for v in app.history(office.boss.id).items}
    assert visible == {made["old_open"], made["edge_closed"]}
    assert {v.id for v in app.my_requests(office.sato.id).items} == visible
    for call in (app.get_request, app.thread):
        with pytest.raises(NotFound):
            call(office.boss.id, made["old_closed"])
    with pytest.raises(NotFound):
        app.post_message(office.sato.id, made["old_closed"], "まだある？")


def test_purge_deletes_exactly_what_the_views_hide(office: Office) -> None:
    made = _old_and_new(office)
    app = office.app
    app.deliver_mail()
    visible_before = app.history(office.boss.id).items
    dry = app.purge_expired(dry_run=True)
    real = app.purge_expired()
    assert dry.dry_run
    assert not real.dry_run
    assert (dry.requests, dry.lines, dry.messages, dry.mails, dry.kept_open) == (
        real.requests, real.lines, real.messages, real.mails, real.kept_open,
    )  # fmt: skip
    assert (real.requests, real.lines, real.messages, real.kept_open) == (1, 1, 1, 1)
    assert real.mails == 2  # the requester's confirmation and the coordinator's notice
    assert app.history(office.boss.id).items == visible_before
    again = app.purge_expired()
    assert (again.requests, again.lines, again.messages, again.mails) == (0, 0, 0, 0)
    with office.app.storage.unit_of_work(write=False) as uow:
        assert uow.requests.get(made["old_closed"]) is None
        assert uow.requests.get(made["old_open"]) is not None


def test_a_purge_in_batches_of_one_reports_what_one_big_purge_would(storage_url: str) -> None:
    office = make_office(storage_url, config=attrs.evolve(FAST, purge_batch=1))
    app = office.app
    for _ in range(3):
        request = office.request(office.sato)
        app.decide(office.boss.id, {request.lines[0].id: Choice.DELETE})
    _old_and_new(office)
    app.deliver_mail()
    dry = app.purge_expired(dry_run=True)
    real = app.purge_expired()
    assert real == attrs.evolve(dry, dry_run=False)
    assert real.requests == 4
    assert app.purge_expired().requests == 0


def test_purge_never_deletes_undelivered_mail(storage_url: str) -> None:
    office = make_office(storage_url)
    office.app.pm.unregister(office.mail)  # nothing gets delivered
    _old_and_new(office)
    report = office.app.purge_expired()
    assert report.requests == 1
    assert report.mails == 0
    assert office.app.deliver_mail().pending == 6


def test_retention_follows_the_accounts_own_setting(office: Office) -> None:
    app = office.app
    request = office.request(office.sato)
    app.decide(office.boss.id, {request.lines[0].id: Choice.DELETE})
    office.clock.advance(days=100)
    assert len(app.history(office.boss.id).items) == 1
    app.update_account_settings(office.boss.id, retention_months=3)
    assert app.history(office.boss.id).items == ()
    assert app.purge_expired().requests == 1
