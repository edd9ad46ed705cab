"""The hexagon's import rules (DESIGN §2, STYLE habit 1), proven by reading and importing.

* ``torimatome.domain`` imports the standard library, attrs and itself only.
* ``torimatome.ports`` never imports an adapter or the application.
* ``torimatome.application`` never imports an adapter, and no adapter imports the application:
  only the facade (``_open``) wires the two together.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

_SPEC = importlib.util.find_spec("torimatome")  # locates the package without importing it
assert _SPEC is not None
assert _SPEC.submodule_search_locations is not None
PACKAGE_DIR = Path(next(iter(_SPEC.submodule_search_locations)))
DOMAIN_DIR = PACKAGE_DIR / "domain"
PORTS_DIR = PACKAGE_DIR / "ports"
APPLICATION_DIR = PACKAGE_DIR / "application"
ADAPTERS_DIR = PACKAGE_DIR / "adapters"
ALLOWED_THIRD_PARTY = frozenset({"attrs"})
OUTER_LAYERS = ("torimatome.ports", "torimatome.adapters", "torimatome.application")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports (anywhere, even under TYPE_CHECKING), absolute names."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base = ".".join(base_parts[: len(base_parts) - (node.level - 1)])
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            yield node.lineno, target
            if node.module is None:  # ``from . import text``: the names are modules too
                for alias in node.names:
                    yield node.lineno, f"{target}.{alias.name}"


def _files(directory: Path) -> list[Path]:
    return sorted(directory.rglob("*.py"))


def _domain_modules() -> list[str]:
    return [_module_name(path) for path in _files(DOMAIN_DIR)]


def test_the_layers_are_where_the_tests_look_for_them() -> None:
    assert (DOMAIN_DIR / "__init__.py").is_file()
    assert (PORTS_DIR / "__init__.py").is_file()
    assert len(_files(DOMAIN_DIR)) >= 16


@pytest.mark.parametrize("path", _files(DOMAIN_DIR), ids=lambda p: p.name)
def test_a_domain_module_imports_only_the_standard_library_attrs_and_the_domain(
    path: Path,
) -> None:
    offending = []
    for line, name in _imports(path):
        top = name.partition(".")[0]
        if name == "torimatome.domain" or name.startswith("torimatome.domain."):
            continue
        if top in sys.stdlib_module_names or top == "__future__" or top in ALLOWED_THIRD_PARTY:
            continue
        offending.append(f"{path.name}:{line} imports {name}")
    assert offending == []


#: Which layer may not import which: ports stay below the application and the adapters, and
#: the application and the adapters meet only in the facade.
FORBIDDEN = {
    PORTS_DIR: ("torimatome.adapters", "torimatome.application"),
    APPLICATION_DIR: ("torimatome.adapters",),
    ADAPTERS_DIR: ("torimatome.application",),
}


def _inside(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [(path, forbidden) for layer, forbidden in FORBIDDEN.items() for path in _files(layer)],
    ids=lambda value: value.name if isinstance(value, Path) else "",
)
def test_no_module_imports_a_layer_it_must_not_know(path: Path, forbidden: tuple[str, ...]) -> None:
    offending = [
        f"{path.name}:{line} imports {name}"
        for line, name in _imports(path)
        if any(_inside(name, package) for package in forbidden)
    ]
    assert offending == []


def test_the_import_resolver_sees_relative_imports_across_layers() -> None:
    # Guards the guard: the ports really do import the domain through ``..domain``.
    names = {name for path in _files(PORTS_DIR) for _, name in _imports(path)}
    assert any(name.startswith("torimatome.domain.") for name in names)


# The package's ``__init__`` is the public facade and deliberately imports every layer, so the
# child process installs a bare ``torimatome`` package object first: what gets imported then is
# exactly the domain's own import closure.
_CHILD = """
import importlib, importlib.util, json, sys, types
spec = importlib.util.find_spec("torimatome")
package = types.ModuleType("torimatome")
package.__path__ = list(spec.submodule_search_locations)
sys.modules["torimatome"] = package
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_every_domain_module_loads_no_port_adapter_or_application_module() -> None:
    modules = _domain_modules()
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_DIR.parent)}
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(modules)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    ours = sorted(name for name in loaded if name.startswith("torimatome"))
    assert set(modules) <= set(ours)
    assert [name for name in ours if name.startswith(OUTER_LAYERS)] == []
    assert [name for name in ours if not name.startswith("torimatome.domain")] == ["torimatome"]
    for foreign in ("cattrs", "pluggy", "sqlite3"):
        assert foreign not in loaded
