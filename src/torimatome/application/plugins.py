"""Building the plugin manager and the storage registry, per application, never at import.

Who answers first (as in pytest and tox): plugins passed to ``open(plugins=...)``, in the order
listed → entry points of the group ``torimatome`` (minus those named in
``TORIMATOME_DISABLE_PLUGINS``), by name → the built-in adapters (all ``trylast``). Then
``check_pending()``, so a misspelt hook name fails loudly instead of never running.
``TORIMATOME_TRACE_PLUGINS=1`` prints every hook call to stderr.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import logging
import os
import re
import sys
from collections.abc import Iterable
from types import ModuleType

import attrs
import pluggy

from ..domain.errors import ConfigurationError
from ..ports import hookspecs
from ..ports.config import Config
from ..ports.hookspecs import PROJECT, StorageFactory
from ..ports.storage import Storage

__all__ = [
    "DISABLE_ENV",
    "TRACE_ENV",
    "PluginInfo",
    "PluginManager",
    "StorageBackends",
    "build_plugin_manager",
    "call_each",
]

log = logging.getLogger("torimatome")

DISABLE_ENV = "TORIMATOME_DISABLE_PLUGINS"
TRACE_ENV = "TORIMATOME_TRACE_PLUGINS"
#: RFC 3986's scheme syntax (schemes are matched case-insensitively).
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*", re.IGNORECASE)

EXPLICIT = "open()"
ENTRY_POINT = "entry point"
BUILTIN = "built-in"


@attrs.frozen
class PluginInfo:
    """One plugin of an application, as :meth:`App.plugins` reports it.

    ``source`` is ``"open()"`` (passed to ``torimatome.open``), ``"entry point"`` (installed:
    ``distribution`` names the package) or ``"built-in"``; ``hooks`` lists the hooks it
    implements. Plugins are listed in the order they are asked.
    """

    name: str
    source: str
    version: str | None
    distribution: str | None
    hooks: tuple[str, ...]


@attrs.frozen
class _Origin:
    source: str
    distribution: str | None = None
    version: str | None = None


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering where each plugin came from."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, _Origin] = {}

    def describe(self) -> list[PluginInfo]:
        """Every plugin, in the order a ``firstresult`` hook would ask them."""
        rank = {EXPLICIT: 0, ENTRY_POINT: 1, BUILTIN: 2}
        # pluggy asks the plugin registered last first: list in reverse registration order.
        named = list(reversed(self.list_name_plugin()))
        infos = []
        for name, plugin in named:
            if plugin is None:  # blocked
                continue
            origin = self.origins.get(name, _Origin(EXPLICIT))
            hooks = tuple(sorted(caller.name for caller in self.get_hookcallers(plugin) or ()))
            version = origin.version or _version_of(plugin)
            infos.append(PluginInfo(name, origin.source, version, origin.distribution, hooks))
        return sorted(infos, key=lambda info: rank[info.source])


def build_plugin_manager(plugins: Iterable[object], builtins: Iterable[object]) -> PluginManager:
    """A fresh manager: ``plugins`` answer first (in order), entry points next, ``builtins``
    last; every wiring mistake is a :class:`ConfigurationError` naming the plugin."""
    pm = PluginManager()
    explicit = _named(list(plugins))
    chosen = {id(plugin) for _, plugin in explicit}
    # pluggy asks the most recently registered implementation first, so register in the
    # reverse of the order of precedence.
    for plugin in reversed(list(builtins)):
        name = _canonical_name(plugin)
        pm.register(plugin, name=name)
        pm.origins[name] = _Origin(BUILTIN, "torimatome", _torimatome_version())
    installed = []
    for name, plugin, origin in _entry_point_plugins():
        if id(plugin) in chosen:
            continue  # passed to open() too: it answers there, in the shop's order
        chosen.add(id(plugin))  # named by two entry points: the first name keeps it
        installed.append((name, plugin, origin))
    for name, plugin, origin in reversed(installed):
        where = f"installed plugin {name!r} ({origin.distribution} {origin.version})"
        _register_checked(pm, name, plugin, where, installed=True)
        pm.origins[name] = origin
    taken = {n for n, _ in pm.list_name_plugin()}
    unique_names = []
    for name, _ in explicit:  # in the order listed, so the first keeps the plain name
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name}#{n}"
        taken.add(unique)
        unique_names.append(unique)
    for unique, (_, plugin) in reversed(list(zip(unique_names, explicit, strict=True))):
        _register_checked(pm, unique, plugin, f"plugin {plugin!r}", installed=False)
        pm.origins[unique] = _Origin(EXPLICIT)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(f"A plugin implements an unknown hook: {exc}") from exc
    if os.environ.get(TRACE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}:
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm


def call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: object) -> None:
    """Call every implementation of a notification hook, each on its own, in call order.

    pluggy stops at the first implementation that raises; for an event that has already
    happened that would silently skip the others (the reference cart emptying ordered lines,
    a transport closing its connection). A failure is logged (logger ``torimatome``) and the
    next implementation is still called. Hook wrappers wrap each implementation's call.
    """
    hook = getattr(pm.hook, hook_name)
    impls = [i for i in hook.get_hookimpls() if not (i.hookwrapper or i.wrapper)]
    if len(impls) <= 1:
        try:
            hook(**kwargs)
        except Exception:
            log.exception("torimatome hook %s failed", hook_name)
        return
    plugins = [impl.plugin for impl in impls]
    for impl in reversed(impls):  # pluggy's call order
        others = [p for p in plugins if p is not impl.plugin]
        try:
            pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
        except Exception:
            log.exception("torimatome hook %s failed in %s", hook_name, pm.get_name(impl.plugin))


def _normalised(name: str) -> str:
    """A distribution or entry-point name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).strip().lower()


