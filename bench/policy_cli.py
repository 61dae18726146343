"""The policy CLI as a user runs it, on realistic kubectl-style dumps (bench/cluster_gen.py): wall time, CPU time and
peak memory of the whole ``aks-netmig`` process.

Cases (goals from issue #11; printed, never asserted; on a shared machine compare the CPU seconds, wall time includes
waiting for a core):
  analyze               20,000 pods / 2,000 policies / 250 nodes YAML   goal <= 5 s, <= 1 GB
  reachability          same file, --by workload (text summary)         goal <= 10 s, <= 1 GB
  reachability json     same file, --by workload --format ndjson        (every workload row; no goal)
  diff npm -> cilium    same file                                       goal <= 10 s, <= 1 GB
  reachability by pod   2,000-pod file, --by pod --format ndjson        goal >= 10x faster than network-config-analyzer
                                                                        on the same file, memory <= its
network-config-analyzer 2.1.0 is pip-installed into this benchmark's own venv (``--nca-venv``, default
``~/.cache/aks-netmig-bench/nca-venv``: outside the repository, so ``git add -A`` never picks it up); when that fails
the comparison is skipped with a note. CPU comes from ``os.wait4`` on the child
(its own rusage), peak memory from sampling its resident set (psutil), wall time from a monotonic clock.

Run: ``.venv/bin/python bench/policy_cli.py [--pods 20000] [--small-pods 2000] [--keep DIR] [--no-nca]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cluster_gen  # noqa: E402


@dataclass
class Run:
    name: str
    wall: float
    cpu: float
    rss_mb: float
    rc: int
    out_bytes: int


def measure(name: str, argv: list[str], out: Path) -> Run:
    """Run ``argv`` with stdout to ``out``. CPU time is the child's own rusage (``os.wait4``); peak memory is its
    resident set sampled every 10 ms (``ru_maxrss`` would include the forking benchmark's own memory: Linux keeps
    the pre-exec high-water mark)."""
    import psutil

    t0 = time.perf_counter()
    peak = 0
    with out.open("wb") as f:
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.DEVNULL)
        ps = psutil.Process(proc.pid)
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            with contextlib.suppress(psutil.Error):  # the child may be exiting
                peak = max(peak, ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True)))
            time.sleep(0.01)  # the memory sampling interval
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(name, wall, ru.ru_utime + ru.ru_stime, peak / 2**20, proc.returncode, out.stat().st_size)


def nca_venv(path: Path) -> Path | None:
    """network-config-analyzer 2.1.0 in its own venv (created once); None when it cannot be installed."""
    exe = path / "bin" / "nca"
    if exe.exists():
        return exe
    try:
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(path / "bin" / "pip"), "install", "-q", "network-config-analyzer==2.1.0"], check=True,
                       capture_output=True, timeout=1200)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"note: network-config-analyzer could not be installed ({e.__class__.__name__}); comparison skipped")
        return None
    return exe if exe.exists() else None


def nca_input(objs: list[dict], folder: Path) -> Path:
    """NCA reads resources from a folder of YAML files (it refuses a single kubectl List with Nodes)."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for kind in ("Namespace", "Pod", "NetworkPolicy", "Service"):
        items = [o for o in objs if o["kind"] == kind]
        (folder / f"{kind.lower()}s.yaml").write_text(yaml.safe_dump_all(items, sort_keys=False))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=20_000)
    ap.add_argument("--policies", type=int, default=2_000)
    ap.add_argument("--nodes", type=int, default=250)
    ap.add_argument("--small-pods", type=int, default=2_000)
    ap.add_argument("--keep", type=Path, help="keep the generated files and outputs in DIR")
    ap.add_argument("--nca-venv", type=Path, default=Path.home() / ".cache" / "aks-netmig-bench" / "nca-venv")
    ap.add_argument("--no-nca", action="store_true")
    a = ap.parse_args()
    tool = str(Path(sys.executable).parent / "aks-netmig")
    work = a.keep or Path(tempfile.mkdtemp(prefix="netmig-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    big, small = work / f"cluster-{a.pods}.yaml", work / f"cluster-{a.small_pods}.yaml"
    small_objs = cluster_gen.generate(a.small_pods, max(10, a.small_pods // 10), max(3, a.small_pods // 80))
    if not big.exists():
        objs = cluster_gen.generate(a.pods, a.policies, a.nodes)
        cluster_gen.write_yaml(objs, big)
        print(f"generated {big.name}: {big.stat().st_size / 1e6:.1f} MB, {a.pods} pods, "
              f"{cluster_gen.label_sets(objs)} distinct pod label sets, {a.policies} policies, {a.nodes} nodes")
        del objs
    if not small.exists():
        cluster_gen.write_yaml(small_objs, small)
    folder = None if a.no_nca else nca_input(small_objs, work / "nca-input")
    del small_objs
    print(f"load average before the runs: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    runs = [
        measure("analyze --target cilium (20k)", [tool, "policy", "analyze", str(big), "--target", "cilium"],
                work / "analyze.txt"),
        measure("reachability --by workload (20k, text)", [tool, "policy", "reachability", str(big), "--engine",
                                                           "cilium"], work / "reach.txt"),
        measure("diff --from npm --to cilium (20k, text)", [tool, "policy", "diff", str(big), "--from", "npm", "--to",
                                                            "cilium"], work / "diff.txt"),
        measure("reachability --by workload --format ndjson (20k)", [tool, "policy", "reachability", str(big),
                "--engine", "cilium", "--format", "ndjson"], work / "reach-wl.ndjson"),
        measure(f"reachability --by pod --format ndjson ({a.small_pods // 1000}k)",
                [tool, "policy", "reachability", str(small), "--engine", "spec", "--by", "pod", "--format", "ndjson"],
                work / "reach-pod.ndjson"),
    ]
    goals = {0: "<= 5 s, <= 1 GB", 1: "<= 10 s, <= 1 GB", 2: "<= 10 s, <= 1 GB", 3: "(no goal)",
             4: ">= 10x faster than NCA, RSS <= NCA"}
    if not a.no_nca:
        exe = nca_venv(a.nca_venv)
        if exe is not None and folder is not None:
            runs.append(measure(f"network-config-analyzer 2.1.0 --connectivity ({a.small_pods // 1000}k)",
                                [str(exe), "--connectivity", "-r", str(folder), "--output_format", "txt",
                                 "--output_endpoints", "pods"],
                                work / "nca.txt"))
    print(f"{'case':58} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'rc':>3} {'out MB':>8}  goal")
    for i, r in enumerate(runs):
        print(f"{r.name:58} {r.wall:8.2f} {r.cpu:8.2f} {r.rss_mb:8.0f} {r.rc:3d} {r.out_bytes / 1e6:8.1f}  "
              f"{goals.get(i, '')}")
    if len(runs) > 5:
        ours, nca = runs[4], runs[5]
        print(f"by-pod ndjson vs NCA: {nca.wall / ours.wall:.1f}x faster (wall), {nca.cpu / max(ours.cpu, 1e-9):.1f}x "
              f"(cpu); peak memory {ours.rss_mb:.0f} MB vs {nca.rss_mb:.0f} MB; NCA exit {nca.rc}")
    print(f"load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times include waiting for "
          f"the CPU; cpu s is the process's own)")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
