"""Building a run: the plan, the cluster connection, the run folder and a ``StepContext``.

Contract: ``run_dir_for(plan_path)`` is ``PLAN.run/`` next to the plan (journal, backups, snapshots, report,
Prefect results). ``open_context(plan, target, run_dir, ...)`` checks that ``target`` is the plan's cluster
(``UsageError`` otherwise) and returns a ready ``StepContext`` (close it with ``ctx.close()``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmig.connection import ArmTarget
from netmig.engine.context import Options, ProgressSink, StepContext, never_approve
from netmig.engine.planning import Plan
from netmig.errors import UsageError
from netmig.journal import Journal


def run_dir_for(plan_path: str | Path) -> Path:
    p = Path(plan_path).resolve()
    return p.with_name(p.stem + ".run")


def open_context(plan: Plan, target: ArmTarget, run_dir: Path, *, approver: Callable[[Plan], Any] = never_approve,
                 progress: ProgressSink | None = None, options: Options | None = None, run_id: str | None = None,
                 polling_interval: float = 5.0) -> StepContext:
    from netmig.azure.gateway import AksGateway

    if target.ref.resource_id.lower() != plan.cluster.lower():
        raise UsageError(f"the plan is for {plan.cluster}, but the address given is {target.ref.resource_id}",
                         "pass the plan's cluster (or --sandbox of the sandbox the plan was made for)")
    run_dir.mkdir(parents=True, exist_ok=True)
    return StepContext(plan=plan, aks=AksGateway(target, polling_interval=polling_interval),
                       journal=Journal(run_dir / "journal.jsonl"), run_dir=run_dir, approver=approver,
                       progress=progress or ProgressSink(), options=options or Options(),
                       run_id=run_id or uuid.uuid4().hex[:12])
