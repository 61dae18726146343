"""``aks-netmig status PLAN|--cluster``: where a migration is and how to resume it.

For a PLAN (its journal in ``PLAN.run/``): every step's state, the current step, the last error, the last stall and
any abort. For the cluster (``--sandbox`` / ``--cluster`` / ``--subscription ...``, or the plan's own cluster when it
is a real one): provisioningState, network profile, per-pool reimage progress (nodes on the target engine,
surge, cordoned, NotReady), the lock holder. Then the exact command that resumes the migration.

``--json`` prints one object (keys in ``status_dict``). Exit code 0 whatever the migration's state (2: bad input,
1: the cluster cannot be read).
"""

from __future__ import annotations

import contextlib
import json
import shlex
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import (
    ADDRESS_KEYS,
    check_credentials,
    cluster_options,
    configure_logging,
    polling_for,
    target_from,
)
from netmig.errors import CheckFailed
from netmig.model.cluster import ClusterRef

LABEL_VALUE = {"npm": "azure", "cilium": "cilium", "calico": "calico", "none": "none"}


def address_args(address: dict[str, Any]) -> list[str]:
    """The command-line flags for an address dict (``sandbox``, ``cluster``, ``subscription`` ...)."""
    out: list[str] = []
    for key in ADDRESS_KEYS:
        value = address.get(key)
        if value:
            out += [f"--{key.replace('_', '-')}", str(value)]
    return out


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
    from netmig.engine import variants
    from netmig.engine.runner import status as step_status
    from netmig.journal import Journal

    events = Journal(run_dir / "journal.jsonl").events()
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
    errors = [{"time": e["time"], "step": e.get("step"), "error": e.get("error", "")} for i, e in enumerate(events)
              if e["event"] in ("step-failed", "operation-failed") and not _succeeded_since(events, i, order)]
    stalls = [{k: e.get(k) for k in ("time", "step", "kind", "reason", "pdb", "node")} for i, e in enumerate(events)
              if e["event"] == "stall" and not _succeeded_since(events, i, order)]
    aborts = [{k: e.get(k) for k in ("time", "step", "by", "provisioning_state")} for e in events
              if e["event"] == "abort"]
    from netmig.engine.report import reimage_summaries

    summaries = reimage_summaries(plan, events)
    return {"steps": steps, "variant": active, "current_step": current,
            "done": all(s["state"] in ("done", "skipped") for s in steps),
            "last_error": errors[-1] if errors else None, "last_stall": stalls[-1] if stalls else None,
            "aborts": aborts, "reimage_summary": summaries[-1] if summaries else None,
            "reimage_summaries": summaries, "replan_command": _replan(events, steps),
            "nodes_before": next((e.get("value") for e in reversed(events)
                                  if e["event"] == "set" and e.get("key") == "nodes-before"), None),
            "change_target": next((e.get("target") for e in reversed(events)
                                   if e["event"] == "arm-put" and e.get("target")), None)}


def _succeeded_since(events: list[dict[str, Any]], i: int, order: dict[str, int]) -> bool:
    """True when the step of ``events[i]`` (a failure or a stall), or a later step of the plan, was recorded done
    after it: that error is history, not the migration's state (status no longer shows it as the last error)."""
    where = order.get(str(events[i].get("step")), -1)
    return any(e["event"] == "step-done" and order.get(str(e.get("step")), -1) >= where
               and not (e.get("result") or {}).get("skipped") for e in events[i + 1:])


def _replan(events: list[dict[str, Any]], steps: list[dict[str, Any]]) -> str | None:
    """The re-plan command of the latest ``variant-refused`` whose step is still failed (None otherwise)."""
    refused = [e for e in events if e["event"] == "variant-refused"]
    if not refused:
        return None
    state = {s["id"]: s["state"] for s in steps}
    last = refused[-1]
    return str(last.get("replan")) if state.get(str(last.get("step"))) == "failed" and last.get("replan") else None


def resume_command(plan_path: Path | None, address: dict[str, Any], state: dict[str, Any] | None) -> str | None:
    """The command that resumes the migration (None when there is nothing to resume or no plan is known)."""
    if plan_path is None or state is None or state["done"]:
        return None
    cmd = ["aks-netmig", "apply", str(plan_path), *address_args(address)]
    if _before_approval(state):
        cmd.append("--yes")  # the approval is still to be given: review the plan first, this command gives it
    return shlex.join(cmd)


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
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway
    from netmig.engine.monitor import ReimageMonitor
    from netmig.kube import errors as kube_errors
    from netmig.kube import lease
    from netmig.kube.gateway import KubeGateway

    aks = AksGateway(target, polling_interval=polling_for(target))
    try:
        info = aks.cluster()
        kubeconfig = aks.user_kubeconfig()
    except arm.ArmError as e:
        raise CheckFailed(f"cannot read {target.describe()}: {e}", "check the address and the credentials") from e
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
    try:
        with KubeGateway(kubeconfig) as kube:
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
    except kube_errors.KubeError as e:
        raise CheckFailed(f"cannot read the cluster's Kubernetes API: {e}", "check the cluster and retry") from e
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
        target = target_from(dict(address), plan)
        check_credentials(target)
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
                return shlex.join(["aks-netmig", "apply", str(p), *address_args(address)])
        except UsageError:
            continue
    return shlex.join(["aks-netmig", "apply", f"<plan of {migration_id}>", *address_args(address)])


