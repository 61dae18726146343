"""Prefect tasks for migrations: one task per plan step, a thin wrapper over ``netmig.engine.runner.run_step``, the
planning task, and the artifacts a run publishes on its flow run page.

Results persist in ``RUN_DIR/prefect-results`` keyed by (migration id, step id), so a rerun of the flow finds
completed steps Cached; the engine's journal is the second record (and what the library runner uses). The
``StepContext`` (live gateways) is not a task parameter: tasks look it up by run id in this process.
Transient ARM / Kubernetes errors are retried (``retry_condition_fn``); failed checks and pauses are not.
Ctrl-C / SIGTERM inside a step ends the task run Cancelled (not Crashed); the signal's name is kept in
``ctx.scratch[INTERRUPTED]`` for the flow, which then ends Cancelled too. A pause (approval, stall) or a rejection
also ends the task run Cancelled (not Failed, never cached), the exception kept in ``ctx.scratch[STOPPED]`` for the
flow (Paused / Cancelled).

Artifacts (keys): ``plan``, ``preflight`` (table), ``policy-findings`` (table), ``approval-request``,
``reimage-progress`` (progress, per-pool detail in its description), ``reimage-summary``,
``verification-matrix``, ``migration-report``. Publishing never fails a step.
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

from netmig.checks.unenforced import unenforced_banner
from netmig.engine.context import ProgressSink, StepContext
from netmig.logs import get_logger
from netmig.model.checks import is_blocking

CONTEXTS: dict[str, StepContext] = {}
INTERRUPTED = "interrupted-by"  # ctx.scratch key: the signal that interrupted a step
STOPPED = "stopped-by"  # ctx.scratch key: the Paused / NotApproved that ended a step
log = get_logger("netmig.tasks")
MAX_ROWS = 200


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    from netmig.azure.errors import ArmError
    from netmig.kube.errors import KubeError

    try:
        state.result()
    except (ArmError, KubeError) as e:
        return bool(e.temporary)
    except Exception:
        return False
    return False


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=_transient, persist_result=True)
def run_step(context_key: str, step_id: str) -> dict[str, Any]:
    """Run one plan step (skipped by the engine when its journal records it done), then publish its artifacts."""
    from prefect.states import Cancelled

    from netmig.engine.runner import run_step as engine_run_step
    from netmig.errors import Paused
    from netmig.steps.approval import NotApproved

    ctx = CONTEXTS[context_key]
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


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=_transient, cache_policy=NO_CACHE, persist_result=False)
def make_plan(kind: str, address: dict[str, Any], accepted: list[str], out: str | None, sets: list[str] | None = None,
              pod_cidr: str | None = None, allow_fallback: bool = False,
              only_if_runnable: bool = False) -> dict[str, Any]:
    """Read the cluster, run the template's preflight checks and the policy analysis: ``aks-netmig plan --migration
    KIND --out OUT`` with ``--accept``, ``--set STEP.PARAM=VALUE``, ``--pod-cidr``, ``--allow-fallback`` (the plan
    records that command line, as the CLI's does).

    With ``out``: an existing file there is the plan (a resumed run must apply the plan it was approved with), else
    the new plan is written there (atomically). ``only_if_runnable``: a plan with a failing, unaccepted check
    (``blocking_checks``) is not written (apply would refuse it, and a file at ``out`` would block the corrected
    retry); the caller reports it. Returns the plan as a dict (``Plan.model_dump``)."""
    from netmig.cli.plan_cmd import plan_command
    from netmig.connection import resolve
    from netmig.engine.plan_build import make_plan as build
    from netmig.engine.planning import load_plan, parse_set

    if out and Path(out).is_file():
        plan = load_plan(out)
        log.info("plan exists; using it", plan=out, migration=plan.migration_id)
        return plan.model_dump(mode="json")
    sets = list(sets or [])
    command = plan_command(kind, Path(out), tuple(accepted), pod_cidr, allow_fallback, address, tuple(sets)) \
        if out else None
    target = resolve(**address)
    plan = build(kind, target, accepted=accepted, polling_interval=0.2 if target.static_token else 5.0,
                 step_params=parse_set(sets), pod_cidr=pod_cidr,
                 allow_variants=["fallback"] if allow_fallback else [], plan_command=command)
    if out and not (only_if_runnable and blocking_checks(plan.preflight)):
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(plan.to_yaml())
        tmp.replace(path)
        log.info("plan written", plan=out, migration=plan.migration_id)
    return plan.model_dump(mode="json")


def blocking_checks(preflight: list[Any]) -> list[Any]:
    """The preflight results that block (``netmig.model.checks.is_blocking``; a plan with any is refused by apply)."""
    from netmig.model.checks import is_blocking

    return [r for r in preflight if is_blocking(r)]


# --- artifacts -------------------------------------------------------------------------------------------------


def _cell(x: Any) -> str:
    return str(x if x is not None else "").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n… and {len(rows) - MAX_ROWS} more")
    return out


def plan_markdown(plan: Any) -> str:
    """The plan as reviewed: what changes, where, how long; preflight and findings counts; the steps."""
    lines = [f"# Plan {plan.migration_id}", "", f"**{plan.title}**", "",
             f"- cluster: `{plan.cluster}`",
             f"- network: {plan.source_profile().describe()} → **{plan.target_profile().describe()}**",
             f"- nodes reimaged: {plan.nodes_to_reimage} in {len(plan.pools)} pools (expected "
             f"{plan.expected_minutes[0]}-{plan.expected_minutes[1]} min on Azure)"]
    if plan.irreversible:
        lines.append(f"- **irreversible**: {plan.irreversible_reason or 'yes'}")
    banner = unenforced_banner(plan)
    if banner:
        lines.append(f"- **{banner.split(':', 1)[0]}**:{banner.split(':', 1)[1]}")
    for ch in plan.arm_changes:
        lines.append(f"- ARM change: {ch.method} networkProfile `{ch.network_profile}` (If-Match `{ch.if_match}`)")
    if plan.accepted:
        lines.append(f"- accepted: {', '.join(plan.accepted)}")
    for v in getattr(plan, "variants", []):
        if v.default:
            continue
        allowed = "**allowed** by this plan" if v.allowed else f"not allowed (plan again with `{v.allow_flag}`)"
        lines.append(f"- **{v.name} path**, used only if ARM refuses the direct change, {allowed}: {v.title}")
        lines += [f"  - ARM change: {ch.method} networkProfile `{ch.network_profile}`" for ch in v.arm_changes]
        lines += [f"  - {n}" for n in v.notes]
    lines += ["", "## Pools", ""]
    lines += _table(["pool", "mode", "os", "nodes", "max surge", "surge nodes"],
                    [[p.name, p.mode, p.os_type, p.nodes, p.max_surge or "", p.surge_nodes] for p in plan.pools])
    lines += ["", "## Steps", "", " → ".join(s.id + (" ⚠" if s.irreversible else "") for s in plan.steps)]
    blocking = [r for r in plan.preflight if is_blocking(r)]
    errors = [f for f in plan.findings if f["severity"] == "error"]
    lines += ["", f"Preflight at plan time: {len(plan.preflight)} checks, {len(blocking)} blocking. "
                  f"Policy analysis: {len(plan.findings)} findings ({len(errors)} error-severity)."]
    return "\n".join(lines) + "\n"


def preflight_rows(results: list[Any]) -> list[dict[str, Any]]:
    return [{"check": r["check"], "outcome": r["outcome"] + (" (accepted)" if r.get("accepted") else ""),
             "reason": r["reason"], "fix": r.get("fix") or ""} for r in results]


def findings_rows(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"severity": f["severity"], "rule": f["rule"],
             "object": "/".join(x for x in (f.get("kind"), f.get("namespace"), f.get("name")) if x),
             "message": f.get("message", ""), "fix": f.get("fix", "")} for f in findings[:MAX_ROWS]]


def predicted_changes_markdown(plan: Any, run_dir: Path) -> str:
    """The connectivity changes the policy engine predicts for the target engine: the probed cells of the baseline
    snapshot whose prediction under the target differs from what was observed, and the LoadBalancer paths whose
    verdict differs between the engines."""
    from netmig.policy import from_objects
    from netmig.steps.snapshot import BEFORE
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import engine_from_label

    path = run_dir / BEFORE
    if not path.is_file():
        return "_No baseline snapshot yet: see the policy-analysis findings._\n"
    snap = snapmod.load(path)
    cluster = from_objects(snap.objects)
    engine = engine_from_label(plan.target_profile().engine)
    rows = []
    for c in snap.cells:
        after, policies, note = snapmod.expect(cluster, c, engine)
        if after is not None and after != c.outcome:
            rows.append([c.src, c.dst, f"{c.port}/{c.protocol}", c.outcome, after, ", ".join(policies) or note])
    lines = [f"{len(rows)} of {len(snap.cells)} probed cells are predicted to change under {engine.label}.", ""]
    if rows:
        lines += _table(["source", "destination", "port", "now", f"under {engine.label}", "policies"], rows)
    lb = [p for p in snap.predicted_only if p.differs_between_engines]
    if lb:
        lines += ["", f"{len(lb)} LoadBalancer paths (external clients, predicted only) change between engines:", ""]
        lines += _table(["service", "backend", "port", "verdicts"], [
            [f"{p.service}:{p.service_port or '?'}", p.backend, f"{p.port}/{p.protocol}",
             "; ".join(f"{v.engine}: {'allowed' if v.allowed else 'denied'}" for v in p.by_engine)] for p in lb])
    return "\n".join(lines) + "\n"


def approval_markdown(plan: Any, run_dir: Path, preflight: list[dict[str, Any]] | None) -> str:
    """What the approver sees above the form: the plan summary, the preflight results, the predicted changes."""
    lines = [f"## Approve migration `{plan.migration_id}`?", "",
             f"`{plan.cluster.rsplit('/', 1)[-1]}`: {plan.source_profile().describe()} → "
             f"**{plan.target_profile().describe()}**; {plan.nodes_to_reimage} nodes in {len(plan.pools)} pools "
             "reimaged at once."]
    if plan.irreversible:
        lines.append(f"\n**Irreversible**: {plan.irreversible_reason or 'no way back'}")
    if unenforced_banner(plan):
        lines.append(f"\n**{unenforced_banner(plan)}**")
    lines += ["", "### Preflight", ""]
    rows = preflight_rows(preflight or plan.preflight)
    lines += _table(["check", "outcome", "reason"], [[r["check"], r["outcome"], r["reason"]] for r in rows])
    lines += ["", "### Predicted connectivity changes", ""]
    try:
        lines.append(predicted_changes_markdown(plan, run_dir))
    except Exception as e:  # a report, never a reason to fail the run
        lines.append(f"_prediction unavailable ({e.__class__.__name__}: {e})_")
    errors = [f for f in plan.findings if f["severity"] == "error"]
    if plan.findings:
        lines += [f"Policy analysis: {len(plan.findings)} findings, {len(errors)} error-severity"
                  + (f" (accepted: {', '.join(plan.accepted)})" if plan.accepted else "") + ":", ""]
        lines += _table(["severity", "rule", "object", "message"],
                        [[f["severity"], f["rule"], f["object"], f["message"]] for f in findings_rows(plan.findings)])
    lines += ["", "Set **approve**, your name as **approver** and a **comment**, then resume. Completed steps are "
                  "not run again."]
    return "\n".join(lines) + "\n"


def verification_markdown(run_dir: Path) -> str | None:
    """The verification matrix: the comparison with the baseline, then the after-snapshot's cells."""
    from netmig.steps.snapshot import BEFORE
    from netmig.steps.verify import AFTER
    from netmig.verify import report
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import compare

    before, after = run_dir / BEFORE, run_dir / AFTER
    if not after.is_file():
        return None
    snap = snapmod.load(after)
    parts = []
    if before.is_file():
        parts.append(report.comparison_markdown(compare(snapmod.load(before), snap)))
    parts.append(report.snapshot_markdown(snap))
    return "\n".join(parts)


def publish(kind: str, key: str, body: Any, description: str | None = None) -> None:
    """An artifact on the current flow run (``kind``: markdown | table); outside a run, or on error, nothing."""
    try:
        if kind == "table":
            create_table_artifact(body, key=key, description=description)
        else:
            create_markdown_artifact(body, key=key, description=description)
    except Exception as e:
        log.warning("artifact not published", key=key, error=f"{e.__class__.__name__}: {e}"[:200])


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
                        + "\n".join(f"- {d}" for d in summary["pools"].values()) + "\n")
        elif kind == "verify":
            md = verification_markdown(ctx.run_dir)
            if md:
                publish("markdown", "verification-matrix", md, "Connectivity before -> after, and every probed cell")


class PrefectProgress(ProgressSink):
    """Log lines plus a Prefect progress artifact (nodes done / total, per-pool detail) and Markdown artifacts."""

    def __init__(self) -> None:
        super().__init__()
        self.artifact_id: Any = None

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
            create_markdown_artifact(markdown, key=key)
