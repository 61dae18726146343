"""Prefect flow ``netmig-migrate``: runs a concrete plan's steps as cached tasks (thin orchestration).

- Steps are tasks keyed by (migration id, step id) with results in RUN_DIR/prefect-results: a rerun skips what is
  done (Cached) and re-attaches to an in-flight ARM operation (the engine's steps are idempotent).
- On start, flow runs of the same migration left RUNNING by a killed process are marked Crashed.
- Approval: as a deployment the flow suspends with an ``ApprovalInput`` form (approve, approver, comment) and,
  when resumed from the UI, reruns from the top with cached steps; from the CLI the approver callback decides.
- structlog lines are also sent to the flow run's logger (visible in the Prefect UI).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import Any

import structlog
from prefect import flow, get_run_logger, tags
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags
from prefect.client.schemas.objects import StateType
from prefect.filesystems import LocalFileSystem
from prefect.input import RunInput
from prefect.states import Crashed
from pydantic import BaseModel

from tasks.migrate import CONTEXTS, PrefectProgress, run_step

CLI_APPROVER: dict[str, Any] = {}


class MigrateParams(BaseModel):
    """Flow parameters (a form in the Prefect UI)."""

    plan_path: str
    run_dir: str | None = None
    sandbox: str | None = None
    cluster: str | None = None
    arm_endpoint: str | None = None
    ca_bundle: str | None = None
    yes: bool = False
    stall_seconds: float | None = None
    pdb_block_seconds: float | None = None


class ApprovalInput(RunInput):
    approve: bool = False
    approver: str = ""
    comment: str = ""


def _forward_to_prefect(_: Any, __: str, event: Any) -> Any:
    with contextlib.suppress(Exception):
        get_run_logger().info(" ".join(f"{k}={v}" for k, v in event.items() if k != "timestamp"))
    return event


def _mark_crashed(migration_id: str, current: str | None) -> int:
    from prefect.client.orchestration import get_client

    n = 0
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"migration:{migration_id}"]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING]))))
        for r in runs:
            if str(r.id) != current:
                client.set_flow_run_state(r.id, Crashed(message="the process running it was killed; resumed"),
                                          force=True)
                n += 1
    return n


def _answered(a: Any) -> Any:
    def approver(_: Any) -> dict[str, Any]:
        return {"approved": a.approve, "approver": a.approver, "comment": a.comment, "via": "prefect-ui"}
    return approver


@flow(name="netmig-migrate", persist_result=True, log_prints=True)
def migrate(params: MigrateParams) -> dict[str, Any]:
    from prefect.context import get_run_context
    from prefect.flow_runs import suspend_flow_run
    from prefect.runtime import deployment

    from netmig.connection import resolve
    from netmig.engine.context import Options
    from netmig.engine.planning import load_plan
    from netmig.engine.runner import start_run
    from netmig.engine.session import open_context, run_dir_for
    from netmig.steps.lock import KEEPER, drop

    plan = load_plan(params.plan_path)
    target = resolve(sandbox=params.sandbox, cluster=params.cluster or (None if params.sandbox else plan.cluster),
                     arm_endpoint=params.arm_endpoint or plan.arm_endpoint, ca_bundle=params.ca_bundle)
    run_dir = Path(params.run_dir) if params.run_dir else run_dir_for(params.plan_path)
    flow_run = getattr(get_run_context(), "flow_run", None)
    crashed = _mark_crashed(plan.migration_id, str(flow_run.id) if flow_run else None)
    options = Options(stall_seconds=params.stall_seconds, pdb_block_seconds=params.pdb_block_seconds,
                      poll_seconds=1.0 if target.static_token else None)
    ctx = open_context(plan, target, run_dir, approver=CLI_APPROVER.get("fn") or (lambda _: params.yes),
                       progress=PrefectProgress(), options=options,
                       run_id=str(flow_run.id)[:12] if flow_run else None,
                       polling_interval=0.2 if target.static_token else 5.0)
    storage = LocalFileSystem(basepath=str(run_dir / "prefect-results"))
    storage.save("netmig-results-" + hashlib.sha1(str(run_dir).encode()).hexdigest()[:16], overwrite=True)
    key = ctx.run_id
    CONTEXTS[key] = ctx
    cfg = structlog.get_config()
    structlog.configure(processors=[*cfg["processors"][:-1], _forward_to_prefect, cfg["processors"][-1]])
    results: dict[str, Any] = {"crashed_runs_marked": crashed}
    completed = False
    try:
        with structlog.contextvars.bound_contextvars(cluster=target.ref.name, migration=plan.migration_id):
            ctx.journal.record("run-start", run_id=ctx.run_id, orchestrator="prefect", crashed_marked=crashed)
            if crashed:
                structlog.get_logger("netmig.flow").warning("marked flow runs left RUNNING as Crashed", count=crashed)
            start_run(ctx)
            for step in plan.steps:
                if step.kind == "approval-gate" and deployment.id and not ctx.journal.completed(step.id):
                    answer = suspend_flow_run(wait_for_input=ApprovalInput, timeout=7 * 24 * 3600,
                                              key=f"approval-{plan.migration_id}")
                    ctx.approver = _answered(answer)
                mid, sid = plan.migration_id, step.id
                results[step.id] = run_step.with_options(
                    task_run_name=step.id, result_storage=storage,
                    cache_key_fn=lambda *_, m=mid, s=sid: f"{m}.{s}",
                )(key, step.id)
            ctx.journal.record("run-done", run_id=ctx.run_id)
            completed = True
    finally:
        structlog.configure(processors=cfg["processors"])
        if not completed and ctx.scratch.get(KEEPER) is not None:
            with contextlib.suppress(Exception):
                drop(ctx)
        CONTEXTS.pop(key, None)
        ctx.close()
    return results


def run_flow(*, plan_path: str, address: dict[str, Any], run_dir: Path, yes: bool, options: Any,
             approver: Any = None) -> dict[str, Any]:
    """Run the flow in this process (a temporary local Prefect server when PREFECT_API_URL is unset)."""
    from netmig.engine.planning import load_plan

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    plan = load_plan(plan_path)
    CLI_APPROVER["fn"] = approver
    params = MigrateParams(plan_path=str(Path(plan_path).resolve()), run_dir=str(run_dir.resolve()),
                           sandbox=str(address["sandbox"]) if address.get("sandbox") else None,
                           cluster=address.get("cluster"), arm_endpoint=address.get("arm_endpoint"),
                           ca_bundle=address.get("ca_bundle"), yes=yes, stall_seconds=options.stall_seconds,
                           pdb_block_seconds=options.pdb_block_seconds)
    try:
        with tags(f"migration:{plan.migration_id}", "aks-netmig"):
            return migrate.with_options(flow_run_name=f"{plan.migration_id}")(params)
    finally:
        CLI_APPROVER.clear()
