"""npm-to-cilium on the generated ``large`` scenario (250 nodes, 20,000 pods, 2,000 NetworkPolicies) through the real
CLI (``plan``, ``apply --no-prefect --yes``) against a detached sandbox at a fast time scale (the benchmark
``bench/migrate_large.py`` keeps the sandbox's own pace): the before-snapshot probes every predicted-change cell
within its budget, the verify step re-probes every baseline cell under Cilium within its budget, and the run ends
PASSED with every change explained. Minutes long: marked e2e, with its own timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]
CLI = str(Path(sys.executable).with_name("aks-netmig"))


def _cli(*args: str | Path, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def _header(path: Path) -> dict[str, Any]:
    """The first line of a streamed snapshot file: its header (engine, stats, coverage)."""
    with path.open("rb") as f:
        first = f.readline().rstrip()
    assert first.endswith(b","), "the snapshot is written as a stream, header first"
    return dict(json.loads(first[:-1] + b"}"))


def test_npm_to_cilium_on_large_ends_passed_with_every_change_explained(tmp_path: Path) -> None:
    sb, plan = tmp_path / "sb", tmp_path / "large.yaml"
    started = _cli("sandbox", "start", "--scenario", "large", "--dir", sb, "--time-scale", "0.002", "--detach")
    assert started.returncode == 0, started.stderr
    try:
        res = _cli("plan", "--sandbox", sb, "--out", plan, "--accept", "policy-analysis",
                   "--set", "snapshot.budget_s=300", "--set", "verify.budget_s=300")
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
        res = _cli("apply", plan, "--sandbox", sb, "--no-prefect", "--yes")
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    finally:
        _cli("sandbox", "stop", "--dir", sb, timeout=120)
    run_dir = plan.with_suffix(".run")
    records = [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines() if x.strip()]
    before = _header(run_dir / "snapshot-before.json")
    pc = before["coverage"]["predicted_changes"]
    assert pc["cells"] > 100_000 and pc["probed"] == pc["cells"]  # every predicted-change cell, none dropped
    assert before["coverage"]["elapsed_s"] <= 300
    after = _header(run_dir / "snapshot-after.json")
    assert after["engine"].startswith("cilium") and after["stats"]["skipped"] == []  # nothing gone on large
    assert after["coverage"]["probes"] >= before["coverage"]["probes"]  # every baseline cell probed again
    result = next(r["value"] for r in reversed(records) if r.get("key") == "verify-result")
    assert result["changes"] > 0 and result["unexplained"] == 0 and result["mismatches"] == 0
    assert result["explained"] == result["changes"]
    assert "**PASSED**" in (run_dir / "report.md").read_text()
