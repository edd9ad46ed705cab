"""Reference credential services: scrypt password hashes and generated ids and secrets."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = [
    "LOGIN_ALPHABET",
    "PASSWORD_ALPHABET",
    "ScryptHasher",
    "SecretsGenerator",
    "random_id",
]

# No look-alikes (0/O/o, 1/l/I, 5/S, 2/Z...), so a password read off a screen or a slip of
# paper is typed right the first time.
LOGIN_ALPHABET = "abcdefghjkmnpqrstuvwxyz346789"
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRTUVWXY346789"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


class ScryptHasher:
    """``scrypt$n=16384,r=8,p=1$<salt>$<hash>``: the string says how to check itself, so the
    cost can rise later without breaking stored hashes."""

    def __init__(self, n: int = 2**14, r: int = 8, p: int = 1, salt_bytes: int = 16) -> None:
        if n < 2 or n & (n - 1):
            raise ValueError("scrypt n must be a power of two greater than 1")
        self.n, self.r, self.p, self.salt_bytes = n, r, p, salt_bytes

    def _derive(self, password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
        return hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32
        )

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(self.salt_bytes)
        digest = self._derive(password, salt, self.n, self.r, self.p)
        return f"scrypt$n={self.n},r={self.r},p={self.p}${_b64(salt)}${_b64(digest)}"

    def needs_rehash(self, hashed: str) -> bool:
        return not hashed.startswith(f"scrypt$n={self.n},r={self.r},p={self.p}$")

    def verify(self, password: str, hashed: str) -> bool:
        try:
            scheme, params, salt, digest = hashed.split("$")
            cost = dict(item.split("=") for item in params.split(","))
            n, r, p = int(cost["n"]), int(cost["r"]), int(cost["p"])
            expected = _unb64(digest)
            actual = self._derive(password, _unb64(salt), n, r, p)
        except (ValueError, KeyError):
            return False
        return scheme == "scrypt" and hmac.compare_digest(actual, expected)


class SecretsGenerator:
    """Login IDs and one-time passwords from :mod:`secrets`."""

    def __init__(self, login_length: int = 8, password_length: int = 12) -> None:
        self.login_length, self.password_length = login_length, password_length

    def login_id(self) -> str:
        return "u" + "".join(secrets.choice(LOGIN_ALPHABET) for _ in range(self.login_length))

    def password(self) -> str:
        while True:
            candidate = "".join(
                secrets.choice(PASSWORD_ALPHABET) for _ in range(self.password_length)
            )
            # A password with a digit, a lower and an upper case letter passes most shops'
            # own password rules.
            if (
                any(c.isdigit() for c in candidate)
                and any(c.islower() for c in candidate)
                and any(c.isupper() for c in candidate)
            ):
                return candidate


def random_id(prefix: str) -> str:
    """A unique id that sorts nowhere in particular: ``req_3f9c...`` (128 random bits)."""
    return f"{prefix}_{secrets.token_hex(16)}"