def render_status(d: dict[str, Any]) -> str:
    lines: list[str] = []
    if d["plan"]:
        lines.append(f"Migration {d['migration_id']} ({d['kind']}) — state in {d['run_dir']}")
        width = max([16, *(len(s["id"]) for s in d["steps"])])
        for s in d["steps"]:
            lines.append(f"  {s['id']:<{width}} {s['state']:<8} {s['detail']}")
        if d.get("variant"):
            lines.append(f"  path: {d['variant']}")
        cur = d["current_step"]
        lines.append("  current step: " + ("none (the migration is done)" if cur is None
                                           else f"{cur['id']} ({cur['state']})"))
        if d["last_error"]:
            e = d["last_error"]
            lines.append(f"  last error: {e['error']} (step {e['step']}, {e['time']})")
        if d["last_stall"]:
            lines.append(f"  last stall: {d['last_stall']['reason']}")
        for a in d["aborts"]:
            lines.append(f"  aborted: {a['time']} by {a['by']} (step {a['step']}, cluster was "
                         f"{a['provisioning_state']})")
    if d["cluster"]:
        c = d["cluster"]
        lines.append(f"Cluster {ClusterRef.parse(c['id'])}: {c['provisioning_state']}, {c['network']}, "
                     f"pools {', '.join(p['name'] + '=' + p['provisioning_state'] for p in c['pools'])}")
        lines.append(f"Reimage (nodes on {d['target_engine']}):")
        for p in d["reimage"]:
            eng = ",".join(f"{k}={v}" for k, v in sorted(p["engines"].items()))
            lines.append(f"  {p['pool']:<10} {p['done']}/{p['total']} done, surge {p['surge']}, cordoned "
                         f"{p['cordoned']}, NotReady {p['not_ready']} [{eng}]")
        stuck = d.get("stuck_nodes") or []
        if stuck:
            lines.append("Stuck nodes: " + ", ".join(f"{n['name']} (pool {n['pool']}, {n['state']})" for n in stuck))
        lock = d["lock"]
        lines.append(f"Lock: {lock['holder']['description'] if lock['held'] else 'free'}")
        if lock.get("takeover"):
            lines.append(f"  holder {lock['holder_state'].upper()}: {lock['takeover']}")
    if d["plan"] and d["done"]:
        lines.append(f"Done. Report: {Path(d['run_dir']) / 'report.md'}")
        return "\n".join(lines)
    if d.get("replan_command"):
        lines.append(f"Plan again with the other path allowed (review it first): {d['replan_command']}")
    if d["resume_command"]:
        lines.append(("Or retry this plan (ARM may refuse it again): " if d.get("replan_command") else
                      "Resume with: ") + d["resume_command"])
    return "\n".join(lines)


@click.command()
@click.argument("plan_path", metavar="[PLAN]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@cluster_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys: see status_dict).")
def status(plan_path: Path | None, run_dir: Path | None, as_json: bool, **kwargs: Any) -> None:
    """Show a migration's progress (PLAN) and the cluster's state, reimage progress and lock; how to resume."""
    from netmig.engine.planning import load_plan
    from netmig.errors import UsageError

    configure_logging()
    address = {k: kwargs.get(k) for k in ADDRESS_KEYS}
    given = any(address.get(k) for k in ("sandbox", "cluster", "subscription"))
    if plan_path is None and not given:
        raise UsageError("nothing to show", "pass a PLAN file or a cluster (--cluster / --sandbox)")
    read_cluster = True
    if plan_path is not None and not given:
        p = load_plan(plan_path)
        if p.arm_endpoint.startswith("https://127.0.0.1") and not p.connection.sandbox:
            read_cluster = False  # a sandbox plan that does not remember its folder: no credentials to read with
        elif p.connection.sandbox and not (Path(p.connection.sandbox) / "sandbox.json").is_file():
            read_cluster = False  # its sandbox is gone: the journal is all there is to show
    d = status_dict(plan_path, run_dir, address, read_cluster=read_cluster)
    click.echo(json.dumps(d, indent=2, default=str) if as_json else render_status(d))
