"""Prefect flow ``netmig-migrate``: runs a concrete plan's steps as cached tasks (thin orchestration).

- Parameters (forms in the Prefect UI): ``migration`` (the kind, ``plans/KIND.yaml``), ``cluster``
  (``ClusterAddress``), ``plan_path``, ``options`` (``MigrationOptions``). An existing plan file is applied as
  reviewed (options that contradict it are refused); a missing one is made first at ``plan_path`` (default
  ``.netmig/plans/KIND-RUNID.yaml``) exactly as ``aks-netmig plan`` makes it with the options' flags (accept,
  step parameters / operator manifest, pod CIDR, allow_fallback; the plan records that command line) and shown
  for approval (``netmig.commands.applying.plan_for_run``). Any kind with a template works: deployments differ
  only in their default ``migration``.
- Timeouts (stall, NotReady, PDB block) are the engine's ``Options``, as ``aks-netmig apply`` sets them.
- Steps are tasks keyed by (migration id, step id) with results in RUN_DIR/prefect-results: a rerun skips what is
  done (Cached) and re-attaches to an in-flight ARM operation (the engine's steps are idempotent).
- On start, flow runs of the same migration left RUNNING by a killed process are marked Crashed; the run is
  tagged ``migration:ID``.
- Approval: as a deployment the flow suspends with an ``ApprovalInput`` form (approve, approver, comment) whose
  description is the preflight summary and the predicted changes (also the ``approval-request`` artifact); when
  resumed it reruns from the top with cached steps. ``options.auto_approve`` skips the form; from the CLI the
  approver callback decides.
- structlog lines are also sent to the flow run's logs (``flows.bridge``; API only: the console shows structlog's own
  line once).
- State is passed explicitly: each step task gets the run's ``StepContext`` as a parameter
  (``tasks.migrate.RunHandle``); ``run_flow`` gives the flow its approver and learns what ended the run through a
  ``CliSession`` scoped to that call (a context variable, never a module-level dict).
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
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from prefect import flow, tags
from prefect.filesystems import LocalFileSystem
from prefect.input import RunInput
from pydantic import Field

from flows.bridge import structlog_to_prefect
from flows.naming import migrate_run_name, run_name
from flows.params import ClusterAddress, MigrationKind, MigrationOptions, OptionalText, ui_text
from flows.runs import default_plan_path, published, register_run
from netmig.commands.render import (
    FULL_CHANGES_KEY,
    MODAL_LINES,
    approval_markdown,
    plan_markdown,
    predicted_changes_markdown,
)
from tasks.migrate import INTERRUPTED, STOPPED, PrefectProgress, RunHandle, plan_for_run, publish, run_step

__all__ = ["ApprovalInput", "CliSession", "FlowInterrupted", "migrate", "run_flow", "structlog_to_prefect"]


class ApprovalInput(RunInput):
    """The approval form a deployment run waits for."""

    approve: bool = Field(default=False, title="Approve",
                          description="Approve this migration (leave off to reject it).")
    approver: str = Field(..., min_length=1, title="Approver", description="Who approves (name or e-mail).")
    comment: str = Field(default="", title="Comment",
                         description="Change ticket, maintenance window, remarks.")


@dataclass
class CliSession:
    """A flow run started by ``run_flow`` (the CLI's apply, the demo): its approver, and what ended it."""

    approver: Callable[[Any], Any] | None
    error: BaseException | None = None  # what ended the run (a pause, a rejection, a failure, an interrupt)
    interruption: Any = None  # what ``stop_run`` recorded after Ctrl-C / SIGTERM


_SESSION: ContextVar[CliSession | None] = ContextVar("netmig_cli_session", default=None)


class FlowInterrupted(KeyboardInterrupt):
    """The flow run ended Cancelled by Ctrl-C / SIGTERM; ``info`` is what ``stop_run`` recorded (or None)."""

    def __init__(self, info: Any, signame: str = "SIGINT") -> None:
        super().__init__(signame)
        self.info = info
        self.signame = signame


def _answered(a: Any) -> Callable[[Any], dict[str, Any]]:
    def approver(_: Any) -> dict[str, Any]:
        return {"approved": a.approve, "approver": a.approver, "comment": a.comment, "via": "prefect-ui"}
    return approver


def _auto(who: str) -> Callable[[Any], dict[str, Any]]:
    def approver(_: Any) -> dict[str, Any]:
        return {"approved": True, "approver": who, "via": "auto_approve"}
    return approver


@flow(name="netmig-migrate", persist_result=True, flow_run_name=migrate_run_name)
def migrate(migration: MigrationKind = "", cluster: ClusterAddress = ClusterAddress(), plan_path: OptionalText = "",
            options: MigrationOptions = MigrationOptions()) -> dict[str, Any]:
    """Apply an aks-netmig migration plan (made first when the plan file does not exist), resumably. A deployment
    run waits for approval in the UI (a form with the preflight results and the predicted changes).

    No parameter is optional-with-None (the Prefect form would show a 'Property is type "None"' toggle): an empty
    string means "not given" (null from an API caller reads as "").

    Args:
        migration: The migration kind, one of the templates in plans/ (a choice in the form). Empty: the plan's
            kind.
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

    session = _SESSION.get() or CliSession(approver=None)
    session.error = session.interruption = None
    ui = bool(deployment.id) and session.approver is None
    say = ui_text if ui else (lambda text: text)
    with structlog_to_prefect():
        flog = structlog.get_logger("netmig.flow")
        try:
            return _run(migration, cluster, plan_path, options, session)
        except (KeyboardInterrupt, CancelledRun) as e:
            session.error = e
            info = session.interruption
            text = info.message() if info is not None else f"interrupted ({getattr(e, 'signame', None) or 'SIGINT'})"
            flog.warning("migration interrupted", reason=text)
            return Cancelled(message=say(text))  # type: ignore[return-value]
        except NotApproved as e:
            session.error = e
            flog.warning("migration not approved", reason=str(e))
            return Cancelled(message=say(str(e)))  # type: ignore[return-value]
        except PausedError as e:
            session.error = e
            flog.warning("migration paused", reason=str(e))
            key = f"netmig-pause-{uuid.uuid4().hex[:12]}"
            if ui:  # resumable from the UI: the worker runs the flow again from the top (done steps Cached)
                return Suspended(message=say(str(e)), pause_key=key)  # type: ignore[return-value]
            return Paused(message=str(e), pause_key=key)  # type: ignore[return-value]
        except NetmigError as e:
            session.error = e
            flog.error("migration failed", error=str(e))
            return Failed(message=say(str(e)))  # type: ignore[return-value]


def _run(migration: str, cluster: ClusterAddress, plan_path: str, options: MigrationOptions,
         session: CliSession) -> dict[str, Any]:
    """The flow's work; exceptions are the flow's outcome (mapped to a final state by ``migrate``)."""
    from prefect.context import get_run_context
    from prefect.exceptions import CancelledRun
    from prefect.flow_runs import suspend_flow_run
    from prefect.runtime import deployment

    from netmig.commands.applying import ApplyRequest, RunPlanRequest, approved, prepare, set_aside, signal_name
    from netmig.engine.interruption import stop_run
    from netmig.engine.runner import start_run
    from netmig.engine.session import open_context
    from netmig.stepkit.context import never_approve
    from netmig.steps.lock import KEEPER, drop

    flow_run = getattr(get_run_context(), "flow_run", None)
    done_artifacts = published(flow_run.id) if flow_run is not None else set()
    chosen = plan_for_run(RunPlanRequest(
        migration or None, cluster.address(), Path(plan_path) if plan_path else None,
        default_plan_path(migration or "plan", flow_run), options))
    plan, path, made_here = chosen.plan, chosen.path, chosen.made
    if "plan" not in done_artifacts:
        publish("markdown", "plan", plan_markdown(plan) + "\n```yaml\n" + plan.to_yaml()[:60000] + "\n```\n",
                f"The plan this run applies ({path})")
    run = prepare(ApplyRequest(  # the address given, else the plan's own connection; the engine's options
        path, cluster.address(), run_dir=Path(options.run_dir).resolve() if options.run_dir else None,
        stall_seconds=options.stall_seconds or None, pdb_block_seconds=options.pdb_block_seconds or None,
        notready_seconds=options.notready_seconds or None, check_access=False))
    target, run_dir, engine_options = run.target, run.run_dir, run.options
    crashed = register_run(plan.migration_id, flow_run)
    approver = session.approver or (_auto(f"deployment {deployment.name or 'run'}")
                                    if options.auto_approve else None)
    ctx = open_context(plan, target, run_dir, approver=approver or never_approve,
                       progress=PrefectProgress(), options=engine_options,
                       run_id=str(flow_run.id)[:12] if flow_run is not None else None,
                       polling_interval=target.arm_poll_seconds)
    storage = LocalFileSystem(basepath=str(run_dir / "prefect-results"))
    storage.save("netmig-results-" + hashlib.sha1(str(run_dir).encode()).hexdigest()[:16], overwrite=True)
    if made_here:  # remembered for the same flow run resumed in a new process (after the approval form)
        ctx.journal.record("plan-made", run_id=ctx.run_id, plan=str(path))
    made_here = made_here or any(e.kind == "plan-made" and e.get("run_id") == ctx.run_id
                                 for e in ctx.journal.read())
    results: dict[str, Any] = {"plan": str(path), "run_dir": str(run_dir), "crashed_runs_marked": crashed}
    handle = RunHandle(ctx)
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
                    ctx.approver = _answered(_wait_for_approval(ctx, run_dir, done_artifacts, options,
                                                                suspend_flow_run))
                mid, sid = plan.migration_id, step.id
                results[step.id] = run_step.with_options(
                    task_run_name=step.id, result_storage=storage,
                    cache_key_fn=lambda *_, m=mid, s=sid: f"{m}.{s}",
                )(handle, step.id)
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
        session.interruption = stop_run(ctx, ctx.scratch.get(INTERRUPTED) or signal_name(e))
        raise
    except Exception:
        failed = made_here and not approved(ctx)
        raise
    finally:
        if not completed and not interrupted and ctx.scratch.get(KEEPER) is not None:
            with contextlib.suppress(Exception):
                drop(ctx)
        ctx.close()
        if failed:
            set_aside(path, run_dir, ctx)
    return results


def _wait_for_approval(ctx: Any, run_dir: Path, done_artifacts: set[str], options: MigrationOptions,
                       suspend: Callable[..., Any]) -> Any:
    """Suspend the run until the approval form is submitted (the process exits; the resumed run gets the input)."""
    first = "approval-request" not in done_artifacts
    description = None
    if first:
        link = None
        with contextlib.suppress(Exception):  # the full table next to the short form (a report, never a failure)
            link = publish("markdown", FULL_CHANGES_KEY, predicted_changes_markdown(ctx.plan, run_dir),
                           "Every probed cell predicted to change under the target engine (baseline snapshot)")
        preflight = ctx.journal.value("preflight")
        review = publish("markdown", "approval-request", approval_markdown(ctx.plan, run_dir, preflight, link),
                         "What the approver reviews: every predicted change line and every check")
        # the modal's description box has a fixed height: the decision first, the rest behind the two links
        description = approval_markdown(ctx.plan, run_dir, preflight, link, limit=MODAL_LINES, review_link=review)
        ctx.journal.record("awaiting-approval", via="prefect-ui", run_id=ctx.run_id)
        structlog.get_logger("netmig.flow").info("awaiting approval in the Prefect UI (resume the flow run)")
    form = ApprovalInput.with_initial_data(description=description) if description else ApprovalInput
    if first:
        return suspend(wait_for_input=form, timeout=int(options.approval_timeout_hours * 3600),
                       key=f"approval-{ctx.plan.migration_id}")
    # resumed: Prefect's suspend_flow_run finds the answer and returns it, but first logs "Suspending flow run,
    # execution will be rescheduled ..." -- misleading on a run that goes on: that line is dropped, ours says what
    # happens
    with without_suspending_line():
        answer = suspend(wait_for_input=form, timeout=int(options.approval_timeout_hours * 3600),
                         key=f"approval-{ctx.plan.migration_id}")
    structlog.get_logger("netmig.flow").info("approval form answered; the run continues",
                                             approved=getattr(answer, "approve", None),
                                             approver=getattr(answer, "approver", None))
    return answer


class _DropSuspendingLine(logging.Filter):
    """Drops Prefect's "Suspending flow run ..." record (used only while a resumed run reads its answer)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith("Suspending flow run")


@contextlib.contextmanager
def without_suspending_line(active: bool = True) -> Iterator[None]:
    """While active, Prefect's "Suspending flow run, execution will be rescheduled" line is dropped: a resumed run
    calls ``suspend_flow_run`` again to read its answer, and goes on, so that line would be misleading there."""
    if not active:
        yield
        return
    quiet = _DropSuspendingLine()
    prefect_logger = logging.getLogger("prefect.flow_runs")
    prefect_logger.addFilter(quiet)
    try:
        yield
    finally:
        prefect_logger.removeFilter(quiet)


def run_flow(*, plan_path: str, address: dict[str, Any], run_dir: Path, yes: bool, options: Any,
             approver: Any = None) -> dict[str, Any]:
    """Run the flow in this process and return its result, or raise what ended it (``Paused``/``Stalled``,
    ``CheckFailed``, ``NotApproved``; ``FlowInterrupted``, a ``KeyboardInterrupt`` carrying what ``stop_run``
    recorded, for Ctrl-C/SIGTERM): the flow run's final state is Completed, Paused, Cancelled or Failed accordingly.
    When PREFECT_API_URL is unset, a temporary local server (``flows.local_server``) serves the run and is stopped
    afterwards, whatever happens (its output: ``RUN_DIR/prefect-server.log``)."""
    from prefect.settings import PREFECT_API_URL

    from netmig.engine.planning import load_plan

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    plan = load_plan(plan_path)
    opts = MigrationOptions(auto_approve=yes, stall_seconds=options.stall_seconds,
                            notready_seconds=options.notready_seconds, pdb_block_seconds=options.pdb_block_seconds,
                            run_dir=str(run_dir.resolve()))
    from flows.local_server import drain

    session = CliSession(approver=approver)
    with contextlib.ExitStack() as stack:
        stack.callback(drain, 1.5)  # logs and events still queued reach the server before the command ends
        if not PREFECT_API_URL.value():
            from flows.local_server import temporary_server

            structlog.get_logger("netmig.flow").info("starting a temporary Prefect server",
                                                     log=str(run_dir / "prefect-server.log"))
            stack.enter_context(temporary_server(run_dir / "prefect-server.log"))
        token = _SESSION.set(session)
        try:
            with tags(f"migration:{plan.migration_id}", "aks-netmig"):
                state = migrate.with_options(flow_run_name=run_name(plan.cluster.rsplit("/", 1)[-1], plan.kind))(
                    cluster=ClusterAddress.from_mapping(address), plan_path=str(Path(plan_path).resolve()),
                    options=opts, return_state=True)
        finally:
            _SESSION.reset(token)
        if state.is_completed():
            return dict(state.result())
        error = session.error
        if isinstance(error, KeyboardInterrupt) or error.__class__.__name__ == "CancelledRun":
            info = session.interruption
            raise FlowInterrupted(info, getattr(info, "signal", None) or getattr(error, "signame", None)
                                  or "SIGINT") from error
        if isinstance(error, BaseException):
            raise error
        state.result()  # raises the flow's exception (a bug: it is Failed with the traceback in the run's log)
        raise RuntimeError(f"the flow run ended {state.name}: {state.message}")
