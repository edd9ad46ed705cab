"""MemoryStorage passes the storage conformance suite."""

from __future__ import annotations

import pytest

from torimatome.adapters.memory_storage import MemoryStorage
from torimatome.testing import AbstractStorageTests


@pytest.fixture
def storage() -> MemoryStorage:
    return MemoryStorage()


class TestMemoryStorage(AbstractStorageTests):
    pass
