"""``journey plan`` and ``journey apply``: from the cluster's network profile to a goal profile, stage by stage.

Contract:
- ``journey_plan(JourneyPlanRequest)`` reads the cluster's current profile, asks the planner
  (``netmig.journey.planner.plan_journey``) for the safest route to ``goal`` and writes the journey file
  (``netmig.model.journey_file``): stage 1's plan made by ``netmig.commands.plan`` exactly as ``aks-netmig plan``
  makes it (preflight included, written to its ``plan_file``); each later stage's plan provisional, made from the
  profile the previous stage leaves (see the document's contract). ``UsageError`` (nothing written) when no route
  exists, when a stage's migration kind has no template (or its template does not accept the stage's source), or
  when a stage needs ``--pod-cidr`` and none was given. The result carries ``explain`` (the planner's lines) and
  stage 1's blocking checks (the file is written either way; apply refuses a blocked stage).
- ``journey_apply(JourneyApplyRequest, approve=...)`` runs the stages in order, each a normal resumable migration
  (``prepare_apply`` + ``run_local``, its own run folder ``STAGE_PLAN.run/``, its own verification and report):
  - one approval for the whole journey (``approve(journey)`` gets the journey, returns True/False; ``yes`` skips
    it), recorded in ``FILE.run/state.json``; each stage's approval gate is then passed as "approved with the
    journey";
  - a stage not yet started gets its plan made again against the live cluster (``netmig.commands.plan``: full
    preflight) -- it must go from and to the stage's profiles with the stage's kind, else ``CheckFailed`` naming the
    profile the cluster is in and the command to plan a new journey;
  - a stage is marked done in ``state.json`` only after its run completed (test hook ``journey:stageN-ran``: the
    stage ran, the journey has not recorded it); a rerun (after SIGKILL anywhere,
    between stages or inside one) skips done stages and resumes the current one through its journal (an ARM
    operation in flight is re-attached, never re-sent: one PUT per change);
  - a stage's failure (or pause) stops the journey: the error keeps its exit code, its line names the stage, the
    cluster's state and the journey's resume command (``aks-netmig journey apply FILE``);
  - ARM refusing the stage the journey's ``if_refused`` route is for (its plan journals ``variant-refused`` with
    that code: the cluster is unchanged) switches the journey to that route -- recorded in ``state.json``
    (``route``, ``refused``, ``done_if_refused``), covered by the one approval, which stated it -- and the run goes
    on with its next stage (each plan made against the live cluster); any other failure stops the journey as
    above. ``journey plan`` writes ``if_refused`` for the first stage AKS may refuse (not when ``--allow-fallback``
    lets that stage's own plan take its fallback path);
  - at the end ``FILE.run/journey-report.md`` covers every stage of the route taken (the planned route, the
    refusal and the route taken when it switched; each stage's outcome and report).
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from netmig.commands.argv import argv
from netmig.commands.errors import cannot_read, check_access
from netmig.connection import Address, ArmTarget
from netmig.errors import CheckFailed, NetmigError, UsageError
from netmig.logs import get_logger
from netmig.model.cluster import ClusterInfo, NetworkProfile
from netmig.model.journey_file import JourneyFallback, JourneyFile, JourneyStage
from netmig.model.plan import Plan

log = get_logger("netmig.commands")


@dataclass(frozen=True)
class JourneyPlanRequest:
    goal: str  # a ProfileState name, e.g. overlay-cilium
    out: Path
    address: Address = field(default_factory=Address)
    accept: tuple[str, ...] = ()
    pod_cidr: str | None = None
    allow_fallback: bool = False
    check_access: bool = True
    budget: str | None = None  # every stage's probing budget: a duration (15m), "none" (every cell), None: default


@dataclass(frozen=True)
class JourneyPlanResult:
    journey: JourneyFile
    path: Path
    explain: list[str]
    blocking: list[Any]  # stage 1's blocking preflight results


@dataclass(frozen=True)
class JourneyApplyRequest:
    path: Path
    address: Address = field(default_factory=Address)
    yes: bool = False
    check_access: bool = True


@dataclass(frozen=True)
class StageOutcome:
    index: int
    kind: str
    plan_file: Path
    run_dir: Path
    skipped: bool  # already done before this run


@dataclass(frozen=True)
class JourneyApplyResult:
    journey: JourneyFile
    stages: list[StageOutcome]  # of the route taken
    report: Path
    route: str = ""  # the route taken: the journey's, or its if_refused route after ARM refused a stage


class JourneyStopped(NetmigError):
    """A stage failed or paused: the stage's own error (its exit code kept), prefixed with the stage and followed
    by the journey's resume command."""

    def __init__(self, problem: str, fix: str | None, exit_code: int) -> None:
        super().__init__(problem, fix)
        self.exit_code = exit_code


