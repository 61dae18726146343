"""verify: after the workloads are Running again, probe the same cells as the baseline under the target engine;
pass when every change from the baseline is one the policy engine predicts (explained) and every observation
matches the target engine's expectation."""

from __future__ import annotations

from typing import Any

from netmig.engine.context import StepContext
from netmig.engine.planning import PlanStep
from netmig.engine.registry import register_step
from netmig.engine.testhooks import checkpoint
from netmig.errors import CheckFailed
from netmig.steps.snapshot import BEFORE

AFTER = "snapshot-after.json"


def _pods_settled(ctx: StepContext) -> tuple[bool, str]:
    from netmig.engine.monitor import is_ready

    pods = [p for p in ctx.kube.pods() if not p["metadata"]["namespace"].startswith("netmig-")
            and (p.get("metadata") or {}).get("deletionTimestamp") is None]
    waiting = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in pods
               if (p.get("status") or {}).get("phase") != "Running" or not is_ready(p)]
    waiting = [w for w in waiting if not w.startswith("kube-system/")] or waiting
    return not waiting, ", ".join(waiting[:5])


@register_step("verify")
def verify_step(ctx: StepContext, step: PlanStep) -> dict[str, Any]:
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import compare, expected_vs_observed
    from netmig.verify.run import take_snapshot

    timeout = float(step.params.get("settle_timeout_s", 600))
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
    before = snapmod.load(ctx.run_dir / BEFORE)
    engine = str(step.params.get("expect_engine") or ctx.plan.target_profile().engine)
    after = take_snapshot(ctx.kube, engine, also_engines=(engine,), baseline=[c.key for c in before.cells],
                          timeout_s=int(step.params.get("timeout_s", 2)),
                          on_progress=lambda done, total: checkpoint(f"{step.id}:probing"),
                          network=ctx.plan.target_profile().describe())
    snapmod.save(after, ctx.run_dir / AFTER)
    cmp = compare(before, after)
    mism = expected_vs_observed(after, engine if engine != "cilium" else None)
    result = {"probes": cmp.probes, "changes": len(cmp.changes), "explained": len(cmp.changes) - len(cmp.unexplained),
              "unexplained": len(cmp.unexplained), "mismatches": len(mism), "engine": after.engine}
    ctx.journal.set("verify-result", {**result, "changes_detail": [c.to_dict() for c in cmp.changes],
                                      "mismatch_detail": [m.to_dict() for m in mism[:50]]})
    if cmp.unexplained or mism:
        raise CheckFailed(f"verification: {len(cmp.unexplained)} unexplained connectivity changes and {len(mism)} "
                          f"observations that differ from {after.engine}'s prediction",
                          f"see {ctx.run_dir / AFTER} and aks-netmig verify compare")
    return result
