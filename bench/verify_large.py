"""One risk-first snapshot of the sandbox's `large` scenario (250 nodes, 20,000 pods, 2,000 policies) for an
NPM -> Cilium migration, through the CLI as a whole process, inside a time budget.

Starts the sandbox (`aks-netmig sandbox start --scenario large --detach`, default time scale: the sandbox's pace is
not changed), runs `aks-netmig verify snapshot --sandbox DIR --target cilium --budget BUDGET --json`, and prints
the wall time, CPU time and peak memory of that process (``bench/measure.py``), the probe pods, probes and covered
cells (predicted / stable) from the snapshot's `coverage`, the snapshot file's size, the machine's load, and the
time and peak memory of `verify compare` reading that file twice.
Figures only; asserts nothing. Goal: <= 10 min with 100 % of the predicted-change cells covered, well under 1 GB.

Run: .venv/bin/python bench/verify_large.py [--budget 10m] [--concurrency 32] [--parallel 16]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from measure import CLI, run


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", default="10m")
    ap.add_argument("--concurrency", default="32")
    ap.add_argument("--parallel", default="16")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sb = Path(tmp) / "sb"
        t0 = time.perf_counter()
        subprocess.run([CLI, "sandbox", "start", "--scenario", "large", "--dir", str(sb), "--detach"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"sandbox large started in {time.perf_counter() - t0:.1f} s; load {os.getloadavg()}", flush=True)
        out = Path(tmp) / "snap.json"
        try:
            m = run("verify", "snapshot", "--sandbox", str(sb), "--target", "cilium", "--budget", args.budget,
                    "--concurrency", args.concurrency, "--parallel", args.parallel, "--out", str(out), "--json")
        finally:
            subprocess.run([CLI, "sandbox", "stop", "--dir", str(sb)], stdout=subprocess.DEVNULL)
        print(m.line("verify snapshot (whole process)"), flush=True)
        if m.code != 0:
            print(m.stderr[-2000:])
            return
        doc = json.loads(m.stdout)
        cov, st = doc["coverage"], doc["stats"]
        pc, stable = cov["predicted_changes"], cov["stable"]
        print(f"probe pods {cov['probe_pods']:,}; probes {cov['probes']:,}; concurrency {st.get('concurrency')} "
              f"(end {st.get('concurrency_end')}, throttled {st.get('throttled')}); parallel {st.get('parallel')}; "
              f"cost model {st.get('cost_model')}")
        print(f"predicted-change cells {pc['probed']:,}/{pc['cells']:,} probed; stable cells "
              f"{stable['probed']:,}/{stable['cells']:,} ({stable['method']}); paths {stable.get('paths')}; "
              f"budget {cov['budget_s']} s, counted {cov['elapsed_s']} s; retried {st.get('retried')}, "
              f"retry skipped {st.get('retry_skipped')}; cells differing from NPM {doc['differ']}; "
              f"file {out.stat().st_size / 1e6:.0f} MB")
        c = run("verify", "compare", str(out), str(out), "--json")
        print(c.line("verify compare of that file with itself (reading it twice)"))


if __name__ == "__main__":
    main()
