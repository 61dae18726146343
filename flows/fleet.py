"""Prefect flow ``netmig-fleet``: apply a wave plan, each cluster as a run of the member migration deployment.

Contract:
- Parameters: ``wave_plan`` (the file ``aks-netmig fleet plan`` wrote), ``member_deployment`` (default
  ``netmig-migrate/fleet-member``: the migration flow, no per-deployment limit), ``limit_name`` / ``max_parallel``
  (the Prefect global concurrency limit bounding how many clusters migrate at once, fleet-wide; created or resized
  at start), ``approve_waves`` (indexes of the waves approved to start), ``exclude`` (cluster names or ids left out
  of this run), ``poll_seconds`` (how often a child run's state is read).
- Each cluster: inside ``concurrency(limit_name)`` (a slot for as long as its migration runs) the child run is
  created by ``run_deployment(..., timeout=0, idempotency_key=KEY)`` with KEY = (wave plan, cluster, attempt): a
  parent killed after creating it gets the SAME run back on the rerun (re-attach, nothing applied twice). The
  child applies the cluster's own plan (``plan_file``), auto-approved unless the plan's approval is
  ``per-cluster``; its own Lease lock (the plan's acquire-lock step) keeps any other run off the cluster.
- Waves run in order; a wave waits for every cluster's run to end. After each wave ``halt_reason`` (canary failure,
  failure budget, a paused cluster) ends the flow Failed with that reason. A wave whose ``approval_required`` is set
  and whose index is not in ``approve_waves`` ends the flow Paused ("rerun with approve_waves [N]") before it
  starts any cluster.
- Resumable: the rollout state is ``WAVEPLAN.state.json`` (``netmig.fleet.rollout``); a rerun skips completed and
  excluded clusters, re-attaches to scheduled/running ones, and starts a new attempt for failed ones and for runs
  the server does not know (recorded on a temporary server that is gone: the plan's journal resumes the migration).
- The dashboard: a table artifact ``netmig-fleet-<id>`` (one row per cluster: wave, kind, state, the child run's
  state name, message, a link to its flow run in the UI), re-published at every change; ``fleet status`` reads
  the same state file.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prefect import flow

from netmig.fleet.rollout import FINAL, ClusterRun, RolloutState, dashboard, halt_reason, state_of, state_path
from netmig.fleet.waves import WaveCluster, WavePlan

MEMBER_DEPLOYMENT = "netmig-migrate/fleet-member"
LIMIT_NAME = "netmig-fleet"
ORPHANED = "its local fleet worker is gone"  # the Crashed message flows.fleet_local gives runs it orphaned
LEASE_SECONDS = 60.0  # a killed parent's slots come back this long after it died (the holder renews while alive)


class _Rollout:
    """The state file and the dashboard of one flow run (thread-safe: one lock around every change)."""

    def __init__(self, plan: WavePlan, path: Path) -> None:
        self.plan = plan
        self.path = state_path(path)
        self.lock = threading.Lock()
        self.key = "netmig-fleet-" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        if self.path.is_file():
            self.state = RolloutState.from_json(json.loads(self.path.read_text()))
            self.state.merge(plan)
        else:
            self.state = RolloutState.fresh(plan)

    def update(self, run: ClusterRun | None = None, **changes: Any) -> None:
        with self.lock:
            for k, v in changes.items():
                setattr(run if run is not None else self.state, k, v)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state.to_json(), indent=2))
            tmp.replace(self.path)
            rows = dashboard(self.plan, self.state)
        from prefect.artifacts import create_table_artifact
        from prefect.settings import PREFECT_UI_URL

        ui = (PREFECT_UI_URL.value() or "").rstrip("/")
        for row in rows:  # the dashboard links each cluster's flow run (the state file keeps the bare id)
            if row["flow_run"] and ui:
                row["flow_run"] = f"[{row['flow_run'][:8]}]({ui}/runs/flow-run/{row['flow_run']})"
        head = f"halted: {self.state.halted}" if self.state.halted else "running"
        create_table_artifact(table=rows, key=self.key, description=f"aks-netmig fleet dashboard ({head})")


def _ensure_limit(name: str, slots: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            current = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=slots))
            return
        if current.limit != slots:
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(limit=slots))


def _known(flow_run_id: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            fr = client.read_flow_run(flow_run_id)  # type: ignore[arg-type]
        except ObjectNotFound:
            return False
    return not (fr.state is not None and fr.state.message == ORPHANED)  # a local fleet's orphan: start again


def _attempt_key(plan_path: Path, cluster: WaveCluster, attempt: int) -> str:
    return f"netmig-fleet:{plan_path.resolve()}:{cluster.id}:{attempt}"


def _member(r: _Rollout, plan_path: Path, c: WaveCluster, deployment: str, limit: str, poll: float) -> None:
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency
    from prefect.deployments import run_deployment

    run = r.state.clusters[c.id]
    if run.state in FINAL:
        return
    with concurrency(limit, occupy=1, strict=True, lease_duration=LEASE_SECONDS):
        fr_id = run.flow_run_id
        if fr_id is not None and run.state not in ("failed", "cancelled") and not _known(fr_id):
            # recorded on a server that is gone, or orphaned by a local fleet: a new run; the plan's journal resumes it
            r.update(run, state="failed", message="its flow run is gone (restarted)")
        if fr_id is None or run.state in ("failed", "cancelled"):
            attempt = run.attempt + (1 if fr_id else 0)  # a failed attempt is retried as a new run
            params = {"migration": c.kind, "cluster": dict(c.connection), "plan_path": c.plan_file,
                      "options": {"auto_approve": r.plan.approval != "per-cluster"}}
            fr: Any = run_deployment(deployment, parameters=params, timeout=0, as_subflow=False,
                                idempotency_key=_attempt_key(plan_path, c, attempt),
                                tags=["aks-netmig", "fleet", f"fleet-cluster:{c.name}"],
                                flow_run_name=f"{c.name}-{c.kind}-{attempt}")
            fr_id = str(fr.id)
            r.update(run, flow_run_id=fr_id, attempt=attempt, state="scheduled", message="")
        with get_client(sync_client=True) as client:
            while True:
                cur = client.read_flow_run(fr_id)  # type: ignore[arg-type]
                st = cur.state
                new = state_of(st.type.value) if st is not None else "scheduled"
                msg = (st.message or "") if st is not None else ""
                step = st.name if st is not None else ""
                if (new, step, msg) != (run.state, run.step, run.message):
                    r.update(run, state=new, step=step, message=msg if new != "completed" else "")
                if new in FINAL or new == "paused":
                    return
                time.sleep(poll)  # waiting on another process's run: its state is only known by reading it


@flow(name="netmig-fleet", persist_result=False)
def fleet(wave_plan: str, member_deployment: str = MEMBER_DEPLOYMENT, limit_name: str = LIMIT_NAME,
          max_parallel: int = 2, approve_waves: list[int] | None = None, exclude: list[str] | None = None,
          poll_seconds: float = 2.0) -> dict[str, Any]:
    """Apply a wave plan (aks-netmig fleet plan): canary first, each cluster a run of the member migration
    deployment, bounded by a global concurrency limit, halting on the failure budget; rerun to resume.

    Args:
        wave_plan: The wave plan file (absolute path).
        member_deployment: The deployment each cluster's migration runs as.
        limit_name: The global concurrency limit bounding clusters migrating at once.
        max_parallel: Its slots.
        approve_waves: Indexes of the waves approved to start (the canary needs none unless per-cluster).
        exclude: Cluster names or ids left out of this run.
        poll_seconds: How often a child run's state is read.
    """
    from prefect.states import Failed, Paused

    from netmig.commands.fleet_plan import load_wave_plan

    path = Path(wave_plan)
    plan = load_wave_plan(path)
    r = _Rollout(plan, path)
    out = set(exclude or [])
    for run in r.state.clusters.values():
        if (run.name in out or run.id in out) and run.state != "completed":
            r.update(run, state="excluded", message="excluded from this run")
    r.update(halted=None, waiting_approval=None)
    _ensure_limit(limit_name, max_parallel)
    approved = set(approve_waves or [])
    for w in plan.waves:
        runs = [r.state.clusters[c.id] for c in w.clusters]
        if all(x.state in ("completed", "excluded") for x in runs):
            continue
        started = any(x.flow_run_id for x in runs)
        if w.approval_required and w.index not in approved and not started and plan.approval != "per-cluster":
            msg = f"wave {w.index} ({w.name}) waits for approval: rerun with approve_waves [{w.index}]"
            r.update(waiting_approval=w.index)
            return Paused(message=msg, pause_key=f"{r.key}-wave-{w.index}")  # type: ignore[return-value]
        with ThreadPoolExecutor(max_workers=len(w.clusters)) as pool:
            # each thread in a copy of this context: the flow run (artifacts link to it) and the Prefect settings
            for f in [pool.submit(contextvars.copy_context().run, _member, r, path, c, member_deployment,
                                  limit_name, poll_seconds) for c in w.clusters]:
                f.result()
        reason = halt_reason(plan, r.state, w.index)
        if reason:
            r.update(halted=f"halted at {w.name}: {reason}")
            return Failed(message=f"halted at {w.name}: {reason}")  # type: ignore[return-value]
    return {"clusters": {x.name: x.state for x in r.state.clusters.values()}, "state_file": str(r.path)}
