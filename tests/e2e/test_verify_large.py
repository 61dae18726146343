"""The whole npm-to-cilium migration on the generated ``large`` scenario (250 nodes, 20,000 pods, 2,000
NetworkPolicies) through the real CLI against a detached sandbox at a fast time scale: ``aks-netmig plan`` then
``aks-netmig apply --yes``, the plan's own steps with their default budgets -- backup, the before-snapshot (every
predicted-change cell probed, the rest sampled to fit 10 min), the network-profile PUT and the sandbox's reimage of
every node (surge, cordon, drain, reimage, Ready), the watch of it, the verify step (every baseline cell probed
again under Cilium, compared, judged against Cilium's prediction) and the report. It must end PASSED with every
change explained, and every baseline cell must be probed again or named as gone.
The benchmark ``bench/migrate_large.py`` runs the same migration and prints its costs (about 8.5 min of apply on
a 2-core machine). Many minutes long (CPU-bound: a million cells, 20,000 pods moved): marked e2e, with its own
timeout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(3000)]
CLI = str(Path(sys.executable).with_name("aks-netmig"))
LABEL = "kubernetes.azure.com/network-policy"


def _cli(*args: str | Path, timeout: float = 2700) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMIG_ORCHESTRATOR": "local", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(x) for x in f if x.strip()]


def _header(snapshot: Path) -> dict[str, Any]:
    """The header of a streamed snapshot file (its first line: the document's opening fields)."""
    with snapshot.open("rb") as f:
        first = f.readline().rstrip(b"\r\n")
    assert first.endswith(b","), first[:80]
    return json.loads(first[:-1] + b"}")


def test_npm_to_cilium_migration_on_large_passes_with_every_change_explained(tmp_path: Path) -> None:
    from netmig.kube.gateway import KubeGateway
    from netmig.verify.snapshot import cell_keys

    sb, plan = tmp_path / "sb", tmp_path / "large.yaml"
    started = _cli("sandbox", "start", "--scenario", "large", "--dir", sb, "--time-scale", "0.002", "--detach")
    assert started.returncode == 0, started.stderr
    try:
        planned = _cli("plan", "--sandbox", sb, "--out", plan, "--accept", "policy-analysis", timeout=600)
        assert planned.returncode == 0, planned.stdout[-2000:] + planned.stderr[-2000:]
        applied = _cli("apply", plan, "--sandbox", sb, "--no-prefect", "--yes")
        assert applied.returncode == 0, applied.stdout[-3000:] + applied.stderr[-3000:]
        with KubeGateway(sb / "kubeconfig") as gw:
            nodes = gw.nodes()
            pods = gw.pods()
    finally:
        _cli("sandbox", "stop", "--dir", sb, timeout=120)
    assert len(nodes) == 250 and all(n["metadata"]["labels"][LABEL] == "cilium" for n in nodes)  # every node moved
    assert not [p for p in pods if p["metadata"]["namespace"].startswith("netmig-")]  # probe pods cleaned up
    run_dir = plan.with_suffix(".run")
    events = _jsonl(run_dir / "journal.jsonl")
    done = {e["step"]: e["result"] for e in events if e.get("event") == "step-done"}
    cov = done["snapshot"]["coverage"]
    pc = cov["predicted_changes"]
    assert cov["budget_s"] == 600 and pc["cells"] > 100_000 and pc["probed"] == pc["cells"]  # none dropped
    result = next(e["value"] for e in reversed(events) if e.get("key") == "verify-result")
    assert result["changes"] >= pc["cells"] // 2  # the predicted changes happened
    assert result["unexplained"] == 0 and result["mismatches"] == 0  # every one explained, as Cilium predicts
    changes = _jsonl(run_dir / result["changes_file"])  # every change, not only the journaled detail
    assert len(changes) == result["changes"] and all(c["explanation"] for c in changes)
    del changes
    baseline = set(cell_keys(run_dir / "snapshot-before.json"))
    reprobed = baseline & set(cell_keys(run_dir / "snapshot-after.json"))
    gone = _header(run_dir / "snapshot-after.json")["stats"]["skipped"]
    assert len(reprobed) + len(gone) == len(baseline)  # each baseline cell probed again, or named as gone
    assert result["probes"] == len(reprobed)
    report = (run_dir / "report.md").read_text()
    assert "**PASSED**" in report and f"{result['changes']} connectivity changes" in report
    assert (run_dir / "connectivity-heatmap.png").stat().st_size > 0
