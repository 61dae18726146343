"""``status``: where a migration is (its journal) and where the cluster is (ARM, Kubernetes, the lock).

Contract: ``status(StatusRequest)`` returns the ``aks-netmig status --json`` document (keys in ``status_dict``);
``migration_state`` reads only the run folder's journal, ``cluster_state`` only the cluster. The cluster's
errors are ``CheckFailed`` (``netmig.commands.errors``); the migration's own state is never an error.
"""

from __future__ import annotations

import contextlib
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig.commands.argv import argv
from netmig.commands.errors import cannot_read, check_access, translated
from netmig.connection import Address
from netmig.journal import Event, EventKind

LABEL_VALUE = {"npm": "azure", "cilium": "cilium", "calico": "calico", "none": "none"}
StatusDocument = dict[str, Any]


@dataclass(frozen=True)
class MigrationAt:
    """A migration (its plan file, its run folder) and/or a cluster address: what status and abort look at."""

    plan_path: Path | None = None
    run_dir: Path | None = None  # default PLAN.run/ next to the plan
    address: Address = field(default_factory=Address)


@dataclass(frozen=True)
class StatusRequest(MigrationAt):
    read_cluster: bool | None = None  # None: unless only a plan is given whose cluster cannot be reached


def status(req: StatusRequest) -> StatusDocument:
    """The ``aks-netmig status --json`` document (see ``status_dict``). ``UsageError`` when neither a plan nor a
    cluster is given. Given only a plan, the cluster is not read when its sandbox is gone, or when it is a sandbox
    plan that does not remember its folder (no credentials to read with): the journal is all there is to show."""
    from netmig.engine.planning import load_plan
    from netmig.errors import UsageError

    given = req.address.names_cluster()
    if req.plan_path is None and not given:
        raise UsageError("nothing to show", "pass a PLAN file or a cluster (--cluster / --sandbox)")
    read_cluster = req.read_cluster
    if read_cluster is None:
        read_cluster = True
        if req.plan_path is not None and not given:
            plan = load_plan(req.plan_path)
            conn = plan.connection
            forgotten = plan.arm_endpoint.startswith("https://127.0.0.1") and not conn.sandbox
            gone = bool(conn.sandbox) and not (Path(str(conn.sandbox)) / "sandbox.json").is_file()
            read_cluster = not (forgotten or gone)
    return status_dict(req.plan_path, req.run_dir, req.address.as_dict(), read_cluster=read_cluster)


def migration_state(plan: Any, run_dir: Path) -> dict[str, Any]:
    """What the journal says: ``steps`` ([{id, kind, state, detail}]; state done / skipped / started / failed /
    paused / pending), ``variant`` (the path this run takes, null for a plan without variants), ``current_step``
    ({id, state, detail} of the step running / failed / paused, else the first pending one; None when all are done
    or skipped), ``done``, ``last_error`` ({time, step, error} of the latest failed step or ARM operation),
    ``last_stall`` ({time, step, kind, reason, pdb}), ``aborts`` ([{time, step, by, provisioning_state}]),
    ``reimage_summary`` (the latest reimage watched to the end, with its ``step``), ``reimage_summaries`` (every one,
    in order: a plan may change the network profile several times), ``replan_command`` (ARM refused a change whose
    alternative path this plan does not allow and the step has not succeeded since: the command that plans again
    with it allowed; else null).

    A step of a path this run does not take (plan variants) is ``skipped`` with the reason: as the journal records
    it once the run reaches it, and already before that once the path is settled (``variants.path_of``). Until
    then such a step is ``pending`` and its detail says when it would run."""
    from netmig import journal
    from netmig.engine.runner import status as step_status
    from netmig.stepkit import variants

    events = journal.events(run_dir / "journal.jsonl")
    by_id = {s.id: s for s in plan.steps}
    steps = [{"id": sid, "kind": by_id[sid].kind, "state": state, "detail": detail}
             for sid, state, detail in step_status(events, [s.id for s in plan.steps])]
    active, settled = variants.path_of(plan, events)
    switchers = ", ".join(s.id for s in variants.switch_steps(plan))
    for s in steps:
        step = by_id[s["id"]]
        if s["state"] != "pending" or step.variant is None or step.variant == active:
            continue
        if settled:
            s["state"], s["detail"] = "skipped", variants.skip_reason(step, active)
        else:
            v = plan.variant(step.variant)
            s["detail"] = f"on the {step.variant} path: runs only if ARM refuses {switchers}" + (
                "" if v is None or v.allowed else f" and the plan allows it ({v.allow_flag or 'not allowed'})")
    current = next((s for s in steps if s["state"] in ("started", "failed", "paused",
                                                                    "interrupted")), None) \
        or next((s for s in steps if s["state"] == "pending"), None)
    order = {s.id: i for i, s in enumerate(plan.steps)}
    failed = (EventKind.STEP_FAILED, EventKind.OPERATION_FAILED)
    errors = [{"time": e.time, "step": e.step, "error": e.error} for i, e in enumerate(events)
              if e.kind in failed and not _succeeded_since(events, i, order)]
    stalls = [{k: e.get(k) for k in ("time", "step", "kind", "reason", "pdb", "node")} for i, e in enumerate(events)
              if e.kind == EventKind.STALL and not _succeeded_since(events, i, order)]
    aborts = [{k: e.get(k) for k in ("time", "step", "by", "provisioning_state")} for e in events
              if e.kind == EventKind.ABORT]
    from netmig.steps.report import reimage_summaries

    summaries = reimage_summaries(plan, events)
    return {"steps": steps, "variant": active, "current_step": current,
            "done": all(s["state"] in ("done", "skipped") for s in steps),
            "last_error": errors[-1] if errors else None, "last_stall": stalls[-1] if stalls else None,
            "aborts": aborts, "reimage_summary": summaries[-1] if summaries else None,
            "reimage_summaries": summaries, "replan_command": _replan(events, steps),
            "nodes_before": next((e.get("value") for e in reversed(events)
                                  if e.kind == EventKind.SET and e.key == "nodes-before"), None),
            "change_target": next((e.get("target") for e in reversed(events)
                                   if e.kind == EventKind.ARM_PUT and e.get("target")), None)}


