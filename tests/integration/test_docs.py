"""Docs that run: every Python block of README.md and docs/ executes, and the matrix copy is
current."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from torimatome.demo import matrix_table

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_python_block_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace: dict[str, object] = {"__name__": f"docs.{path.stem}"}
    for number, block in enumerate(BLOCK.findall(path.read_text(encoding="utf-8")), 1):
        exec(compile(block, f"{path.name} block {number}", "exec"), namespace)


def test_a_block_naming_a_file_of_the_repository_shows_it_as_it_is() -> None:
    """Blocks fenced as ```python  # path/of/a/file.py are that file, which runs where it is."""
    for doc in DOCS:
        for name, source in re.findall(
            r"```python  # (\S+)\n(.*?)```", doc.read_text("utf-8"), re.S
        ):
            path = ROOT / name
            assert path.exists() or "/" not in name, f"{doc.name} shows a missing {name}"
            if path.exists():
                assert source == path.read_text(encoding="utf-8"), f"{doc.name}: {name}"


def test_the_matrix_page_shows_the_current_matrix() -> None:
    text = (ROOT / "docs" / "matrix.md").read_text(encoding="utf-8")
    assert matrix_table("ja") in text


def test_every_example_runs() -> None:
    import runpy

    for example in sorted((ROOT / "examples").glob("*.py")):
        runpy.run_path(str(example), run_name="__main__")


def test_every_public_call_of_the_app_is_documented() -> None:
    import inspect

    from torimatome import App

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    public = [name for name, _ in inspect.getmembers(App) if not name.startswith("_")]
    missing = [name for name in public if f"`{name}(" not in api and f"`app.{name}" not in api]
    assert missing == []


def test_every_exported_name_is_documented() -> None:
    import torimatome

    docs = "".join(p.read_text(encoding="utf-8") for p in DOCS)
    missing = [
        name
        for name in torimatome.__all__
        if not re.search(rf"`(torimatome\.)?{re.escape(name)}\b", docs)
    ]
    assert missing == []


def _hookspecs() -> dict[str, list[str]]:
    import inspect

    from torimatome.ports import hookspecs

    return {
        name: list(inspect.signature(function).parameters)
        for name, function in vars(hookspecs).items()
        if name.startswith("torimatome_") and callable(function)
    }


def test_every_hook_is_documented_with_its_arguments() -> None:
    text = (ROOT / "docs" / "hooks.md").read_text(encoding="utf-8")
    for name, arguments in _hookspecs().items():
        assert f"`{name}({', '.join(arguments)})`" in text, name


def test_every_hook_has_a_test_that_calls_it() -> None:
    tests = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "tests").rglob("*.py"))
    untested = [name for name in _hookspecs() if f"def {name}(" not in tests]
    assert untested == []


def test_every_domain_event_publishes_through_its_own_hook() -> None:
    from torimatome.domain.events import EVENT_TYPES

    assert {f"torimatome_{event.name}" for event in EVENT_TYPES} <= set(_hookspecs())
