"""Ports that fail on purpose: a storage that raises at its n-th call or at commit, a cart that
fails on its n-th call, and mail transports that fail, time out, or accept and then raise."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

from torimatome import CartEntry, CartRef, MemoryCart, StorageError, hookimpl
from torimatome.ports.storage import Storage, UnitOfWork

REPOSITORIES = ("accounts", "users", "requests", "messages", "outbox", "idempotency")


class Injected(StorageError):
    """The fault a test put there."""


class FaultyStorage:
    """Wraps a real storage; raises at its ``fail_at``-th call (each repository call and each
    commit of a write unit counts one), rolling the unit back as a real failure would."""

    def __init__(self, inner: Storage) -> None:
        self.inner = inner
        self.calls = 0
        self.fail_at = 0  # 0: never
        self.injected = 0

    def _tick(self, what: str) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            self.injected += 1
            raise Injected(f"injected fault at call {self.calls} ({what})")

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[UnitOfWork]:
        with self.inner.unit_of_work(write=write) as uow:
            yield _Proxy(uow, self)  # type: ignore[misc]
            if write:
                self._tick("commit")  # raised inside the unit: the inner unit rolls back

    def close(self) -> None:
        self.inner.close()


class _Repo:
    def __init__(self, inner: Any, owner: FaultyStorage, name: str) -> None:
        self._inner, self._owner, self._name = inner, owner, name

    def __getattr__(self, method: str) -> Any:
        real = getattr(self._inner, method)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._owner._tick(f"{self._name}.{method}")
            return real(*args, **kwargs)

        return call


class _Proxy:
    def __init__(self, uow: UnitOfWork, owner: FaultyStorage) -> None:
        for name in REPOSITORIES:
            setattr(self, name, _Repo(getattr(uow, name), owner, name))


class FlakyCart(MemoryCart):
    """The memory cart, failing on its ``fail_at``-th call (adding or removing)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.fail_at = 0
        self.injected = 0

    def _tick(self) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            self.injected += 1
            raise ConnectionError(f"cart down at call {self.calls}")

    @hookimpl
    def torimatome_add_to_cart(
        self, account_id: str, coordinator_id: str, entries: Sequence[CartEntry]
    ) -> list[CartRef]:
        self._tick()
        return super().torimatome_add_to_cart(account_id, coordinator_id, entries)

    @hookimpl
    def torimatome_remove_from_cart(
        self, account_id: str, coordinator_id: str, refs: Sequence[CartRef]
    ) -> None:
        self._tick()
        super().torimatome_remove_from_cart(account_id, coordinator_id, refs)


class FlakyTransport:
    """Delivers into ``delivered``, except on scheduled calls: ``"fail"`` raises before sending,
    ``"timeout"`` raises TimeoutError before sending, ``"none"`` returns None, and
    ``"accept_then_fail"`` delivers and then raises (the server took it, the answer was lost)."""

    def __init__(self, plan: dict[int, str]) -> None:
        self.plan = plan
        self.calls = 0
        self.delivered: list[str] = []

    @hookimpl
    def torimatome_send_mail(self, message: EmailMessage) -> bool | None:
        self.calls += 1
        fault = self.plan.get(self.calls)
        if fault == "fail":
            raise ConnectionRefusedError("mail server down")
        if fault == "timeout":
            raise TimeoutError("mail server timed out")
        if fault == "none":
            return None
        self.delivered.append(str(message["Message-ID"]))
        if fault == "accept_then_fail":
            raise ConnectionResetError("connection lost after DATA")
        return True
