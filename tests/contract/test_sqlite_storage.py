"""SqliteStorage, on a file, passes the storage conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from torimatome.adapters.sqlite_storage import SqliteStorage
from torimatome.testing import AbstractStorageTests


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[SqliteStorage]:
    storage = SqliteStorage(str(tmp_path / "torimatome.sqlite3"))
    yield storage
    storage.close()


class TestSqliteStorage(AbstractStorageTests):
    pass