def _succeeded_since(events: list[Event], i: int, order: dict[str, int]) -> bool:
    """True when the step of ``events[i]`` (a failure or a stall), or a later step of the plan, was recorded done
    after it: that error is history, not the migration's state (status no longer shows it as the last error)."""
    where = order.get(str(events[i].step), -1)
    return any(e.kind == EventKind.STEP_DONE and order.get(str(e.step), -1) >= where
               and not e.result.get("skipped") for e in events[i + 1:])


def _replan(events: list[Event], steps: list[dict[str, Any]]) -> str | None:
    """The re-plan command of the latest ``variant-refused`` whose step is still failed (None otherwise)."""
    refused = [e for e in events if e.kind == EventKind.VARIANT_REFUSED]
    if not refused:
        return None
    state = {s["id"]: s["state"] for s in steps}
    last = refused[-1]
    return str(last.get("replan")) if state.get(str(last.step)) == "failed" and last.get("replan") else None


def resume_command(plan_path: Path | None, address: dict[str, Any], state: dict[str, Any] | None) -> str | None:
    """The command that resumes the migration (None when there is nothing to resume or no plan is known)."""
    if plan_path is None or state is None or state["done"]:
        return None
    # --yes when the approval is still to be given: review the plan first, this command gives it
    return shlex.join(argv("apply", plan_path, address=address, flags=[("--yes", _before_approval(state))]))


def _before_approval(state: dict[str, Any]) -> bool:
    gates = [s for s in state["steps"] if s["kind"] == "approval-gate"]
    return bool(gates) and gates[0]["state"] != "done"


def cluster_state(target: Any, plan: Any | None, nodes_before: list[str] | None,
                  change_target: dict[str, Any] | None = None) -> dict[str, Any]:
    """ARM and Kubernetes: ``cluster`` ({id, provisioning_state, network, network_profile, pools: [{name,
    provisioning_state, count}]}), ``reimage`` ([{pool, total, done, surge, cordoned, not_ready, engines}] against
    ``target_engine``), ``target_engine`` (the engine of the latest network-profile change sent, ``change_target``:
    a plan with several changes reimages towards each in turn; else the plan's target, else the cluster's own),
    ``stuck_nodes`` ([{name, pool, state}]: nodes NotReady or cordoned now), ``lock`` ({held, holder: {identity,
    migration_id, run_id, host, pid, renew_time, duration_s, description}, holder_state: live | dead | expired |
    unknown, takeover: what the next apply does about it})."""
    from netmig.azure.gateway import AksGateway
    from netmig.kube import lease
    from netmig.kube.gateway import KubeGateway
    from netmig.stepkit.monitor import ReimageMonitor

    aks = AksGateway(target)
    with cannot_read(target):
        info = aks.cluster()
        kubeconfig = aks.user_kubeconfig()
    from netmig.model.cluster import NetworkProfile

    engine = plan.target_profile().engine if plan is not None else info.network.engine
    if change_target:
        with contextlib.suppress(TypeError):  # a journal of another version: keep the plan's target
            engine = NetworkProfile(**change_target).engine
    out: dict[str, Any] = {
        "cluster": {"id": info.ref.resource_id, "provisioning_state": info.provisioning_state,
                    "network": info.network.describe(), "network_profile": info.network.to_dict(),
                    "pools": [{"name": p.name, "provisioning_state": p.provisioning_state, "count": p.count}
                              for p in info.pools]},
        "target_engine": engine}
    with translated("cannot read the cluster's Kubernetes API", "check the cluster and retry"), \
            KubeGateway(kubeconfig) as kube:
        mon = ReimageMonitor(LABEL_VALUE.get(engine, engine), 0.0,
                             originals={p.name: p.nodes for p in plan.pools} if plan is not None else None,
                             original_names=set(nodes_before or ()))
        for n in kube.nodes():
            mon.on_node("ADDED", n, 0.0)
        mon.on_pools({p.name: p.provisioning_state for p in info.pools})
        out["reimage"] = [{"pool": p.name, "total": p.total, "done": p.done, "surge": p.surge,
                           "cordoned": p.cordoned, "not_ready": p.not_ready, "engines": p.engines,
                           "state": p.state} for p in mon.progress()]
        out["stuck_nodes"] = [{"name": n.name, "pool": n.pool,
                               "state": ", ".join(x for x, on in (("NotReady", not n.ready),
                                                                  ("cordoned", n.cordoned)) if on)}
                              for n in sorted(mon.nodes.values(), key=lambda n: n.name)
                              if not n.ready or n.cordoned]
        _, holder = lease.read(kube)
    holder_state, takeover = lock_verdict(holder)
    out["lock"] = {"held": holder is not None, "holder_state": holder_state, "takeover": takeover,
                   "holder": None if holder is None else {
                       "identity": holder.identity, "migration_id": holder.migration_id, "run_id": holder.run_id,
                       "host": holder.host, "pid": holder.pid, "duration_s": holder.duration_s,
                       "renew_time": holder.renew_time.isoformat() if holder.renew_time else None,
                       "description": holder.describe()}}
    return out


