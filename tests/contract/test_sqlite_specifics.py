"""What only SQLite has: pragmas, the versioned STRICT schema, indexes, files and driver errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from torimatome.adapters import sqlite_schema
from torimatome.adapters.sqlite_storage import (
    LINES_OF_ORDER_SQL,
    PENDING_COUNT_SQL,
    PENDING_LINES_SQL,
    SqliteStorage,
    page_sql,
)
from torimatome.domain.accounts import AccountSettings
from torimatome.domain.errors import ConfigurationError, StorageError
from torimatome.domain.lines import LineStatus
from torimatome.domain.message_policy import GraphemePolicy
from torimatome.ports.config import Config
from torimatome.ports.storage import RequestQuery
from torimatome.testing import add_office, at, make_account, make_mail, make_request

TABLES = ("accounts", "users", "requests", "lines", "messages", "outbox", "idempotency")


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "torimatome.sqlite3")


@pytest.fixture
def storage(path: str) -> Iterator[SqliteStorage]:
    storage = SqliteStorage(path)
    yield storage
    storage.close()


def raw(path: str) -> sqlite3.Connection:
    """A second, plain connection to the file, as another process would have."""
    return sqlite3.connect(path, isolation_level=None)


def pragma(storage: SqliteStorage, name: str) -> object:
    connection = storage._connection
    assert connection is not None
    row = connection.execute(f"PRAGMA {name}").fetchone()
    return next(iter(row.values()))  # the column is not always named after the pragma


def seed(storage: SqliteStorage) -> None:
    with storage.unit_of_work() as uow:
        add_office(uow)
        uow.requests.add(make_request("r-1", unit_price=Decimal("12.50")))


# -- connection settings


def test_every_connection_enforces_foreign_keys_and_waits_when_busy(path: str) -> None:
    storage = SqliteStorage(path, busy_timeout_ms=1234)
    assert pragma(storage, "foreign_keys") == 1
    assert pragma(storage, "busy_timeout") == 1234
    storage.close()


def test_the_file_is_in_wal_mode_with_full_synchronous_by_default(
    storage: SqliteStorage, path: str
) -> None:
    assert pragma(storage, "journal_mode") == "wal"
    assert pragma(storage, "synchronous") == 2  # FULL
    assert raw(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_synchronous_and_busy_timeout_come_from_the_config(tmp_path: Path) -> None:
    config = Config(sqlite_synchronous="NORMAL", busy_timeout_ms=250)
    storage = SqliteStorage.from_url(f"sqlite:///{tmp_path}/db.sqlite3", config)
    assert pragma(storage, "synchronous") == 1  # NORMAL
    assert pragma(storage, "busy_timeout") == 250
    storage.close()


def test_the_connection_runs_in_autocommit_mode_between_units_of_work(
    storage: SqliteStorage,
) -> None:
    connection = storage._connection
    assert connection is not None
    assert connection.isolation_level is None
    with storage.unit_of_work():
        assert connection.in_transaction
    assert not connection.in_transaction


@pytest.mark.parametrize("synchronous", ["sometimes", "FULL; DROP TABLE users", 1])
def test_an_unknown_synchronous_setting_is_a_configuration_error(
    path: str, synchronous: object
) -> None:
    with pytest.raises(ConfigurationError):
        SqliteStorage(path, synchronous=synchronous)  # type: ignore[arg-type]


def test_sqlite_older_than_3_37_is_refused_with_a_clear_message(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 36, 0))
    with pytest.raises(ConfigurationError, match=r"SQLite 3\.37\.0 or newer .*3\.36\.0"):
        SqliteStorage(path)


# -- URLs


def test_urls_name_relative_absolute_and_in_memory_databases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SqliteStorage.from_url("sqlite:///shop.sqlite3", None)
    absolute = SqliteStorage.from_url(f"sqlite:///{tmp_path}/abs.sqlite3", None)
    memory = SqliteStorage.from_url("sqlite:///:memory:", None)
    assert relative.path == "shop.sqlite3"
    assert (tmp_path / "shop.sqlite3").exists()
    assert absolute.path == f"{tmp_path}/abs.sqlite3"
    assert (tmp_path / "abs.sqlite3").exists()
    seed(memory)
    with memory.unit_of_work(write=False) as uow:
        assert uow.requests.get("r-1") is not None
    for storage in (relative, absolute, memory):
        storage.close()


@pytest.mark.parametrize(
    "url", ["memory://", "sqlite://", "sqlite:///", "sqlite://host/db", "sqlite:///db?mode=ro"]
)
def test_a_malformed_url_is_a_configuration_error(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SqliteStorage.from_url(url, None)


# -- schema and migrations


def test_a_new_file_is_at_the_latest_schema_version(storage: SqliteStorage, path: str) -> None:
    assert raw(path).execute("PRAGMA user_version").fetchone()[0] == sqlite_schema.LATEST_VERSION
    assert sqlite_schema.LATEST_VERSION == len(sqlite_schema.MIGRATIONS) >= 1


def test_every_table_is_strict(storage: SqliteStorage, path: str) -> None:
    found = dict(
        raw(path).execute(
            "SELECT name, strict FROM pragma_table_list WHERE schema = 'main' "
            "AND name NOT LIKE 'sqlite_%'"
        )
    )
    assert found == dict.fromkeys(TABLES, 1)


def test_a_strict_table_refuses_a_value_of_the_wrong_type(
    storage: SqliteStorage, path: str
) -> None:
    seed(storage)
    with pytest.raises(sqlite3.IntegrityError, match="cannot store TEXT value in INTEGER"):
        raw(path).execute("UPDATE lines SET quantity = 'many'")


def test_reopening_an_existing_file_keeps_its_data_and_changes_no_schema(path: str) -> None:
    first = SqliteStorage(path)
    seed(first)
    first.close()
    schema_version = raw(path).execute("PRAGMA schema_version").fetchone()[0]
    again = SqliteStorage(path)
    with again.unit_of_work(write=False) as uow:
        stored = uow.requests.get("r-1")
    again.close()
    assert stored == make_request("r-1", unit_price=Decimal("12.50"))
    assert raw(path).execute("PRAGMA schema_version").fetchone()[0] == schema_version


def test_a_database_from_a_newer_torimatome_is_refused(path: str) -> None:
    SqliteStorage(path).close()
    raw(path).execute(f"PRAGMA user_version = {sqlite_schema.LATEST_VERSION + 1}")
    with pytest.raises(ConfigurationError, match="newer"):
        SqliteStorage(path)


def test_a_failing_migration_step_leaves_the_previous_version_intact(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    SqliteStorage(path).close()
    broken = [*sqlite_schema.MIGRATIONS, ("CREATE TABLE extra (x INTEGER) STRICT", "NOT SQL")]
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", broken)
    with pytest.raises(StorageError) as caught:
        SqliteStorage(path)
    assert isinstance(caught.value.__cause__, sqlite3.Error)
    connection = raw(path)
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(broken) - 1
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_schema")}
    assert "extra" not in tables


def test_migrations_apply_one_step_at_a_time(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    SqliteStorage(path).close()
    extended = [*sqlite_schema.MIGRATIONS, ("CREATE TABLE extra (x INTEGER) STRICT",)]
    monkeypatch.setattr(sqlite_schema, "MIGRATIONS", extended)
    SqliteStorage(path).close()
    assert raw(path).execute("PRAGMA user_version").fetchone()[0] == len(extended)


# -- how values are stored


def test_values_are_stored_as_integers_text_and_tagged_json(
    storage: SqliteStorage, path: str
) -> None:
    with storage.unit_of_work() as uow:
        uow.accounts.add(make_account(settings=AccountSettings(GraphemePolicy(40))))
        uow.requests.add(make_request(submitted_at=at(0), unit_price=Decimal("12.50")))
    connection = raw(path)
    submitted, kind = connection.execute(
        "SELECT submitted_at, typeof(submitted_at) FROM requests"
    ).fetchone()
    price, price_kind, status = connection.execute(
        "SELECT unit_price, typeof(unit_price), status FROM lines"
    ).fetchone()
    settings = json.loads(connection.execute("SELECT settings FROM accounts").fetchone()[0])
    assert (kind, submitted) == ("integer", 1775003415123456)  # µs since the epoch, UTC
    assert (price_kind, price, status) == ("text", "12.50", "requested")
    assert settings["message_policy"] == {"kind": "grapheme", "limit": 40}


def test_timestamps_read_back_as_aware_utc_datetimes(storage: SqliteStorage) -> None:
    jst = dt.timezone(dt.timedelta(hours=9))
    submitted = dt.datetime(2026, 4, 1, 9, 0, 0, 7, tzinfo=jst)
    with storage.unit_of_work() as uow:
        uow.accounts.add(make_account())
        uow.requests.add(make_request(submitted_at=submitted))
    with storage.unit_of_work(write=False) as uow:
        stored = uow.requests.get("r-1")
    assert stored is not None
    assert stored.submitted_at == submitted
    assert stored.submitted_at.tzinfo is dt.UTC
    assert stored.submitted_at == dt.datetime(2026, 4, 1, 0, 0, 0, 7, tzinfo=dt.UTC)


def test_a_naive_datetime_is_refused(storage: SqliteStorage) -> None:
    with storage.unit_of_work() as uow:
        uow.accounts.add(make_account())
    with pytest.raises(StorageError, match="naive"), storage.unit_of_work() as uow:
        uow.requests.add(make_request(submitted_at=at(0).replace(tzinfo=None)))


def test_a_version_1_database_keeps_its_orphaned_mails_purgeable_after_the_upgrade(
    path: str,
) -> None:
    v1 = sqlite3.connect(path, isolation_level=None)
    sqlite_schema.migrate(v1, sqlite_schema.MIGRATIONS[:1])
    # Written by version 1: a delivered mail whose request an earlier purge took.
    v1.execute("INSERT INTO accounts VALUES ('acc-1', 'Office', 'Asia/Tokyo', '{}')")
    v1.execute(
        "INSERT INTO outbox (id, account_id, event, recipient, subject, raw, created_at, "
        "request_id, attempts, sent_at) VALUES ('m-old', 'acc-1', 'request_submitted', "
        "'a@example.jp', 's', x'00', 0, 'r-gone', 1, 5)"
    )
    v1.close()
    storage = SqliteStorage(path)
    with storage.unit_of_work() as uow:
        counts = uow.requests.purge("acc-1", at(0), dry_run=False, limit=10)
        assert uow.outbox.get("m-old") is None
    assert counts.mails == 1
    storage.close()


# -- indexes


def plan(path: str, sql: str, params: object) -> list[str]:
    return [row[3] for row in raw(path).execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def assert_indexed(details: list[str]) -> None:
    scans = [d for d in details if d.startswith("SCAN")]
    assert not scans, details
    assert any("USING INDEX" in d or "USING COVERING INDEX" in d for d in details), details


def seed_history(storage: SqliteStorage) -> None:
    """Two offices with a realistic mix: mostly closed history, a small pending backlog."""
    closed = [LineStatus.ORDERED, LineStatus.DELETED, LineStatus.WITHDRAWN]
    with storage.unit_of_work() as uow:
        for account_id in ("acc-1", "acc-2"):
            office = add_office(uow, account_id)
            for i in range(150):
                statuses = [LineStatus.REQUESTED] if i % 10 == 0 else closed
                uow.requests.add(
                    make_request(
                        f"{account_id}-r{i}",
                        account_id=account_id,
                        requester_id=(office.alice if i % 2 else office.bob).id,
                        submitted_at=at(-i),
                        statuses=statuses,
                    )
                )


@pytest.mark.parametrize("analyzed", [False, True])
def test_the_pending_list_count_and_order_lookup_use_indexes(
    storage: SqliteStorage, path: str, analyzed: bool
) -> None:
    seed_history(storage)
    if analyzed:
        raw(path).execute("ANALYZE")
    pending = plan(path, PENDING_LINES_SQL, ("acc-1",))
    assert_indexed(pending)
    assert any("lines_pending" in d for d in pending), pending
    # The partial index yields the pending list in its order: no sort step.
    assert not any("TEMP B-TREE" in d for d in pending), pending
    assert_indexed(plan(path, PENDING_COUNT_SQL, ("acc-1",)))
    assert_indexed(plan(path, LINES_OF_ORDER_SQL, ("acc-1", "order-acc-1-r1")))


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"after": (at(0), "r-1")},
        {"decided_only": True, "submitted_from": at(-30), "submitted_before": at(0)},
        {"requester_id": "acc-1-alice"},
        {"requester_id": "acc-1-alice", "after": (at(0), "r-1"), "submitted_from": at(-3)},
    ],
)
@pytest.mark.parametrize("analyzed", [False, True])
def test_history_pages_use_an_index_in_keyset_order(
    storage: SqliteStorage, path: str, fields: dict[str, object], analyzed: bool
) -> None:
    seed_history(storage)
    if analyzed:
        raw(path).execute("ANALYZE")
    query = RequestQuery(account_id="acc-1", limit=20, visible_since=at(-400), **fields)  # type: ignore[arg-type]
    sql, params = page_sql(query)
    details = plan(path, sql, params)
    assert_indexed(details)
    # The index walks (submitted_at, id) backwards: no sort step for the keyset order.
    assert not any("TEMP B-TREE" in d for d in details), details


# -- driver errors


def test_a_broken_table_comes_out_as_a_storage_error(storage: SqliteStorage, path: str) -> None:
    seed(storage)
    raw(path).execute("DROP TABLE messages")
    with pytest.raises(StorageError) as caught, storage.unit_of_work(write=False) as uow:
        uow.messages.for_request("r-1")
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


def test_a_corrupt_row_comes_out_as_a_storage_error(storage: SqliteStorage, path: str) -> None:
    seed(storage)
    raw(path).execute("UPDATE accounts SET settings = '{not json'")
    with pytest.raises(StorageError), storage.unit_of_work(write=False) as uow:
        uow.accounts.get("acc-1")


def test_a_locked_database_comes_out_as_a_storage_error_and_nothing_is_written(
    path: str,
) -> None:
    storage = SqliteStorage(path, busy_timeout_ms=50)
    seed(storage)
    blocker = raw(path)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StorageError) as caught, storage.unit_of_work() as uow:
            uow.outbox.add(make_mail())
        assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
    finally:
        blocker.execute("ROLLBACK")
    with storage.unit_of_work(write=False) as uow:
        assert uow.outbox.all() == []
    storage.close()


def test_a_failed_commit_comes_out_as_a_storage_error_and_rolls_back(path: str) -> None:
    storage = SqliteStorage(path, busy_timeout_ms=50)
    seed(storage)
    connection = storage._connection
    assert connection is not None
    # A deferred foreign key violated at COMMIT time makes the commit itself fail.

    def add_an_orphan() -> None:
        with storage.unit_of_work() as uow:
            connection.execute("PRAGMA defer_foreign_keys = ON")
            uow.outbox.add(make_mail("mail-orphan", account_id="acc-404"))

    with pytest.raises(StorageError) as caught:
        add_an_orphan()
    assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
    assert not connection.in_transaction
    with storage.unit_of_work(write=False) as uow:
        assert uow.outbox.get("mail-orphan") is None
    storage.close()


def test_a_missing_directory_is_a_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError) as caught:
        SqliteStorage(str(tmp_path / "missing" / "db.sqlite3"))
    assert isinstance(caught.value.__cause__, sqlite3.Error)


# -- concurrency


def test_two_storages_on_one_file_see_each_others_commits(path: str) -> None:
    # As two processes would: each storage has its own connection to the same file.
    first, second = SqliteStorage(path), SqliteStorage(path)
    seed(first)
    with second.unit_of_work() as uow:
        uow.outbox.add(make_mail())
    with first.unit_of_work(write=False) as uow:
        assert [m.id for m in uow.outbox.all()] == ["mail-1"]
    with second.unit_of_work(write=False) as uow:
        assert uow.requests.get("r-1") is not None
    first.close()
    second.close()


_WRITER = """
import sys
from torimatome.adapters.sqlite_storage import SqliteStorage
from torimatome.testing import make_account, make_mail

