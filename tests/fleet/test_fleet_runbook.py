"""docs/runbooks/fleet.md rehearsed on the sandbox fleet: every command it does not mark as rehearsed elsewhere runs
through bash, in order, with the runbook's variables pointing at a sandbox fleet (tests/cli/test_runbooks.py's
extraction rules: ``# exits N``, ``runbook-test: skip``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from netmig_sandbox.fleet import FleetSandbox
from tests.cli.test_runbooks import RUNBOOKS, extract

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(600)
def test_fleet_runbook_on_the_sandbox_fleet(tmp_path: Path) -> None:
    commands = extract(RUNBOOKS / "fleet.md")
    assert {c.section for c in commands} == {"Scan", "Plan the waves", "Before the rollout"}
    with FleetSandbox(tmp_path / "fleet", time_scale=0.002) as fleet:
        work = tmp_path / "work"
        work.mkdir()
        env = {**os.environ, "SCOPE": f"--sandbox {fleet.directory}", "WORK": str(work),
               "WAVES": str(work / "waves.yaml"), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        for c in commands:
            res = subprocess.run(["bash", "-c", c.text], env=env, cwd=tmp_path, capture_output=True, text=True,
                                 timeout=300)
            assert res.returncode == c.expect, f"line {c.line}: {c.text}\n{res.stdout[-2000:]}{res.stderr[-2000:]}"
            assert "Traceback" not in res.stderr, c.text
    assert len(json.loads((work / "scan.json").read_text())["clusters"]) == 12
    assert (work / "scan.md").read_text().startswith("# AKS fleet scan")
    status = json.loads(subprocess.run([sys.executable, "-m", "netmig.cli.main", "fleet", "status",
                                        str(work / "waves.yaml"), "--json"], capture_output=True, text=True,
                                       cwd=ROOT, check=True).stdout)
    assert not status["started"] and status["clusters"][0]["wave"] == "canary"
