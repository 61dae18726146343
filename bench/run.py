"""Run every benchmark and print its figures: `make bench` (or `.venv/bin/python bench/run.py`).

Benchmarks print measurements; nothing here asserts on time (goals are stated in each script's docstring).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
BENCHES = ["policy_scale.py", "policy_cli.py", "verify_probes.py", "sandbox_large.py", "kubelet_scale.py",
           "fleet_scan.py"]


def main() -> int:
    status = 0
    for name in BENCHES:
        path = HERE / name
        if not path.exists():
            continue
        print(f"== {name}", flush=True)
        status |= subprocess.call([sys.executable, str(path)])
    return status


if __name__ == "__main__":
    sys.exit(main())
