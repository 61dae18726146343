"""Prefect flow ``netmig-migrate``: runs a concrete plan's steps as cached tasks (thin orchestration).

- Parameters (forms in the Prefect UI): ``migration`` (the kind, ``plans/KIND.yaml``), ``cluster``
  (``ClusterAddress``), ``plan_path``, ``options`` (``MigrationOptions``). An existing plan file is applied as
  reviewed (options that contradict it are refused); a missing one is made first at ``plan_path`` (default
  ``.netmig/plans/KIND-RUNID.yaml``) exactly as ``aks-netmig plan`` makes it with the options' flags (accept,
  step parameters / operator manifest, pod CIDR, allow_fallback; the plan records that command line) and shown
  for approval. Any kind with a template works: deployments differ only in their default ``migration``.
- Timeouts (stall, NotReady, PDB block) are the engine's ``Options``, as ``aks-netmig apply`` sets them.
- Steps are tasks keyed by (migration id, step id) with results in RUN_DIR/prefect-results: a rerun skips what is
  done (Cached) and re-attaches to an in-flight ARM operation (the engine's steps are idempotent).
- On start, flow runs of the same migration left RUNNING by a killed process are marked Crashed; the run is
  tagged ``migration:ID``.
- Approval: as a deployment the flow suspends with an ``ApprovalInput`` form (approve, approver, comment) whose
  description is the preflight summary and the predicted changes (also the ``approval-request`` artifact); when
  resumed it reruns from the top with cached steps. ``options.auto_approve`` skips the form; from the CLI the
  approver callback decides.
- structlog lines are also sent to the flow run's logs (API only: the console shows structlog's own line once).
- Final states tell the truth (docs/prefect.md "States of a migration flow run"): Completed; Paused for a pause
  (approval that cannot be asked, a stall; Suspended in a deployment run, so Resume runs it again); Cancelled for a
  rejection and for Ctrl-C / SIGTERM (``netmig.engine.interruption.stop_run`` records it and settles the lease);
  Failed, with the one-line message and no traceback, for a ``NetmigError``; an unexpected exception stays a Failed
  run with its traceback (a bug). A step that did not finish is never cached. Messages of deployment runs name form
  fields (``flows.params.ui_text``). A plan the run made is written only when apply would run it, and moved aside
  (``NAME.failed-RUNID.yaml``) when the run fails or is rejected before its approval.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import structlog
from prefect import flow, tags
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType, FlowRunFilterTags
from prefect.client.schemas.objects import StateType
from prefect.filesystems import LocalFileSystem
from prefect.input import RunInput
from prefect.states import Crashed
from pydantic import Field

from flows.params import ClusterAddress, MigrationOptions, ui_text
from tasks.migrate import (
    CONTEXTS,
    INTERRUPTED,
    STOPPED,
    PrefectProgress,
    approval_markdown,
    blocking_checks,
    make_plan,
    plan_markdown,
    publish,
    run_step,
)

CLI_APPROVER: dict[str, Any] = {}
OUTCOME: dict[str, Any] = {}  # the last run in this process: "error" (what ended it), "interruption"
STATE_DIR_ENV = "NETMIG_STATE_DIR"
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "exception": 40, "critical": 50,
           "fatal": 50}


class ApprovalInput(RunInput):
    """The approval form a deployment run waits for."""

    approve: bool = Field(default=False, title="Approve",
                          description="Approve this migration (leave off to reject it).")
    approver: str = Field(..., min_length=1, title="Approver", description="Who approves (name or e-mail).")
    comment: str = Field(default="", title="Comment",
                         description="Change ticket, maintenance window, remarks.")


# --- structlog -> the flow run's logs ---------------------------------------------------------------------------


def _api_logger() -> logging.Logger:
    """A logger whose only handler sends to the Prefect API (not propagated: nothing is printed twice)."""
    lg = logging.getLogger("netmig.run")
    if not any(h.__class__.__name__ == "APILogHandler" for h in lg.handlers):
        from prefect.logging.handlers import APILogHandler

        lg.addHandler(APILogHandler())
    lg.propagate = False
    lg.setLevel(logging.DEBUG)
    return lg


def forward_to_prefect(_: Any, method: str, event: Any) -> Any:
    """structlog processor: the event as a ``key=value`` line in the current flow run's logs."""
    from prefect.context import FlowRunContext, TaskRunContext

    if FlowRunContext.get() is not None or TaskRunContext.get() is not None:
        with contextlib.suppress(Exception):
            text = " ".join([str(event.get("event", ""))] + [f"{k}={v}" for k, v in event.items()
                                                              if k not in ("event", "timestamp", "level")])
            _api_logger().log(_LEVELS.get(method, logging.INFO), text)
    return event


