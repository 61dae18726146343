"""A wave plan's rollout state and its rules (pure): what each cluster's run is, when the rollout halts.

Contract:
- ``RolloutState`` is the file ``WAVEPLAN.state.json`` (``state_path``) the fleet flow keeps: one ``ClusterRun`` per
  cluster (wave, kind, ``state``: one of ``STATES``, the child ``flow_run_id``, ``message``, current ``step``),
  ``halted`` (why the rollout stopped, or None), ``waiting_approval`` (the wave index waiting, or None),
  ``approvals`` (one ``WaveApproval`` per wave answered: approved or not, by whom, when, the comment, how).
  Each ``ClusterRun`` also carries what its migration's journal and cluster last said (``netmig.commands.fleet_status.
  member_progress``): ``reimage`` ([{pool, done, total}] nodes on the target engine per pool, None before the
  network-profile change) and ``verification`` ({probes, changes, explained, unexplained, mismatches} of its
  connectivity verification, None before it ran). ``to_json`` / ``from_json`` round-trip it (older files too).
- ``run_dir(wave_plan)``: the fleet run folder ``STEM.run/`` (``fleet-report.md``, ``fleet-progress.png``).
- ``state_of(prefect_state_type)`` maps a Prefect state type name (COMPLETED, FAILED, CRASHED, ...) to ``STATES``.
- ``halt_reason(plan, state, wave)`` after a wave ends: any failure in the canary wave halts; so does the fleet's
  failed count reaching ``plan.failure_budget``; else None. Paused clusters halt too (someone must look).
- ``dashboard(plan, state)``: one row per cluster (wave, cluster, kind, state, step, ``reimage`` ("system 3/3, user
  1/2"; "not started"), ``verification`` ("PASSED (...)", "FAILED (...)", "not yet"), message, flow run) for the
  fleet dashboard artifact and ``fleet status``; ``reimage_text`` / ``verification_text`` render one run's.
- ``wave_counts(plan, state)``: {wave name: {state: clusters}} in wave order (the fleet progress chart).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netmig.fleet.waves import WavePlan

STATES = ("pending", "scheduled", "running", "completed", "failed", "cancelled", "paused", "excluded")
FINAL = ("completed", "failed", "cancelled", "excluded")
_PREFECT = {"SCHEDULED": "scheduled", "PENDING": "scheduled", "RUNNING": "running", "COMPLETED": "completed",
            "FAILED": "failed", "CRASHED": "failed", "CANCELLED": "cancelled", "CANCELLING": "running",
            "PAUSED": "paused"}


def state_path(wave_plan: Path) -> Path:
    return wave_plan.with_name(wave_plan.name + ".state.json")


def run_dir(wave_plan: Path) -> Path:
    """The fleet run folder ``STEM.run/`` next to the wave plan (the fleet report and its picture)."""
    return wave_plan.with_name(wave_plan.stem + ".run")


def state_of(prefect_type: str) -> str:
    return _PREFECT.get(prefect_type.upper(), "running")


@dataclass
class ClusterRun:
    id: str
    name: str
    wave: int
    kind: str
    state: str = "pending"
    flow_run_id: str | None = None
    message: str = ""
    step: str = ""
    attempt: int = 0  # the child run's attempt (a failed cluster retried on a rerun gets a new one)
    reimage: list[dict[str, Any]] | None = None  # [{pool, done, total}]: nodes on the target engine per pool
    verification: dict[str, Any] | None = None  # the journal's verify-result counts (None: not run yet)


@dataclass
class WaveApproval:
    wave: int
    approved: bool
    approver: str
    comment: str = ""
    time: str = ""  # ISO 8601, UTC
    via: str = ""  # prefect-ui (the flow run's input form) | cli (--approve-wave)


@dataclass
class RolloutState:
    clusters: dict[str, ClusterRun] = field(default_factory=dict)
    halted: str | None = None
    waiting_approval: int | None = None
    approvals: dict[int, WaveApproval] = field(default_factory=dict)

    @classmethod
    def fresh(cls, plan: WavePlan) -> RolloutState:
        return cls({c.id: ClusterRun(c.id, c.name, w.index, c.kind) for w in plan.waves for c in w.clusters})

    def merge(self, plan: WavePlan) -> None:
        """Add clusters of ``plan`` this state does not know yet (a wave plan edited between runs)."""
        for w in plan.waves:
            for c in w.clusters:
                self.clusters.setdefault(c.id, ClusterRun(c.id, c.name, w.index, c.kind))

    def failed(self) -> list[ClusterRun]:
        return [r for r in self.clusters.values() if r.state == "failed"]

    def to_json(self) -> dict[str, Any]:
        return {"halted": self.halted, "waiting_approval": self.waiting_approval,
                "approvals": [asdict(a) for a in self.approvals.values()],
                "clusters": [asdict(r) for r in self.clusters.values()]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RolloutState:
        runs = {str(r["id"]): ClusterRun(**r) for r in d.get("clusters") or []}
        approvals = {int(a["wave"]): WaveApproval(**a) for a in d.get("approvals") or []}
        return cls(runs, d.get("halted"), d.get("waiting_approval"), approvals)


def halt_reason(plan: WavePlan, state: RolloutState, wave: int) -> str | None:
    """See the module contract."""
    w = plan.waves[wave]
    runs = [state.clusters[c.id] for c in w.clusters if c.id in state.clusters]
    bad = [r for r in runs if r.state in ("failed", "cancelled")]
    if w.canary and bad:
        return f"canary {bad[0].name} {bad[0].state}: {bad[0].message or 'see its flow run'}"
    paused = [r for r in runs if r.state == "paused"]
    if paused:
        return f"{paused[0].name} paused: {paused[0].message or 'see its flow run'}"
    failed = state.failed()
    if len(failed) >= plan.failure_budget:
        names = ", ".join(f"{r.name} ({r.message or 'failed'})" for r in failed)
        return f"failure budget {plan.failure_budget} spent: {names}"
    return None


def reimage_text(run: ClusterRun) -> str:
    """Nodes on the target engine per pool (``system 3/3, user 1/2``); ``not started`` before the change."""
    if not run.reimage:
        return "not started"
    return ", ".join(f"{p['pool']} {p['done']}/{p['total']}" for p in run.reimage)


def verification_text(run: ClusterRun) -> str:
    """``PASSED (N probes, M changes, all explained)``, ``FAILED (...)`` with the counts, or ``not yet``."""
    v = run.verification
    if not v:
        return "not yet"
    if not v.get("unexplained") and not v.get("mismatches"):
        return f"PASSED ({v.get('probes', 0)} probes, {v.get('changes', 0)} changes, all explained)"
    return (f"FAILED ({v.get('probes', 0)} probes, {v.get('changes', 0)} changes, {v.get('unexplained', 0)} "
            f"unexplained, {v.get('mismatches', 0)} differ from the prediction)")


def dashboard(plan: WavePlan, state: RolloutState) -> list[dict[str, str]]:
    rows = []
    for w in plan.waves:
        for c in w.clusters:
            r = state.clusters.get(c.id) or ClusterRun(c.id, c.name, w.index, c.kind)
            rows.append({"wave": w.name, "cluster": c.name, "kind": c.kind, "state": r.state, "step": r.step,
                         "reimage": reimage_text(r), "verification": verification_text(r),
                         "message": r.message, "flow_run": r.flow_run_id or ""})
    return rows


def wave_counts(plan: WavePlan, state: RolloutState) -> dict[str, dict[str, int]]:
    """See the module contract."""
    out: dict[str, dict[str, int]] = {}
    for w in plan.waves:
        counts = out.setdefault(w.name, {})
        for c in w.clusters:
            s = state.clusters[c.id].state if c.id in state.clusters else "pending"
            counts[s] = counts.get(s, 0) + 1
    return out
