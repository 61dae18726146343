"""watch-reimage: re-attach to the ARM operation (continuation token, else provisioningState), watch the nodes,
read the pools at a modest interval, report per-pool progress, and stop on a stall with the reason and choices.

Params (all optional; ``ctx.options`` overrides them): ``operation_step`` (id of the update-network-profile step;
default the last one before), ``stall_seconds`` (no progress, default 1800), ``notready_seconds`` (1500),
``pdb_block_seconds`` (900), ``poll_seconds`` (ARM pool reads, 10). Nodes are watched (list, then watch); pods and
PDBs are read only while a node has stayed cordoned longer than ``pdb_block_seconds``. A stall raises ``Stalled``
(exit 3) naming the node / PDB; the ARM operation is left running.
A failed operation is reported (exit 1); a rerun of apply then sends the same profile again, which resumes it
(AKS and the sandbox reimage only the nodes left).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed, Paused
from netmig.journal import EventKind
from netmig.logs import get_logger
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.monitor import STALL_OPTIONS, ReimageMonitor, Stalled
from netmig.stepkit.registry import StepParams, seconds, step
from netmig.stepkit.testhooks import checkpoint
from netmig.steps.lock import ensure_held
from netmig.steps.network import target_of, token_key

log = get_logger("netmig.steps.reimage")
LABEL_VALUE = {"npm": "azure", "cilium": "cilium", "calico": "calico", "none": "none"}
OVERLAY_LABELS = {"kubernetes.azure.com/azure-cni-overlay": "true", "kubernetes.azure.com/podnetwork-type": "overlay"}
WATCH_SLICE_S = 0.5  # the shortest time the watch reads node events between two ARM reads
DEFAULTS = {"stall_seconds": 1800.0, "notready_seconds": 1500.0, "pdb_block_seconds": 900.0, "poll_seconds": 10.0}


class WatchReimageParams(StepParams):
    """The timeouts are overridden by the run's options (``aks-netmig apply --stall-seconds`` etc.)."""

    operation_step: str | None = Field(default=None, description="the update step (default: the last before)")
    stall_seconds: float = seconds(DEFAULTS["stall_seconds"], "no progress for this long: pause")
    notready_seconds: float = seconds(DEFAULTS["notready_seconds"], "a node NotReady for this long: pause")
    pdb_block_seconds: float = seconds(DEFAULTS["pdb_block_seconds"], "a drain blocked by a PDB this long: pause")
    poll_seconds: float = seconds(DEFAULTS["poll_seconds"], "how often ARM is read")


def _update_step(ctx: StepContext, step: PlanStep) -> PlanStep:
    op_step = operation_step_of(ctx.plan, step)
    if not op_step:
        raise CheckFailed(f"step {step.id} has no update-network-profile step before it", "fix the plan")
    return ctx.plan.step(op_step)


def _param(ctx: StepContext, params: WatchReimageParams, name: str) -> float:
    override = getattr(ctx.options, name, None)
    return float(override if override is not None else getattr(params, name))


def target_labels(target: Any) -> dict[str, str]:
    """Node labels (besides the engine label) a node carries once reimaged to ``target`` (a NetworkProfile)."""
    return dict(OVERLAY_LABELS) if target.ipam == "azure-cni-overlay" else {}


@step("watch-reimage", params=WatchReimageParams,
      permissions=perm.arm(f"{perm.CS}/locations/operations/read") | perm.rules(
          perm.kube("list,watch", "nodes"),
          perm.kube("list", "pods,namespaces"),
          perm.kube("list", "poddisruptionbudgets", "policy"),
          perm.kube("get,list", "daemonsets", "apps")))
