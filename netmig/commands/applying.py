"""``apply``: execute a reviewed plan, resumably (the library runner), and what every orchestrator shares.

Contract:
- ``prepare(ApplyRequest)`` loads the plan, resolves the cluster (the address given, else the plan's own
  connection), tries the credential (before a Prefect server starts or the run folder is written), and returns an
  ``ApplyRun``: the plan, the target, the run folder (default ``PLAN.run/``), the engine ``Options`` (timeouts as
  given; the reimage watch paced by the connection's ``poll_seconds``), and ``line``: this apply's own command line
  (``netmig.commands.argv.ApplyLine``) to name in every failure.
- ``failures(run)`` is the context every orchestrator runs the plan in: an ARM / Kubernetes API fault becomes one
  line (``netmig.commands.failures``); a stall becomes ``Paused`` with the three exact choices (``stall_choices``);
  any other ``NetmigError`` ends as ``ended_with`` says (exit 4 once the cluster was changed, the last line naming
  its state and the next command). ``Paused`` and ``Interrupted`` pass unchanged.
- ``run_local(run, approver=..., progress=...)`` runs the plan with the library runner; Ctrl-C / SIGTERM ends it
  with ``Interrupted`` (exit 130) once ``stop_run`` has recorded it; the cluster lock is freed when the run ended
  by a failure or a pause.
- ``dry_run(run)``: the pending steps, the drift since the plan, the ARM requests that would be sent; changes
  nothing (``CheckFailed`` when the cluster changed since the plan).
"""

from __future__ import annotations

import contextlib
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from netmig.commands.argv import ApplyLine
from netmig.commands.errors import check_access
from netmig.connection import Address, ArmTarget
from netmig.errors import CheckFailed, NetmigError, Paused
from netmig.model.plan import Plan
from netmig.stepkit.context import Options, ProgressSink


class Interrupted(NetmigError):
    """Ctrl-C or SIGTERM during apply, after the journal, the lock and the flow run state were settled. Exit 130."""

    exit_code = 130


@dataclass(frozen=True)
class ApplyRequest:
    plan_path: Path
    address: Address = field(default_factory=Address)
    run_dir: Path | None = None
    yes: bool = False
    dry_run: bool = False
    stall_seconds: float | None = None
    pdb_block_seconds: float | None = None
    notready_seconds: float | None = None
    prefect: bool | None = None  # as given on the command line (recorded in the rerun line only)
    check_access: bool = True


@dataclass(frozen=True)
class ApplyRun:
    plan: Plan
    plan_path: Path
    target: ArmTarget
    run_dir: Path
    options: Options
    line: ApplyLine
    address: Address  # as given, else the plan's sandbox folder (never its token): what a flow run is given

    @property
    def rerun(self) -> list[str]:
        return self.line.argv()


def prepare(req: ApplyRequest) -> ApplyRun:
    """See the module contract."""
    from netmig.engine.planning import load_plan
    from netmig.engine.session import run_dir_for

    plan = load_plan(req.plan_path)
    target = req.address.target(plan)
    line = ApplyLine(req.plan_path, req.address, run_dir=req.run_dir, yes=req.yes, prefect=req.prefect,
                     timeouts={"stall_seconds": req.stall_seconds, "pdb_block_seconds": req.pdb_block_seconds,
                               "notready_seconds": req.notready_seconds})
    options = Options(dry_run=req.dry_run, stall_seconds=req.stall_seconds, pdb_block_seconds=req.pdb_block_seconds,
                      notready_seconds=req.notready_seconds, poll_seconds=target.poll_seconds)
    if req.check_access:
        check_access(target)
    address = req.address
    if target.sandbox and not address.names_cluster():
        address = Address(sandbox=target.sandbox, arm_endpoint=address.arm_endpoint, ca_bundle=address.ca_bundle)
    return ApplyRun(plan, req.plan_path, target, req.run_dir or run_dir_for(req.plan_path), options, line, address)


