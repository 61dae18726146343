"""backup: every NetworkPolicy and the objects they depend on, to RUN_DIR/backup-TIMESTAMP/, verified."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, step


@step("backup", params=NoParams,
      permissions=perm.INVENTORY | perm.rules(
          perm.kube("list", "poddisruptionbudgets", "policy"),
          perm.kube("list", "ciliumnetworkpolicies", "cilium.io")))
def backup_step(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    from netmig.kube import backup

    previous = ctx.journal.value(f"{step.id}.dir")
    if previous and Path(previous).is_dir() and not backup.verify(Path(previous), ctx.kube):
        return {"dir": previous, "reused": True}
    d, counts = backup.backup(ctx.kube, ctx.run_dir)
    ctx.journal.set(f"{step.id}.dir", str(d))
    return {"dir": str(d), **{k: v for k, v in counts.items()}}
