"""Shared test configuration: Hypothesis profiles chosen by ``HYPOTHESIS_PROFILE``.

``dev`` (the default) keeps Hypothesis' own settings; ``ci`` drops the per-example deadline
(shared CI machines stall unpredictably) and runs 100 examples.
"""

from __future__ import annotations

import importlib.metadata
import os

import pytest
from hypothesis import settings

#: pytester runs a shop's test file against the installed pytest plugin.
pytest_plugins = ["pytester"]

settings.register_profile("dev", settings())
settings.register_profile("ci", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


#: torimatome plugins installed in this environment (a developer may have installed the
#: example plugin, or one of their own): every test runs without them, as on a clean machine.
INSTALLED_PLUGINS = sorted({ep.name for ep in importlib.metadata.entry_points(group="torimatome")})


@pytest.fixture(autouse=True)
def _without_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    if INSTALLED_PLUGINS:
        monkeypatch.setenv("TORIMATOME_DISABLE_PLUGINS", ",".join(INSTALLED_PLUGINS))


def block_plugins(monkeypatch: pytest.MonkeyPatch, names: str) -> None:
    """Add ``names`` to the plugins a test blocks, keeping the installed ones blocked."""
    monkeypatch.setenv("TORIMATOME_DISABLE_PLUGINS", ",".join([*INSTALLED_PLUGINS, names]))
