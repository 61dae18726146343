"""``aks-netmig fleet scan`` on a large sandbox fleet, as a user runs it: wall time, CPU time and peak memory of the
whole CLI process (goal from issue #13: 1,000 clusters <= 10 s; printed, never asserted).

The fleet is ``aks-netmig sandbox start --scenario fleet --clusters N --detach`` (light clusters: ARM data only),
started before the timer; the scan lists it through the sandbox's Resource Graph endpoint (``$skipToken`` pages of
1,000) and renders the table, then ``--json``. CPU comes from ``os.wait4`` on the child, peak memory from its
``ru_maxrss``, wall time from a monotonic clock.

Run: ``.venv/bin/python bench/fleet_scan.py [--clusters 1000] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "netmig.cli.main"]


def timed(args: list[str]) -> tuple[float, float, float, int]:
    """(wall s, cpu s, peak MB, exit code) of one CLI run (stdout discarded)."""
    start = time.monotonic()
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        sys.stderr.write(proc.stderr.read().decode() if proc.stderr else "")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusters", type=int, default=1000)
    ap.add_argument("--keep", type=Path, default=None, help="use (and keep) this folder for the sandbox")
    args = ap.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="netmig-fleet-bench-"))
    t0 = time.monotonic()
    subprocess.run([*CLI, "sandbox", "start", "--scenario", "fleet", "--clusters", str(args.clusters),
                    "--dir", str(folder), "--detach"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    print(f"sandbox fleet of {args.clusters} light clusters started in {time.monotonic() - t0:.1f} s")
    try:
        for label, extra in (("table", []), ("--json", ["--json"])):
            wall, cpu, mb, rc = timed(["fleet", "scan", "--sandbox", str(folder), *extra])
            print(f"fleet scan {label:7} {args.clusters} clusters: wall {wall:.2f} s, cpu {cpu:.2f} s, "
                  f"peak {mb:.0f} MB, exit {rc} (goal <= 10 s)")
    finally:
        subprocess.run([*CLI, "sandbox", "stop", "--dir", str(folder)], cwd=ROOT, stdout=subprocess.DEVNULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
