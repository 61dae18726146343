"""The npm-to-cilium verification on the sandbox's `large` scenario (250 nodes, 20,000 pods, 2,000 policies) at the
sandbox's own pace (default time scale): the migration's before-snapshot and its verify step (after-snapshot of
every baseline cell, comparison, expectations), each a whole CLI process, measured by ``bench/measure.py`` (wall,
CPU, peak RSS):

1. `aks-netmig verify snapshot --target cilium --budget 10m --out before.json --json` (the snapshot step);
2. the nodes move to Cilium: their `kubernetes.azure.com/network-policy` label, what the reimage sets and what the
   sandbox's dataplane enforces by (the reimage of 250 nodes itself is not part of this benchmark);
3. `aks-netmig verify snapshot --baseline before.json --engine cilium --budget 10m --out after.json --json`
   (the verify step's after-snapshot);
4. `aks-netmig verify compare before.json after.json --json` and `verify expect --snapshot after.json --json` (the
   verify step's judgement: PASSED when every change is explained and no observation differs from Cilium's
   prediction).
Prints the probe pods, probes and covered cells (predicted / stable) of each snapshot and the final verdict.
Figures only; asserts nothing. Goal: each snapshot <= 10 min, PASSED with every change explained.

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
from measure import CLI, Measured, run

LABEL = "kubernetes.azure.com/network-policy"


def _coverage(m: Measured) -> str:
    if m.code != 0:
        return m.stderr[-1500:]
    doc = json.loads(m.stdout)
    cov = doc["coverage"]
    pc, st = cov["predicted_changes"], cov["stable"]
    return (f"  engine {doc['engine']}; probe pods {cov['probe_pods']:,}; probes {cov['probes']:,}; predicted-change "
            f"cells {pc['probed']:,}/{pc['cells']:,}; stable cells {st['probed']:,}/{st['cells']:,} ({st['method']}); "
            f"counted {cov['elapsed_s']} s of {cov['budget_s']} s; cells gone {len(doc['stats']['skipped'])}")


def _nodes_to_cilium(kubeconfig: Path) -> None:
    from netmig.kube.gateway import KubeGateway

    with KubeGateway(kubeconfig) as gw:
        for n in gw.nodes():
            gw.core.patch_node(n["metadata"]["name"], {"metadata": {"labels": {LABEL: "cilium"}}})


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sb, before, after = Path(tmp) / "sb", Path(tmp) / "before.json", Path(tmp) / "after.json"
        t0 = time.perf_counter()
        subprocess.run([CLI, "sandbox", "start", "--scenario", "large", "--dir", str(sb), "--detach"], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"sandbox large started in {time.perf_counter() - t0:.1f} s; load {os.getloadavg()}", flush=True)
        try:
            m1 = run("verify", "snapshot", "--sandbox", str(sb), "--target", "cilium", "--budget", "10m",
                     "--out", str(before), "--json")
            print(m1.line("before-snapshot (verify snapshot --target cilium)"), flush=True)
            print(_coverage(m1), flush=True)
            if m1.code != 0:
                return
            _nodes_to_cilium(sb / "kubeconfig")
            m2 = run("verify", "snapshot", "--sandbox", str(sb), "--baseline", str(before), "--engine", "cilium",
                     "--budget", "10m", "--out", str(after), "--json")
            print(m2.line("after-snapshot (verify snapshot --baseline)"), flush=True)
            print(_coverage(m2), flush=True)
        finally:
            subprocess.run([CLI, "sandbox", "stop", "--dir", str(sb)], stdout=subprocess.DEVNULL)
        if m2.code != 0:
            return
        m3 = run("verify", "compare", str(before), str(after), "--json")
        print(m3.line("verify compare"), flush=True)
        m4 = run("verify", "expect", "--snapshot", str(after), "--json")
        print(m4.line("verify expect"), flush=True)
        cmp: dict[str, Any] = json.loads(m3.stdout) if m3.code in (0, 1) else {}
        exp: dict[str, Any] = json.loads(m4.stdout) if m4.code in (0, 1) else {}
        changes = cmp.get("changes") or []
        unexplained = sum(1 for c in changes if c["explanation"] is None)
        mismatches = len(exp.get("mismatches") or [])
        print(f"  {len(changes):,} changes over {cmp.get('probes', 0):,} cells probed on both sides, {unexplained:,} "
              f"unexplained; {len(cmp.get('only_before') or []):,} baseline cells gone; {mismatches:,} observations "
              f"differ from Cilium's prediction")
        ok = bool(cmp) and bool(exp) and unexplained == 0 and mismatches == 0
        print(f"verdict: {'PASSED' if ok else 'FAILED'}")


if __name__ == "__main__":
    main()
