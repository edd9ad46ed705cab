"""Building the plugin manager and the storage registry, per application, never at import.

Load order (as pytest and tox do it): plugins passed to ``open(plugins=...)`` → entry points of
the group ``torimatome`` (minus those named in ``TORIMATOME_DISABLE_PLUGINS``) → the built-in
adapters → ``check_pending()``, so a misspelt hook name fails loudly instead of never running.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
from collections.abc import Iterable

import pluggy

from ..domain.errors import ConfigurationError
from ..ports import hookspecs
from ..ports.config import Config
from ..ports.hookspecs import PROJECT, StorageFactory
from ..ports.storage import Storage

__all__ = ["StorageBackends", "build_plugin_manager"]

DISABLE_ENV = "TORIMATOME_DISABLE_PLUGINS"
#: RFC 3986's scheme syntax, lower case (schemes are matched case-insensitively).
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*", re.IGNORECASE)
TRACE_ENV = "TORIMATOME_TRACE_PLUGINS"


def build_plugin_manager(
    plugins: Iterable[object], builtins: Iterable[object]
) -> pluggy.PluginManager:
    """A fresh manager with ``plugins`` first, entry points next, ``builtins`` last.

    pluggy calls the most recently registered implementation first, so ``plugins`` are
    registered in reverse: the first plugin listed is the first asked.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    for plugin in reversed(list(plugins)):
        if pm.is_registered(plugin):
            continue
        _check_plugin(pm, plugin)
    blocked = {n.strip() for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
    for name in blocked:
        pm.set_blocked(name)
    pm.load_setuptools_entrypoints(PROJECT)
    for plugin in reversed(list(builtins)):
        pm.register(plugin)
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigurationError(f"A plugin implements an unknown hook: {exc}") from exc
    if os.environ.get(TRACE_ENV):
        pm.trace.root.setwriter(lambda text: sys.stderr.write(text))
        pm.enable_tracing()
    return pm


def _check_plugin(pm: pluggy.PluginManager, plugin: object) -> None:
    """Register one explicit plugin, turning the usual wiring mistakes into clear errors now
    rather than a silent no-op or a TypeError at the first hook call."""
    if plugin is None or isinstance(plugin, int | float | str | bytes):
        raise ConfigurationError(f"{plugin!r} is not a plugin: pass objects or modules.")
    if inspect.isclass(plugin):
        raise ConfigurationError(
            f"Plugin {plugin.__name__} is a class; pass an instance: {plugin.__name__}()."
        )
    try:
        pm.register(plugin)
        unmarked = [
            name
            for name in dir(plugin)
            if name.startswith(f"{PROJECT}_")
            and callable(getattr(plugin, name, None))
            and pm.parse_hookimpl_opts(plugin, name) is None
        ]
    except Exception as exc:  # a plugin object that cannot even be inspected
        raise ConfigurationError(f"Cannot register plugin {plugin!r}: {exc}") from exc
    if unmarked:
        pm.unregister(plugin)
        raise ConfigurationError(
            f"Plugin {plugin!r} defines {', '.join(unmarked)} without @hookimpl "
            "(from torimatome import hookimpl), so torimatome would never call it."
        )
    if not pm.get_hookcallers(plugin):
        pm.unregister(plugin)
        raise ConfigurationError(
            f"{plugin!r} implements no torimatome hook: pass objects or modules whose "
            "torimatome_* functions carry @hookimpl."
        )


class StorageBackends:
    """The registry handed to ``torimatome_register_storage``: schemes to factories."""

    def __init__(self) -> None:
        self._factories: dict[str, StorageFactory] = {}

    def add(self, scheme: str, factory: StorageFactory) -> None:
        """Offer ``factory`` for ``scheme://`` URLs; the first offer of a scheme wins."""
        if not isinstance(scheme, str) or (not scheme.isidentifier() and "-" not in scheme):
            raise ConfigurationError(f"Invalid storage scheme {scheme!r}.")
        if not callable(factory):
            raise ConfigurationError(f"Storage factory for {scheme!r} is not callable.")
        self._factories.setdefault(scheme.lower(), factory)

    @property
    def schemes(self) -> list[str]:
        return sorted(self._factories)

    def open(self, url: str, config: Config) -> Storage:
        scheme, sep, _ = url.partition("://")
        if not sep:
            raise ConfigurationError(
                f"Storage URL {url!r} has no scheme; known schemes: {', '.join(self.schemes)}."
            )
        factory = self._factories.get(scheme.lower())
        if factory is None:
            raise ConfigurationError(
                f"Unknown storage scheme {scheme!r}; known schemes: {', '.join(self.schemes)}."
            )
        return factory(url, config)
