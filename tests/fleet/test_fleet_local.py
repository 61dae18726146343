"""``fleet apply`` without a Prefect server (PREFECT_API_URL unset): a temporary server and local process workers
owned by the command. SIGTERM or Ctrl-C (SIGINT) while a cluster migrates: the command exits 130 and every process
it started -- the server, the workers and the flow runs they started -- is gone when it has exited."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from netmig_sandbox.fleet import FleetSandbox
from tests.flows.test_deployments import _wait

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "netmig.cli.main"]


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                tree.setdefault(ppid, []).append(int(d.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, out, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (a zombie has exited; only its parent's wait is missing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _cmd(pid: int) -> str:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return ""


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_interrupted_local_fleet_leaves_no_process(tmp_path: Path, sig: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NETMIG_"))}
    env.update(PREFECT_HOME=str(tmp_path / "prefect-home"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_WORKER_QUERY_SECONDS="1", NETMIG_STATE_DIR=str(tmp_path / "state"))
    with FleetSandbox(tmp_path / "fleet", time_scale=0.05) as fleet:
        waves = tmp_path / "rollout" / "waves.yaml"
        r = subprocess.run([*CLI, "fleet", "plan", "--sandbox", str(fleet.directory), "--out", str(waves),
                            "--accept", "policy-analysis"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        err = tmp_path / "apply.err"
        with err.open("wb") as log:
            proc = subprocess.Popen([*CLI, "fleet", "apply", str(waves)], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
        started: set[int] = set()
        try:
            def canary_running() -> bool:
                assert proc.poll() is None, err.read_text()[-3000:]
                sp = waves.with_name(waves.name + ".state.json")
                if not sp.is_file():
                    return False
                runs = json.loads(sp.read_text())["clusters"]
                return any(c["wave"] == 0 and c["state"] == "running" for c in runs)

            _wait("the canary cluster migrating on a local worker", canary_running, 600)
            started = _descendants(proc.pid)
            cmds = [_cmd(p) for p in started]
            assert any("uvicorn" in c for c in cmds) and sum("worker start" in c for c in cmds) == 2, cmds
            assert any("prefect.engine" in c or "flow_run" in c or "prefect" in c for c in cmds), cmds
            os.kill(proc.pid, sig)
            rc = proc.wait(timeout=60)  # it does not wait for the canary's migration to end
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        if sig == signal.SIGKILL:  # no clean-up ran: the kernel's parent-death signal stops the server and workers
            assert rc == -signal.SIGKILL
            _wait("the processes the killed command started to end", lambda: not any(map(_running, started)), 60)
        else:
            assert rc == 130, err.read_text()[-3000:]
            assert "Traceback" not in err.read_text()
        left = {p: _cmd(p) for p in started if _running(p)}
        assert not left, f"still running after the command exited: {left}"
        runs = json.loads(waves.with_name(waves.name + ".state.json").read_text())["clusters"]
        canary = next(c for c in runs if c["wave"] == 0)
        assert canary["state"] == "running", "the command waited for the canary's migration instead of stopping"