def run_dir_of(path: Path) -> Path:
    """The journey's own state folder: ``FILE.run/`` next to the journey file."""
    p = path.resolve()
    return p.with_name(p.stem + ".run")


def journey_argv(path: Path, address: Address | None, *, yes: bool = False) -> list[str]:
    return argv(["journey", "apply"], path, address=address, flags=[("--yes", yes)])


def predicted_network(before: NetworkProfile, target: Any, pod_cidr: str | None) -> NetworkProfile:
    """The network profile a stage leaves (``target``: a ``ProfileState``): the fields of the state, the pod CIDR
    given (when the stage moves to overlay) or kept (kubenet's), the service CIDR kept."""
    overlay = target.plugin_mode == "overlay"
    moved = overlay and before.plugin_mode != "overlay"
    cidr = (pod_cidr or before.pod_cidr) if moved else before.pod_cidr if target.needs_pod_cidr else None
    return replace(before, plugin=target.plugin, plugin_mode="overlay" if overlay else None,
                   dataplane=target.dataplane, policy=target.policy, pod_cidr=cidr)


def _cidr_for(template: Any, stage: Any, pod_cidr: str | None) -> str | None:
    return pod_cidr if pod_cidr and "pod_cidr" in template.plan_options and stage.pod_cidr != "n/a" else None


def journey_plan(req: JourneyPlanRequest) -> JourneyPlanResult:
    """See the module contract."""
    from netmig.azure.gateway import AksGateway
    from netmig.inputs import cidr
    from netmig.journey.planner import explain, plan_journey
    from netmig.model.profiles import ProfileState

    try:
        goal = ProfileState.parse(req.goal)
    except ValueError as e:
        raise UsageError(str(e), "pass --to with one of those names (e.g. --to overlay-cilium)") from None
    pod_cidr = cidr(req.pod_cidr) if req.pod_cidr else None
    target = req.address.target()
    if req.check_access:
        check_access(target)
    with cannot_read(target):
        cluster = AksGateway(target, polling_interval=target.arm_poll_seconds).cluster()
    start = ProfileState.from_network(cluster.network)
    jp = plan_journey(start, goal)
    lines = explain(jp)
    if jp.path is None:
        raise UsageError(f"no journey from {start.name} to {goal.name}: {jp.unreachable}",
                         "choose another --to (aks-netmig journey plan --help lists the profiles)")
    if not jp.path.stages:
        raise UsageError(f"the cluster is already {goal.name} ({goal.describe()})", "nothing to do")
    problem = _unrunnable(jp.path.stages, cluster.network, pod_cidr)
    if problem:
        raise UsageError(*problem)
    _check_state_owner(run_dir_of(req.out), None)
    stages = _build_stages(jp.path.stages, cluster, req, target, pod_cidr, prefix=req.out.stem, concrete_first=True)
    fallback = _fallback(jp, stages, cluster, req, target, pod_cidr, lines)
    w = jp.path.window
    lo = sum(s.plan.expected_minutes[0] for s in stages)
    hi = sum(s.plan.expected_minutes[1] for s in stages)
    now = dt.datetime.now(dt.UTC)
    journey = JourneyFile(
        journey_id=f"journey-{cluster.ref.name}-{now:%Y%m%d-%H%M%S}", created_at=now.isoformat(timespec="seconds"),
        cluster=cluster.ref.resource_id, address=_safe_address(req.address), start=start.name, goal=goal.name,
        route=jp.path.route(), reimages=jp.path.reimages, unenforced_reimages=w.reimages,
        unenforced_stages=list(w.stages), expected_minutes=(lo, hi),
        options={"pod_cidr": pod_cidr, "accept": list(req.accept), "allow_fallback": req.allow_fallback,
                 "budget": req.budget},
        command=argv(["journey", "plan"], address=req.address,
                     flags=[("--to", goal.name), ("--accept", req.accept), ("--pod-cidr", pod_cidr),
                            ("--allow-fallback", req.allow_fallback),
                            ("--budget", req.budget if req.budget != "none" else None),
                            ("--no-budget", req.budget == "none"), ("--out", req.out)]),
        explain=lines, stages=stages, if_refused=fallback)
    write_journey(journey, req.out)
    blocking = _blocking(stages[0].plan)
    log.info("journey written", journey=str(req.out), stages=len(stages))
    return JourneyPlanResult(journey, req.out, lines, blocking)



