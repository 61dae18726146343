"""Prefect tasks of a journey: thin wrappers over ``netmig.commands.journey`` (plan the journey, run it).

``apply_journey`` is resumable like ``aks-netmig journey apply``: a retry or a new flow run skips the stages done
and resumes the current one through its journal (one PUT per change).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact

from netmig.commands.journey import (
    JourneyApplyRequest,
    JourneyPlanRequest,
    journey_apply,
    journey_plan,
    load_journey,
)
from netmig.connection import Address


@task
def plan_journey(address: dict[str, Any], goal: str, out: str, *, accept: list[str], pod_cidr: str | None,
                 allow_fallback: bool, budget: str | None = None) -> dict[str, Any]:
    """Write the journey file (``aks-netmig journey plan``; ``budget``: its ``--budget`` text, "none" for
    ``--no-budget``); publishes the planner's explanation as an artifact."""
    result = journey_plan(JourneyPlanRequest(goal, Path(out), Address.of(address), accept=tuple(accept),
                                             pod_cidr=pod_cidr, allow_fallback=allow_fallback, budget=budget))
    create_markdown_artifact("\n".join(["```", *result.explain, "```"]), key="journey-plan")
    return {"path": out, "route": result.journey.route, "blocking": [r.check for r in result.blocking]}


def approval_text(path: str) -> str:
    """What the approver of the whole journey reads (route, reimages, duration, unenforced window)."""
    return "\n".join(load_journey(Path(path)).approval_text())


@task
def apply_journey(path: str, address: dict[str, Any], approved: bool) -> dict[str, Any]:
    """Run the journey's stages (``aks-netmig journey apply``) once the whole journey is approved."""
    result = journey_apply(JourneyApplyRequest(Path(path), Address.of(address)), approve=lambda _: approved)
    create_markdown_artifact(result.report.read_text(), key="journey-report")
    return {"route": result.journey.route, "report": str(result.report),
            "stages": [{"index": o.index, "kind": o.kind, "skipped": o.skipped} for o in result.stages]}
