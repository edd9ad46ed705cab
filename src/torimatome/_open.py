"""The facade's one entry point: open an application from a storage URL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .adapters import builtin
from .adapters.credentials import ScryptHasher, SecretsGenerator, random_id
from .application.app import App
from .application.core import checked_instant
from .application.plugins import StorageBackends, build_plugin_manager
from .domain.errors import ConfigurationError, TorimatomeError
from .domain.features import FeatureSpec, RestrictionMatrix
from .domain.text import forbidden_character
from .ports.clock import Clock, system_clock
from .ports.config import Config

__all__ = ["open"]


def _check_clock(clock: object) -> None:
    """Ask the clock once now, so a naive or broken clock fails at open(), not mid-request."""
    if not callable(clock):
        raise ConfigurationError("clock must be a callable returning an aware datetime.")
    try:
        now = clock()
    except Exception as exc:
        raise ConfigurationError(f"The clock failed: {exc!r}") from exc
    checked_instant(now)


@contextmanager
def _wiring(what: str) -> Iterator[None]:
    """A plugin failing while the app is put together is a ConfigurationError at open()."""
    try:
        yield
    except TorimatomeError:
        raise
    except Exception as exc:
        raise ConfigurationError(f"{what} failed: {exc!r}") from exc


def open(
    url: str = "memory://",
    *,
    plugins: Iterable[object] = (),
    clock: Clock | None = None,
    config: Config | None = None,
) -> App:
    """Open a torimatome application on the storage at ``url``.

    Args:
        url: ``memory://`` (a fresh in-memory store), ``sqlite:///path/to/file.sqlite3``, or a
            scheme a plugin registers through ``torimatome_register_storage``.
        plugins: plugin objects or modules for this application only; they answer before
            entry-point plugins and the built-in adapters.
        clock: a callable returning an aware ``datetime`` (tests pass a frozen clock).
        config: a :class:`Config`; every field has a working default.

    Raises:
        ConfigurationError: an unknown scheme, a bad plugin or a bad option.
    """
    if not isinstance(url, str) or forbidden_character(url, allow_line_breaks=False):
        raise ConfigurationError(f"The storage URL must be a one-line str, not {url!r}.")
    if config is None:
        config = Config()
    if not isinstance(config, Config):
        raise ConfigurationError("config must be a torimatome.Config.")
    if clock is not None:
        _check_clock(clock)
    if isinstance(plugins, str | bytes) or not isinstance(plugins, Iterable):
        raise ConfigurationError("plugins must be a list of plugin objects or modules.")
    default_cart = builtin.DefaultCart(durable_storage=not url.lower().startswith("memory://"))
    pm = build_plugin_manager(list(plugins), [builtin, default_cart])
    default_cart.shadowed = len(pm.hook.torimatome_add_to_cart.get_hookimpls()) > 1
    backends = StorageBackends()
    with _wiring("torimatome_register_storage"):
        pm.hook.torimatome_register_storage(registry=backends)
    with _wiring("torimatome_extra_features"):
        extra: list[FeatureSpec] = [
            spec for specs in pm.hook.torimatome_extra_features() for spec in (specs or ())
        ]
    matrix = RestrictionMatrix.build(extra)
    with _wiring(f"the storage factory of {url.partition('://')[0]!r}"):
        storage = backends.open(url, config)
    app = App(
        storage=storage,
        plugin_manager=pm,
        clock=clock or system_clock,
        config=config,
        hasher=ScryptHasher(n=config.scrypt_n),
        secrets=SecretsGenerator(),
        new_id=random_id,
        matrix=matrix,
    )
    app.default_cart = default_cart
    return app
