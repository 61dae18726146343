"""npm-to-cilium verification on the generated ``large`` scenario (250 nodes, 20,000 pods, 2,000 NetworkPolicies),
the migration's snapshot and verify steps through the real CLI against a detached sandbox at a fast time scale
(the benchmark ``bench/migrate_large.py`` keeps the sandbox's own pace):

1. ``verify snapshot --target cilium --budget 3m``: every predicted-change cell probed within the budget;
2. the nodes move to Cilium (their ``kubernetes.azure.com/network-policy`` label, what the reimage sets and what
   the sandbox's dataplane enforces by; the reimage itself is covered on the npm scenario, and on 250 nodes it
   takes far longer than a test may);
3. ``verify snapshot --baseline before.json --engine cilium`` (the engine the verify step expects): every
   baseline cell probed again under Cilium, or named as gone;
4. ``verify compare`` and ``verify expect``: every change explained, no observation differing from Cilium's
   prediction -- the verify step's PASSED.
Minutes long (CPU-bound: a million cells): marked e2e, with its own timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(2400)]
CLI = str(Path(sys.executable).with_name("aks-netmig"))
LABEL = "kubernetes.azure.com/network-policy"


def _cli(*args: str | Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _json(res: subprocess.CompletedProcess[str], code: int = 0) -> Any:
    assert res.returncode == code, res.stdout[-2000:] + res.stderr[-2000:]
    return json.loads(res.stdout)


def _nodes_to_cilium(kubeconfig: Path) -> None:
    from netmig.kube.gateway import KubeGateway

    with KubeGateway(kubeconfig) as gw:
        for n in gw.nodes():
            gw.core.patch_node(n["metadata"]["name"], {"metadata": {"labels": {LABEL: "cilium"}}})


def test_npm_to_cilium_verification_on_large_passes_with_every_change_explained(tmp_path: Path) -> None:
    from netmig.verify.snapshot import cell_keys

    sb, before, after = tmp_path / "sb", tmp_path / "before.json", tmp_path / "after.json"
    started = _cli("sandbox", "start", "--scenario", "large", "--dir", sb, "--time-scale", "0.002", "--detach")
    assert started.returncode == 0, started.stderr
    try:
        snap = _json(_cli("verify", "snapshot", "--sandbox", sb, "--target", "cilium", "--budget", "3m",
                          "--out", before, "--json"))
        _nodes_to_cilium(sb / "kubeconfig")
        again = _json(_cli("verify", "snapshot", "--sandbox", sb, "--baseline", before, "--engine", "cilium",
                           "--budget", "10m", "--out", after, "--json"))
    finally:
        _cli("sandbox", "stop", "--dir", sb, timeout=120)
    cov = snap["coverage"]
    assert snap["engine"] == "npm" and cov["budget_s"] == 180
    pc = cov["predicted_changes"]
    assert pc["cells"] > 100_000 and pc["probed"] == pc["cells"]  # every predicted-change cell, none dropped
    assert again["engine"].startswith("cilium")
    baseline = set(cell_keys(before))
    reprobed = baseline & set(cell_keys(after))
    gone = again["stats"]["skipped"]
    assert len(reprobed) + len(gone) == len(baseline)  # each baseline cell probed again, or named as gone
    cmp = _json(_cli("verify", "compare", before, after, "--json"), code=1)
    assert cmp["probes"] == len(reprobed) and len(cmp["only_before"]) == len(gone)
    changes = cmp["changes"]
    assert len(changes) >= pc["cells"] // 2  # the predicted changes happened
    assert [c for c in changes if c["explanation"] is None] == []  # every one explained
    judged = _json(_cli("verify", "expect", "--snapshot", after, "--json"))
    assert judged["mismatches"] == [] and judged["probes"] >= len(reprobed)  # PASSED: as Cilium predicts