def _blocked() -> set[str]:
    return {_normalised(n) for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}


def _entry_point_plugins() -> list[tuple[str, object, _Origin]]:
    """The installed plugins, sorted by entry-point name; a blocked name (the entry point's or
    its distribution's) is skipped, and a plugin that fails to import is a clear error."""
    blocked = _blocked()
    found: dict[str, tuple[str, object, _Origin]] = {}
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["Name"] or ""
        for ep in dist.entry_points:
            if ep.group != PROJECT:
                continue
            if _normalised(ep.name) in blocked or _normalised(dist_name) in blocked:
                continue
            if ep.name in found:
                other = found[ep.name][2].distribution or ""
                if _normalised(other) == _normalised(dist_name):
                    continue  # one distribution seen twice on sys.path: the first copy wins
                raise ConfigurationError(
                    f"Two installed torimatome plugins are both named {ep.name!r}: {other} and "
                    f"{dist_name}. Disable one with {DISABLE_ENV}=<its distribution name>."
                )
            try:
                plugin = ep.load()
            except Exception as exc:
                raise ConfigurationError(
                    f"The installed torimatome plugin {ep.name!r} ({dist_name} {dist.version}) "
                    f"failed to load: {exc!r}. Set {DISABLE_ENV}={ep.name} to skip it."
                ) from exc
            if inspect.isclass(plugin):
                raise ConfigurationError(
                    f"The entry point {ep.name!r} of {dist_name} names a class; it must name "
                    "a module or an object."
                )
            found[ep.name] = (ep.name, plugin, _Origin(ENTRY_POINT, dist_name, dist.version))
    return [found[name] for name in sorted(found)]


def _named(plugins: list[object]) -> list[tuple[str, object]]:
    """Each plugin passed to ``open()`` with a readable name (``module.Class``)."""
    named: list[tuple[str, object]] = []
    for plugin in plugins:
        if plugin is None or isinstance(plugin, int | float | str | bytes):
            raise ConfigurationError(f"{plugin!r} is not a plugin: pass objects or modules.")
        if inspect.isclass(plugin):
            raise ConfigurationError(
                f"Plugin {plugin.__name__} is a class; pass an instance: {plugin.__name__}()."
            )
        if any(plugin is seen for _, seen in named):
            continue  # listed twice: it answers at its first place
        named.append((_canonical_name(plugin), plugin))
    return named


