"""Shared test configuration: Hypothesis profiles chosen by ``HYPOTHESIS_PROFILE``.

``dev`` (the default) keeps Hypothesis' own settings; ``ci`` drops the per-example deadline
(shared CI machines stall unpredictably) and runs 100 examples.
"""

from __future__ import annotations

import os

from hypothesis import settings

#: pytester runs a shop's test file against the installed pytest plugin.
pytest_plugins = ["pytester"]

settings.register_profile("dev", settings())
settings.register_profile("ci", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
