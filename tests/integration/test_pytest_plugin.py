"""The pytest plugin shops' test suites get: loaded through ``pytest11``, fixtures only."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from torimatome import App, CartError, NewLine
from torimatome.testing import (
    CapturedMail,
    FrozenClock,
    OfficeFactory,
    RecordingCart,
    pytest_plugin,
)

ROOT = Path(__file__).resolve().parents[2]
#: A test file in the docs: a ```python block whose info string names the file.
TEST_FILE = re.compile(r"```python  # (test_\w+\.py)\n(.*?)```", re.S)


def test_the_shop_example_in_the_docs_passes_against_the_installed_plugin(
    pytester: pytest.Pytester,
) -> None:
    files = TEST_FILE.findall((ROOT / "docs" / "testing.md").read_text(encoding="utf-8"))
    assert files, "docs/testing.md shows no test file"
    for name, source in files:
        pytester.makepyfile(**{name.removesuffix(".py"): source})
    # A fresh interpreter: the fixtures must come from the installed entry point.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_the_shop_example_passes_on_sqlite_with_the_conftest_the_docs_show(
    pytester: pytest.Pytester,
) -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    (conftest,) = re.findall(r"```python  # conftest\.py\n(.*?)```", text, re.S)
    pytester.makeconftest(conftest)
    for name, source in TEST_FILE.findall(text):
        pytester.makepyfile(**{name.removesuffix(".py"): source})
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    assert len(list(pytester.path.rglob("shop.sqlite3"))) == 4  # each test ran on SQLite


def test_the_plugin_can_be_switched_off_by_its_entry_point_name(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_app(torimatome_app):\n    assert torimatome_app\n")
    result = pytester.runpytest_subprocess("-p", "no:torimatome")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'torimatome_app' not found*"])


def test_the_plugin_defines_fixtures_and_no_hooks() -> None:
    hooks = [name for name in vars(pytest_plugin) if name.startswith("pytest_")]
    assert hooks == []
    fixtures = [name for name in vars(pytest_plugin) if name.startswith("torimatome_")]
    assert sorted(fixtures) == sorted(pytest_plugin.__all__)


def test_every_fixture_is_documented() -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    missing = [name for name in pytest_plugin.__all__ if f"`{name}`" not in text]
    assert missing == []


def test_each_test_gets_a_fresh_app(torimatome_app: App, torimatome_office: OfficeFactory) -> None:
    office = torimatome_office(users=1)
    assert [u.login_id for u in torimatome_app.users(office.coordinator.id)] == [
        "o1-boss",
        "o1-user1",
    ]


def test_the_clock_moves_only_when_told(torimatome_app, torimatome_clock: FrozenClock) -> None:
    start = torimatome_app.now()
    assert torimatome_app.now() == start
    torimatome_clock.advance(days=1)
    assert torimatome_app.now() - start == dt.timedelta(days=1)
    with pytest.raises(ValueError, match="aware"):
        torimatome_clock.set(dt.datetime(2026, 1, 1))


def test_the_recording_cart_records_and_can_fail(
    torimatome_app: App,
    torimatome_office: OfficeFactory,
    torimatome_cart: RecordingCart,
) -> None:
    office = torimatome_office()
    request = office.request(office.users[0], ("A-1", "ペン", 2, 100))
    line = request.lines[0]
    torimatome_cart.fail_with = ConnectionError("cart down")
    with pytest.raises(CartError):
        torimatome_app.decide(office.coordinator.id, {line.id: "consolidate"})
    assert torimatome_cart.added == []
    torimatome_app.decide(office.coordinator.id, {line.id: "consolidate"})
    assert [(e.line_id, e.quantity) for e in torimatome_cart.added] == [(line.id, 2)]
    torimatome_app.release(office.coordinator.id, line.id)
    assert [r.line_id for r in torimatome_cart.removed] == [line.id]
    assert torimatome_cart.items(office.account_id) == []


def test_captured_mail_decodes_what_was_sent(
    torimatome_office: OfficeFactory, torimatome_mail: CapturedMail
) -> None:
    office = torimatome_office()
    office.app.submit_request(
        office.users[0].id,
        [NewLine(sku="A-1", name="コピー用紙", quantity=1, unit_price=Decimal(480))],
    )
    assert torimatome_mail.sent == []  # still in the outbox until the cron job runs
    mails = torimatome_mail.deliver()
    (notice,) = torimatome_mail.to(office.coordinator.email.upper())
    assert notice in mails
    assert "社員1" in notice.subject
    assert "コピー用紙" in notice.body
    torimatome_mail.clear()
    assert torimatome_mail.deliver() == []


def test_captured_mail_needs_its_app() -> None:
    with pytest.raises(RuntimeError, match=r"\.app"):
        CapturedMail().deliver()