def stall_choices(e: Any, line: ApplyLine) -> str:
    """The three choices after a stall (``Stalled``), as exact commands (one per line, after the one-line reason)."""
    return ("the ARM operation goes on; choose one:\n"
            f"  wait longer:  {shlex.join(line.with_timeout(e.option, e.suggested).argv())}\n"
            f"  abort:        {shlex.join(line.abort_argv())}  (cancels the ARM operation; rerun apply later)\n"
            f"  resume later: {shlex.join(line.argv())}\n"
            "  (if waiting longer ends in a failed ARM operation, e.g. NodeNotReadyTimeout: see the runbook's "
            "\"ARM operation failed\" section)")


def ended_with(error: NetmigError, plan: Any, run_dir: Path, rerun: list[str]) -> NetmigError:
    """The error a failed apply ends with (``netmig.engine.outcome.failure``: exit 4 once the cluster was changed,
    the last line naming the cluster's state and the exact next command)."""
    from netmig.commands.failures import ClientFailure
    from netmig.engine.outcome import failure
    from netmig.journal import events

    if isinstance(error, ClientFailure) and not error.cluster_changed:
        return error  # its one line already says nothing was changed and names the next command
    return failure(error, plan, events(run_dir / "journal.jsonl"), shlex.join(rerun))


@contextlib.contextmanager
def failures(run: ApplyRun) -> Iterator[None]:
    """See the module contract."""
    from netmig.commands.failures import client_faults
    from netmig.stepkit.monitor import Stalled

    try:
        with client_faults(run.plan, run.run_dir, run.rerun):
            yield
    except Stalled as e:
        raise Paused(e.problem, stall_choices(e, run.line)) from e
    except (Paused, Interrupted):
        raise
    except NetmigError as e:  # exit 4 when the cluster was changed; the last line: its state and the next command
        raise ended_with(e, run.plan, run.run_dir, run.rerun) from e


def signal_name(e: BaseException | None) -> str:
    """The signal behind a ``KeyboardInterrupt`` (its ``signame``; ``SIGINT`` for a plain one)."""
    return str(getattr(e, "signame", None) or "SIGINT")


def interrupted(e: BaseException, info: Any, rerun: list[str]) -> Interrupted:
    """The error of an apply ended by Ctrl-C / SIGTERM (``info``: what ``stop_run`` recorded, or None)."""
    text = info.message() if info is not None else f"interrupted ({signal_name(e)}) before the first step"
    return Interrupted(text, f"rerun the same command to resume: {shlex.join(rerun)}")


def run_local(run: ApplyRun, *, approver: Callable[[Any], Any], progress: ProgressSink | None = None) -> None:
    """The library runner (no Prefect); see the module contract."""
    from netmig.commands.failures import client_faults
    from netmig.engine.interruption import stop_run
    from netmig.engine.runner import run_plan
    from netmig.engine.session import open_context
    from netmig.steps.lock import KEEPER, drop

    sink = progress or ProgressSink()
    ctx = open_context(run.plan, run.target, run.run_dir, approver=approver, progress=sink, options=run.options,
                       polling_interval=run.target.arm_poll_seconds)
    try:
        with client_faults(run.plan, run.run_dir, run.rerun):
            run_plan(ctx)
    except KeyboardInterrupt as e:
        raise interrupted(e, stop_run(ctx, signal_name(e)), run.rerun) from None
    finally:
        if ctx.scratch.get(KEEPER) is not None:  # ended by a failure or a pause: free the cluster (a crash can't)
            with contextlib.suppress(Exception):
                drop(ctx)
        sink.close()
        ctx.close()


@dataclass(frozen=True)
class DryRun:
    pending: list[str]
    drift: list[str] | None  # None: the first step already ran (the cluster is expected to differ)
    requests: list[str]  # the ARM requests that would be sent, as lines


