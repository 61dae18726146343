"""Prefect tasks for migrations: one task per plan step, a thin wrapper over ``netmig.engine.runner.run_step``, the
planning task (``netmig.commands.plan``), and the artifacts a run publishes on its flow run page.

Results persist in ``RUN_DIR/prefect-results`` keyed by (migration id, step id), so a rerun of the flow finds
completed steps Cached; the engine's journal is the second record (and what the library runner uses). The
``StepContext`` (live gateways) is passed to each step task explicitly, wrapped in a ``RunHandle`` (opaque to
Prefect: never serialized, hashed or walked).
Transient ARM / Kubernetes errors are retried (``tasks.retries.transient``); failed checks and pauses are not.
Ctrl-C / SIGTERM inside a step ends the task run Cancelled (not Crashed); the signal's name is kept in
``ctx.scratch[INTERRUPTED]`` for the flow, which then ends Cancelled too. A pause (approval, stall) or a rejection
also ends the task run Cancelled (not Failed, never cached), the exception kept in ``ctx.scratch[STOPPED]`` for the
flow (Paused / Cancelled).

Artifacts (keys): ``plan``, ``preflight`` (table), ``policy-findings`` (table), ``approval-request``,
``reimage-progress`` (progress, per-pool detail in its description), ``reimage-summary``,
``verification-matrix``, ``migration-report``. Their Markdown comes from ``netmig.commands.render``. Publishing
never fails a step.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.cache_policies import NO_CACHE

from netmig.commands.applying import RunPlan, RunPlanRequest
from netmig.commands.render import (
    approval_markdown,
    findings_rows,
    plan_markdown,
    preflight_rows,
    verification_markdown,
)
from netmig.logs import get_logger
from netmig.stepkit.context import ProgressSink, StepContext
from tasks.retries import transient

__all__ = ["INTERRUPTED", "STOPPED", "PrefectProgress", "RunHandle", "approval_markdown", "findings_rows",
           "make_plan", "plan_for_run", "plan_markdown", "preflight_rows", "publish", "publish_step_artifacts",
           "run_step"]

INTERRUPTED = "interrupted-by"  # ctx.scratch key: the signal that interrupted a step
STOPPED = "stopped-by"  # ctx.scratch key: the Paused / NotApproved that ended a step
log = get_logger("netmig.tasks")


class RunHandle:
    """The live ``StepContext`` of a flow run, given to each step task as a parameter. A plain object on purpose:
    Prefect neither serializes nor walks it (the step tasks' cache key is (migration id, step id))."""

    __slots__ = ("ctx",)

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx

    def __repr__(self) -> str:
        return f"RunHandle({self.ctx.run_id})"


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient, persist_result=True)
def run_step(run: RunHandle, step_id: str) -> dict[str, Any]:
    """Run one plan step (skipped by the engine when its journal records it done), then publish its artifacts."""
    from prefect.states import Cancelled

    from netmig.engine.runner import run_step as engine_run_step
    from netmig.errors import Paused
    from netmig.steps.approval import NotApproved

    ctx = run.ctx
    step = ctx.plan.step(step_id)
    try:
        return engine_run_step(ctx, step)
    except KeyboardInterrupt as e:  # Ctrl-C / SIGTERM: an interruption, not a crash (the journal has the step)
        signame = getattr(e, "signame", None) or "SIGINT"
        ctx.scratch[INTERRUPTED] = signame
        _no_cache()
        return Cancelled(message=f"interrupted ({signame}) in step {step_id}")  # type: ignore[return-value]
    except (Paused, NotApproved) as e:  # a pause or a "no": not a failure (and never cached as done)
        ctx.scratch[STOPPED] = e
        _no_cache()
        what = "paused" if isinstance(e, Paused) else "not approved"
        return Cancelled(message=f"{what}: {e}")  # type: ignore[return-value]
    finally:
        publish_step_artifacts(ctx, step.kind)


def _no_cache() -> None:
    """The step did not finish: its task run's result must never become the cached result of (migration, step)
    (a returned state is otherwise written under the cache key, and the rerun would skip the step as Cached)."""
    from prefect.transactions import get_transaction

    txn = get_transaction()
    if txn is not None:
        txn.write_on_commit = False


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=transient, cache_policy=NO_CACHE, persist_result=False)
def make_plan(kind: str, address: dict[str, Any], accepted: list[str], out: str | None, sets: list[str] | None = None,
              pod_cidr: str | None = None, allow_fallback: bool = False,
              only_if_runnable: bool = False) -> dict[str, Any]:
    """``aks-netmig plan --migration KIND --out OUT`` with ``--accept``, ``--set``, ``--pod-cidr``,
    ``--allow-fallback`` (``netmig.commands.plan``; without ``out``, ``netmig.commands.preflight``). An existing
    file at ``out`` is the plan (a resumed run must apply the plan it was approved with); ``only_if_runnable``: a
    plan with a blocking check is not written. Returns the plan as a dict (``Plan.model_dump``)."""
    from netmig.commands import PlanRequest, plan, preflight
    from netmig.connection import Address

    req = PlanRequest(kind, Address.of(address), accept=tuple(accepted), sets=tuple(sets or ()), pod_cidr=pod_cidr,
                      allow_fallback=allow_fallback, out=Path(out) if out else None, check_access=False,
                      reuse_existing=True, only_if_runnable=only_if_runnable)
    result = plan(req) if out else preflight(req)
    return result.plan.model_dump(mode="json")


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=transient, cache_policy=NO_CACHE, persist_result=False)
def plan_for_run(req: RunPlanRequest) -> RunPlan:
    """The plan a migration run applies, made first when there is none (``netmig.commands.applying.plan_for_run``)."""
    from netmig.commands.applying import plan_for_run as choose

    return choose(req)


