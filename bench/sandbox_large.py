"""Start the `large` sandbox scenario (250 nodes, 20,000 pods, 2,000 policies) and print how long it takes until
every pod is Running (time scale 0: simulated delays cost nothing, so this is the simulator's own CPU cost).

Run: `.venv/bin/python bench/sandbox_large.py`. Figures only; no assertions.
"""

from __future__ import annotations

import tempfile
import time
from typing import Any

from netmig_sandbox.runtime import Sandbox


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sb = Sandbox("large", tmp, time_scale=0.0)
        sb.start()
        started = time.perf_counter() - t0

        def count(ctx: Any) -> tuple[int, int, int]:
            pods = list(ctx.store.iter_raw(("", "pods")))
            running = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Running")
            return len(pods), running, len(list(ctx.store.iter_raw(("", "nodes"))))

        pods, running, nodes = sb.run(count)
        sb.stop()
    print(f"large scenario: {nodes} nodes, {pods} pods ({running} Running) ready in {started:.1f} s")


if __name__ == "__main__":
    main()
