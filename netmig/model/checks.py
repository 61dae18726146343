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

    @property
    def refused(self) -> bool:
        """No acceptance can let it pass: it could not run, or it says so."""
        return self.outcome is Outcome.ERROR or (self.outcome is Outcome.FAIL and not self.acceptable)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["outcome"] = self.outcome.value
        return d

    @classmethod
    def of(cls, result: CheckResult | dict[str, Any]) -> CheckResult:
        """``result`` as a ``CheckResult`` (a ``to_dict`` mapping, as stored in a plan or journal, is read)."""
        if isinstance(result, CheckResult):
            return result
        return cls(check=str(result.get("check")), outcome=Outcome(str(result.get("outcome"))),
                   reason=str(result.get("reason") or ""), fix=result.get("fix"),
                   accepted=bool(result.get("accepted")), acceptable=result.get("acceptable") is not False)



def is_blocking(result: CheckResult | dict[str, Any]) -> bool:
    """``blocking`` for a result (a ``CheckResult`` or its ``to_dict`` form): the one place it is decided."""
    return CheckResult.of(result).blocking


def unacceptable(results: list[CheckResult] | list[dict[str, Any]],
                 accepted: list[str] | tuple[str, ...]) -> list[CheckResult]:
    """The results ``accepted`` names that no acceptance can let pass (a check that could not run, or one that
    says so): the CLI, the wizard and the Prefect form refuse to accept them."""
    return [r for r in map(CheckResult.of, results) if r.check in accepted and r.refused]


def render_mark(result: CheckResult | dict[str, Any]) -> str:
    """``[FAIL] id: reason (accepted)`` / ``[ERR ] id: could not run: ... (cannot be accepted)``."""
    r = CheckResult.of(result)
    tail = " (accepted)" if r.accepted else (" (cannot be accepted)" if r.refused else "")
    return f"[{MARKS.get(r.outcome.value, '?   ')}] {r.check}: {r.reason}{tail}"
