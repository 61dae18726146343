"""The Prefect flow: `aks-netmig apply` (Prefect, temporary local server) killed with SIGKILL mid-reimage, then
rerun: the killed RUNNING flow run is marked Crashed, completed steps come back Cached, one network-profile PUT.
And `aks-netmig demo` runs the whole migration and prints a passing verification report."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.e2e.migrate_helpers import cli, cli_group, make_plan, profile_puts, start_detached, stop


def test_prefect_apply_killed_mid_reimage_resumes_with_one_put(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    env = {"NETMIG_ORCHESTRATOR": "prefect", "PREFECT_HOME": str(tmp_path / "prefect")}
    # a reimage of ~250 simulated seconds must outlast the Prefect task hand-over between the PUT and the watch,
    # or the kill point (the 5th node event) is never reached: 0.04 makes it ~10 s
    start_detached(sb, time_scale=0.04)
    try:
        plan = tmp_path / "p.yaml"
        make_plan(sb, plan)
        rc, _, err = cli_group("apply", str(plan), "--sandbox", str(sb), "--yes",
                               env={**env, "NETMIG_TEST_KILL_AT": "watch-reimage:event=5"}, cwd=tmp_path)
        assert rc == -signal.SIGKILL, err[-3000:]
        rc, _, err = cli_group("apply", str(plan), "--sandbox", str(sb), "--yes", env=env, cwd=tmp_path)
        assert rc == 0, err[-3000:]
        assert len(profile_puts(sb)) == 1
        events = [json.loads(x) for x in (tmp_path / "p.run" / "journal.jsonl").read_text().splitlines()]
        starts = [e for e in events if e["event"] == "run-start" and e.get("orchestrator") == "prefect"]
        assert [e["crashed_marked"] for e in starts] == [0, 1]
        for step in ("preflight", "snapshot", "backup", "update-network"):  # done before the kill: not run again
            assert sum(1 for e in events if e["event"] == "step-start" and e.get("step") == step) == 1, step
        assert list((tmp_path / "p.run" / "prefect-results").iterdir())  # persisted task results
        assert "**PASSED**" in (tmp_path / "p.run" / "report.md").read_text()
    finally:
        stop(sb)


def test_demo_runs_the_migration_end_to_end(tmp_path: Path) -> None:
    res = cli("demo", "--keep-dir", str(tmp_path / "demo"), env={"PREFECT_HOME": str(tmp_path / "prefect")},
              timeout=240)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "**PASSED**" in res.stdout and "Sandbox stopped." in res.stdout
