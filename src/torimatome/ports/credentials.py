"""Credential ports: password hashing and the generation of ids, login IDs and passwords."""

from __future__ import annotations

from typing import Protocol

__all__ = ["IdGenerator", "PasswordHasher", "SecretGenerator"]


class PasswordHasher(Protocol):
    """Turns a password into a self-describing salted slow hash and checks one."""

    def hash(self, password: str) -> str: ...
    def verify(self, password: str, hashed: str) -> bool: ...
    def needs_rehash(self, hashed: str) -> bool:
        """Whether ``hashed`` was made with other parameters than :meth:`hash` uses now."""


class IdGenerator(Protocol):
    def __call__(self, prefix: str) -> str:
        """A new unique id such as ``req_...``."""


class SecretGenerator(Protocol):
    def login_id(self) -> str: ...
    def password(self) -> str: ...
