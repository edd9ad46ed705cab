"""pytest fixtures for shops' test suites, loaded through the ``pytest11`` entry point.

It defines fixtures only (no hooks, no options), so installing torimatome changes nothing in a
test suite that does not ask for them. Every fixture is function-scoped and starts empty:

- ``torimatome_clock``: a :class:`~torimatome.testing.doubles.FrozenClock`;
- ``torimatome_mail``: a :class:`~torimatome.testing.doubles.CapturedMail` transport;
- ``torimatome_cart``: a :class:`~torimatome.testing.doubles.RecordingCart`;
- ``torimatome_config``: a ``Config`` with a cheap password hash (tests only);
- ``torimatome_app``: an app on ``memory://`` wired with the four above;
- ``torimatome_office``: an :class:`~torimatome.testing.doubles.OfficeFactory` on that app.

Override any of them in a ``conftest.py`` (``torimatome_config`` to mail more events, say).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .._open import open as open_app
from ..application.app import App
from ..ports.config import Config
from .doubles import CapturedMail, FrozenClock, OfficeFactory, RecordingCart

__all__ = [
    "torimatome_app",
    "torimatome_cart",
    "torimatome_clock",
    "torimatome_config",
    "torimatome_mail",
    "torimatome_office",
]


@pytest.fixture
def torimatome_clock() -> FrozenClock:
    """A clock standing at 2026-04-01 09:00 JST until the test moves it."""
    return FrozenClock()


@pytest.fixture
def torimatome_mail() -> CapturedMail:
    """The mails the app delivers; ``torimatome_mail.deliver()`` runs ``deliver_mail()``."""
    return CapturedMail()


@pytest.fixture
def torimatome_cart() -> RecordingCart:
    """The coordinator's cart, recording what torimatome put in and took out."""
    return RecordingCart()


@pytest.fixture
def torimatome_config() -> Config:
    """Defaults, but a cheap scrypt cost so registering users is fast (never in production)."""
    return Config(scrypt_n=2**4)


@pytest.fixture
def torimatome_app(
    torimatome_clock: FrozenClock,
    torimatome_mail: CapturedMail,
    torimatome_cart: RecordingCart,
    torimatome_config: Config,
) -> Iterator[App]:
    """An app on ``memory://`` with the captured mail, the recording cart and the clock."""
    app = open_app(
        "memory://",
        plugins=[torimatome_mail, torimatome_cart],
        clock=torimatome_clock,
        config=torimatome_config,
    )
    torimatome_mail.app = app
    yield app
    app.close()


@pytest.fixture
def torimatome_office(torimatome_app: App) -> OfficeFactory:
    """Call it for an office: ``office = torimatome_office(users=3)``."""
    return OfficeFactory(torimatome_app)
