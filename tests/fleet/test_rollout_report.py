"""The fleet dashboard's texts, the fleet report and the fleet progress picture (pure functions, real matplotlib)."""

from __future__ import annotations

from pathlib import Path

from netmig import pictures
from netmig.fleet.report import fleet_report
from netmig.fleet.rollout import (
    RolloutState,
    WaveApproval,
    dashboard,
    reimage_text,
    verification_text,
    wave_counts,
)
from netmig.fleet.waves import Wave, WaveCluster, WavePlan


def _plan() -> WavePlan:
    def c(name: str) -> WaveCluster:
        return WaveCluster(f"/subscriptions/s/resourceGroups/rg/providers/x/{name}", name, "s", "npm-to-cilium",
                           False, 3, plan_file=None)
    return WavePlan([Wave(0, True, False, [c("a")]), Wave(1, False, True, [c("b"), c("c")])],
                    [{"id": "d", "name": "d", "reason": "blocked: windows-pool"}], 1, "per-wave")


def test_dashboard_rows_say_reimage_progress_and_verification() -> None:
    plan = _plan()
    st = RolloutState.fresh(plan)
    a, b, c = (st.clusters[x.id] for x in plan.clusters())
    a.state, a.step = "completed", "done"
    a.reimage = [{"pool": "system", "done": 3, "total": 3}, {"pool": "user", "done": 2, "total": 2}]
    a.verification = {"probes": 24, "changes": 3, "explained": 3, "unexplained": 0, "mismatches": 0}
    b.state, b.step = "running", "watch-reimage (started)"
    b.reimage = [{"pool": "system", "done": 1, "total": 3}]
    c.state, c.verification = "failed", {"probes": 10, "changes": 2, "explained": 1, "unexplained": 1,
                                         "mismatches": 0}
    rows = {r["cluster"]: r for r in dashboard(plan, st)}
    assert rows["a"]["reimage"] == "system 3/3, user 2/2"
    assert rows["a"]["verification"] == "PASSED (24 probes, 3 changes, all explained)"
    assert rows["b"]["reimage"] == "system 1/3" and rows["b"]["verification"] == "not yet"
    assert rows["b"]["step"] == "watch-reimage (started)"
    assert rows["c"]["reimage"] == "not started" == reimage_text(c)
    assert verification_text(c).startswith("FAILED (10 probes, 2 changes, 1 unexplained")
    assert wave_counts(plan, st) == {"canary": {"completed": 1}, "wave-1": {"running": 1, "failed": 1}}


def test_state_round_trips_with_approvals_and_reads_older_files() -> None:
    plan = _plan()
    st = RolloutState.fresh(plan)
    st.approvals[1] = WaveApproval(1, False, "bob", "not this week", "2026-12-02T10:00:00+00:00", "prefect-ui")
    st.clusters[plan.clusters()[0].id].reimage = [{"pool": "system", "done": 1, "total": 2}]
    back = RolloutState.from_json(st.to_json())
    assert back == st
    old = st.to_json()
    del old["approvals"]
    for r in old["clusters"]:
        del r["reimage"], r["verification"]
    assert RolloutState.from_json(old).approvals == {}


def test_fleet_report_names_outcome_approvals_clusters_picture_and_skipped() -> None:
    plan = _plan()
    st = RolloutState.fresh(plan)
    assert "**Not started**" in fleet_report(plan, st, None, {})
    st.approvals[1] = WaveApproval(1, False, "bob", "not | this week", "2026-12-02T10:00:00+00:00", "prefect-ui")
    st.halted = "wave 1 (wave-1) rejected by bob: not | this week"
    first = plan.clusters()[0]
    st.clusters[first.id].state = "completed"
    md = fleet_report(plan, st, "fleet-progress.png", {"a": "../plans/a.run/report.md"})
    assert "**HALTED**: wave 1 (wave-1) rejected by bob" in md
    assert "| 1 | REJECTED | bob | 2026-12-02 10:00:00 | not / this week | prefect-ui |" in md
    assert "[report.md](../plans/a.run/report.md)" in md and md.count("[report.md](") == 1
    assert "![Fleet progress: clusters per wave and state](fleet-progress.png)" in md
    assert "- d: blocked: windows-pool" in md
    for run in st.clusters.values():
        run.state = "completed"
    st.halted = None
    assert "**Done**: 3 clusters migrated, 0 excluded" in fleet_report(plan, st, None, {})


def test_fleet_progress_picture_is_a_png_and_none_without_waves(tmp_path: Path) -> None:
    out = pictures.fleet_progress(tmp_path, {"canary": {"completed": 1}, "wave-1": {"running": 1, "failed": 1},
                                             "wave-2": {"pending": 3}}, "test")
    assert out == tmp_path / pictures.FLEET_PROGRESS
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert not list(tmp_path.glob("*.tmp.png"))
    assert pictures.fleet_progress(tmp_path / "none", {}) is None


def test_fleet_status_prints_the_dashboard_columns(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from netmig.commands.fleet_plan import write_wave_plan
    from netmig.fleet.rollout import state_path

    plan = _plan()
    waves = tmp_path / "waves.yaml"
    write_wave_plan(plan, waves)
    st = RolloutState.fresh(plan)
    a = st.clusters[plan.clusters()[0].id]
    a.state, a.step, a.flow_run_id = "running", "watch-reimage (started)", "0b7e0c1e-1111-2222-3333-444455556666"
    a.reimage = [{"pool": "system", "done": 1, "total": 3}]
    st.approvals[1] = WaveApproval(1, True, "alice", "CHG-1", "2026-12-02T10:00:00+00:00", "cli")
    state_path(waves).write_text(json.dumps(st.to_json()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "home")
    cli = [sys.executable, "-m", "netmig.cli.main", "fleet", "status", str(waves)]
    out = subprocess.run(cli, capture_output=True, text=True, check=True, env=env).stdout
    head, first = out.splitlines()[:2]
    assert head.split() == ["WAVE", "CLUSTER", "KIND", "STATE", "STEP", "REIMAGE", "VERIFICATION", "MESSAGE", "FLOW",
                            "RUN"]
    assert "watch-reimage (started)" in first and "system 1/3" in first and "not yet" in first
    assert first.endswith("0b7e0c1e-1111-2222-3333-444455556666")  # no server configured: the id
    env["PREFECT_API_URL"] = "http://127.0.0.1:4200/api"
    doc = json.loads(subprocess.run([*cli, "--json"], capture_output=True, text=True, check=True, env=env).stdout)
    row = doc["clusters"][0]
    assert row["reimage_pools"] == [{"pool": "system", "done": 1, "total": 3}] and row["verification_counts"] is None
    assert row["flow_run_url"] == "http://127.0.0.1:4200/runs/flow-run/0b7e0c1e-1111-2222-3333-444455556666"
    assert doc["approvals"][0]["approver"] == "alice" and doc["clusters"][1]["flow_run_url"] is None
