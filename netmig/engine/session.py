"""Building a run: the plan, the cluster connection, the run folder and a ``StepContext``.

Contract: ``run_dir_for(plan_path)`` is ``PLAN.run/`` next to the plan (journal, backups, snapshots, report,
Prefect results). ``open_context(plan, target, run_dir, ...)`` checks that ``target`` is the plan's cluster
(``UsageError`` otherwise) and that the run folder's journal belongs to this plan's migration (a new plan saved
over an old one must not inherit the old run's completed steps, approval included: ``UsageError``), and returns a
ready ``StepContext`` (close it with ``ctx.close()``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmig.connection import ArmTarget
from netmig.errors import UsageError
from netmig.journal import EventKind, Journal
from netmig.model.plan import Plan
from netmig.stepkit.context import Options, ProgressSink, StepContext, never_approve


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
    journal = Journal(run_dir / "journal.jsonl")
    check_journal_owner(journal, plan, run_dir)
    return StepContext(plan=plan, aks=AksGateway(target, polling_interval=polling_interval),
                       journal=journal, run_dir=run_dir, approver=approver,
                       progress=progress or ProgressSink(), options=options or Options(),
                       run_id=run_id or uuid.uuid4().hex[:12])


def check_journal_owner(journal: Journal, plan: Plan, run_dir: Path) -> None:
    """``UsageError`` when the journal records runs of another migration than ``plan``'s."""
    others = sorted({str(e.get("migration")) for e in journal.read()
                     if e.is_(EventKind.RUN_START) and e.get("migration") not in (None, plan.migration_id)})
    if others:
        raise UsageError(
            f"{run_dir} holds the record of migration {others[0]}, but this plan is migration {plan.migration_id}",
            f"move {run_dir} aside (it is that run's record: journal, backups, report) or save the new plan under "
            "another name, then apply again")