def lock_verdict(holder: Any, now: Any = None) -> tuple[str | None, str | None]:
    """(holder state, what the next apply does): ``dead`` (its process on this host is gone: a killed run) and
    ``expired`` (not renewed in time) are taken over by the next apply of any plan; ``live`` refuses another
    migration's apply until it ends; ``unknown``: another host's process, not yet expired. (None, None): free."""
    import datetime as dt
    import socket

    if holder is None:
        return None, None
    now = now or dt.datetime.now(dt.UTC)
    if holder.dead_local_process():
        return "dead", (f"its process (pid {holder.pid} on {holder.host}) no longer exists: the next apply takes the "
                        "lock over (the same migration resumes; another one may start)")
    if holder.expired(now):
        return "expired", ("the lease expired without renewal: the next apply takes the lock over (the same "
                           "migration resumes; another one may start)")
    if holder.host == socket.gethostname():
        return "live", f"held by a running process (pid {holder.pid}): another apply is refused until it ends"
    return "unknown", (f"held by pid {holder.pid} on another host ({holder.host}); another apply is refused until "
                       "the lease expires unless renewed")


def status_dict(plan_path: Path | None, run_dir: Path | None, address: dict[str, Any],
                read_cluster: bool = True) -> dict[str, Any]:
    """The ``--json`` document: ``plan`` (path or null), ``migration_id``, ``kind``, ``run_dir``, the keys of
    ``migration_state`` (``steps``, ``variant``, ``current_step``, ``done``, ``last_error``, ``last_stall``,
    ``aborts``, ``reimage_summary``, ``reimage_summaries``, ``replan_command``), of ``cluster_state``
    (``cluster``, ``reimage``, ``target_engine``, ``lock``; null when the cluster was not read) and
    ``resume_command`` (null when there is nothing to resume)."""
    from netmig.engine.planning import load_plan
    from netmig.engine.session import run_dir_for

    plan = load_plan(plan_path) if plan_path else None
    out: dict[str, Any] = {"plan": str(plan_path) if plan_path else None, "migration_id": None, "kind": None,
                           "run_dir": None, "steps": [], "variant": None, "current_step": None, "done": None,
                           "last_error": None, "last_stall": None, "aborts": [], "reimage_summary": None,
                           "reimage_summaries": [], "replan_command": None, "cluster": None,
                           "reimage": None, "stuck_nodes": None, "target_engine": None, "lock": None,
                           "resume_command": None}
    state = None
    if plan is not None:
        rd = run_dir or run_dir_for(plan_path or "")
        state = migration_state(plan, rd)
        out.update(migration_id=plan.migration_id, kind=plan.kind, run_dir=str(rd),
                   **{k: v for k, v in state.items() if k not in ("nodes_before", "change_target")})
    if read_cluster:
        target = Address.of(address).target(plan)
        check_access(target)
        out.update(cluster_state(target, plan, state["nodes_before"] if state else None,
                                 state["change_target"] if state else None))
    out["resume_command"] = resume_command(plan_path, address, state)
    if plan is None and out["lock"] and out["lock"]["held"]:
        out["resume_command"] = _resume_from_lock(out["lock"]["holder"]["migration_id"], address)
    return out


def _resume_from_lock(migration_id: str, address: dict[str, Any]) -> str:
    """No plan given but a migration holds the lock: find its plan under ./plans, else name the placeholder."""
    from netmig.engine.planning import load_plan
    from netmig.errors import UsageError

    for p in sorted(Path("plans").glob("*.yaml")):
        try:
            if load_plan(p).migration_id == migration_id:
                return shlex.join(argv("apply", p, address=address))
        except UsageError:
            continue
    return shlex.join(argv("apply", f"<plan of {migration_id}>", address=address))
