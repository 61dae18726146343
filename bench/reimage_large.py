"""The sandbox's own CPU cost of reimaging the `large` scenario (250 nodes, 20,000 pods) to Cilium: a sandbox in
this process (time scale 0.002 unless given), the npm-to-cilium network-profile change started as the ARM PUT
starts it (``operations.start`` of ``reimage.reimage_body``), no client attached. Prints the wall and CPU time of
startup and of the reimage (until NODES nodes carry the cilium label, or the operation ends), CPU seconds per node
converted, and peak RSS; ``--profile`` adds a cProfile of the sandbox loop thread (top functions).

Figures only; asserts nothing. Run: .venv/bin/python bench/reimage_large.py [NODES] [--time-scale S] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from netmig_sandbox.arm import operations, reimage
from netmig_sandbox.arm.validation import merge_profile
from netmig_sandbox.context import SandboxContext
from netmig_sandbox.runtime import Sandbox

LABEL = "kubernetes.azure.com/network-policy"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("nodes", type=int, nargs="?", default=1000, help="stop once this many nodes are converted")
    ap.add_argument("--time-scale", type=float, default=0.002)
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        t0, c0 = time.perf_counter(), time.process_time()
        sb = Sandbox("large", Path(tmp), time_scale=args.time_scale)
        sb.start()

        def running(ctx: SandboxContext) -> int:
            return sum(1 for p in ctx.store.iter_raw(("", "pods")) if (p.get("status") or {}).get("phase") == "Running")

        while sb.run(running) < 20_000:
            time.sleep(0.5)
        print(f"sandbox large up, 20,000 pods Running: wall {time.perf_counter() - t0:.1f} s, CPU "
              f"{time.process_time() - c0:.1f} s", flush=True)
        prof = cProfile.Profile()

        def start(ctx: SandboxContext) -> Any:
            if args.profile:
                prof.enable()  # on the loop thread: profiles the simulator
            st = ctx.arm
            target = merge_profile(st.profile, {"networkPolicy": "cilium", "networkDataplane": "cilium"})
            return operations.start(ctx, "reimage", "cluster", reimage.reimage_body(ctx, target), method="PUT",
                                    path="/bench", pools=list(st.pools))

        op = sb.run(start)
        t1, c1 = time.perf_counter(), time.process_time()

        def progress(ctx: SandboxContext) -> tuple[int, str]:
            n = sum(1 for x in ctx.store.iter_raw(("", "nodes"))
                    if (x["metadata"].get("labels") or {}).get(LABEL) == "cilium")
            return n, op.status

        while True:
            done, status = sb.run(progress)
            if done >= args.nodes or status != "InProgress":
                break
            time.sleep(0.5)
        if args.profile:
            sb.run(lambda ctx: prof.disable())
        wall, cpu = time.perf_counter() - t1, time.process_time() - c1
        sb.stop()
    print(f"reimage to cilium: {done} nodes converted, operation {status}: wall {wall:.1f} s, CPU {cpu:.1f} s "
          f"({cpu / max(done, 1):.2f} s CPU per node); peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", flush=True)
    if args.profile:
        pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
