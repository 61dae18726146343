"""kill -9 of `aks-netmig apply` at every step boundary and in the middle of the reimage wait: every rerun resumes,
the migration completes, and the sandbox's ARM request log shows exactly ONE network-profile PUT.

The sandbox is detached (its own process) so it survives the SIGKILL; the kill points come from the documented
test hook NETMIG_TEST_KILL_AT (no sleeps). Every kill of the chain resumes the previous, so one sandbox covers
many boundaries; the library runner is used (the Prefect-level kill is in test_migrate_flow.py).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from tests.e2e.migrate_helpers import cli, make_plan, profile_puts, start_detached, stop

STEPS = [s["id"] for s in yaml.safe_load((Path(__file__).resolve().parents[2] / "plans" / "npm-to-cilium.yaml")
                                         .read_text())["steps"]]
POINTS = [f"{s}:{w}" for s in STEPS for w in ("before", "after")]
CHAINS = {
    "first-half": [*POINTS[:POINTS.index("update-network:before") + 1], "update-network:after"],
    "second-half": ["lock:after", "watch-reimage:event=5", *POINTS[POINTS.index("watch-reimage:before"):]],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_sigkill_at_every_boundary_then_rerun_completes_with_one_put(chain: str, tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb)
    try:
        plan = tmp_path / "p.yaml"
        make_plan(sb, plan)
        for point in CHAINS[chain]:
            res = cli("apply", str(plan), "--sandbox", str(sb), "--yes", env={"NETMIG_TEST_KILL_AT": point})
            assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-2000:])
        res = cli("apply", str(plan), "--sandbox", str(sb), "--yes")
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(profile_puts(sb)) == 1
        journal = (tmp_path / "p.run" / "journal.jsonl").read_text()
        assert journal.count('"event": "run-start"') == len(CHAINS[chain]) + 1
        assert "**PASSED**" in (tmp_path / "p.run" / "report.md").read_text()
        status = cli("status", str(plan), "--sandbox", str(sb))
        assert "Lock: free" in status.stdout
    finally:
        stop(sb)
