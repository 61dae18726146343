"""Prefect flow ``netmig-fleet``: apply a wave plan, each cluster as a run of the member migration deployment.

Contract:
- Parameters: ``wave_plan`` (the file ``aks-netmig fleet plan`` wrote), ``member_deployment`` (default
  ``netmig-migrate/fleet-member``: the migration flow, no per-deployment limit), ``limit_name`` / ``max_parallel``
  (the Prefect global concurrency limit bounding how many clusters migrate at once, fleet-wide; created or resized
  at start), ``approve_waves`` (indexes of the waves approved to start), ``approver`` / ``approval_comment`` (who
  gave those approvals and why: recorded in the fleet report), ``exclude`` (cluster names or ids left out of this
  run), ``poll_seconds`` (how often a child run's state and journal are read), ``cluster_read_seconds`` (how
  often, at most, a reimaging cluster itself is read for the dashboard: ARM and Kubernetes reads count against
  the subscription's limits), ``approval_timeout_hours``.
- Each cluster: inside ``concurrency(limit_name)`` (a slot for as long as its migration runs) the child run is
  created by ``run_deployment(..., timeout=0, idempotency_key=KEY)`` with KEY = (wave plan, cluster, attempt): a
  parent killed after creating it gets the SAME run back on the rerun (re-attach, nothing applied twice). The
  child applies the cluster's own plan (``plan_file``), auto-approved unless the plan's approval is
  ``per-cluster``; its own Lease lock (the plan's acquire-lock step) keeps any other run off the cluster.
- Waves run in order; a wave waits for every cluster's run to end. After each wave ``halt_reason`` (canary failure,
  failure budget, a paused cluster) ends the flow Failed with that reason. A wave whose ``approval_required`` is set,
  whose index is not in ``approve_waves`` and that no earlier answer approved waits before it starts any cluster:
  a deployment run suspends with the approval form (``flows.migrate.ApprovalInput``: approve, approver, comment;
  the wave and the rollout so far as its description; the process exits, the resumed run reads the answer); a
  rejection ends the flow Cancelled naming who rejected it. Run in-process (the CLI, no deployment) it ends Paused
  ("rerun with approve_waves [N]"). Every answer is kept in the state file and shown in the fleet report.
- Resumable: the rollout state is ``WAVEPLAN.state.json`` (``netmig.fleet.rollout``); a rerun skips completed and
  excluded clusters, re-attaches to scheduled/running ones, and starts a new attempt for failed ones and for runs
  the server does not know (recorded on a temporary server that is gone: the plan's journal resumes the migration).
- The dashboard: a table artifact ``netmig-fleet-<id>`` (one row per cluster: wave, kind, state, current step,
  reimage progress per pool, verification result, message, a link to its flow run in the UI), re-published at
  every change while the wave runs: each poll reads the child run's state and ``netmig.commands.fleet_status.
  member_progress`` (what ``aks-netmig status`` says: the journal, and the cluster itself while it reimages, at
  most every ``cluster_read_seconds`` and once more when its run ends);
  ``fleet status`` reads the same state file. At every cluster state change the fleet report
  ``WAVEPLAN_STEM.run/fleet-report.md`` and its picture ``fleet-progress.png`` (``netmig.pictures.fleet_progress``)
  are rewritten and published as the artifacts ``netmig-fleet-report-<id>`` and ``netmig-fleet-progress-<id>``.
- Ctrl-C / SIGTERM (a ``KeyboardInterrupt`` in the flow's thread): the cluster threads stop waiting within one poll,
  the exception goes on (the CLI exits 130); the child runs go on on their workers and a rerun re-attaches.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import getpass
import hashlib
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prefect import flow

from flows.params import NumberList, TextList
from netmig.fleet.rollout import (
    FINAL,
    ClusterRun,
    RolloutState,
    WaveApproval,
    dashboard,
    halt_reason,
    run_dir,
    state_of,
    state_path,
    wave_counts,
)
from netmig.fleet.waves import Wave, WaveCluster, WavePlan

MEMBER_DEPLOYMENT = "netmig-migrate/fleet-member"
LIMIT_NAME = "netmig-fleet"
ORPHANED = "its local fleet worker is gone"  # the Crashed message flows.fleet_local gives runs it orphaned
LEASE_SECONDS = 60.0  # a killed parent's slots come back this long after it died (the holder renews while alive)


class _Rollout:
    """The state file, the dashboard and the report of one flow run (thread-safe: one lock around every change)."""

    def __init__(self, plan: WavePlan, path: Path) -> None:
        self.plan = plan
        self.wave_plan = path
        self.path = state_path(path)
        self.run_dir = run_dir(path)
        self.lock = threading.Lock()
        self.stop = threading.Event()  # set on Ctrl-C / SIGTERM: the cluster threads stop waiting
        self.cluster_read_seconds = 15.0
        self.read_at: dict[str, float] = {}  # cluster id -> when the dashboard last read it (time.monotonic)
        self.key = "netmig-fleet-" + hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:12]
        if self.path.is_file():
            self.state = RolloutState.from_json(json.loads(self.path.read_text()))
            self.state.merge(plan)
        else:
            self.state = RolloutState.fresh(plan)

    def update(self, run: ClusterRun | None = None, **changes: Any) -> None:
        """Change ``run`` (or the rollout), save the state file, publish the dashboard; a cluster's state change
        (or a rollout change) also rewrites the report and its picture."""
        with self.lock:
            report = run is None or ("state" in changes and changes["state"] != run.state)
            for k, v in changes.items():
                setattr(run if run is not None else self.state, k, v)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.state.to_json(), indent=2))
            tmp.replace(self.path)
            rows = dashboard(self.plan, self.state)
            if report:
                self._report()
        from prefect.settings import PREFECT_UI_URL

        from tasks.migrate import publish

        ui = (PREFECT_UI_URL.value() or "").rstrip("/")
        for row in rows:  # the dashboard links each cluster's flow run (the state file keeps the bare id)
            if row["flow_run"] and ui:
                row["flow_run"] = f"[{row['flow_run'][:8]}]({ui}/runs/flow-run/{row['flow_run']})"
        head = f"halted: {self.state.halted}" if self.state.halted else "running"
        publish("table", self.key, rows, f"aks-netmig fleet dashboard ({head}): one row per cluster, with its "
                                         "current step, reimage progress and verification")

    def _report(self) -> None:
        """Write ``fleet-report.md`` and ``fleet-progress.png`` to the fleet run folder and publish both."""
        from netmig import pictures
        from netmig.engine.session import run_dir_for
        from netmig.fleet.report import PICTURE_TITLE, fleet_report
        from tasks.migrate import publish

        picture = pictures.fleet_progress(self.run_dir, wave_counts(self.plan, self.state),
                                          f"Fleet rollout {self.wave_plan.name}")
        reports = {}
        for c in self.plan.clusters():
            rep = run_dir_for(c.plan_file) / "report.md" if c.plan_file else None
            if rep is not None and rep.is_file():
                reports[c.name] = os.path.relpath(rep, self.run_dir)
        md = fleet_report(self.plan, self.state, picture.name if picture else None, reports)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "fleet-report.md").write_text(md)
        publish("markdown", self.key.replace("netmig-fleet-", "netmig-fleet-report-"), md,
                f"The fleet rollout report ({self.run_dir / 'fleet-report.md'}): outcome, approvals, every cluster")
        if picture is not None:
            publish("markdown", self.key.replace("netmig-fleet-", "netmig-fleet-progress-"),
                    pictures.embedded_markdown(picture, PICTURE_TITLE),
                    "Picture: clusters per wave, split by state (completed, running, failed, pending, ...)")


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


def _progress(r: _Rollout, run: ClusterRun, c: WaveCluster, new: str, fallback_step: str) -> dict[str, Any]:
    """The dashboard fields of ``run`` from ``aks-netmig status``'s code path (the cluster is read only while its
    reimage is not seen complete); a field it cannot tell keeps its last value."""
    from netmig.commands.fleet_status import member_progress

    if not c.plan_file:
        return {"step": fallback_step}
    complete = bool(run.reimage) and all(p["done"] >= p["total"] for p in run.reimage or [])
    now = time.monotonic()
    due = new in FINAL or now - r.read_at.get(c.id, -1e9) >= r.cluster_read_seconds
    read = new in ("running", "completed", "failed") and not complete and due
    if read:
        r.read_at[c.id] = now
    got = member_progress(c.plan_file, c.connection, read_cluster=read)
    return {"step": got.step or fallback_step, "reimage": got.reimage or run.reimage,
            "verification": got.verification or run.verification}


def _slot(r: _Rollout, limit: str, poll: float) -> Any:
    """A slot of the global concurrency limit, acquired in turns of ``poll`` seconds so a stop is seen; None when
    the rollout is stopping."""
    from prefect.concurrency.sync import concurrency

    while not r.stop.is_set():
        slot = concurrency(limit, occupy=1, strict=True, lease_duration=LEASE_SECONDS,
                           timeout_seconds=max(poll, 1.0))
        try:
            slot.__enter__()
        except TimeoutError:
            continue
        return slot
    return None


def _member(r: _Rollout, plan_path: Path, c: WaveCluster, deployment: str, limit: str, poll: float) -> None:
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    run = r.state.clusters[c.id]
    if run.state in FINAL:
        return
    slot = _slot(r, limit, poll)
    if slot is None:
        return
    with contextlib.ExitStack() as held:
        held.push(slot)
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
                fields = {"state": new, "message": msg if new != "completed" else "",
                          **_progress(r, run, c, new, (st.name or "") if st is not None else "")}
                if any(getattr(run, k) != v for k, v in fields.items()):
                    r.update(run, **fields)
                if new in FINAL or new == "paused":
                    return
                # waiting on another process's run: its state is only known by reading it
                if r.stop.wait(poll):
                    return


def _wave_markdown(r: _Rollout, w: Wave) -> str:
    """The approval form's description: the wave's clusters, and how the rollout went so far."""
    from netmig.fleet.report import outcome

    lines = [f"# Start {w.name} of the fleet rollout?", "",
             f"Wave plan `{r.wave_plan}`: {len(w.clusters)} clusters in this wave; failure budget "
             f"{r.plan.failure_budget} (failed so far: {len(r.state.failed())}).", "",
             "| cluster | migration | production | nodes | window |", "|---|---|---|---|---|"]
    lines += [f"| {c.name} | {c.kind} | {'yes' if c.production else 'no'} | {c.node_count} | "
              f"{c.maintenance_window or '-'} |" for c in w.clusters]
    lines += ["", "Rollout so far: " + outcome(r.plan, r.state).replace("**", ""), ""]
    lines += [f"- {row['wave']} {row['cluster']}: {row['state']}, verification {row['verification']}"
              for row in dashboard(r.plan, r.state) if row["state"] != "pending"]
    return "\n".join(lines) + "\n"


def _ask_wave(r: _Rollout, w: Wave, timeout_hours: float) -> WaveApproval:
    """The deployment run's approval of wave ``w``: suspend with the migration flow's approval form (the process
    exits; the resumed run gets the answer back from the same call, keyed by the wave)."""

    from prefect.flow_runs import suspend_flow_run

    from flows.migrate import ApprovalInput, without_suspending_line

    key = f"fleet-wave-{w.index}"
    resumed = r.state.waiting_approval == w.index
    if not resumed:
        r.update(waiting_approval=w.index)
    form = ApprovalInput.with_initial_data(description=_wave_markdown(r, w))
    with without_suspending_line(resumed):
        answer: Any = suspend_flow_run(wait_for_input=form, timeout=int(timeout_hours * 3600), key=key)
    return WaveApproval(w.index, bool(answer.approve), str(answer.approver), str(answer.comment or ""),
                        _now(), "prefect-ui")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _approver(given: str) -> str:
    if given:
        return given
    with contextlib.suppress(Exception):
        return getpass.getuser()
    return "unknown"


@flow(name="netmig-fleet", persist_result=False)
def fleet(wave_plan: str, member_deployment: str = MEMBER_DEPLOYMENT, limit_name: str = LIMIT_NAME,
          max_parallel: int = 2, approve_waves: NumberList = (), exclude: TextList = (),
          poll_seconds: float = 2.0, cluster_read_seconds: float = 15.0, approver: str = "",
          approval_comment: str = "", approval_timeout_hours: float = 24.0) -> dict[str, Any]:
    """Apply a wave plan (aks-netmig fleet plan): canary first, each cluster a run of the member migration
    deployment, bounded by a global concurrency limit, halting on the failure budget; rerun to resume.

    Args:
        wave_plan: The wave plan file (absolute path).
        member_deployment: The deployment each cluster's migration runs as.
        limit_name: The global concurrency limit bounding clusters migrating at once.
        max_parallel: Its slots.
        approve_waves: Indexes of the waves approved to start (the canary needs none unless per-cluster); a
            deployment run asks for the others in a form.
        exclude: Cluster names or ids left out of this run.
        poll_seconds: How often a child run's state and journal are read.
        cluster_read_seconds: How often, at most, a reimaging cluster is read for the dashboard's progress.
        approver: Who approves the waves in approve_waves (default: this machine's user).
        approval_comment: Why (change ticket, remarks): in the fleet report.
        approval_timeout_hours: How long a deployment run waits for a wave's approval form.
    """
    from prefect.runtime import deployment
    from prefect.states import Cancelled, Failed, Paused

    from netmig.commands.fleet_plan import load_wave_plan

    path = Path(wave_plan)
    plan = load_wave_plan(path)
    r = _Rollout(plan, path)
    r.cluster_read_seconds = cluster_read_seconds
    out = set(exclude)
    for run in r.state.clusters.values():
        if (run.name in out or run.id in out) and run.state != "completed":
            r.update(run, state="excluded", message="excluded from this run")
    r.update(halted=None, waiting_approval=r.state.waiting_approval if deployment.id else None)
    _ensure_limit(limit_name, max_parallel)
    approved = set(approve_waves)
    for w in plan.waves:
        runs = [r.state.clusters[c.id] for c in w.clusters]
        if all(x.state in ("completed", "excluded") for x in runs):
            continue
        started = any(x.flow_run_id for x in runs)
        prior = r.state.approvals.get(w.index)
        if (w.approval_required and not started and plan.approval != "per-cluster"
                and not (prior is not None and prior.approved)):
            if w.index in approved:
                answer = WaveApproval(w.index, True, _approver(approver), approval_comment, _now(), "cli")
            elif deployment.id:
                answer = _ask_wave(r, w, approval_timeout_hours)
            else:
                msg = f"wave {w.index} ({w.name}) waits for approval: rerun with approve_waves [{w.index}]"
                r.update(waiting_approval=w.index)
                return Paused(message=msg, pause_key=f"{r.key}-wave-{w.index}")  # type: ignore[return-value]
            r.update(approvals={**r.state.approvals, w.index: answer}, waiting_approval=None)
            if not answer.approved:
                why = f"wave {w.index} ({w.name}) rejected by {answer.approver}" + (
                    f": {answer.comment}" if answer.comment else "")
                r.update(halted=why)
                return Cancelled(message=why)  # type: ignore[return-value]
        with ThreadPoolExecutor(max_workers=len(w.clusters)) as pool:
            # each thread in a copy of this context: the flow run (artifacts link to it) and the Prefect settings
            futures = [pool.submit(contextvars.copy_context().run, _member, r, path, c, member_deployment,
                                   limit_name, poll_seconds) for c in w.clusters]
            try:
                for f in futures:
                    f.result()
            except BaseException:  # Ctrl-C / SIGTERM (or a bug): the threads stop within one poll, then it goes on
                r.stop.set()
                raise
        reason = halt_reason(plan, r.state, w.index)
        if reason:
            r.update(halted=f"halted at {w.name}: {reason}")
            return Failed(message=f"halted at {w.name}: {reason}")  # type: ignore[return-value]
    r.update()  # the final report
    return {"clusters": {x.name: x.state for x in r.state.clusters.values()}, "state_file": str(r.path),
            "report": str(r.run_dir / "fleet-report.md")}