def watch_reimage(ctx: StepContext, step: PlanStep, params: WatchReimageParams) -> dict[str, Any]:
    from netmig.azure import errors as arm
    from netmig.kube.watching import NodeWatch

    up = _update_step(ctx, step)
    target = target_of(ctx, up)
    token = ctx.journal.value(token_key(up.id))
    if _failed_before(ctx, step.id, token_key(up.id)):
        info = ctx.cluster(fresh=True)
        if info.provisioning_state in ("Failed", "Canceled"):
            log.info("the previous operation ended " + info.provisioning_state + "; sending the same profile again "
                     "to resume the reimage")
            ensure_held(ctx)
            ctx.journal.record("arm-put", step=step.id, resume=True, target=target.to_dict())
            token = ctx.aks.begin_network_update(target).continuation_token
            ctx.journal.set(token_key(up.id), token)
    op = None
    if token:
        try:
            op = ctx.aks.resume(token)
        except arm.ArmError as e:
            log.warning("cannot re-attach with the continuation token; following provisioningState", error=str(e))
    originals = ctx.journal.value("nodes-before")  # recorded by update-network-profile before its PUT
    if originals is None:  # no PUT of this run before the watch: the nodes now are the pre-change inventory
        originals = [n["metadata"]["name"] for n in ctx.kube.nodes()]
    t0 = ctx.clock()
    mon = ReimageMonitor(LABEL_VALUE.get(target.engine, target.engine), t0,
                         stall_seconds=_param(ctx, params, "stall_seconds"),
                         notready_seconds=_param(ctx, params, "notready_seconds"),
                         pdb_block_seconds=_param(ctx, params, "pdb_block_seconds"),
                         originals={p.name: p.nodes for p in ctx.plan.pools}, original_names=set(originals),
                         target_labels=target_labels(target))
    # between two ARM reads the node watch is read for at least WATCH_SLICE_S: reading one event per ARM read (a
    # fast poll, e.g. a sandbox's) falls behind the nodes, and the operation ends before their phases were seen
    arm_every = max(_param(ctx, params, "poll_seconds"), WATCH_SLICE_S)
    watch = NodeWatch(ctx.kube)
    last_arm = -1e9
    seen = 0
    phases = PhaseJournal(ctx, step.id, mon)

    def read(kind: str, node: Any) -> bool:
        """One watch event to the monitor and the journal; True for a change (not a (re)list's SYNC)."""
        nonlocal seen
        mon.on_node("ADDED" if kind == "SYNC" else kind, node, ctx.clock())
        phases.flush()
        if kind == "SYNC":
            return False
        seen += 1
        checkpoint(f"{step.id}:event={seen}")
        return True

    while True:
        for kind, node in watch.events(timeout_s=min(arm_every, 2.0)):
            # a (re)list is read whole: leaving it midway would drop the nodes not yet read
            if read(kind, node) and ctx.clock() - last_arm >= arm_every:
                break
        if ctx.stop.is_set():
            raise Paused("stopped while watching the reimage", "rerun apply to resume watching")
        now = ctx.clock()
        if now - last_arm < arm_every:
            continue
        last_arm = now
        info = ctx.cluster(fresh=True)
        mon.on_pools({p.name: p.provisioning_state for p in info.pools})
        ctx.progress.pools(mon.progress())
        finished, failure = _arm_state(ctx, op, info.provisioning_state)
        if failure:
            ctx.journal.record("operation-failed", step=step.id, error=failure[:500])
            raise CheckFailed(f"the ARM operation failed: {failure}",
                              "fix the cause (the runbook's \"ARM operation failed\" section: e.g. a node left "
                              "NotReady), then rerun apply: it sends the same profile again, which resumes the "
                              "reimage of the nodes left")
        if finished:
            for kind, node in watch.events(timeout_s=WATCH_SLICE_S):  # what the watch has not read yet (it may lag
                read(kind, node)                                     # the operation): every phase is journaled
            break
        pods, pdbs = _pdb_inputs(ctx, mon, now)
        stall = mon.stall(now, pods, pdbs)
        if stall:
            ctx.journal.record("stall", step=step.id, kind=stall.kind, reason=stall.reason, pdb=stall.pdb,
                               node=stall.node)
            option = STALL_OPTIONS[stall.kind]
            raise Stalled(stall, _param(ctx, params, option))
    nodes = ctx.kube.nodes()
    _resync(mon, nodes, ctx.clock())  # the watch may lag the operation's end: the last progress shows the end state
    phases.flush()
    ctx.progress.pools(mon.progress())
    want = LABEL_VALUE.get(target.engine, target.engine)
    wanted = {"kubernetes.azure.com/network-policy": want, **target_labels(target)}
    wrong = [n["metadata"]["name"] for n in nodes
             if any((n["metadata"].get("labels") or {}).get(k) != v for k, v in wanted.items())]
    if wrong:
        raise CheckFailed(f"the operation succeeded but nodes are not on {target.describe()}: {', '.join(wrong)}",
                          "check the nodes, then rerun apply")
    summary = {"step": step.id, "change_step": up.id, "target": target.describe(), "nodes": len(nodes),
               "pools": {p.name: p.describe() for p in mon.progress()}, "watch_s": round(ctx.clock() - t0, 1),
               "node_events": seen}
    ctx.journal.set("reimage-summary", summary)
    return {"nodes": len(nodes), "watch_s": summary["watch_s"], "node_events": seen}