def _in_run(_: logging.LogRecord) -> bool:
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


@contextlib.contextmanager
def structlog_to_prefect() -> Iterator[None]:
    """While the flow runs: structlog configured (JSON off a TTY, secrets redacted) and its lines also in the flow
    run's logs, through exactly one route: the library's ``also_to`` hook when it has one (every rendered line
    goes through the stdlib logger ``netmig``), else a structlog processor. Lines logged outside a flow/task run
    context (other threads) stay on the console only."""
    from netmig import logs

    if not structlog.is_configured():
        logs.configure()
    also_to = getattr(logs, "also_to", None)
    if also_to is not None:
        from prefect.logging.handlers import APILogHandler

        handler = APILogHandler()
        handler.addFilter(_in_run)
        with also_to(handler):
            yield
        return
    procs = list(structlog.get_config()["processors"])
    if forward_to_prefect in procs:
        yield
        return
    structlog.configure(processors=[*procs[:-1], forward_to_prefect, procs[-1]])
    try:
        yield
    finally:
        structlog.configure(processors=procs)


# --- flow-run bookkeeping ---------------------------------------------------------------------------------------


def _register_run(migration_id: str, current: Any) -> int:
    """Tag this run ``migration:ID``; mark runs of the same migration left RUNNING by a killed process Crashed, and
    runs a CLI apply left Paused (exit 3: approval, stall) Cancelled, superseded by this one (a deployment run
    Suspended at its approval form is left alone). Returns how many were marked Crashed."""
    from prefect.client.orchestration import get_client
    from prefect.states import Cancelled

    tag = f"migration:{migration_id}"
    n = 0
    with get_client(sync_client=True) as client:
        if current is not None and tag not in (current.tags or []):
            client.update_flow_run(current.id, tags=[*(current.tags or []), tag])
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[tag]),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PAUSED]))))
        for r in runs:
            if current is not None and r.id == current.id:
                continue
            if r.state_type == StateType.RUNNING:
                client.set_flow_run_state(r.id, Crashed(message="the process running it was killed; resumed"),
                                          force=True)
                n += 1
            elif r.state_name == "Paused" and r.deployment_id is None:
                client.set_flow_run_state(r.id, Cancelled(message="paused run superseded: apply was run again"),
                                          force=True)
    return n