def _unrunnable(path: Any, network: NetworkProfile, pod_cidr: str | None) -> tuple[str, str] | None:
    """(problem, fix) when a stage of ``path`` (planner ``Transition``s from ``network``) can't be planned: its kind
    has no template, its template does not accept the stage's source, or it needs a pod CIDR and none was given."""
    from netmig.engine.planning import load_template
    from netmig.model.plan import matches

    before = network
    for i, t in enumerate(path, 1):
        if not t.kind_exists:
            return (f"stage {i} ({t.source.name} -> {t.target.name}) needs migration kind {t.kind}, which has no "
                    "template yet", "run the stages you can by hand (aks-netmig plan), or choose another --to")
        template = load_template(t.kind)
        if not matches(before, template.source):
            return (f"stage {i} ({t.source.name} -> {t.target.name}): the {t.kind} template does not accept "
                    f"{t.source.name}", "choose another --to, or extend plans/" + t.kind + ".yaml")
        if t.pod_cidr == "required" and not pod_cidr:
            return (f"stage {i} ({t.title}) needs a pod CIDR", "plan again with --pod-cidr A.B.C.D/N (e.g. "
                    "192.168.0.0/16, outside the VNet and the service CIDR)")
        before = predicted_network(before, t.target, _cidr_for(template, t, pod_cidr))
    return None


def _build_stages(path: Any, cluster: ClusterInfo, req: JourneyPlanRequest, target: ArmTarget,
                  pod_cidr: str | None, *, prefix: str, concrete_first: bool) -> list[JourneyStage]:
    """One ``JourneyStage`` per transition of ``path``: stage 1's plan made by ``aks-netmig plan``'s command when
    ``concrete_first``, every other plan provisional (see ``netmig.model.journey_file``); plan files
    ``PREFIX.stageN-KIND.plan.yaml`` next to ``req.out``."""
    from netmig.commands.plans import PlanRequest, plan
    from netmig.engine.planning import (
        PlanConnection,
        budget_text_sets,
        load_template,
        new_plan,
        parse_set,
        set_step_params,
    )

    stages: list[JourneyStage] = []
    before = cluster.network
    for i, t in enumerate(path, 1):
        template = load_template(t.kind)
        stage_cidr = _cidr_for(template, t, pod_cidr)
        plan_file = req.out.with_name(f"{prefix}.stage{i}-{t.kind}.plan.yaml")
        allow = req.allow_fallback and any(not v.default for v in template.variants)
        if i == 1 and concrete_first:
            made = plan(PlanRequest(t.kind, req.address, accept=req.accept, pod_cidr=stage_cidr,
                                    allow_fallback=allow, out=plan_file, check_access=False, target=target,
                                    sets=tuple(budget_text_sets(t.kind, req.budget)))).plan
        else:
            assumed = replace(cluster, network=before, etag=None)
            made = new_plan(template, assumed, arm_endpoint=target.endpoint, accepted=list(req.accept),
                            pod_cidr=stage_cidr, allow_variants=["fallback"] if allow else [])
            set_step_params(made, parse_set(budget_text_sets(t.kind, req.budget)))
            made.connection = PlanConnection(sandbox=target.sandbox,
                                             ca_bundle=None if target.sandbox else target.ca_bundle)
            if plan_file.exists():
                plan_file.unlink()  # an older journey's stage plan: stage start makes it again
        stages.append(JourneyStage(index=i, kind=t.kind, rule=t.rule, source=t.source.name, target=t.target.name,
                                   window=t.window, uncertain=t.uncertain, provisional=not (i == 1 and concrete_first),
                                   plan_file=plan_file.name, plan=made))
        before = predicted_network(before, t.target, stage_cidr)
    return stages


