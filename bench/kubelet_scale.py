"""The simulated kubelet's cost per pod: 4,000 pods (400 Deployments on 50 nodes, a fifth of the ``large``
scenario) started in-process; prints CPU seconds, wall seconds and peak memory.

Goal: linear work -- under ~6 s of CPU on this 2-core machine (quadratic bookkeeping took minutes). This was a timed
assertion in tests/unit/sandbox/test_kubelet.py; timing goals live here, where they print and never fail a test run.
Run: ``.venv/bin/python bench/kubelet_scale.py`` (also part of ``make bench``).
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.unit.sandbox.simkit import DEPLOYMENTS, add_node, add_ns, deployment, make_ctx, wait_for

NODES, NAMESPACES, DEPLOYMENTS_PER_NS, REPLICAS = 50, 8, 50, 10


async def _run() -> tuple[float, float, int]:
    ctx = make_ctx()
    for i in range(NODES):
        add_node(ctx, i)
    for n in range(NAMESPACES):
        add_ns(ctx, f"ns{n}")
    cpu0, wall0 = time.process_time(), time.monotonic()
    for n in range(NAMESPACES):
        for d in range(DEPLOYMENTS_PER_NS):
            ctx.store.create(DEPLOYMENTS, deployment(f"d{d}", f"ns{n}", replicas=REPLICAS), f"ns{n}")
    k = ctx.services["kubelet"]
    want = NAMESPACES * DEPLOYMENTS_PER_NS * REPLICAS
    await wait_for(lambda: not k.has_work() and not k._starting and len(k.index.pod_by_ip) == want, 600,
                   f"{want} running pods")
    return time.process_time() - cpu0, time.monotonic() - wall0, want


def main() -> int:
    cpu, wall, pods = asyncio.run(_run())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"kubelet: {pods} pods Running on {NODES} nodes: {cpu:.2f} s CPU, {wall:.2f} s wall, "
          f"peak {peak_mb:.0f} MB (goal: < 6 s CPU)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