def _published(flow_run_id: Any) -> set[str]:
    """Artifact keys this flow run already has (a resumed run does not publish them twice)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with contextlib.suppress(Exception), get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
        return {a.key for a in arts if a.key}
    return set()


def _answered(a: Any) -> Callable[[Any], dict[str, Any]]:
    def approver(_: Any) -> dict[str, Any]:
        return {"approved": a.approve, "approver": a.approver, "comment": a.comment, "via": "prefect-ui"}
    return approver


def _auto(who: str) -> Callable[[Any], dict[str, Any]]:
    def approver(_: Any) -> dict[str, Any]:
        return {"approved": True, "approver": who, "via": "auto_approve"}
    return approver


def default_plan_path(migration: str, flow_run: Any) -> Path:
    root = Path(os.environ.get(STATE_DIR_ENV) or ".netmig")
    run = flow_run.id.hex[:12] if flow_run is not None else "local"
    return (root / "plans" / f"{migration}-{run}.yaml").resolve()


@flow(name="netmig-migrate", persist_result=True)
def migrate(migration: str | None = None, cluster: ClusterAddress = ClusterAddress(), plan_path: str | None = None,
            options: MigrationOptions = MigrationOptions()) -> dict[str, Any]:
    """Apply an aks-netmig migration plan (made first when the plan file does not exist), resumably. A deployment
    run waits for approval in the UI (a form with the preflight results and the predicted changes).

    Args:
        migration: The migration kind, a template in plans/ (npm-to-cilium, kubenet-to-overlay, ...). Empty: the
            plan's kind.
        cluster: A sandbox folder or an AKS address. Empty: the cluster recorded in the plan.
        plan_path: The reviewed plan to apply (absolute path), or where to write a new one. Empty: a new plan under
            .netmig/plans/.
        options: When the run makes the plan: accepted findings, step parameters (the tigera-operator manifest),
            overlay pod CIDR, fallback path (the flags of aks-netmig plan). Approval, stall / NotReady / PDB
            timeouts, run folder.
    """
    from prefect.exceptions import CancelledRun
    from prefect.runtime import deployment
    from prefect.states import Cancelled, Failed, Paused, Suspended

    from netmig.errors import NetmigError
    from netmig.errors import Paused as PausedError
    from netmig.steps.approval import NotApproved

    OUTCOME.clear()
    ui = bool(deployment.id) and not CLI_APPROVER.get("fn")
    say = ui_text if ui else (lambda text: text)
    with structlog_to_prefect():
        flog = structlog.get_logger("netmig.flow")
        try:
            return _run(migration, cluster, plan_path, options)
        except (KeyboardInterrupt, CancelledRun) as e:
            OUTCOME["error"] = e
            info = OUTCOME.get("interruption")
            text = info.message() if info is not None else f"interrupted ({getattr(e, 'signame', None) or 'SIGINT'})"
            flog.warning("migration interrupted", reason=text)
            return Cancelled(message=say(text))  # type: ignore[return-value]
        except NotApproved as e:
            OUTCOME["error"] = e
            flog.warning("migration not approved", reason=str(e))
            return Cancelled(message=say(str(e)))  # type: ignore[return-value]
        except PausedError as e:
            OUTCOME["error"] = e
            flog.warning("migration paused", reason=str(e))
            key = f"netmig-pause-{uuid.uuid4().hex[:12]}"
            if ui:  # resumable from the UI: the worker runs the flow again from the top (done steps Cached)
                return Suspended(message=say(str(e)), pause_key=key)  # type: ignore[return-value]
            return Paused(message=str(e), pause_key=key)  # type: ignore[return-value]
        except NetmigError as e:
            OUTCOME["error"] = e
            flog.error("migration failed", error=str(e))
            return Failed(message=say(str(e)))  # type: ignore[return-value]


def _run(migration: str | None, cluster: ClusterAddress, plan_path: str | None,
         options: MigrationOptions) -> dict[str, Any]:
    """The flow's work; exceptions are the flow's outcome (mapped to a final state by ``migrate``)."""
    from prefect.context import get_run_context
    from prefect.exceptions import CancelledRun
    from prefect.flow_runs import suspend_flow_run
    from prefect.runtime import deployment

    from netmig.connection import for_plan
    from netmig.engine.context import Options, never_approve
    from netmig.engine.interruption import stop_run
    from netmig.engine.planning import load_plan
    from netmig.engine.runner import start_run
    from netmig.engine.session import open_context, run_dir_for
    from netmig.errors import CheckFailed, UsageError
    from netmig.steps.lock import KEEPER, drop

    flow_run = getattr(get_run_context(), "flow_run", None)
    published = _published(flow_run.id) if flow_run is not None else set()
    path = Path(plan_path).resolve() if plan_path else None
    made_here = False
    if path is None or not path.is_file():
        if not migration:
            raise UsageError(f"plan {plan_path} does not exist" if plan_path else "no plan and no migration kind",
                             "give plan_path (an existing plan), or migration (a kind from plans/) and the "
                             "cluster address to make one")
        if not cluster.given():
            raise UsageError(f"no plan at {plan_path} to apply, and no cluster address to make one",
                             "give the cluster (sandbox folder or AKS address) or an existing plan_path")
        path = path or default_plan_path(migration, flow_run)
        made = make_plan(migration, cluster.model_dump(), out=str(path), only_if_runnable=True,
                         **options.plan_args(migration))
        blocking = blocking_checks(made["preflight"])
        if blocking:
            raise CheckFailed(f"{len(blocking)} preflight check(s) fail: "
                              + "; ".join(f"{r['check']}: {r['reason']}" for r in blocking)[:800],
                              f"no plan was written to {path} and nothing was changed; fix the cause, or accept "
                              f"them (plan --accept {' --accept '.join(r['check'] for r in blocking)}) and run "
                              "again with the same plan_path")
        made_here = True
    plan = load_plan(path)
    if migration and plan.kind != migration:
        raise UsageError(f"the plan {path} is a {plan.kind} plan, not {migration}",
                         "give a plan of this kind, or use the deployment of that kind")
    conflicts = options.conflicts(plan)
    if conflicts:
        raise UsageError(f"the plan {path} exists and was made with other options: {'; '.join(conflicts)}",
                         "leave those options empty to apply the reviewed plan as it is, or give a new "
                         "plan_path to make a plan with them")
    if "plan" not in published:
        publish("markdown", "plan", plan_markdown(plan) + "\n```yaml\n" + plan.to_yaml()[:60000] + "\n```\n",
                f"The plan this run applies ({path})")
    target = for_plan(plan, **cluster.model_dump())  # the address given, else the plan's own connection
    run_dir = Path(options.run_dir).resolve() if options.run_dir else run_dir_for(path)
    crashed = _register_run(plan.migration_id, flow_run)
    engine_options = Options(stall_seconds=options.stall_seconds, notready_seconds=options.notready_seconds,
                             pdb_block_seconds=options.pdb_block_seconds,
                             poll_seconds=1.0 if target.static_token else None)
    approver = CLI_APPROVER.get("fn") or (_auto(f"deployment {deployment.name or 'run'}")
                                          if options.auto_approve else None)
    ctx = open_context(plan, target, run_dir, approver=approver or never_approve,
                       progress=PrefectProgress(), options=engine_options,
                       run_id=str(flow_run.id)[:12] if flow_run is not None else None,
                       polling_interval=0.2 if target.static_token else 5.0)
    storage = LocalFileSystem(basepath=str(run_dir / "prefect-results"))
    storage.save("netmig-results-" + hashlib.sha1(str(run_dir).encode()).hexdigest()[:16], overwrite=True)
    key = ctx.run_id
    CONTEXTS[key] = ctx
    if made_here:  # remembered for the same flow run resumed in a new process (after the approval form)
        ctx.journal.record("plan-made", run_id=ctx.run_id, plan=str(path))
    made_here = made_here or any(e["event"] == "plan-made" and e.get("run_id") == ctx.run_id
                                 for e in ctx.journal.events())
    results: dict[str, Any] = {"plan": str(path), "run_dir": str(run_dir), "crashed_runs_marked": crashed}
    completed = interrupted = failed = False
    try:
        with structlog.contextvars.bound_contextvars(cluster=target.ref.name, migration=plan.migration_id):
            ctx.journal.record("run-start", run_id=ctx.run_id, migration=plan.migration_id, orchestrator="prefect",
                               crashed_marked=crashed)
            if crashed:
                structlog.get_logger("netmig.flow").warning("marked flow runs left RUNNING as Crashed",
                                                            count=crashed)
            start_run(ctx)
            for step in plan.steps:
                if (step.kind == "approval-gate" and approver is None and deployment.id
                        and not ctx.journal.completed(step.id)):
                    ctx.approver = _answered(_wait_for_approval(ctx, run_dir, published, options,
                                                                suspend_flow_run))
                mid, sid = plan.migration_id, step.id
                results[step.id] = run_step.with_options(
                    task_run_name=step.id, result_storage=storage,
                    cache_key_fn=lambda *_, m=mid, s=sid: f"{m}.{s}",
                )(key, step.id)
                if ctx.scratch.get(INTERRUPTED) or ctx.scratch.get(STOPPED) is not None:
                    # the step's task run ended Cancelled (Ctrl-C / SIGTERM, a pause, a "no"): no cached result of
                    # it may survive, or the rerun would skip the step
                    with contextlib.suppress(OSError):
                        (run_dir / "prefect-results" / f"{mid}.{sid}").unlink()
                    if ctx.scratch.get(INTERRUPTED):
                        raise KeyboardInterrupt(ctx.scratch[INTERRUPTED])
                    raise ctx.scratch.pop(STOPPED)
            ctx.journal.record("run-done", run_id=ctx.run_id)
            completed = True
    except (KeyboardInterrupt, CancelledRun) as e:
        interrupted = True
        signame = ctx.scratch.get(INTERRUPTED) or getattr(e, "signame", None) or "SIGINT"
        OUTCOME["interruption"] = stop_run(ctx, signame)
        raise
    except Exception:
        failed = made_here and not _approved(ctx)
        raise
    finally:
        if not completed and not interrupted and ctx.scratch.get(KEEPER) is not None:
            with contextlib.suppress(Exception):
                drop(ctx)
        CONTEXTS.pop(key, None)
        ctx.close()
        if failed:
            _set_aside(path, run_dir, ctx)
    return results


def _approved(ctx: Any) -> bool:
    return any(ctx.journal.completed(s.id) for s in ctx.plan.steps if s.kind == "approval-gate")


def _set_aside(path: Path, run_dir: Path, ctx: Any) -> None:
    """The plan this run made failed before it was approved: move it (and its run folder) out of the way, so the
    corrected retry with the same plan_path makes a new plan instead of being refused as "made with other
    options". Recorded in the journal (which moves with the folder)."""
    from netmig.engine.session import run_dir_for

    suffix = f"failed-{ctx.run_id}"
    aside = path.with_name(f"{path.stem}.{suffix}{path.suffix}")
    with contextlib.suppress(OSError):
        ctx.journal.record("plan-set-aside", plan=str(path), moved_to=str(aside), run_id=ctx.run_id)
        path.replace(aside)
        if run_dir == run_dir_for(path) and run_dir.is_dir():
            run_dir.replace(run_dir.with_name(f"{path.stem}.{suffix}.run"))
        structlog.get_logger("netmig.flow").warning(
            "the plan this failed run made was moved aside; the next run with the same plan_path makes a new one",
            plan=str(path), moved_to=str(aside))


