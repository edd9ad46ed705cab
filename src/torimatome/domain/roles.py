"""The two roles of the seed: とりまとめ担当者 and 社内ユーザー."""

from __future__ import annotations

import enum

__all__ = ["Role"]


class Role(enum.StrEnum):
    """A user's role in an account; the restriction matrix is keyed by it."""

    COORDINATOR = "coordinator"
    INTERNAL = "internal"

    @property
    def label_ja(self) -> str:
        return "とりまとめ担当者" if self is Role.COORDINATOR else "社内ユーザー"

    @property
    def label_en(self) -> str:
        return "Coordinator" if self is Role.COORDINATOR else "Internal user"