def _register_checked(
    pm: PluginManager, name: str, plugin: object, where: str, *, installed: bool
) -> None:
    """Register one plugin, turning the usual wiring mistakes into clear errors now rather
    than a silent no-op or a TypeError at the first hook call."""
    try:
        pm.register(plugin, name=name)
    except Exception as exc:  # pluggy's PluginValidationError, or an object it cannot inspect
        raise ConfigurationError(f"Cannot register the {where}: {exc}") from exc
    try:
        unmarked = [
            attr
            for attr in dir(plugin)
            if attr.startswith(f"{PROJECT}_")
            and callable(getattr(plugin, attr, None))
            and pm.parse_hookimpl_opts(plugin, attr) is None
        ]
    except Exception as exc:
        pm.unregister(plugin)
        raise ConfigurationError(f"Cannot register the {where}: {exc}") from exc
    if unmarked:
        pm.unregister(plugin)
        raise ConfigurationError(
            f"The {where} defines {', '.join(unmarked)} without @hookimpl "
            "(from torimatome import hookimpl), so torimatome would never call it."
        )
    callers = pm.get_hookcallers(plugin) or []
    if not callers:
        pm.unregister(plugin)
        raise ConfigurationError(
            f"The {where} implements no torimatome hook: pass objects or modules whose "
            "torimatome_* functions carry @hookimpl."
        )
    if installed:
        # The shop decides what answers first: an installed plugin may not jump the queue.
        pushy = [
            impl.function.__name__
            for caller in callers
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin and impl.tryfirst
        ]
        if pushy:
            pm.unregister(plugin)
            raise ConfigurationError(
                f"The {where} marks {', '.join(pushy)} tryfirst, which would overrule the "
                f"plugins passed to open(). Disable it with {DISABLE_ENV}={name}."
            )


def _canonical_name(plugin: object) -> str:
    if isinstance(plugin, ModuleType):
        return plugin.__name__
    kind = type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"


def _version_of(plugin: object) -> str | None:
    """A plugin's version: its own ``__version__``, or its top-level package's."""
    version = getattr(plugin, "__version__", None)
    if isinstance(version, str):
        return version
    module = plugin.__name__ if isinstance(plugin, ModuleType) else type(plugin).__module__
    top = sys.modules.get(module.partition(".")[0])
    version = getattr(top, "__version__", None)
    return version if isinstance(version, str) else None


def _torimatome_version() -> str | None:
    try:
        return importlib.metadata.version("torimatome")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return None


class StorageBackends:
    """The registry handed to ``torimatome_register_storage``: URL schemes to factories."""

    def __init__(self) -> None:
        self._factories: dict[str, StorageFactory] = {}

    def add(self, scheme: str, factory: StorageFactory) -> None:
        """Offer ``factory`` for ``scheme://`` URLs; the first offer of a scheme wins, so the
        plugin asked first (a shop's own) can replace a built-in backend."""
        if not isinstance(scheme, str) or not _SCHEME.fullmatch(scheme):
            raise ConfigurationError(
                f"Invalid storage scheme {scheme!r}: letters, digits, '+', '-' and '.', "
                "starting with a letter."
            )
        if not callable(factory):
            raise ConfigurationError(f"Storage factory for {scheme!r} is not callable.")
        self._factories.setdefault(scheme.lower(), factory)

    @property
    def schemes(self) -> list[str]:
        """The known schemes, sorted."""
        return sorted(self._factories)

    def open(self, url: str, config: Config) -> Storage:
        """Build the storage for ``url`` with its scheme's factory."""
        scheme, sep, _ = url.partition("://")
        if not sep:
            raise ConfigurationError(
                f"Storage URL {url!r} has no scheme; known schemes: {', '.join(self.schemes)}."
            )
        factory = self._factories.get(scheme.lower())
        if factory is None:
            raise ConfigurationError(
                f"Unknown storage scheme {scheme!r}; known schemes: {', '.join(self.schemes)}."
                " A plugin adds one through torimatome_register_storage."
            )
        return factory(url, config)
