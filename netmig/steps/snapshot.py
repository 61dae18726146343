"""connectivity-snapshot: inventory + a probed connectivity snapshot under the source engine (the baseline): every
cell the analysis predicts to change towards the plan's target engine, the rest sampled to fit ``budget_s``
(``netmig.verify.run.take_snapshot``); the result carries the snapshot's coverage.

Crash-safe probing (also for the verify step): ``own_probe_run(ctx, step)`` first removes the probe pods and the
probe namespace of this step's earlier, interrupted attempts (their probe run ids are journaled before any pod is
created: ``STEP.probe-runs``), confirming each deletion before saying so, then journals the id of the new probe
run. Test hook point ``STEP:probes=N``: after the N-th probe pod finished. Progress goes to ``ctx.progress.probes``
(a bar on a terminal, plain lines elsewhere); the budget counts from the step's start and includes writing the
snapshot file (streamed). When the predicted-change cells alone cannot fit the budget, the step stops
(``BudgetTooSmall``, before any change) naming the plan's budget to set."""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import StepParams, step
from netmig.stepkit.testhooks import checkpoint

BEFORE = "snapshot-before.json"


def own_probe_run(ctx: StepContext, step: PlanStep) -> str:
    """See the module docstring; returns the new probe run id."""
    from netmig.kube.probes import ProbeRun, new_run_id

    key = f"{step.id}.probe-runs"
    for rid in ctx.journal.value(key) or []:
        ProbeRun(ctx.kube, run_id=str(rid)).cleanup()  # deletes by label + the namespace, waits until it is gone
        ctx.progress.message(f"removed the probe pods and namespace netmig-probe-{rid} an interrupted attempt of "
                             f"step {step.id} left (deletion confirmed)")
    rid = new_run_id()
    ctx.journal.set(key, [rid])
    return rid


def probe_progress(step: PlanStep) -> Any:
    """The probing progress callback: test hook points ``STEP:probing`` (every progress report) and
    ``STEP:probes=N`` (after the N-th probe pod)."""

    def on_progress(done: int, total: int) -> None:
        checkpoint(f"{step.id}:probing")
        checkpoint(f"{step.id}:probes={done}")
    return on_progress


class SnapshotParams(StepParams):
    file: str = Field(default=BEFORE, description="the snapshot file in the run folder")
    timeout_s: int = Field(default=2, gt=0, description="each probe's timeout")
    budget_s: float | None = Field(default=600.0, gt=0,
                                   description="probing time budget: every cell predicted to change towards the "
                                               "target engine, the rest sampled to fit (null: every cell)")


@step("connectivity-snapshot", params=SnapshotParams,
      permissions=perm.PROBES | perm.rules(perm.kube("list", "ciliumnetworkpolicies", "cilium.io")))
def connectivity_snapshot(ctx: StepContext, step: PlanStep, params: SnapshotParams) -> dict[str, Any]:
    from netmig.verify import snapshot as snapmod
    from netmig.verify.run import BudgetTooSmall, take_snapshot

    path = ctx.run_dir / params.file
    if path.exists():
        try:
            snap = snapmod.load(path)
            return {"file": path.name, "cells": len(snap.cells), "reused": True}
        except Exception:
            path.unlink()
    started = time.monotonic()  # the budget counts from here, writing the file included
    source = ctx.plan.source_profile().engine
    target = ctx.plan.target_profile().engine
    run_id = own_probe_run(ctx, step)
    try:
        snap = take_snapshot(ctx.kube, source, also_engines=(source, target), target=target,
                             timeout_s=params.timeout_s, budget_s=params.budget_s,
                             network=ctx.plan.source_profile().describe(), run_id=run_id,
                             on_progress=probe_progress(step), on_status=ctx.progress.probes, started=started)
    except BudgetTooSmall as e:  # before any change: the plan's budget is what to change
        raise BudgetTooSmall(e.problem, f"make the plan again with a larger probing budget (aks-netmig plan "
                                        f"--budget {e.suggest_min}m, or --no-budget) and apply it; the cluster "
                                        "was not changed", e.suggest_min) from None
    tmp = path.with_suffix(".tmp")
    snapmod.save(snap, tmp)
    tmp.replace(path)
    return {"file": path.name, "cells": len(snap.cells), "engine": snap.engine,
            "unmet": sum(1 for c in snap.cells if not c.met), "coverage": snap.coverage}
