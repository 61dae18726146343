"""verify: after the workloads are Running again, probe the same cells as the baseline under the target engine;
pass when every change from the baseline is one the policy engine predicts (explained) and every observation
matches the target engine's expectation. Resumable from any crash: the probe pods an interrupted attempt left
(Completed, in the workload namespaces) are removed first (``snapshot.own_probe_run``), and probe pods never count
as workloads that must be Running. Every observed change goes to ``verify-changes.jsonl`` in the run folder (one
JSON object per line); the journal's ``verify-result`` holds the counts and at most ``DETAIL`` of them, unexplained
ones first (a large cluster has hundreds of thousands). The budget never stops it after the change: when the
baseline's cells cannot fit, it says so (a ``Verification budget`` report note) and probes them all anyway."""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import StepParams, seconds, step
from netmig.steps.snapshot import BEFORE, own_probe_run, probe_progress

AFTER = "snapshot-after.json"
CHANGES = "verify-changes.jsonl"
DETAIL = 200  # changes journaled (and shown in the report) at most; all of them are in CHANGES


def _pods_settled(ctx: StepContext) -> tuple[bool, str]:
    from netmig.stepkit.monitor import is_ready
    from netmig.verify.identity import PROBE_RUN_LABEL

    pods = [p for p in ctx.kube.pods() if not p["metadata"]["namespace"].startswith("netmig-")
            and (p.get("metadata") or {}).get("deletionTimestamp") is None
            and PROBE_RUN_LABEL not in ((p.get("metadata") or {}).get("labels") or {})]
    waiting = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods
               if (p.get("status") or {}).get("phase") != "Running" or not is_ready(p)]
    waiting = [w for w in waiting if not w.startswith("kube-system/")] or waiting
    return not waiting, ", ".join(waiting[:5])


def _overrun(ctx: StepContext) -> Any:
    """What the verify step does when the baseline's cells cannot fit its budget: says so (progress and a report
    note) and probes them all anyway -- the change is made, and only every baseline cell makes the comparison."""

    def overrun(problem: str) -> None:
        text = f"{problem}: probing every baseline cell anyway (the comparison needs each of them)"
        ctx.progress.message(text)
        ctx.journal.record("report-note", title="Verification budget", lines=[
            f"Verification ran over its budget: {text}. Nothing was sampled beyond the baseline's cells."])
    return overrun


class VerifyParams(StepParams):
    settle_timeout_s: float = seconds(600, "how long to wait for the pods to settle")
    expect_engine: str | None = Field(default=None, description="default: the plan's target engine")
    timeout_s: int = Field(default=2, gt=0, description="each probe's timeout")
    budget_s: float | None = Field(default=600.0, gt=0,
                                   description="probing time budget: every baseline cell is probed again (when "
                                               "they cannot fit, the step says so and probes them all anyway), "
                                               "other cells only as time allows (null: every cell)")


@step("verify", params=VerifyParams,
      permissions=perm.PROBES | perm.rules(perm.kube("list", "ciliumnetworkpolicies", "cilium.io")))
def verify_step(ctx: StepContext, step: PlanStep, params: VerifyParams) -> dict[str, Any]:
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import compare, expected_vs_observed
    from netmig.verify.run import take_snapshot

    run_id = own_probe_run(ctx, step)  # first: what an interrupted attempt left
    timeout = params.settle_timeout_s
    t0 = ctx.clock()
    while True:
        ok, waiting = _pods_settled(ctx)
        if ok:
            break
        if ctx.clock() - t0 > timeout:
            raise CheckFailed(f"workload pods not Running/Ready after {timeout:.0f} s: {waiting}",
                              "check the workloads, then rerun apply")
        if ctx.sleep(1.0):
            raise CheckFailed("stopped", "rerun apply")
    started = time.monotonic()  # the probing budget counts from here (settling is not probing)
    baseline = snapmod.cell_keys(ctx.run_dir / BEFORE)
    engine = params.expect_engine or ctx.plan.target_profile().engine
    after = take_snapshot(ctx.kube, engine, also_engines=(engine,), baseline=baseline,
                          timeout_s=params.timeout_s, budget_s=params.budget_s,
                          network=ctx.plan.target_profile().describe(), run_id=run_id,
                          on_progress=probe_progress(step), on_status=ctx.progress.probes, started=started,
                          overrun=_overrun(ctx))
    del baseline
    snapmod.save(after, ctx.run_dir / AFTER)
    before = snapmod.load(ctx.run_dir / BEFORE)
    cmp = compare(before, after)
    mism = expected_vs_observed(after, engine if engine != "cilium" else None)
    result = {"probes": cmp.probes, "changes": len(cmp.changes), "explained": len(cmp.changes) - len(cmp.unexplained),
              "unexplained": len(cmp.unexplained), "mismatches": len(mism), "engine": after.engine,
              "over_budget": bool(after.stats.get("over_budget"))}
    with (ctx.run_dir / CHANGES).open("w", encoding="utf-8") as f:  # every change, one JSON object per line
        for c in cmp.changes:
            f.write(json.dumps(c.to_dict(), sort_keys=True) + "\n")
    shown = sorted(cmp.changes, key=lambda c: c.explanation is not None)[:DETAIL]  # unexplained first
    ctx.journal.set("verify-result", {**result, "changes_file": CHANGES,
                                      "changes_detail": [c.to_dict() for c in shown],
                                      "mismatch_detail": [m.to_dict() for m in mism[:50]]})
    if cmp.unexplained or mism:
        raise CheckFailed(f"verification: {len(cmp.unexplained)} unexplained connectivity changes and {len(mism)} "
                          f"observations that differ from {after.engine}'s prediction",
                          f"see {ctx.run_dir / AFTER} and aks-netmig verify compare")
    return result