def dry_run(run: ApplyRun) -> DryRun:
    """See the module contract."""
    from netmig.azure.gateway import AksGateway
    from netmig.journal import Journal
    from netmig.model.plan import drift

    aks = AksGateway(run.target)
    journal = Journal(run.run_dir / "journal.jsonl")
    done = set(journal.completed_steps())
    pending = [s.id for s in run.plan.steps if s.id not in done]
    problems = drift(run.plan, aks.cluster()) if run.plan.steps and run.plan.steps[0].id in pending else None
    return DryRun(pending, problems, planned_requests(run.plan, aks, pending, journal) if not problems else [])


def planned_requests(plan: Any, aks: Any, pending: list[str], journal: Any = None) -> list[str]:
    """The network-profile PUTs the pending update-network-profile steps of the default path will send, built by
    ``AksGateway.network_update_request`` -- the function ``begin_network_update`` sends them with -- from the
    step's own parameters (``netmig.model.plan.step_target``), one block per request."""
    import json

    from netmig.model.plan import step_target
    from netmig.steps.network import token_key

    out: list[str] = []
    default = plan.default_variant
    source = plan.source_profile()
    first = True
    for step in plan.steps:
        if step.kind != "update-network-profile" or step.variant not in (None, default):
            continue
        target = step_target(source, step)
        if step.id in pending and journal is not None and journal.value(token_key(step.id)):
            out.append(f"  ARM request (step {step.id}): already sent (its operation is in the journal); not sent "
                       "again")
        elif step.id in pending:
            etag = plan.etag if first else None
            req = aks.network_update_request(target, etag).describe()
            if_match = req["if_match"] or ("none" if first else "the etag read right before the PUT")
            out.append(f"  ARM request (step {step.id}): {req['method']} {req['path']}?api-version="
                       f"{req['api_version']}")
            out.append(f"    If-Match: {if_match}")
            out.append(f"    body.properties.networkProfile: {json.dumps(req['network_profile'], sort_keys=True)}")
            out.append(f"    changes: {source.describe() if first else 'the previous step'} -> {target.describe()}")
        first = False
    if not out:
        out.append("  ARM requests: none pending")
    return out


# --- a run that may make its own plan (the Prefect migrate flow) ------------------------------------------------


class PlanOptionsLike(Protocol):
    """What shapes a plan a run makes (``flows.params.PlanOptions`` is one): the flags of ``aks-netmig plan``."""

    accept: list[str]
    allow_fallback: bool

    @property
    def pod_cidr(self) -> str | None: ...  # "" or None: keep the current one

    def sets(self, kind: str) -> list[str]: ...


@dataclass(frozen=True)
class RunPlanRequest:
    migration: str | None  # the kind; None: the plan's
    address: Address  # where to make the plan (and, when given, the cluster to apply it to)
    plan_path: Path | None  # an existing plan to apply, or where to write a new one
    new_plan_path: Path  # where a new plan goes when plan_path is None
    options: PlanOptionsLike


@dataclass(frozen=True)
class RunPlan:
    plan: Plan
    path: Path
    made: bool  # this run made (and wrote) the plan


def plan_conflicts(plan: Plan, options: PlanOptionsLike) -> list[str]:
    """How ``options`` contradict an existing plan (empty: they agree, or none was given)."""
    from netmig.engine.planning import parse_set

    out = []
    missing = [a for a in options.accept if a not in plan.accepted]
    if missing:
        out.append(f"accept {', '.join(missing)}: the plan accepts {', '.join(plan.accepted) or 'nothing'}")
    if options.pod_cidr and (plan.options or {}).get("pod_cidr") != options.pod_cidr:
        out.append(f"pod_cidr {options.pod_cidr}: the plan's is {(plan.options or {}).get('pod_cidr') or 'kept'}")
    if options.allow_fallback and "fallback" not in ((plan.options or {}).get("allow_variants") or []):
        out.append("allow_fallback: the plan does not allow the fallback path")
    steps = {s.id: s for s in plan.steps}
    for sid, params in parse_set(options.sets(plan.kind)).items():
        for name, value in params.items():
            have = steps[sid].params.get(name) if sid in steps else None
            if sid not in steps or have != value:
                out.append(f"{sid}.{name}={value}: the plan has {have if sid in steps else 'no step ' + sid}")
    return out


