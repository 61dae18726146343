"""Helpers for the migration e2e tests: detached sandboxes and `aks-netmig` subprocesses."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXE = [sys.executable, "-m", "netmig.cli.main"]


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "NETMIG_ORCHESTRATOR": "local", "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **(env or {})}
    full.pop("NETMIG_TEST_KILL_AT", None) if not (env or {}).get("NETMIG_TEST_KILL_AT") else None
    return subprocess.run([*EXE, *args], capture_output=True, text=True, env=full, cwd=ROOT, timeout=timeout,
                          check=False)


def start_detached(d: Path, scenario: str = "npm", time_scale: float = 0.002) -> None:
    res = cli("sandbox", "start", "--dir", str(d), "--detach", "--scenario", scenario, "--time-scale",
              str(time_scale))
    assert res.returncode == 0, res.stderr


def stop(d: Path) -> None:
    cli("sandbox", "stop", "--dir", str(d))


def profile_puts(d: Path) -> list[dict[str, Any]]:
    out = []
    for line in (d / "arm-requests.jsonl").read_text().splitlines():
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("network_profile_change"):
            out.append(e)
    return out


def make_plan(sandbox: Path, out: Path, *extra: str) -> None:
    res = cli("plan", "--sandbox", str(sandbox), "--out", str(out), "--accept", "policy-analysis", *extra)
    assert res.returncode == 0, res.stdout + res.stderr


def cli_group(*args: str, env: dict[str, str], cwd: Path, timeout: float = 180) -> tuple[int, str, str]:
    """Like ``cli`` but in its own process group with output to files, and the group killed afterwards: a SIGKILLed
    apply leaves its temporary Prefect server behind (holding inherited pipes); this reaps it."""
    import signal

    full = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", **env}
    out, err = cwd / "cli.out", cwd / "cli.err"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([*EXE, *args], stdout=o, stderr=e, env=full, cwd=ROOT, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return rc, out.read_text(), err.read_text()
