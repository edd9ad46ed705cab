"""Each hook, called the way a shop's plugin would see it."""

from __future__ import annotations

import logging
from typing import Any

import pytest

import torimatome
from torimatome import (
    AccessDenied,
    Choice,
    Config,
    FeatureSpec,
    LinesDecided,
    LinesOrdered,
    LineWithdrawn,
    MessagePosted,
    NewUser,
    RequestSubmitted,
    Role,
    UserRegistered,
    hookimpl,
)
from torimatome.adapters.memory_storage import MemoryStorage

from .office import make_office


class Recorder:
    """Listens to every domain event and remembers what it saw, and when."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.app: torimatome.App | None = None
        self.boss_id = ""
        self.pending_seen: list[int] = []

    def _saw(self, event: Any) -> None:
        self.events.append(event)

    @hookimpl
    def torimatome_request_submitted(self, event: RequestSubmitted) -> None:
        self._saw(event)
        if self.app is not None:
            # Called after commit: the request is already on the pending list.
            self.pending_seen.append(self.app.pending_count(self.boss_id))

    @hookimpl
    def torimatome_lines_decided(self, event: LinesDecided) -> None:
        self._saw(event)

    @hookimpl
    def torimatome_message_posted(self, event: MessagePosted) -> None:
        self._saw(event)

    @hookimpl
    def torimatome_lines_ordered(self, event: LinesOrdered) -> None:
        self._saw(event)

    @hookimpl
    def torimatome_line_withdrawn(self, event: LineWithdrawn) -> None:
        self._saw(event)

    @hookimpl
    def torimatome_user_registered(self, event: UserRegistered) -> None:
        self._saw(event)


def test_every_event_reaches_its_hook_after_commit_with_its_fields(storage_url: str) -> None:
    recorder = Recorder()
    office = make_office(storage_url, plugins=(recorder,))
    recorder.app, recorder.boss_id = office.app, office.boss.id
    app, boss = office.app, office.boss.id
    a, b = office.request(office.sato, ("A", 1), ("B", 1)).lines
    app.withdraw(office.sato.id, b.id)
    app.decide(boss, {a.id: Choice.CONSOLIDATE})
    app.post_message(boss, a.request_id, "了解です")
    app.record_order(boss, "O-1", [a.id])
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds == [
        "UserRegistered", "UserRegistered", "UserRegistered", "RequestSubmitted",
        "LineWithdrawn", "LinesDecided", "MessagePosted", "LinesOrdered",
    ]  # fmt: skip
    submitted, withdrawn, decided, posted, ordered = recorder.events[3:]
    assert submitted.line_ids == (a.id, b.id)
    assert submitted.requester_id == office.sato.id
    assert withdrawn.line_id == b.id
    assert (decided.consolidated, decided.coordinator_id) == ((a.id,), boss)
    assert posted.author_id == boss
    assert (ordered.order_id, ordered.line_ids) == ("O-1", (a.id,))
    assert recorder.pending_seen == [2]
    assert {e.at for e in recorder.events} == {office.clock.now}


def test_a_failing_listener_is_logged_and_does_not_undo_the_change(
    storage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        @hookimpl
        def torimatome_request_submitted(self, event: RequestSubmitted) -> None:
            raise RuntimeError("search index down")

    office = make_office(storage_url, plugins=(Broken(),))
    with caplog.at_level(logging.ERROR, logger="torimatome"):
        request = office.request(office.sato)
    assert office.app.get_request(office.boss.id, request.id).id == request.id
    assert any("request_submitted" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("broken_first", [True, False])
@pytest.mark.parametrize("event_hook", ["torimatome_lines_ordered", "torimatome_lines_decided"])
def test_a_failing_listener_never_keeps_the_others_from_hearing_the_event(
    storage_url: str, caplog: pytest.LogCaptureFixture, event_hook: str, broken_first: bool
) -> None:
    heard: list[str] = []

    class Broken:
        pass

    class Listener:
        pass

    def broken(self: object, event: Any) -> None:
        raise RuntimeError("search index down")

    def listener(self: object, event: Any) -> None:
        heard.append(event.name)

    setattr(Broken, event_hook, hookimpl(broken))
    setattr(Listener, event_hook, hookimpl(listener))
    plugins = (Broken(), Listener()) if broken_first else (Listener(), Broken())
    office = make_office(storage_url, plugins=plugins)
    line = office.request(office.sato).lines[0]
    with caplog.at_level(logging.ERROR, logger="torimatome"):
        office.app.decide(office.boss.id, {line.id: Choice.CONSOLIDATE})
        office.app.record_order(office.boss.id, "W-1", [line.id])
    assert heard == [event_hook.removeprefix("torimatome_")]
    assert "search index down" in caplog.text
    # The cart hears lines_ordered too, whichever listener failed: checkout emptied it.
    assert office.cart.items(office.account_id) == []
    office.app.close()


class ExtraFeatures:
    @hookimpl
    def torimatome_extra_features(self) -> list[FeatureSpec]:
        return [FeatureSpec("gift_wrap", "ギフト包装", "Gift wrapping", {Role.COORDINATOR})]


def test_extra_features_join_the_matrix_and_are_enforced() -> None:
    app = torimatome.open("memory://", plugins=[ExtraFeatures()], config=Config(scrypt_n=16))
    boss = app.create_account("x", coordinator=NewUser(login_id="boss")).user
    staff = app.register_internal_user(boss.id, NewUser(login_id="staff")).user
    assert app.can(boss.id, "gift_wrap")
    with pytest.raises(AccessDenied):
        app.require(staff.id, "gift_wrap")
    assert "gift_wrap" in [spec.code for spec in app.matrix.rows()]


class PrefixedStorage:
    """A storage backend offered under its own scheme, and one that replaces memory://."""

    def __init__(self) -> None:
        self.opened: list[str] = []

    @hookimpl
    def torimatome_register_storage(self, registry: Any) -> None:
        def factory(url: str, config: Config) -> MemoryStorage:
            self.opened.append(url)
            return MemoryStorage()

        registry.add("office-mem", factory)
        registry.add("memory", factory)


