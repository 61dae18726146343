"""The npm-to-cilium migration on the sandbox's `large` scenario (250 nodes, 20,000 pods, 2,000 policies), at the
sandbox's own pace (default time scale), through the CLI: how long the before-snapshot and the after-snapshot +
verification take, with how much memory, what they covered, and the final verdict.

Stages (each its own process, measured by ``bench/measure.py``: wall, CPU, peak RSS):
1. `aks-netmig plan --sandbox DIR --out PLAN --accept policy-analysis`;
2. `aks-netmig apply PLAN --no-prefect` without `--yes`: preflight, the before-snapshot (budget 10 min), the backup,
   then it stops at the approval gate (exit 3);
3. `aks-netmig apply PLAN --no-prefect --yes`: the ARM change, the reimage, Cilium ready, the verify step (the
   after-snapshot of every baseline cell, budget 10 min, and the comparison), the report.
From the run folder's journal: each probing step's own duration, its coverage (probe pods, probes, predicted and
stable cells covered), the verify result (changes explained / unexplained, mismatches) and the report's verdict.
Figures only; asserts nothing. Goal: each snapshot <= 10 min, the migration ends PASSED with every change
explained.

Run: .venv/bin/python bench/migrate_large.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from measure import CLI, run


def _journal(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "journal.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _step(records: list[dict[str, Any]], step: str) -> dict[str, Any]:
    return next((r for r in reversed(records) if r.get("event") == "step-done" and r.get("step") == step), {})


def _coverage_line(cov: dict[str, Any]) -> str:
    if not cov:
        return "no coverage recorded"
    pc, st = cov["predicted_changes"], cov["stable"]
    return (f"probe pods {cov['probe_pods']:,}; probes {cov['probes']:,}; predicted-change cells "
            f"{pc['probed']:,}/{pc['cells']:,}; stable cells {st['probed']:,}/{st['cells']:,} ({st['method']}); "
            f"counted {cov['elapsed_s']} s of {cov['budget_s']} s")


def _header(path: Path) -> dict[str, Any]:
    """The header line of a streamed snapshot file (format, engine, stats, coverage), without reading the rest."""
    with path.open("rb") as f:
        first = f.readline().rstrip()
    return dict(json.loads(first[:-1] + b"}")) if first.endswith(b",") else {}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sb, plan = Path(tmp) / "sb", Path(tmp) / "large.yaml"
        t0 = time.perf_counter()
        subprocess.run([CLI, "sandbox", "start", "--scenario", "large", "--dir", str(sb), "--detach"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"sandbox large started in {time.perf_counter() - t0:.1f} s; load {os.getloadavg()}", flush=True)
        try:
            m = run("plan", "--sandbox", str(sb), "--out", str(plan), "--accept", "policy-analysis")
            print(m.line("plan"), flush=True)
            if m.code != 0:
                print(m.stdout[-1500:], m.stderr[-1500:])
                return
            before = run("apply", str(plan), "--sandbox", str(sb), "--no-prefect")
            print(before.line("apply up to the approval gate (preflight, before-snapshot, backup)"), flush=True)
            run_dir = plan.with_suffix(".run")
            snap = _step(_journal(run_dir), "snapshot")
            print(f"  before-snapshot step: {snap.get('duration_s')} s; "
                  f"{_coverage_line((snap.get('result') or {}).get('coverage') or {})}", flush=True)
            if before.code != 3:
                print(before.stdout[-1500:], before.stderr[-1500:])
                return
            after = run("apply", str(plan), "--sandbox", str(sb), "--no-prefect", "--yes")
            print(after.line("apply --yes (ARM change, reimage, Cilium ready, verify, report)"), flush=True)
        finally:
            subprocess.run([CLI, "sandbox", "stop", "--dir", str(sb)], stdout=subprocess.DEVNULL)
        records = _journal(run_dir)
        for step in ("watch-reimage", "verify"):
            print(f"  {step} step: {_step(records, step).get('duration_s')} s")
        if (run_dir / "snapshot-after.json").exists():
            print(f"  after-snapshot: {_coverage_line(_header(run_dir / 'snapshot-after.json').get('coverage') or {})}")
        result = next((r.get("value") for r in reversed(records) if r.get("key") == "verify-result"), None) or {}
        print(f"  verify: {result.get('changes')} changes, {result.get('explained')} explained, "
              f"{result.get('unexplained')} unexplained, {result.get('mismatches')} mismatches over "
              f"{result.get('probes')} cells")
        report = run_dir / "report.md"
        verdict = next((w for w in ("PASSED", "FAILED") if report.exists() and f"**{w}**" in report.read_text()),
                       "no report")
        print(f"verdict: {verdict}; apply exit {after.code}")
        if after.code != 0:
            print(after.stderr[-1500:])


if __name__ == "__main__":
    main()
