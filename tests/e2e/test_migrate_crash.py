"""kill -9 of `aks-netmig apply` at every step boundary and in the middle of the reimage wait: every rerun resumes,
the migration completes, and the sandbox's ARM request log shows exactly ONE network-profile PUT; also when the
kill falls between the PUT and the journaling of its continuation token.

The sandbox is detached (its own process) so it survives the SIGKILL; the kill points come from the documented
test hook NETMIG_TEST_KILL_AT (no sleeps). Every kill of the chain resumes the previous, so one sandbox covers
many boundaries; the library runner is used (the Prefect-level kill is in test_migrate_flow.py).
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.migrate_helpers import cli, make_plan, profile_puts, start_detached, stop

STEPS = [s["id"] for s in yaml.safe_load((Path(__file__).resolve().parents[2] / "plans" / "npm-to-cilium.yaml")
                                         .read_text())["steps"] if "only_if" not in s]  # the npm scenario's steps
POINTS = [f"{s}:{w}" for s in STEPS for w in ("before", "after")]
CHAINS = {
    "first-half": [*POINTS[:POINTS.index("update-network:before") + 1], "update-network:after"],
    "second-half": ["lock:after", "watch-reimage:event=5", *POINTS[POINTS.index("watch-reimage:before"):]],
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_sigkill_at_every_boundary_then_rerun_completes_with_one_put(chain: str, tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    # the second half kills inside the reimage watch at its 5th node event: the reimage must outlast the start of
    # the watch even on a loaded machine (at 0.002 it could end before apply reached the watch)
    start_detached(sb, time_scale=0.01 if chain == "second-half" else 0.002)
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


def test_sigkill_between_the_put_and_its_token_reattaches_without_a_second_put(sandbox_factory: Any,
                                                                               tmp_path: Path) -> None:
    """The narrowest window: ARM accepted the network-profile PUT, the continuation token is not journaled yet
    (hook point ``update-network:put-sent``). The rerun must see the PUT in the cluster itself (the target profile,
    provisioningState Updating), send nothing, and follow provisioningState to the end. (An in-process sandbox:
    only the apply process is killed.)"""
    from click.testing import CliRunner

    from netmig.cli.main import cli as netmig_cli

    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "p.yaml"
    res = CliRunner().invoke(netmig_cli, ["plan", "--sandbox", str(sb.directory), "--out", str(plan), "--accept",
                                          "policy-analysis"])
    assert res.exit_code == 0, res.output
    res = cli("apply", str(plan), "--sandbox", str(sb.directory), "--yes",
              env={"NETMIG_TEST_KILL_AT": "update-network:put-sent"})
    assert res.returncode == -signal.SIGKILL, res.stderr[-2000:]
    journal = tmp_path / "p.run" / "journal.jsonl"
    events = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [e["event"] for e in events if e.get("step") == "update-network"] == ["step-start", "arm-put"]
    assert not any(e.get("key") == "update-network.continuation_token" for e in events)
    assert len(profile_puts(sb.directory)) == 1

    res = CliRunner().invoke(netmig_cli, ["apply", str(plan), "--sandbox", str(sb.directory), "--yes",
                                          "--no-prefect"])
    assert res.exit_code == 0, res.output
    requests = [json.loads(x) for x in (sb.directory / "arm-requests.jsonl").read_text().splitlines()]
    assert len([r for r in requests if r["method"] == "PUT"]) == 1  # one PUT in all: no second one, no resume
    events = [json.loads(x) for x in journal.read_text().splitlines()]
    [reattach] = [e for e in events if e["event"] == "arm-reattach"]
    assert reattach["step"] == "update-network" and reattach["provisioning_state"] in ("Updating", "Succeeded")
    [done] = [e for e in events if e["event"] == "step-done" and e["step"] == "update-network"]
    assert done["result"]["sent"] is False
    assert "**PASSED**" in (tmp_path / "p.run" / "report.md").read_text()
