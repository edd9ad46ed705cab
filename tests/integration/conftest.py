"""Fixtures: an office on a real app, once per storage adapter."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .office import Office, make_office


@pytest.fixture(params=["memory", "sqlite"])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path / 'office.sqlite3'}"


@pytest.fixture
def office(storage_url: str) -> Iterator[Office]:
    office = make_office(storage_url)
    yield office
    office.app.close()
