"""Preflight check results.

Contract: a check's verdict is one of four outcomes. ``FAIL`` is a finding about the cluster's own content (a PDB,
an annotation, a CIDR): the plan may accept it (``--accept ID``, ``accepted:``, the wizard, the Prefect form) unless
the check marks it ``acceptable=False``. ``ERROR`` means the check could NOT RUN (cannot download, cannot read, no
permission, an API error): nothing is known, so it is never acceptable and always blocks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"  # the check could not run: never acceptable


MARKS = {"pass": "ok  ", "warn": "warn", "fail": "FAIL", "error": "ERR "}


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: a one-line ``reason`` and, unless it passed, a one-line ``fix``."""

    check: str
    outcome: Outcome
    reason: str
    fix: str | None = None
    accepted: bool = False  # a failure the plan explicitly accepts
    acceptable: bool = True  # False: no acceptance can let it pass (always False for ERROR)

    def __post_init__(self) -> None:
        if self.outcome is Outcome.ERROR:
            object.__setattr__(self, "acceptable", False)
        if not self.acceptable:
            object.__setattr__(self, "accepted", False)

    @property
    def blocking(self) -> bool:
        return self.outcome is Outcome.ERROR or (self.outcome is Outcome.FAIL and not self.accepted)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d


def is_blocking(result: dict[str, Any]) -> bool:
    """``blocking`` for a result as stored in a plan or journal (``to_dict``)."""
    return result.get("outcome") == "error" or (result.get("outcome") == "fail" and not result.get("accepted"))


def unacceptable(results: list[dict[str, Any]], accepted: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
    """The results ``accepted`` names that no acceptance can let pass (a check that could not run, or one that
    says so): the CLI, the wizard and the Prefect form refuse to accept them."""
    return [r for r in results if r.get("check") in accepted
            and (r.get("outcome") == "error" or (r.get("outcome") == "fail" and r.get("acceptable") is False))]


def render_mark(result: dict[str, Any]) -> str:
    """``[FAIL] id: reason (accepted)`` / ``[ERR ] id: could not run: ... (cannot be accepted)``."""
    tail = " (accepted)" if result.get("accepted") else (
        " (cannot be accepted)" if result.get("outcome") == "error" or (
            result.get("outcome") == "fail" and result.get("acceptable") is False) else "")
    return f"[{MARKS.get(str(result.get('outcome')), '?   ')}] {result.get('check')}: {result.get('reason')}{tail}"