# --- artifacts -------------------------------------------------------------------------------------------------


def publish(kind: str, key: str, body: Any, description: str | None = None) -> str | None:
    """An artifact on the current flow run (``kind``: markdown | table); outside a run, or on error, nothing.
    Returns the UI path of the artifact's page (``/artifacts/artifact/ID``) or None."""
    try:
        if kind == "table":
            aid = create_table_artifact(body, key=key, description=description)
        else:
            aid = create_markdown_artifact(body, key=key, description=description)
        return f"/artifacts/artifact/{aid}" if aid else None
    except Exception as e:
        log.warning("artifact not published", key=key, error=f"{e.__class__.__name__}: {e}"[:200])
        return None


def publish_step_artifacts(ctx: StepContext, kind: str) -> None:
    """After a step (done or not): its evidence as artifacts on the flow run page."""
    with contextlib.suppress(Exception):
        if kind == "preflight":
            results = ctx.journal.value("preflight")
            if results:
                publish("table", "preflight", preflight_rows(results),
                        f"Preflight of {ctx.plan.migration_id} against the live cluster")
        elif kind == "watch-reimage":
            summary = ctx.journal.value("reimage-summary")
            if summary:
                label = f" ({summary['step']}: {summary.get('target', '')})" if summary.get("step") else ""
                publish("markdown", "reimage-summary",
                        f"# Reimage{label}\n\n" + f"{summary['nodes']} nodes on the target engine after "
                        f"{summary['watch_s']} s ({summary['node_events']} node events).\n\n"
                        + "\n".join(f"- {d}" for d in summary["pools"].values()) + "\n",
                        f"Reimage result{label}: nodes per pool on the target engine, watch time")
        elif kind == "verify":
            md = verification_markdown(ctx.run_dir)
            if md:
                publish("markdown", "verification-matrix", md, "Connectivity before -> after, and every probed cell")


ARTIFACT_DESCRIPTIONS = {  # the description of every artifact a step publishes through the sink
    "migration-report": "The migration report: steps, timings, reimage, verification, approval, pictures",
    "connectivity-heatmap": "Picture: namespace x namespace connectivity before | after, changed cells outlined",
    "reimage-timeline": "Picture: per pool, each node's phases (surge, cordoned, reimaging, ready) over time",
}


class PrefectProgress(ProgressSink):
    """Log lines plus a Prefect progress artifact (nodes done / total, per-pool detail) and Markdown artifacts."""

    def __init__(self) -> None:
        super().__init__()
        self.artifact_id: Any = None
        self.probe_artifact: Any = None
        self._probe_pods_done = 0

    def probes(self, status: Any) -> None:
        """The log line (see ``ProgressSink.probes``) plus a progress artifact ``probe-progress`` per probe run
        (a run starting again from 0 pods -- the next snapshot -- gets a new one)."""
        from tasks.verify import ProbeArtifact, probe_status_text

        super().probes(status)
        if self.probe_artifact is None or status.pods_done < self._probe_pods_done:
            self.probe_artifact = ProbeArtifact(key="probe-progress", description="Connectivity probing")
        self._probe_pods_done = status.pods_done
        with contextlib.suppress(Exception):  # outside a run context (tests calling the sink directly)
            self.probe_artifact(status.pods_done, status.pods_total, probe_status_text(status))

    def pools(self, pools: list[Any]) -> None:
        super().pools(pools)
        total = sum(p.total for p in pools) or 1
        pct = 100.0 * sum(p.done for p in pools) / total
        detail = "; ".join(p.describe() for p in pools)[:1000]
        try:
            if self.artifact_id is None:
                self.artifact_id = create_progress_artifact(pct, key="reimage-progress",
                                                            description=f"nodes reimaged (all pools): {detail}")
            else:
                update_progress_artifact(self.artifact_id, pct, description=f"nodes reimaged (all pools): {detail}")
        except Exception:  # outside a run context (tests calling the sink directly)
            pass

    def artifact(self, key: str, markdown: str) -> None:
        with contextlib.suppress(Exception):
            create_markdown_artifact(markdown, key=key, description=ARTIFACT_DESCRIPTIONS.get(key, key))
