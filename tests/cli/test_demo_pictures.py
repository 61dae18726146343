"""``aks-netmig demo`` leaves the pictures (``netmig.pictures``) in the run folder, linked from report.md: the
namespace heatmap before | after and the reimage timeline per pool (valid PNGs)."""

from __future__ import annotations

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
    assert (run_dir / "reimage-timeline-watch-reimage.json").is_file()
    assert "## Approval" in report and "approved** by" in report
    assert "15 predicted connectivity changes" in report
