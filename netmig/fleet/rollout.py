"""A wave plan's rollout state and its rules (pure): what each cluster's run is, when the rollout halts.

Contract:
- ``RolloutState`` is the file ``WAVEPLAN.state.json`` (``state_path``) the fleet flow keeps: one ``ClusterRun`` per
  cluster (wave, kind, ``state``: one of ``STATES``, the child ``flow_run_id``, ``message``, current ``step``),
  ``halted`` (why the rollout stopped, or None), ``waiting_approval`` (the wave index waiting, or None).
  ``to_json`` / ``from_json`` round-trip it.
- ``state_of(prefect_state_type)`` maps a Prefect state type name (COMPLETED, FAILED, CRASHED, ...) to ``STATES``.
- ``halt_reason(plan, state, wave)`` after a wave ends: any failure in the canary wave halts; so does the fleet's
  failed count reaching ``plan.failure_budget``; else None. Paused clusters halt too (someone must look).
- ``dashboard(plan, state)``: one row per cluster (wave, cluster, kind, state, step, message, flow run) for the fleet
  dashboard artifact and ``fleet status``.
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


@dataclass
class RolloutState:
    clusters: dict[str, ClusterRun] = field(default_factory=dict)
    halted: str | None = None
    waiting_approval: int | None = None

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
                "clusters": [asdict(r) for r in self.clusters.values()]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> RolloutState:
        runs = {str(r["id"]): ClusterRun(**r) for r in d.get("clusters") or []}
        return cls(runs, d.get("halted"), d.get("waiting_approval"))


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


def dashboard(plan: WavePlan, state: RolloutState) -> list[dict[str, str]]:
    rows = []
    for w in plan.waves:
        for c in w.clusters:
            r = state.clusters.get(c.id) or ClusterRun(c.id, c.name, w.index, c.kind)
            rows.append({"wave": w.name, "cluster": c.name, "kind": c.kind, "state": r.state, "step": r.step,
                         "message": r.message, "flow_run": r.flow_run_id or ""})
    return rows