def test_a_plugin_registers_a_storage_scheme_and_can_replace_a_built_in_one() -> None:
    plugin = PrefixedStorage()
    torimatome.open("office-mem://a", plugins=[plugin])
    torimatome.open("memory://", plugins=[plugin])
    assert plugin.opened == ["office-mem://a", "memory://"]


class DeliveryWatcher:
    """Frames each delivery run, as a transport with one connection per run would."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.reports: list[torimatome.DeliveryReport] = []
        self.fail = fail

    @hookimpl
    def torimatome_delivery_started(self) -> None:
        self.calls.append("started")
        if self.fail:
            raise RuntimeError("monitoring is down")

    @hookimpl
    def torimatome_send_mail(self, message: Any) -> bool:
        self.calls.append(f"send {message['To'].addresses[0].addr_spec}")
        return True

    @hookimpl
    def torimatome_delivery_finished(self, report: torimatome.DeliveryReport) -> None:
        self.calls.append("finished")
        self.reports.append(report)
        if self.fail:
            raise RuntimeError("monitoring is down")


def test_each_delivery_run_is_framed_by_started_and_finished_with_its_report(
    storage_url: str,
) -> None:
    watcher = DeliveryWatcher()
    office = make_office(storage_url, plugins=(watcher,))
    office.app.submit_request(office.sato.id, [_line()])
    report = office.app.deliver_mail()
    assert watcher.calls[0] == "started"
    assert watcher.calls[-1] == "finished"
    assert sorted(watcher.calls[1:-1]) == ["send boss@example.com", "send sato@example.com"]
    assert watcher.reports == [report]
    assert (report.sent, report.pending) == (2, 0)
    office.app.close()


def test_a_failing_delivery_hook_is_logged_and_the_mails_still_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    watcher = DeliveryWatcher(fail=True)
    office = make_office("memory://", plugins=(watcher,))
    office.app.submit_request(office.sato.id, [_line()])
    with caplog.at_level(logging.ERROR, logger="torimatome"):
        report = office.app.deliver_mail()
    assert report.sent == 2
    assert "torimatome_delivery_started failed" in caplog.text
    assert "torimatome_delivery_finished failed" in caplog.text


def test_without_a_transport_no_run_starts() -> None:
    class OnlyFrames:
        @hookimpl
        def torimatome_delivery_started(self) -> None:
            raise AssertionError("no transport, no run")

    app = torimatome.open("memory://", plugins=[OnlyFrames()])
    assert app.deliver_mail().reason == "no mail transport configured"


def _line() -> torimatome.NewLine:
    from decimal import Decimal

    return torimatome.NewLine(sku="A-1", name="ペン", quantity=1, unit_price=Decimal(100))
