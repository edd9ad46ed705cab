"""Test support shipped with torimatome: the storage conformance suite and its builders.

A storage backend (built-in or a plugin's) proves it honours the storage port by subclassing
:class:`AbstractStorageTests` and providing a ``storage`` fixture; the builders make the domain
values those tests store, and plugin authors may reuse them in their own tests. Shops' test
suites get the doubles below as pytest fixtures (``torimatome_app``...) from
:mod:`torimatome.testing.pytest_plugin`, loaded automatically through ``pytest11``.
"""

from __future__ import annotations

from .doubles import (
    CapturedMail,
    CapturedMessage,
    FrozenClock,
    OfficeFactory,
    RecordingCart,
    TestOffice,
)
from .storage import (
    T0,
    AbstractStorageTests,
    Office,
    add_office,
    at,
    bump,
    make_account,
    make_line,
    make_mail,
    make_message,
    make_record,
    make_request,
    make_user,
)

__all__ = [
    "T0",
    "AbstractStorageTests",
    "CapturedMail",
    "CapturedMessage",
    "FrozenClock",
    "Office",
    "OfficeFactory",
    "RecordingCart",
    "TestOffice",
    "add_office",
    "at",
    "bump",
    "make_account",
    "make_line",
    "make_mail",
    "make_message",
    "make_record",
    "make_request",
    "make_user",
]
