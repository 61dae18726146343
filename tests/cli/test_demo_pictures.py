"""``aks-netmig demo`` leaves the pictures (``netmig.pictures``) in the run folder, linked from report.md: the
namespace heatmap before | after and the reimage timeline per pool (valid PNGs), the timeline drawn from every node
phase change the watch journaled (each node: waiting, cordoned, reimaging, ready; each surge node: surge, removed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_draws_the_heatmap_and_the_timeline_and_the_report_links_them(tmp_path: Path) -> None:
    keep = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "netmig.cli.main", "demo", "--keep-dir", str(keep), "--yes",
                          "--no-prefect"], stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "NETMIG_ORCHESTRATOR": "local"}, timeout=600, check=False)
    assert res.returncode == 0, res.stderr[-3000:]
    run_dir = keep / "npm-to-cilium.run"
    report = (run_dir / "report.md").read_text()
    for name in ("connectivity-heatmap.png", "reimage-timeline.png"):
        assert (run_dir / name).read_bytes().startswith(PNG), name
        assert f"]({name})" in report, name
    assert_every_node_phase(run_dir / "journal.jsonl")
    assert "## Approval" in report and "approved** by" in report
    assert "15 predicted connectivity changes" in report


def assert_every_node_phase(journal: Path) -> None:
    """Every phase change the watch saw is journaled (what the timeline draws): each of the 6 nodes (3 in each of
    2 pools) waiting, then cordoned (drain) before reimaging, then ready; each pool's surge node surge, removed."""
    phases: dict[str, list[str]] = {}
    for line in journal.read_text().splitlines():
        e = json.loads(line)
        if e["event"] == "node-phase":
            phases.setdefault(e["node"], []).append(e["phase"])
    originals = [n for n, seen in phases.items() if seen[0] != "surge"]
    assert len(originals) == 6 and len(phases) == 8, phases
    for node in originals:
        seen = phases[node]
        assert seen[0] == "waiting" and seen[-1] == "ready" and {"cordoned", "reimaging"} <= set(seen), (node, seen)
        assert seen.index("cordoned") < seen.index("reimaging"), (node, seen)
    assert all(seen == ["surge", "removed"] for n, seen in phases.items() if n not in originals), phases