def _fallback(jp: Any, stages: list[JourneyStage], cluster: ClusterInfo, req: JourneyPlanRequest,
              target: ArmTarget, pod_cidr: str | None, lines: list[str]) -> JourneyFallback | None:
    """The ``if_refused`` route of the journey file for the first stage AKS may refuse (None: no such stage, or
    no runnable route; ``lines`` then says why)."""
    from netmig.engine.planning import load_template

    fb = jp.if_refused
    refusable = [(i, t) for i, t in enumerate(jp.path.stages, 1) if t.uncertain and t.refusal is not None]
    if fb is None or not refusable:
        return None
    k, t = refusable[0]
    if fb.path is None or not fb.path.stages:
        return None
    if req.allow_fallback and any(not v.default for v in load_template(t.kind).variants):
        return None  # stage k's own plan takes its fallback path when ARM refuses
    head = [(s.kind, s.source.name, s.target.name) for s in fb.path.stages[:k - 1]]
    if head != [(s.kind, s.source, s.target) for s in stages[:k - 1]]:
        lines.append(f"No switch to {fb.path.route()} if AKS refuses stage {k}: it does not start with the stages "
                     "done before it.")
        return None
    problem = _unrunnable(fb.path.stages, cluster.network, pod_cidr)
    if problem:
        lines.append(f"No switch to {fb.path.route()} if AKS refuses stage {k}: {problem[0]}.")
        return None
    fstages = _build_stages(fb.path.stages, cluster, req, target, pod_cidr, prefix=f"{req.out.stem}.if-refused",
                            concrete_first=False)
    return JourneyFallback(stage=k, rule=t.rule, code=t.refusal.code, route=fb.path.route(),
                           reimages=fb.path.reimages, unenforced_reimages=fb.path.window.reimages,
                           unenforced_stages=list(fb.path.window.stages),
                           expected_minutes=(sum(s.plan.expected_minutes[0] for s in fstages),
                                             sum(s.plan.expected_minutes[1] for s in fstages)),
                           stages=fstages)

def _blocking(plan: Plan) -> list[Any]:

    return plan.blocking()


def _safe_address(address: Address) -> dict[str, Any]:
    return {k: (str(v) if v is not None else None) for k, v in address.as_dict().items()}


