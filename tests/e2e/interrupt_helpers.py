"""Deliver Ctrl-C / SIGTERM to an `aks-netmig` command at a known point, without sleeps.

``interrupt_at(args, point)`` starts the command in its own process group with ``NETMIG_TEST_PAUSE_AT=point`` (the
command SIGSTOPs itself there), waits for the stop (``waitpid(WUNTRACED)``), then signals the whole group -- what
a terminal's Ctrl-C does -- and SIGCONT, and measures with ``time.monotonic`` from the signal to the exit. Whatever
the command left in its group is killed afterwards (a child that survived would be a bug the tests look for
separately, by pid).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.e2e.migrate_helpers import EXE, ROOT

BOUND_S = 5.0  # the requirement: exit 130 within 5 s of Ctrl-C / SIGTERM


@dataclass
class Stopped:
    rc: int
    elapsed: float
    stdout: str
    stderr: str


def interrupt_at(args: list[str], point: str, *, sig: int = signal.SIGINT, env: dict[str, str] | None = None,
                 cwd: Path, timeout: float = 240, on_stop: Callable[[int], Any] | None = None) -> Stopped:
    """``on_stop(pid)`` runs while the command is stopped at ``point`` (to look at what it runs)."""
    full = {**os.environ, "NETMIG_ORCHESTRATOR": "local", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            **(env or {}), "NETMIG_TEST_PAUSE_AT": point}
    full.pop("NETMIG_TEST_KILL_AT", None)
    out, err = cwd / "int.out", cwd / "int.err"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([*EXE, *args], stdout=o, stderr=e, env=full, cwd=ROOT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while True:  # bounded: WNOHANG polls, not a sleep as synchronisation
            pid, status = os.waitpid(proc.pid, os.WUNTRACED | os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"{point} not reached within {timeout} s: {err.read_text()[-3000:]}")
            time.sleep(0.05)
        if not os.WIFSTOPPED(status):
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise AssertionError(f"the command ended (rc {proc.returncode}) before {point}: "
                                 f"{err.read_text()[-3000:]}")
        if on_stop is not None:
            on_stop(proc.pid)
        t0 = time.monotonic()
        os.killpg(proc.pid, sig)
        os.killpg(proc.pid, signal.SIGCONT)
        rc = proc.wait(timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(timeout=10)
    return Stopped(rc, elapsed, out.read_text(), err.read_text())


def journal(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines()]


def lease_exists(sb: Path) -> bool:
    res = subprocess.run(["kubectl", "--kubeconfig", str(sb / "kubeconfig"), "-n", "kube-system", "get", "lease",
                          "aks-netmig-lock", "-o", "name"], capture_output=True, text=True, timeout=60, check=False)
    if res.returncode == 0:
        return True
    assert "NotFound" in res.stderr, res.stderr
    return False


def running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan reparented to a reaper that has not reaped it yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def server_pids(prefect_home: Path) -> list[int]:
    """The temporary Prefect servers recorded under PREFECT_HOME (flows.local_server)."""
    d = prefect_home / "netmig-servers"
    return sorted(int(json.loads(p.read_text())["pid"]) for p in d.glob("*.json")) if d.is_dir() else []