class PhaseJournal:
    """Journals each node phase change the monitor saw (``ReimageMonitor.timeline``) as a ``node-phase`` event
    (step, node, pool, phase; the journal's own timestamp is when the watch saw it), as soon as it is seen: the
    reimage timeline picture (``netmig.pictures.reimage_timeline``) draws every one of them, those of a watch resumed
    in a new process included."""

    def __init__(self, ctx: StepContext, step_id: str, mon: ReimageMonitor) -> None:
        self.ctx, self.step_id, self.mon, self.done = ctx, step_id, mon, 0

    def flush(self) -> None:
        for _, node, pool, phase in self.mon.timeline[self.done:]:
            self.ctx.journal.record(EventKind.NODE_PHASE, step=self.step_id, node=node, pool=pool, phase=phase)
        self.done = len(self.mon.timeline)


def _resync(mon: ReimageMonitor, nodes: list[Any], now: float) -> None:
    """Bring the monitor to the listed nodes: the ones no longer listed are deleted, the others re-read."""
    listed = {(n.get("metadata") or {}).get("name", "") for n in nodes}
    for name in [name for name in mon.nodes if name not in listed]:
        mon.on_node("DELETED", {"metadata": {"name": name}}, now)
    for node in nodes:
        mon.on_node("MODIFIED", node, now)


def _pdb_inputs(ctx: StepContext, mon: ReimageMonitor, now: float) -> tuple[list[Any] | None, list[Any] | None]:
    """Pods and PDBs for the PDB-blocked test, read only while a node has been cordoned longer than the PDB
    timeout, and then only the pods of namespaces that have a PDB (no pod list-polling of the whole cluster)."""
    if not mon.cordoned_too_long(now):
        return None, None
    pdbs = ctx.kube.pdbs()
    namespaces = sorted({(p.get("metadata") or {}).get("namespace") or "default" for p in pdbs})
    return [pod for ns in namespaces for pod in ctx.kube.pods(namespace=ns)], pdbs


def _failed_before(ctx: StepContext, step_id: str, key: str) -> bool:
    """True when the latest operation sent (a journaled token or PUT) was followed by an operation-failed event."""
    failed = False
    for e in ctx.journal.read():
        if (e.is_(EventKind.SET) and e.key == key) or e.is_(EventKind.ARM_PUT):
            failed = False
        elif e.is_(EventKind.OPERATION_FAILED) and e.step == step_id:
            failed = True
    return failed


def note_aborted(plan: Any, journal: Any, reason: str) -> list[str]:
    """After the ARM operation was aborted by hand: record that it ended for every unfinished watch-reimage step
    whose network-profile PUT went out, so the next apply re-sends the same profile at once (resuming the reimage)
    instead of failing on the canceled operation first. Returns those step ids."""
    out = []
    for ws, _ in sent_watches(plan, journal):
        journal.record(EventKind.OPERATION_FAILED, step=ws.id, error=reason[:500], aborted=True)
        out.append(ws.id)
    return out


def operation_step_of(plan: Any, watch: PlanStep) -> str:
    """The update-network-profile step a watch-reimage step follows: its ``operation_step`` param, else the last
    update step before it in the plan ("" when there is none)."""
    p = WatchReimageParams.model_validate(watch.params)
    if p.operation_step:
        return p.operation_step
    ups = [s.id for s in plan.steps[: plan.steps.index(watch)] if s.kind == "update-network-profile"]
    return ups[-1] if ups else ""


def sent_watches(plan: Any, journal: Any) -> list[tuple[PlanStep, str]]:
    """(watch-reimage step, its update step) for every watch not done whose change went out (a journaled PUT or
    continuation token), in plan order."""
    done = set(journal.completed_steps())
    sent = {e.step for e in journal.read() if e.is_(EventKind.ARM_PUT)}
    out = []
    for ws in plan.steps:
        if ws.kind != "watch-reimage" or ws.id in done:
            continue
        op_step = operation_step_of(plan, ws)
        if op_step in sent or journal.value(token_key(op_step)):
            out.append((ws, op_step))
    return out


def _arm_state(ctx: StepContext, op: Any, provisioning_state: str) -> tuple[bool, str | None]:
    """(finished, failure reason)."""
    from netmig.azure import errors as arm

    if op is not None:
        if not op.done():
            return False, None
        try:
            ctx.aks.wait(op)
        except arm.ArmError as e:
            return True, str(e)
        return True, None
    if provisioning_state == "Succeeded":
        return True, None
    if provisioning_state in ("Failed", "Canceled"):
        return True, f"the cluster's provisioningState is {provisioning_state}"
    return False, None