# ------------------------------------------------------------------------------------------------------- files
def load_journey(path: str | Path) -> JourneyFile:
    """Read a journey file; ``UsageError`` (one line) when it is missing or not a journey file."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"journey file {p} does not exist", "make one with: aks-netmig journey plan ... --out FILE")
    try:
        doc = yaml.safe_load(p.read_text())
        return JourneyFile.model_validate(doc)
    except (yaml.YAMLError, ValueError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UsageError(f"{p} is not a journey file ({first})",
                         "make a new one with: aks-netmig journey plan ... --out FILE") from None


def write_journey(journey: JourneyFile, path: Path) -> None:
    """Write atomically (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(journey.to_yaml())
    tmp.replace(path)


# ------------------------------------------------------------------------------------------------------- apply
def _state(run_dir: Path) -> dict[str, Any]:
    p = run_dir / "state.json"
    if not p.is_file():
        return {"done": [], "approved": None}
    data: dict[str, Any] = json.loads(p.read_text())
    return data


def _check_state_owner(run_dir: Path, journey_id: str | None) -> None:
    """``UsageError`` when ``run_dir/state.json`` records another journey than ``journey_id`` (``None``: any
    journey's record there is another's -- ``journey plan`` writing a new journey over an old one's file). The
    record (approval, stages done) belongs to that journey: reusing it would carry its approval over or skip
    stages of the new journey."""
    p = run_dir / "state.json"
    if not p.is_file():
        return
    owner = json.loads(p.read_text()).get("journey_id")
    if journey_id is not None and owner == journey_id:
        return
    named = f"journey {owner}" if owner else "an earlier journey"
    raise UsageError(f"{run_dir} holds the record of {named} (its approval and finished stages)",
                     f"move {run_dir} aside (it is that journey's record) or use another --out / journey file")


def _save_state(run_dir: Path, state: dict[str, Any]) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    tmp = run_dir / "state.json.tmp"
    tmp.write_text(json.dumps(state, indent=2))
    tmp.replace(run_dir / "state.json")


def _profile_of(cluster: ClusterInfo) -> str:
    from netmig.model.profiles import ProfileState

    return ProfileState.from_network(cluster.network).name


def _stage_plan(journey: JourneyFile, stage: JourneyStage, folder: Path, address: Address,
                target: ArmTarget, resume: str) -> Path:
    """The stage's plan file: the one written (at journey-plan time for stage 1, else at an earlier start of this
    stage), else made now against the live cluster exactly as ``aks-netmig plan`` makes it."""
    from netmig.azure.gateway import AksGateway
    from netmig.commands.plans import PlanRequest, plan
    from netmig.engine.planning import budget_text_sets
    from netmig.model.profiles import ProfileState

    path = folder / stage.plan_file
    if path.is_file():
        return path
    with cannot_read(target):
        now = _profile_of(AksGateway(target, polling_interval=target.arm_poll_seconds).cluster())
    if now != stage.source:
        raise CheckFailed(f"journey stage {stage.index} ({stage.source} -> {stage.target}) cannot start: the "
                          f"cluster is {now} ({ProfileState.parse(now).describe()}), not {stage.source}",
                          "check who changed it (aks-netmig status), then plan a new journey: "
                          + shlex.join(journey.command))
    opts = journey.options
    made = plan(PlanRequest(stage.kind, address, accept=tuple(opts.get("accept") or ()),
                            pod_cidr=stage.plan.options.get("pod_cidr"),
                            allow_fallback=bool(stage.plan.options.get("allow_variants")), out=path,
                            check_access=False, target=target, only_if_runnable=True,
                            sets=tuple(budget_text_sets(stage.kind, opts.get("budget")))))
    p = made.plan
    same = (p.kind == stage.kind and ProfileState.from_network(p.source_profile()).name == stage.source
            and ProfileState.from_network(p.target_profile()).name == stage.target)
    if not same:
        if path.exists():
            path.unlink()
        raise CheckFailed(f"journey stage {stage.index}: the plan made now ({p.source_profile().describe()} -> "
                          f"{p.target_profile().describe()}) is not the stage the journey holds "
                          f"({stage.source} -> {stage.target})", "plan a new journey: " + shlex.join(journey.command))
    if made.blocking:
        names = ", ".join(r.check for r in made.blocking)
        raise CheckFailed(f"journey stage {stage.index} ({stage.kind}) cannot start: preflight check(s) fail: "
                          f"{names} (the cluster is {stage.source}; nothing was changed by this stage)",
                          f"fix them (or plan a new journey with --accept ID), then resume: {resume}")
    return path


def journey_apply(req: JourneyApplyRequest, *, approve: Callable[[JourneyFile], bool],
                  progress: Any = None) -> JourneyApplyResult:
    """See the module contract."""
    from netmig.commands.applying import ApplyRequest, prepare
    from netmig.stepkit.testhooks import checkpoint

    journey = load_journey(req.path)
    address = req.address if req.address.names_cluster() or req.address.sandbox else Address.of(journey.address)
    target = address.target()
    if req.check_access:
        check_access(target)
    folder = req.path.resolve().parent
    run_dir = run_dir_of(req.path)
    _check_state_owner(run_dir, journey.journey_id)
    state = _state(run_dir)
    state["journey_id"] = journey.journey_id
    resume = shlex.join(journey_argv(req.path, req.address if req.address != Address() else None, yes=req.yes))
    if not state.get("approved"):
        if req.yes:
            state["approved"] = {"approver": getpass.getuser(), "via": "--yes"}
        elif approve(journey):
            state["approved"] = {"approver": getpass.getuser(), "via": "prompt"}
        else:
            raise CheckFailed(f"journey {journey.journey_id} not approved; nothing was changed",
                              f"review it, then rerun: {resume}")
        _save_state(run_dir, state)

    def stage_approver(plan: Any) -> dict[str, Any]:
        return {"approved": True, "approver": state["approved"]["approver"],
                "via": f"journey {journey.journey_id} ({state['approved']['via']})"}

    outcomes: list[StageOutcome] = []
    switched = True
    while switched:  # once more after a switch to the if_refused route
        switched = False
        stages, key = _route(journey, state)
        outcomes = []
        for stage in stages:
            plan_file = folder / stage.plan_file
            if stage.index in state.get(key, []):
                outcomes.append(StageOutcome(stage.index, stage.kind, plan_file, _stage_run(plan_file), True))
                continue
            log.info("journey stage", stage=stage.index, kind=stage.kind, source=stage.source, target=stage.target)
            try:
                plan_file = _stage_plan(journey, stage, folder, address, target, resume)
                run = prepare(ApplyRequest(plan_file, address, yes=True, check_access=False))
                _run_stage(run, stage_approver, progress)
            except NetmigError as e:
                if key == "done" and _refused_here(journey, stage, folder / stage.plan_file):
                    _switch(journey, state, run_dir, progress)
                    switched = True
                    break
                raise _stopped(e, journey, stage, len(stages), target, resume) from e
            checkpoint(f"journey:stage{stage.index}-ran")  # test hook: the stage ran, the journey has not recorded it
            state[key] = sorted({*state.get(key, []), stage.index})
            _save_state(run_dir, state)
            outcomes.append(StageOutcome(stage.index, stage.kind, plan_file, run.run_dir, False))
    report = _write_report(journey, outcomes, run_dir, target, state)
    return JourneyApplyResult(journey, outcomes, report, journey.if_refused.route if key != "done"
                              and journey.if_refused is not None else journey.route)


def _route(journey: JourneyFile, state: dict[str, Any]) -> tuple[list[JourneyStage], str]:
    """The stages being run and the ``state.json`` key of the done ones: the main route (``done``), or the
    ``if_refused`` route once the journey switched to it (``done_if_refused``)."""
    if state.get("route") == "if_refused" and journey.if_refused is not None:
        return journey.if_refused.stages, "done_if_refused"
    return journey.stages, "done"


def _refused_here(journey: JourneyFile, stage: JourneyStage, plan_file: Path) -> bool:
    """True when ARM refused ``stage`` with the code the journey's ``if_refused`` route is for (the stage's journal
    holds ``variant-refused`` with that code: the cluster is unchanged)."""
    from netmig.journal import EventKind, events

    fb = journey.if_refused
    journal = _stage_run(plan_file) / "journal.jsonl"
    if fb is None or fb.stage != stage.index or not journal.is_file():
        return False
    return any(e.is_(EventKind.VARIANT_REFUSED) and e.get("code") == fb.code for e in events(journal))


def _switch(journey: JourneyFile, state: dict[str, Any], run_dir: Path, progress: Any) -> None:
    """Record the switch to the ``if_refused`` route (the stages before the refused one count as done on it)."""
    fb = journey.if_refused
    assert fb is not None
    state["route"] = "if_refused"
    state["refused"] = {"stage": fb.stage, "code": fb.code, "rule": fb.rule}
    state["done_if_refused"] = [i for i in state.get("done", []) if i < fb.stage]
    _save_state(run_dir, state)
    msg = (f"ARM refused journey stage {fb.stage} ({fb.code}); the cluster is unchanged. Taking the approved "
           f"if-refused route: {fb.route}")
    log.info("journey switched route", stage=fb.stage, code=fb.code, route=fb.route)
    if progress is not None and hasattr(progress, "message"):
        progress.message(msg)


def _stage_run(plan_file: Path) -> Path:
    from netmig.engine.session import run_dir_for

    return run_dir_for(plan_file)


def _run_stage(run: Any, approver: Callable[[Any], Any], progress: Any) -> None:
    from netmig.commands.applying import failures, run_local

    with failures(run):
        run_local(run, approver=approver, progress=progress)


def _stopped(e: NetmigError, journey: JourneyFile, stage: JourneyStage, count: int, target: ArmTarget,
             resume: str) -> JourneyStopped:
    from netmig.azure.gateway import AksGateway

    try:
        info = AksGateway(target, polling_interval=target.arm_poll_seconds).cluster()
        now = f"the cluster is {_profile_of(info)} ({info.network.describe()}, {info.provisioning_state})"
    except Exception: # naming the state is best effort; the stage's own error says more
        now = "the cluster's state could not be read"
    problem = (f"journey stage {stage.index}/{count} ({stage.kind}: {stage.source} -> {stage.target}) "
               f"stopped: {e.problem}")
    fix = f"{e.fix + '; then ' if e.fix else ''}resume the journey: {resume} ({now})"
    return JourneyStopped(" ".join(problem.split()), " ".join(fix.split()), getattr(e, "exit_code", 1))


def _write_report(journey: JourneyFile, outcomes: list[StageOutcome], run_dir: Path, target: ArmTarget,
                  state: dict[str, Any]) -> Path:
    from netmig.azure.gateway import AksGateway

    stages, key = _route(journey, state)
    info = AksGateway(target, polling_interval=target.arm_poll_seconds).cluster()
    lines = [f"# Journey {journey.journey_id}", "", f"- cluster: {journey.cluster}"]
    if key == "done" or journey.if_refused is None:
        lines += [f"- route: {journey.route}",
                  f"- reimages: {journey.reimages}; unenforced window: {journey.unenforced_reimages} reimage(s)"]
    else:
        fb = journey.if_refused
        lines += [f"- planned route: {journey.route}",
                  f"- ARM refused stage {fb.stage} ({fb.rule}: {fb.code}); the cluster was unchanged",
                  f"- route taken (approved as the if-refused route): {fb.route}",
                  f"- reimages: {fb.reimages}; unenforced window: {fb.unenforced_reimages} reimage(s)"]
    lines += [f"- final profile: {_profile_of(info)} ({info.network.describe()}, {info.provisioning_state})", ""]
    for o in outcomes:
        stage = stages[o.index - 1]
        lines += [f"## Stage {o.index}: {stage.kind} ({stage.source} -> {stage.target})", "",
                  f"- plan: {o.plan_file}", f"- run folder: {o.run_dir}", ""]
        report = o.run_dir / "report.md"
        if report.is_file():
            lines += [("#" + x if x.startswith("#") else x) for x in report.read_text().splitlines()] + [""]
        else:
            lines += ["(no stage report found)", ""]
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / "journey-report.md"
    out.write_text("\n".join(lines))
    return out
