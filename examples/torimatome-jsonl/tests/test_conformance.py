"""JsonlStorage passes torimatome's storage conformance suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from torimatome_jsonl import JsonlStorage

from torimatome.testing import AbstractStorageTests


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[JsonlStorage]:
    storage = JsonlStorage(tmp_path / "office.jsonl")
    yield storage
    storage.close()


class TestJsonlStorage(AbstractStorageTests):
    pass
