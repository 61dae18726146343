"""plan -> apply on the sandbox: Cilium on every node, verification matches the prediction, one PUT; the plan is
refused when the cluster changed; approval pauses without a TTY; dry-run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli
from tests.e2e.migrate_helpers import profile_puts

LABEL = "kubernetes.azure.com/network-policy"


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_plan_then_apply_migrates_every_node_and_verification_matches_prediction(sandbox_factory: Any,
                                                                                  tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "npm.yaml"
    res = _run("plan", "--sandbox", str(sb.directory), "--out", str(plan))
    assert res.exit_code == 1 and "policy-analysis" in res.output  # error findings must be accepted explicitly
    res = _run("plan", "--sandbox", str(sb.directory), "--out", str(plan), "--accept", "policy-analysis")
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load(plan.read_text())
    assert doc["arm_changes"][0]["network_profile"] == {"networkPolicy": "cilium", "networkDataplane": "cilium"}
    assert doc["nodes_to_reimage"] == 6 and doc["etag"]

    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--dry-run")
    assert res.exit_code == 0 and "unchanged since the plan" in res.output
    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect")
    assert res.exit_code == 3, res.output  # no TTY, no --yes: paused awaiting approval
    assert "awaiting approval" in res.output
    assert profile_puts(sb.directory) == []

    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1

    from netmig_sandbox.kube.store import Key
    nodes_key: Key = ("", "nodes")
    nodes = sb.run(lambda ctx: ctx.store.list(nodes_key))
    assert nodes and all(n["metadata"]["labels"][LABEL] == "cilium" for n in nodes)
    run_dir = tmp_path / "npm.run"
    verify = [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines()]
    result = next(e["value"] for e in reversed(verify) if e.get("key") == "verify-result")
    assert result["changes"] > 0 and result["unexplained"] == 0 and result["mismatches"] == 0
    report = (run_dir / "report.md").read_text()
    assert "**PASSED**" in report and "ip-block" in report
    assert list(run_dir.glob("backup-*/networkpolicies.yaml"))

    res = _run("status", str(plan), "--sandbox", str(sb.directory))
    assert res.exit_code == 0 and "unlock" in res.output and "Lock: free" in res.output
    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")  # all done: no-op
    assert res.exit_code == 0 and len(profile_puts(sb.directory)) == 1


def test_apply_refuses_a_plan_whose_cluster_changed(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "p.yaml"
    assert _run("plan", "--sandbox", str(sb.directory), "--out", str(plan), "--accept",
                "policy-analysis").exit_code == 0
    sb.run(lambda ctx: ctx.arm.touch_cluster())  # someone changed the cluster since (new etag)
    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")
    assert res.exit_code == 1 and "changed since the plan was made" in res.output
    assert profile_puts(sb.directory) == []
    res = _run("apply", str(tmp_path / "missing.yaml"), "--sandbox", str(sb.directory))
    assert res.exit_code == 2
