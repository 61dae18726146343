"""One risk-first snapshot of the sandbox's `large` scenario (250 nodes, 20,000 pods, 2,000 policies) for an
NPM -> Cilium migration, through the CLI as a whole process, inside a time budget.

Starts the sandbox (`aks-netmig sandbox start --scenario large --detach`, default time scale: the sandbox's pace is
not changed), runs `aks-netmig verify snapshot --sandbox DIR --target cilium --budget BUDGET --json`, and prints
the wall time and peak memory (of the snapshot process, from getrusage of the waited-for child), the probe pods,
probes and covered cells (predicted / stable) from the snapshot's `coverage`, plus the machine's load.
Figures only; asserts nothing. Goal: <= 10 min with 100 % of the predicted-change cells covered.

Run: .venv/bin/python bench/verify_large.py [--budget 10m] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = str(Path(sys.executable).with_name("aks-netmig"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", default="10m")
    ap.add_argument("--concurrency", default="32")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sb = Path(tmp) / "sb"
        t0 = time.perf_counter()
        subprocess.run([CLI, "sandbox", "start", "--scenario", "large", "--dir", str(sb), "--detach"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"sandbox large started in {time.perf_counter() - t0:.1f} s; load {os.getloadavg()}", flush=True)
        out = Path(tmp) / "snap.json"
        try:
            t1 = time.perf_counter()
            proc = subprocess.run([CLI, "verify", "snapshot", "--sandbox", str(sb), "--target", "cilium",
                                   "--budget", args.budget, "--concurrency", args.concurrency, "--out", str(out),
                                   "--json"], capture_output=True, text=True)
            wall = time.perf_counter() - t1
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        finally:
            subprocess.run([CLI, "sandbox", "stop", "--dir", str(sb)], stdout=subprocess.DEVNULL)
        print(f"verify snapshot exit {proc.returncode}; wall {wall:.1f} s; peak RSS {peak_mb:.0f} MB "
              f"(largest child process); load after {os.getloadavg()}")
        if proc.returncode != 0:
            print(proc.stderr[-2000:])
            return
        doc = json.loads(proc.stdout)
        cov, st = doc["coverage"], doc["stats"]
        pc, stable = cov["predicted_changes"], cov["stable"]
        print(f"probe pods {cov['probe_pods']:,}; probes {cov['probes']:,}; concurrency {st.get('concurrency')} "
              f"(end {st.get('concurrency_end')}, throttled {st.get('throttled')}); cost model {st.get('cost_model')}")
        print(f"predicted-change cells {pc['probed']:,}/{pc['cells']:,} probed; stable cells "
              f"{stable['probed']:,}/{stable['cells']:,} ({stable['method']}); paths {stable.get('paths')}; "
              f"budget {cov['budget_s']} s, elapsed {cov['elapsed_s']} s; retried {st.get('retried')}, "
              f"retry skipped {st.get('retry_skipped')}; cells differing from NPM {doc['differ']}")


if __name__ == "__main__":
    main()
