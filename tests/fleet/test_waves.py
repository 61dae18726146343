"""Wave planning and the retirement rules, pure (no sandbox)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from netmig.fleet.scan import ClusterRecord, assess
from netmig.fleet.waves import WavePlan, WaveRules, plan_waves


def _arm(name: str, plugin: str = "kubenet", policy: str | None = "calico", version: str = "1.31.2",
         tags: dict[str, str] | None = None, pools: list[dict[str, Any]] | None = None, power: str = "Running",
         identity: str = "UserAssigned") -> dict[str, Any]:
    return {"id": f"/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/{name}",
            "name": name, "location": "westeurope", "tags": tags or {}, "identity": {"type": identity},
            "properties": {"provisioningState": "Succeeded", "powerState": {"code": power},
                           "currentKubernetesVersion": version,
                           "networkProfile": {"networkPlugin": plugin, "networkPolicy": policy},
                           "agentPoolProfiles": pools or [{"name": "system", "count": 3, "mode": "System",
                                                           "osType": "Linux"}]}}


TODAY = dt.date(2026, 12, 2)


def _scan(d: dict[str, Any]) -> dict[str, Any]:
    return assess(ClusterRecord.from_arm(d), TODAY).to_json()


def test_retirements_deadlines_and_days_left() -> None:
    kub = _scan(_arm("a"))
    assert kub["migrations"] == [{"kind": "kubenet-to-overlay", "retirement": "kubenet", "deadline": "2028-03-31",
                                  "days_left": (dt.date(2028, 3, 31) - TODAY).days, "blockers": []}]
    assert kub["recommended"] == "kubenet-to-overlay"
    npm = _scan(_arm("b", plugin="azure", policy="azure"))
    assert npm["migrations"][0]["retirement"] == "npm-linux" and npm["migrations"][0]["deadline"] == "2028-09-30"
    assert npm["recommended"] == "npm-to-cilium"
    win = _scan(_arm("c", plugin="azure", policy="azure", pools=[
        {"name": "system", "count": 3, "mode": "System", "osType": "Linux"},
        {"name": "win", "count": 2, "mode": "User", "osType": "Windows"}]))
    m = win["migrations"][0]
    assert (m["retirement"], m["deadline"], m["days_left"] < 0) == ("npm-windows", "2026-09-30", True)
    assert [b["id"] for b in m["blockers"]] == ["no-windows-pools"] and win["recommended"] is None


def test_blockers_from_arm_data_alone() -> None:
    old = _scan(_arm("old", version="1.26.12"))
    assert [b["id"] for b in old["migrations"][0]["blockers"]] == ["overlay-kubernetes-version"]
    stopped = _scan(_arm("s", power="Stopped"))
    assert [b["id"] for b in stopped["migrations"][0]["blockers"]] == ["cluster-running"]
    sysid = _scan(_arm("i", identity="SystemAssigned"))
    assert [b["id"] for b in sysid["migrations"][0]["blockers"]] == ["overlay-identity"]
    done = _scan(_arm("d", plugin="azure", policy="cilium"))
    assert done["migrations"] == [] and done["recommended"] is None


def _fleet() -> list[dict[str, Any]]:
    out = []
    for i, (env, nodes) in enumerate([("prod", 9), ("dev", 6), ("prod", 3), ("dev", 3), ("dev", 12), ("prod", 6),
                                      ("dev", 4)]):
        pools = [{"name": "system", "count": nodes, "mode": "System", "osType": "Linux"}]
        out.append(_scan(_arm(f"c{i}", tags={"env": env}, pools=pools)))
    out.append(_scan(_arm("blocked", version="1.25.0")))
    return out


def test_canary_first_then_nonprod_before_prod_smaller_first() -> None:
    wp = plan_waves(_fleet(), WaveRules(wave_size=2))
    names = [[c.name for c in w.clusters] for w in wp.waves]
    assert names == [["c3"], ["c6", "c1"], ["c4"], ["c2", "c5"], ["c0"]]
    assert wp.waves[0].canary and not wp.waves[0].approval_required
    assert all(w.approval_required for w in wp.waves[1:])
    assert not any(c.production for c in wp.waves[2].clusters) and all(c.production for c in wp.waves[3].clusters)
    blocked = _fleet()[-1]["id"]
    assert wp.skipped == [{"id": blocked, "name": "blocked", "reason": "blocked: overlay-kubernetes-version"}]


def test_canary_by_tag_or_name_exclude_and_windows() -> None:
    fleet = _fleet()
    fleet[0]["tags"]["netmig-canary"] = "true"
    fleet[5]["tags"]["netmig-maintenance-window"] = "Sat 02:00-06:00"
    wp = plan_waves(fleet, WaveRules(wave_size=10, canary=("c4",), exclude=("c1",), windows={"c2": "Sun 01:00"}))
    assert sorted(c.name for c in wp.waves[0].clusters) == ["c0", "c4"]
    by = {c.name: c for c in wp.clusters()}
    assert "c1" not in by and {"id": fleet[1]["id"], "name": "c1", "reason": "excluded"} in wp.skipped
    assert by["c5"].maintenance_window == "Sat 02:00-06:00" and by["c2"].maintenance_window == "Sun 01:00"


def test_wave_plan_round_trips_and_rules_are_checked() -> None:
    wp = plan_waves(_fleet(), WaveRules(wave_size=3, failure_budget=2, approval="none"))
    again = WavePlan.from_json(wp.to_json())
    assert again.to_json() == wp.to_json() and again.failure_budget == 2
    assert not any(w.approval_required for w in again.waves)
    for bad in ({"wave_size": 0}, {"failure_budget": 0}, {"approval": "sometimes"}, {"prod_tag": "prod"}):
        with pytest.raises(ValueError):
            WaveRules(**bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        WavePlan.from_json({"waves": []})


def test_rollout_halts_on_canary_failure_budget_and_pauses() -> None:
    from netmig.fleet.rollout import RolloutState, dashboard, halt_reason, state_of

    wp = plan_waves(_fleet(), WaveRules(wave_size=2, failure_budget=2))
    st = RolloutState.fresh(wp)
    canary = wp.waves[0].clusters[0]
    st.clusters[canary.id].state, st.clusters[canary.id].message = "failed", "ReimageFailed"
    assert halt_reason(wp, st, 0) == "canary c3 failed: ReimageFailed"
    st.clusters[canary.id].state = "completed"
    first, second = wp.waves[1].clusters
    st.clusters[first.id].state = "failed"
    assert halt_reason(wp, st, 1) is None  # one failure, budget 2
    st.clusters[second.id].state = "paused"
    assert (halt_reason(wp, st, 1) or "").startswith(f"{second.name} paused")
    st.clusters[second.id].state = "failed"
    assert (halt_reason(wp, st, 1) or "").startswith("failure budget 2 spent: ")
    again = RolloutState.from_json(st.to_json())
    assert again.to_json() == st.to_json()
    assert [r["cluster"] for r in dashboard(wp, again)] == [c.name for c in wp.clusters()]
    assert (state_of("CRASHED"), state_of("COMPLETED"), state_of("PAUSED")) == ("failed", "completed", "paused")
