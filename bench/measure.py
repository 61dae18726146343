"""Run one CLI process and measure it: wall time, CPU time and peak RSS of that process alone (``os.wait4``).

Used by the whole-process benchmarks (``verify_large.py``, ``migrate_large.py``). Figures only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CLI = str(Path(sys.executable).with_name("aks-netmig"))


@dataclass(frozen=True)
class Measured:
    code: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    peak_mb: float

    def line(self, what: str) -> str:
        return (f"{what}: exit {self.code}; wall {self.wall_s:.1f} s; CPU {self.cpu_s:.1f} s; peak RSS "
                f"{self.peak_mb:.0f} MB; load {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def run(*args: str, on_start: Callable[[int], None] | None = None) -> Measured:
    """``aks-netmig ARGS`` as its own process, waited for with ``os.wait4`` (its own rusage); ``on_start(pid)``
    runs once the process exists (e.g. to start sampling its memory)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([CLI, *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        if on_start is not None:
            on_start(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(proc.returncode, out.read(), err.read(), wall, usage.ru_utime + usage.ru_stime,
                        usage.ru_maxrss / 1024)