path, name = sys.argv[1], sys.argv[2]
storage = SqliteStorage(path)
with storage.unit_of_work() as uow:
    uow.accounts.add(make_account(name))
for i in range(20):
    with storage.unit_of_work() as uow:
        uow.outbox.add(make_mail(f"{name}-{i}", account_id=name))
storage.close()
"""


def test_processes_opening_a_fresh_file_at_once_migrate_once_and_lose_no_write(
    path: str,
) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, path, f"acc-{n}"], env=env)
        for n in range(3)
    ]
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0, 0]
    storage = SqliteStorage(path)
    with storage.unit_of_work(write=False) as uow:
        assert sorted(uow.accounts.all_ids()) == ["acc-0", "acc-1", "acc-2"]
        assert uow.outbox.pending_count() == 60
    storage.close()
    assert raw(path).execute("PRAGMA user_version").fetchone()[0] == sqlite_schema.LATEST_VERSION


def test_threads_share_one_storage_safely(storage: SqliteStorage) -> None:
    with storage.unit_of_work() as uow:
        uow.accounts.add(make_account())
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                with storage.unit_of_work() as uow:
                    uow.outbox.add(make_mail(f"mail-{n}-{i}"))
        except BaseException as exc:  # collected and re-raised by the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with storage.unit_of_work(write=False) as uow:
        assert uow.outbox.pending_count() == 40