def plan_for_run(req: RunPlanRequest) -> RunPlan:
    """The plan a run applies: the existing file at ``plan_path`` as reviewed (options contradicting it, or another
    kind, are ``UsageError``), else a new one made exactly as ``aks-netmig plan`` makes it with the options' flags
    and written to ``plan_path`` (default ``new_plan_path``) -- only when apply would run it: a blocking check is
    ``CheckFailed`` and nothing is written."""
    from netmig.commands.plans import PlanRequest, plan
    from netmig.engine.planning import load_plan
    from netmig.errors import UsageError

    path = req.plan_path.resolve() if req.plan_path else None
    made = False
    if path is None or not path.is_file():
        if not req.migration:
            raise UsageError(f"plan {req.plan_path} does not exist" if req.plan_path else
                             "no plan and no migration kind",
                             "give plan_path (an existing plan), or migration (a kind from plans/) and the "
                             "cluster address to make one")
        if not req.address.names_cluster():
            raise UsageError(f"no plan at {req.plan_path} to apply, and no cluster address to make one",
                             "give the cluster (sandbox folder or AKS address) or an existing plan_path")
        path = path or req.new_plan_path
        opts = req.options
        blocking = plan(PlanRequest(req.migration, req.address, accept=tuple(opts.accept),
                                    sets=tuple(opts.sets(req.migration)), pod_cidr=opts.pod_cidr or None,
                                    allow_fallback=opts.allow_fallback, out=path, check_access=False,
                                    reuse_existing=True, only_if_runnable=True)).blocking
        if blocking:
            raise CheckFailed(f"{len(blocking)} preflight check(s) fail: "
                              + "; ".join(f"{r.check}: {r.reason}" for r in blocking)[:800],
                              f"no plan was written to {path} and nothing was changed; fix the cause, or accept "
                              f"them (plan --accept {' --accept '.join(r.check for r in blocking)}) and run "
                              "again with the same plan_path")
        made = True
    existing = load_plan(path)
    if req.migration and existing.kind != req.migration:
        raise UsageError(f"the plan {path} is a {existing.kind} plan, not {req.migration}",
                         "give a plan of this kind, or use the deployment of that kind")
    conflicts = plan_conflicts(existing, req.options)
    if conflicts:
        raise UsageError(f"the plan {path} exists and was made with other options: {'; '.join(conflicts)}",
                         "leave those options empty to apply the reviewed plan as it is, or give a new "
                         "plan_path to make a plan with them")
    return RunPlan(existing, path, made)


def approved(ctx: Any) -> bool:
    """The run's approval gate is recorded done."""
    return any(ctx.journal.completed(s.id) for s in ctx.plan.steps if s.kind == "approval-gate")


def set_aside(path: Path, run_dir: Path, ctx: Any) -> None:
    """The plan this run made failed before it was approved: move it (and its run folder) out of the way, so the
    corrected retry with the same plan_path makes a new plan instead of being refused as "made with other
    options". Recorded in the journal (which moves with the folder)."""
    from netmig.engine.session import run_dir_for
    from netmig.logs import get_logger

    suffix = f"failed-{ctx.run_id}"
    aside = path.with_name(f"{path.stem}.{suffix}{path.suffix}")
    with contextlib.suppress(OSError):
        ctx.journal.record("plan-set-aside", plan=str(path), moved_to=str(aside), run_id=ctx.run_id)
        path.replace(aside)
        if run_dir == run_dir_for(path) and run_dir.is_dir():
            run_dir.replace(run_dir.with_name(f"{path.stem}.{suffix}.run"))
        get_logger("netmig.flow").warning(
            "the plan this failed run made was moved aside; the next run with the same plan_path makes a new one",
            plan=str(path), moved_to=str(aside))
