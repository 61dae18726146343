"""Prefect flow ``netmig-journey``: plan (when the journey file does not exist) and run a journey to a goal network
profile, stage by stage, with one approval for the whole journey (thin orchestration over ``tasks.journey``, which
calls ``netmig.commands.journey``).

A deployment run suspends for the approval form (``flows.migrate.ApprovalInput``) showing the route, the total
reimages, the expected duration and any unenforced window; ``auto_approve`` skips it (CI, the sandbox).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.flow_runs import suspend_flow_run

from flows.migrate import ApprovalInput
from flows.params import ClusterAddress, GoalChoice, OptionalText, TextList, probe_budget_text
from tasks.journey import apply_journey, approval_text, plan_journey


@flow(name="netmig-journey", persist_result=True)
def journey(journey_path: str, cluster: ClusterAddress = ClusterAddress(), goal: GoalChoice = "overlay-cilium",
            pod_cidr: OptionalText = "", accept: TextList = (),
            allow_fallback: bool = False, probe_budget_minutes: float = 0, probe_every_cell: bool = False,
            auto_approve: bool = False, approval_timeout_hours: float = 72.0) -> dict[str, Any]:
    """Run a journey (``aks-netmig journey apply``), planning it first when ``journey_path`` does not exist.

    Args:
        journey_path: The journey file on the worker (written by ``aks-netmig journey plan`` or by this flow).
        cluster: The cluster (needed to plan; else the journey's own).
        goal: The goal profile when planning (e.g. overlay-cilium).
        pod_cidr: The overlay pod CIDR when planning (required from Azure CNI node subnet); "": none given.
        accept: Check ids / analysis rule ids accepted when planning.
        allow_fallback: Allow a stage's fallback path when planning.
        probe_budget_minutes: Probing time budget of every stage's connectivity steps when planning (like
            ``journey plan --budget``); 0: the default (10 min).
        probe_every_cell: Every stage probes every cell, however long it takes (like ``journey plan --no-budget``).
        auto_approve: Approve the whole journey without the form.
        approval_timeout_hours: How long the run waits for the approval form.
    """
    address = cluster.model_dump()
    result: dict[str, Any] = {}
    if not Path(journey_path).is_file():
        budget = probe_budget_text(probe_budget_minutes, probe_every_cell)
        result["plan"] = plan_journey(address, goal, journey_path, accept=list(accept), pod_cidr=pod_cidr or None,
                                      allow_fallback=allow_fallback, budget=budget)
    approved = auto_approve
    if not approved:
        form = ApprovalInput.with_initial_data(description=approval_text(journey_path))
        answer = suspend_flow_run(wait_for_input=form, timeout=int(approval_timeout_hours * 3600),
                                  key=f"journey-approval-{Path(journey_path).name}")
        approved = bool(answer.approve)
    result["apply"] = apply_journey(journey_path, address, approved)
    return result
