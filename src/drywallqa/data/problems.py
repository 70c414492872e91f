"""``DataProblem``: something wrong with one file of a dataset, named, so that reading goes on without it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataProblem:
    """Something wrong with one file; reading goes on without it (or with it fixed up)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"
