"""An interrupt (Ctrl-C) may land between any two lines of the memory storage: the rollback
must still leave every table and index exactly as it was.

Python delivers a signal between bytecodes; the tracer below raises ``KeyboardInterrupt`` at
the n-th line the storage runs, for every n until the write completes, so every gap between a
change and its undo entry is tried.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import attrs
import pytest

from torimatome.adapters import memory_storage
from torimatome.adapters.memory_storage import MemoryStorage
from torimatome.domain.lines import LineStatus
from torimatome.ports.storage import UnitOfWork
from torimatome.testing import add_office, at, bump, make_mail, make_message, make_request

_FILE = memory_storage.__file__


def _interrupt_at(n: int) -> Callable[..., Any]:
    seen = 0

    def local(frame: FrameType, event: str, arg: object) -> Any:
        nonlocal seen
        if event == "line":
            seen += 1
            if seen == n:
                sys.settrace(None)
                raise KeyboardInterrupt
        return local

    def tracer(frame: FrameType, event: str, arg: object) -> Any:
        return local if frame.f_code.co_filename == _FILE else None

    return tracer


def _state(storage: MemoryStorage) -> dict[str, Any]:
    """Every table and index, empty index entries left out."""
    return {
        name: {k: v for k, v in table.items() if v or not isinstance(v, dict | list | tuple)}
        for name, table in vars(storage._tables).items()
        if isinstance(table, dict)
    }


def _office_with_history(uow: UnitOfWork) -> None:
    add_office(uow)
    uow.requests.add(make_request("r-old", submitted_at=at(-900), statuses=(LineStatus.DELETED,)))
    uow.requests.add(
        make_request("r-1", statuses=(LineStatus.REQUESTED, LineStatus.ON_HOLD), submitted_at=at(0))
    )
    uow.outbox.add(make_mail("m-old", request_id="r-old", sent_at=at(-899)))
    uow.outbox.add(make_mail("m-1", request_id="r-1"))
    uow.messages.add(make_message(request_id="r-1"))


def _decide(uow: UnitOfWork) -> None:
    lines = uow.requests.lines(["r-1-0", "r-1-1"])
    uow.requests.update_lines(
        [
            bump(lines["r-1-0"], status=LineStatus.CONSOLIDATED, decided_at=at(1)),
            bump(lines["r-1-1"], status=LineStatus.DELETED, decided_at=at(1)),
        ]
    )


WRITES: dict[str, Callable[[UnitOfWork], object]] = {
    "add a request": lambda uow: uow.requests.add(make_request("r-2", submitted_at=at(2))),
    "decide lines": _decide,
    "purge a batch": lambda uow: uow.requests.purge("acc-1", at(-1), dry_run=False, limit=1),
    "purge whole": lambda uow: uow.requests.purge("acc-1", at(-1), dry_run=False),
    "add a mail": lambda uow: uow.outbox.add(make_mail("m-2", request_id="r-1")),
    "mark a mail sent": lambda uow: uow.outbox.mark_sent("m-1", at(1)),
    "post a message": lambda uow: uow.messages.add(make_message("m-x", request_id="r-1")),
    "change a user": lambda uow: uow.users.update(
        attrs.evolve(uow.users.get("acc-1-alice"), nickname="改名", version=2)  # type: ignore[arg-type]
    ),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_an_interrupt_at_any_line_of_a_write_leaves_every_index_as_it_was(write: str) -> None:
    storage = MemoryStorage()
    with storage.unit_of_work() as uow:
        _office_with_history(uow)
    before = copy.deepcopy(_state(storage))
    n = 0
    while True:
        n += 1
        interrupted = False
        try:
            with storage.unit_of_work() as uow:
                sys.settrace(_interrupt_at(n))
                try:
                    WRITES[write](uow)
                finally:
                    sys.settrace(None)
                raise RuntimeError("roll back what completed")
        except KeyboardInterrupt:
            interrupted = True
        except RuntimeError:
            pass
        assert _state(storage) == before, f"{write}: interrupted at line {n}"
        if not interrupted:
            break
    assert n > 5  # the write really ran through the storage's lines
