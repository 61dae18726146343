"""``fleet status``: a wave plan's rollout as the fleet flow last recorded it (``WAVEPLAN.state.json``).

Contract: ``fleet_status(path) -> FleetStatus``: the wave plan read (``UsageError`` when it is not one), its rollout
state (all ``pending`` before the first ``fleet apply``), the dashboard rows (``netmig.fleet.rollout.dashboard``),
``halted``, ``waiting_approval`` and ``approvals``; ``to_json()`` is the ``--json`` document. Reads files only.

``member_progress(plan_file, connection, read_cluster)``: what ``aks-netmig status`` (``status_dict``, the same code
path) says about one member's migration: the current step, its reimage progress per pool (read from ARM and the
cluster's Kubernetes API, only when ``read_cluster`` and the network-profile change was sent; None otherwise or when
the cluster cannot be read) and its verification counts (the journal's ``verify-result``, None before it ran).
Never raises for a member it cannot read: the dashboard is a report, the child run's own state decides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmig.commands.fleet_plan import load_wave_plan
from netmig.errors import NetmigError, UsageError
from netmig.fleet.rollout import RolloutState, dashboard, state_path

CHANGE_STEPS = ("update-network-profile",)  # the step kinds that send the network-profile PUT
VERIFY_COUNTS = ("probes", "changes", "explained", "unexplained", "mismatches", "engine")


@dataclass(frozen=True)
class FleetStatus:
    rows: list[dict[str, str]]
    halted: str | None
    waiting_approval: int | None
    started: bool
    approvals: list[dict[str, Any]]
    details: dict[str, dict[str, Any]]  # cluster name -> {"reimage": [...], "verification": {...}} (structured)

    def to_json(self) -> dict[str, Any]:
        return {"started": self.started, "halted": self.halted, "waiting_approval": self.waiting_approval,
                "approvals": self.approvals,
                "clusters": [{**r, **self.details.get(r["cluster"], {})} for r in self.rows]}


@dataclass(frozen=True)
class MemberProgress:
    step: str  # "watch-reimage (started)", "done", "" before the run began
    reimage: list[dict[str, Any]] | None
    verification: dict[str, Any] | None


def fleet_status(path: Path) -> FleetStatus:
    plan = load_wave_plan(path)
    sp = state_path(path)
    if sp.is_file():
        try:
            state = RolloutState.from_json(json.loads(sp.read_text()))
        except (ValueError, TypeError, KeyError):
            raise UsageError(f"{sp} is not a fleet rollout state", "rerun aks-netmig fleet apply to rewrite it") \
                from None
        state.merge(plan)
    else:
        state = RolloutState.fresh(plan)
    from dataclasses import asdict

    return FleetStatus(dashboard(plan, state), state.halted, state.waiting_approval, sp.is_file(),
                       [asdict(a) for a in state.approvals.values()],
                       {r.name: {"reimage_pools": r.reimage, "verification_counts": r.verification}
                        for r in state.clusters.values()})


def member_progress(plan_file: str | Path, connection: dict[str, Any], read_cluster: bool) -> MemberProgress:
    """See the module contract."""
    from netmig.commands.state import status_dict
    from netmig.journal import Journal

    try:
        doc = status_dict(Path(plan_file), None, connection, read_cluster=False)
    except NetmigError:
        return MemberProgress("", None, None)
    cur = doc["current_step"]
    step = "done" if doc["done"] else (f"{cur['id']} ({cur['state']})" if cur else "")
    if not any(s["state"] != "pending" for s in doc["steps"]):
        step = ""
    raw = Journal(Path(doc["run_dir"]) / "journal.jsonl").value("verify-result")
    verification = {k: raw[k] for k in VERIFY_COUNTS if k in raw} if isinstance(raw, dict) else None
    reimage = None
    changed = any(s["kind"] in CHANGE_STEPS and s["state"] not in ("pending", "skipped") for s in doc["steps"])
    if read_cluster and changed:
        try:
            live = status_dict(Path(plan_file), None, connection, read_cluster=True)
        except (NetmigError, OSError):
            live = {}
        if live.get("reimage") is not None:
            reimage = [{"pool": p["pool"], "done": p["done"], "total": p["total"]} for p in live["reimage"]]
    return MemberProgress(step, reimage, verification)
