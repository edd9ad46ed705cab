"""The example third-party plugin, installed with pip the way a user would, is found by its
scheme with no registration code and passes the storage conformance suite."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ..conftest import INSTALLED_PLUGINS

PLUGIN = Path(__file__).resolve().parents[2] / "examples" / "torimatome-jsonl"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the installed plugin (its package and its ``.dist-info``)."""
    target = tmp_path_factory.mktemp("site")
    # No build isolation: the build backend comes from the test environment, not the network.
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--no-build-isolation", "--target", str(target), str(PLUGIN)],
        check=True,
        timeout=300,
    )  # fmt: skip
    assert (target / "torimatome_jsonl-0.1.0.dist-info" / "entry_points.txt").exists()
    return target


def _run(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    # Other installed plugins stay blocked; this one (installed here, maybe in the venv too)
    # must be found.
    others = [name for name in INSTALLED_PLUGINS if name != "jsonl"]
    env["TORIMATOME_DISABLE_PLUGINS"] = ",".join(others)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_open_finds_the_installed_backend_by_its_scheme(site: Path, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import torimatome
        from torimatome import NewUser

        url = "jsonl:///office.jsonl"
        with torimatome.open(url) as app:
            reg = app.create_account("商事", coordinator=NewUser(login_id="boss", nickname="山田"))
            for p in app.plugins():
                print(p.source, p.name, p.distribution, p.version, ",".join(p.hooks))
        with torimatome.open(url) as app:
            print("reopened", [u.login_id for u in app.users(reg.user.id)])
        """
    )
    done = _run(site, "-c", script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "entry point jsonl torimatome-jsonl 0.1.0 torimatome_register_storage" in lines
    assert lines[-1] == "reopened ['boss']"
    assert (tmp_path / "office.jsonl").stat().st_size > 0


def test_without_the_plugin_the_scheme_is_unknown(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import torimatome; torimatome.open('jsonl:///x.jsonl')"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Unknown storage scheme 'jsonl'" in done.stderr


def test_the_installed_plugin_passes_its_own_tests_and_the_conformance_suite(site: Path) -> None:
    done = _run(site, "-m", "pytest", "-q", cwd=PLUGIN)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = done.stdout.strip().splitlines()[-1]
    passed = int(summary.split(" passed")[0].split()[-1])
    assert passed >= 100, summary  # the whole conformance suite ran, not a stray file
    assert "failed" not in summary
    assert "skipped" not in summary
