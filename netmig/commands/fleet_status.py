"""``fleet status``: a wave plan's rollout as the fleet flow last recorded it (``WAVEPLAN.state.json``).

Contract: ``fleet_status(path) -> FleetStatus``: the wave plan read (``UsageError`` when it is not one), its rollout
state (all ``pending`` before the first ``fleet apply``), the dashboard rows (``netmig.fleet.rollout.dashboard``),
``halted`` and ``waiting_approval``; ``to_json()`` is the ``--json`` document. Reads files only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmig.commands.fleet_plan import load_wave_plan
from netmig.errors import UsageError
from netmig.fleet.rollout import RolloutState, dashboard, state_path


@dataclass(frozen=True)
class FleetStatus:
    rows: list[dict[str, str]]
    halted: str | None
    waiting_approval: int | None
    started: bool

    def to_json(self) -> dict[str, Any]:
        return {"started": self.started, "halted": self.halted, "waiting_approval": self.waiting_approval,
                "clusters": self.rows}


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
    return FleetStatus(dashboard(plan, state), state.halted, state.waiting_approval, sp.is_file())
