"""The whole npm-to-cilium migration on the sandbox's `large` scenario (250 nodes, 20,000 pods, 2,000 policies):
`aks-netmig plan` then `aks-netmig apply PLAN --yes --no-prefect`, the plan's own steps (backup, before-snapshot,
network-profile PUT, the reimage of every node and its watch, verify) against a detached sandbox started by the
benchmark (default time scale 0.002: simulated durations shrink, the simulator's own CPU cost does not).

Prints, per stage: wall, CPU and peak RSS of the CLI process (``bench/measure.py``) and the sandbox process's CPU
over that stage (``/proc``); per plan step, its duration from the run's journal and the CLI process's highest RSS
while the step ran (sampled from ``/proc`` every 0.2 s); the sandbox's peak RSS; and the
verdict from the run's journal (``verify-result``: changes, unexplained, mismatches) and report (PASSED/FAILED).
Figures only; asserts nothing. Goal: the whole apply in a few minutes of sandbox CPU, PASSED with every change
explained.

Run: .venv/bin/python bench/migrate_large.py [--time-scale 0.002] [--keep DIR]
(``--keep DIR``: the plan and its run folder, snapshots included, are copied to DIR for a closer look)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from measure import CLI, Measured, run

TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def proc_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    """The RSS of one process every ``every`` seconds (UTC time, MB) until it ends."""

    def __init__(self, every: float = 0.2) -> None:
        self.every = every
        self.samples: list[tuple[dt.datetime, float]] = []
        self._stop = threading.Event()

    def start(self, pid: int) -> None:
        threading.Thread(target=self._loop, args=(pid,), daemon=True).start()

    def _loop(self, pid: int) -> None:
        while not self._stop.wait(self.every):
            try:
                text = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                return
            rss = next((int(x.split()[1]) / 1024 for x in text.splitlines() if x.startswith("VmRSS:")), 0.0)
            self.samples.append((dt.datetime.now(dt.UTC), rss))

    def stop(self) -> None:
        self._stop.set()

    def peak_between(self, start: dt.datetime, end: dt.datetime) -> float:
        return max((mb for t, mb in self.samples if start <= t <= end), default=0.0)


def stage(what: str, pid: int, *args: str, sampler: RssSampler | None = None) -> Measured:
    c0 = proc_cpu_s(pid)
    m = run(*args, on_start=sampler.start if sampler else None)
    if sampler:
        sampler.stop()
    print(f"{m.line(what)}; sandbox CPU {proc_cpu_s(pid) - c0:.1f} s", flush=True)
    return m


def journal(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "journal.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--time-scale", default="0.002")
    ap.add_argument("--keep", type=Path, help="copy the plan and its run folder here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sb, plan = Path(tmp) / "sb", Path(tmp) / "large.yaml"
        t0 = time.perf_counter()
        subprocess.run([CLI, "sandbox", "start", "--scenario", "large", "--dir", str(sb), "--time-scale",
                        args.time_scale, "--detach"], check=True, stdout=subprocess.DEVNULL)
        pid = int((sb / "sandbox.pid").read_text().strip())
        print(f"sandbox large (time scale {args.time_scale}) started in {time.perf_counter() - t0:.1f} s; sandbox "
              f"CPU {proc_cpu_s(pid):.1f} s", flush=True)
        sampler = RssSampler()
        try:
            m = stage("plan", pid, "plan", "--sandbox", str(sb), "--out", str(plan), "--accept", "policy-analysis")
            if m.code != 0:
                print(m.stdout[-2000:] + m.stderr[-2000:])
                return
            m = stage("apply --yes", pid, "apply", str(plan), "--sandbox", str(sb), "--no-prefect", "--yes",
                      sampler=sampler)
            print(f"sandbox peak RSS {proc_peak_mb(pid):.0f} MB", flush=True)
            if m.code != 0:
                print(m.stdout[-3000:] + m.stderr[-3000:])
        finally:
            subprocess.run([CLI, "sandbox", "stop", "--dir", str(sb)], stdout=subprocess.DEVNULL)
        run_dir = plan.with_suffix(".run")
        events = journal(run_dir)
        begun: dict[str, dt.datetime] = {}
        for e in events:
            if e.get("event") == "step-start":
                begun[str(e.get("step"))] = dt.datetime.fromisoformat(e["time"])
            elif e.get("event") == "step-done":
                began = begun.get(str(e.get("step")))
                peak = sampler.peak_between(began, dt.datetime.fromisoformat(e["time"])) if began else 0.0
                print(f"  step {e.get('step')}: {e.get('duration_s')} s; CLI RSS up to {peak:.0f} MB")
            elif e.get("event") in ("step-failed", "step-paused", "stall", "operation-failed"):
                print(f"  {e.get('event')} {e.get('step')}: {e.get('error') or e.get('reason')}")
        result = next((e["value"] for e in reversed(events) if e.get("key") == "verify-result"), None)
        report = run_dir / "report.md"
        passed = report.exists() and "**PASSED**" in report.read_text()
        brief = {k: v for k, v in (result or {}).items() if not k.endswith("_detail")}
        print(f"verify-result: {json.dumps(brief)}")
        print(f"verdict: {'PASSED' if passed else 'FAILED'}")
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(plan, args.keep / plan.name)
            shutil.copytree(run_dir, args.keep / run_dir.name, dirs_exist_ok=True)
            print(f"kept: {args.keep}")


if __name__ == "__main__":
    main()
