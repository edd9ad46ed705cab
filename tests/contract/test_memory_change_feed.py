"""MemoryStorage's change feed: replaying what ``on_commit`` received rebuilds the same state.

The whole conformance suite runs with the feed on, and after each test a replica built only
from the JSON lines must equal the storage, table by table, so every kind of write the suite
makes is proved to round-trip through the feed and its codec.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from torimatome import StorageError
from torimatome.adapters.change_codec import CHANGE_TABLES, decode_changes, encode_changes
from torimatome.adapters.memory_storage import (
    DELETED,
    PRIMARY_TABLES,
    Change,
    MemoryStorage,
    _Tables,
)
from torimatome.testing import AbstractStorageTests, make_account, make_user


@pytest.fixture
def storage() -> Iterator[MemoryStorage]:
    journal: list[str] = []
    storage = MemoryStorage(on_commit=lambda changes: journal.append(encode_changes(changes)))
    yield storage
    replica = MemoryStorage()
    for line in journal:
        assert "\n" not in line
        replica.replay(decode_changes(line))
    assert _tables(replica) == _tables(storage)


def _tables(storage: MemoryStorage) -> dict[str, object]:
    """Every table and index, leaving out the empty entries an index may keep (dict order is
    not compared: no read relies on it, ties are broken by ``mail_order``)."""
    return {
        name: {
            key: value
            for key, value in table.items()
            if value or not isinstance(value, dict | list | tuple)
        }
        for name, table in vars(storage._tables).items()
        if isinstance(table, dict)
    }


class TestMemoryStorageWithChangeFeed(AbstractStorageTests):
    pass


def test_the_codec_knows_every_primary_table_and_nothing_else() -> None:
    assert set(CHANGE_TABLES) == set(PRIMARY_TABLES)
    assert set(PRIMARY_TABLES) <= set(vars(_Tables()))


def test_a_failing_commit_hook_rolls_the_unit_back_with_a_storage_error() -> None:
    def refuse(changes: list[Change]) -> None:
        raise OSError("disk full")

    storage = MemoryStorage(on_commit=refuse)
    with pytest.raises(StorageError, match="disk full"), storage.unit_of_work() as uow:
        uow.accounts.add(make_account())
    with storage.unit_of_work(write=False) as uow:
        assert uow.accounts.all_ids() == []


def test_only_units_that_changed_something_reach_the_feed() -> None:
    seen: list[list[Change]] = []
    storage = MemoryStorage(on_commit=seen.append)
    with storage.unit_of_work(write=False) as uow:
        uow.accounts.all_ids()
    with storage.unit_of_work() as uow:
        uow.accounts.get("acc-1")
    assert seen == []
    with storage.unit_of_work() as uow:
        uow.accounts.add(make_account())
    assert [(c.table, c.key) for c in seen[0]] == [("accounts", "acc-1")]


def test_each_key_appears_once_with_its_last_value_and_deletions_round_trip() -> None:
    seen: list[list[Change]] = []
    storage = MemoryStorage(on_commit=seen.append)
    with storage.unit_of_work() as uow:
        uow.accounts.add(make_account())
    with storage.unit_of_work() as uow:
        uow.users.add(make_user(), "first")
        uow.users.set_password_hash("u-1", "second")
    assert [(c.table, c.key, c.value) for c in seen[1] if c.table == "passwords"] == [
        ("passwords", "u-1", "second")
    ]
    assert decode_changes(encode_changes([Change("accounts", "x", DELETED)]))[0].value is DELETED


def test_a_malformed_line_is_a_storage_error() -> None:
    for line in ("", "{}", '{"changes": [["nope", "k", null, false]]}', "[1"):
        with pytest.raises(StorageError):
            decode_changes(line)
