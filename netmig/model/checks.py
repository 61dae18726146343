"""Preflight check results."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: a one-line ``reason`` and, unless it passed, a one-line ``fix``."""

    check: str
    outcome: Outcome
    reason: str
    fix: str | None = None
    accepted: bool = False  # a failure the plan explicitly accepts

    @property
    def blocking(self) -> bool:
        return self.outcome is Outcome.FAIL and not self.accepted

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d
