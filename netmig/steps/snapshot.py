"""connectivity-snapshot: inventory + a probed connectivity snapshot under the source engine (the baseline)."""

from __future__ import annotations

from typing import Any

from netmig.engine.context import StepContext
from netmig.engine.planning import PlanStep
from netmig.engine.registry import register_step
from netmig.engine.testhooks import checkpoint

BEFORE = "snapshot-before.json"


@register_step("connectivity-snapshot")
def connectivity_snapshot(ctx: StepContext, step: PlanStep) -> dict[str, Any]:
    from netmig.verify import snapshot as snapmod
    from netmig.verify.run import take_snapshot

    path = ctx.run_dir / step.params.get("file", BEFORE)
    if path.exists():
        try:
            snap = snapmod.load(path)
            return {"file": path.name, "cells": len(snap.cells), "reused": True}
        except Exception:
            path.unlink()
    source = ctx.plan.source_profile().engine
    target = ctx.plan.target_profile().engine
    snap = take_snapshot(ctx.kube, source, also_engines=(source, target),
                         timeout_s=int(step.params.get("timeout_s", 2)),
                         on_progress=lambda done, total: checkpoint(f"{step.id}:probing"),
                         network=ctx.plan.source_profile().describe())
    tmp = path.with_suffix(".tmp")
    snapmod.save(snap, tmp)
    tmp.replace(path)
    return {"file": path.name, "cells": len(snap.cells), "engine": snap.engine,
            "unmet": sum(1 for c in snap.cells if not c.met)}