def _wait_for_approval(ctx: Any, run_dir: Path, published: set[str], options: MigrationOptions,
                       suspend: Callable[..., Any]) -> Any:
    """Suspend the run until the approval form is submitted (the process exits; the resumed run gets the input)."""
    first = "approval-request" not in published
    description = None
    if first:
        description = approval_markdown(ctx.plan, run_dir, ctx.journal.value("preflight"))
        publish("markdown", "approval-request", description, "What the approver reviews")
        ctx.journal.record("awaiting-approval", via="prefect-ui", run_id=ctx.run_id)
        structlog.get_logger("netmig.flow").info("awaiting approval in the Prefect UI (resume the flow run)")
    form = ApprovalInput.with_initial_data(description=description) if description else ApprovalInput
    return suspend(wait_for_input=form, timeout=int(options.approval_timeout_hours * 3600),
                   key=f"approval-{ctx.plan.migration_id}")


def run_flow(*, plan_path: str, address: dict[str, Any], run_dir: Path, yes: bool, options: Any,
             approver: Any = None) -> dict[str, Any]:
    """Run the flow in this process and return its result, or raise what ended it (``Paused``/``Stalled``,
    ``CheckFailed``, ``NotApproved``, a ``KeyboardInterrupt`` for Ctrl-C/SIGTERM with ``OUTCOME["interruption"]``
    set): the flow run's final state is Completed, Paused, Cancelled or Failed accordingly. When PREFECT_API_URL is
    unset, a temporary local server (``flows.local_server``) serves the run and is stopped afterwards, whatever
    happens (its output: ``RUN_DIR/prefect-server.log``)."""
    from prefect.settings import PREFECT_API_URL

    from netmig.engine.planning import load_plan

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    OUTCOME.clear()
    plan = load_plan(plan_path)
    opts = MigrationOptions(auto_approve=yes, stall_seconds=options.stall_seconds,
                            notready_seconds=options.notready_seconds, pdb_block_seconds=options.pdb_block_seconds,
                            run_dir=str(run_dir.resolve()))
    from flows.local_server import drain

    with contextlib.ExitStack() as stack:
        stack.callback(drain, 1.5)  # logs and events still queued reach the server before the command ends
        if not PREFECT_API_URL.value():
            from flows.local_server import temporary_server

            structlog.get_logger("netmig.flow").info("starting a temporary Prefect server",
                                                     log=str(run_dir / "prefect-server.log"))
            stack.enter_context(temporary_server(run_dir / "prefect-server.log"))
        CLI_APPROVER["fn"] = approver
        OUTCOME.clear()
        try:
            with tags(f"migration:{plan.migration_id}", "aks-netmig"):
                state = migrate.with_options(flow_run_name=f"{plan.migration_id}")(
                    cluster=ClusterAddress.from_mapping(address), plan_path=str(Path(plan_path).resolve()),
                    options=opts, return_state=True)
        finally:
            CLI_APPROVER.clear()
        if state.is_completed():
            return dict(state.result())
        error = OUTCOME.get("error")
        if isinstance(error, BaseException):
            if not isinstance(error, KeyboardInterrupt) and error.__class__.__name__ == "CancelledRun":
                raise KeyboardInterrupt(OUTCOME.get("interruption") and OUTCOME["interruption"].signal) from error
            raise error
        state.result()  # raises the flow's exception (a bug: it is Failed with the traceback in the run's log)
        raise RuntimeError(f"the flow run ended {state.name}: {state.message}")
