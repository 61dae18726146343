"""Start, probe and stop a sandbox running in its own process (``--detach``).

Contract:
- ``start_detached(scenario, directory, time_scale, timeout)`` spawns ``python -m netmig_sandbox.serve`` in a new
  session, returns the sandbox.json dict once BOTH endpoints answer over HTTPS with the sandbox CA, and raises
  ``SandboxControlError`` (one-line reason, with the tail of DIR/sandbox.log) when it dies or times out.
- ``stop(directory)`` sends SIGTERM, waits, escalates to SIGKILL after ``grace`` seconds, and removes the runtime
  files; returns False when nothing was running.
- ``running_pid(directory)`` is the pid of a live sandbox in DIR, or None.
- ``cleanup(directory)`` removes the runtime files (``RUNTIME_FILES``: the pid file and the two token-bearing files).
- Needs none of the sandbox's optional dependencies (``netmig_sandbox.REQUIRES``): stopping a sandbox or injecting a
  fault works in any install; only the spawned ``netmig_sandbox.serve`` process needs them.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

RUNTIME_FILES = ("sandbox.pid", "sandbox.json", "kubeconfig")


class SandboxControlError(Exception):
    """The detached sandbox could not be started or reached."""


def cleanup(directory: Path) -> None:
    """Remove DIR's runtime files (``RUNTIME_FILES``); missing ones are fine."""
    for name in RUNTIME_FILES:
        (directory / name).unlink(missing_ok=True)


def running_pid(directory: Path) -> int | None:
    pid_file = directory / "sandbox.pid"
    try:
        pid = int(pid_file.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None
    return pid if process_alive(pid) else None


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (exited, not yet reaped by its parent) counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def endpoints_answer(info: dict[str, Any]) -> bool:
    """True when the ARM endpoint and the Kubernetes API both answer an authenticated HTTPS request."""
    ctx = ssl.create_default_context(cafile=info["ca_bundle"])
    checks = [(info["arm_endpoint"] + "/_sandbox/state", info["token"])]
    kube_token = _kube_token(Path(info["kubeconfig"]))
    checks.append((info["kube_server"] + "/version", kube_token))
    for url, token in checks:
        req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
                if resp.status != 200:
                    return False
        except (urllib.error.URLError, OSError):
            return False
    return True


def _kube_token(kubeconfig: Path) -> str:
    import yaml

    doc = yaml.safe_load(kubeconfig.read_text())
    return str(doc["users"][0]["user"]["token"])


def start_detached(scenario: str, directory: Path, time_scale: float, timeout: float = 180.0,
                   role: Path | None = None) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    pid = running_pid(directory)
    if pid is not None:
        raise SandboxControlError(
            f"a sandbox is already running in {directory} (pid {pid}); "
            f"stop it first with: aks-netmig sandbox stop --dir {directory}"
        )
    cleanup(directory)
    log = (directory / "sandbox.log").open("ab")
    cmd = [sys.executable, "-m", "netmig_sandbox.serve", "--scenario", scenario, "--dir", str(directory),
           "--time-scale", str(time_scale), *(["--role", str(Path(role).resolve())] if role else [])]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SandboxControlError(f"the sandbox process exited ({proc.returncode}): {_tail(directory)}")
        info_path = directory / "sandbox.json"
        if (directory / "sandbox.pid").exists() and info_path.exists():
            info: dict[str, Any] = json.loads(info_path.read_text())
            if endpoints_answer(info):
                return info
        time.sleep(0.1)
    proc.terminate()
    raise SandboxControlError(f"the sandbox did not answer within {timeout:.0f} s: {_tail(directory)}")


def _tail(directory: Path) -> str:
    try:
        lines = (directory / "sandbox.log").read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "no log"
    return lines[-1] if lines else "no output (see sandbox.log)"


def stop(directory: Path, grace: float = 20.0) -> bool:
    pid = running_pid(directory)
    if pid is None:
        cleanup(directory)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            break
        time.sleep(0.05)
    else:
        os.kill(pid, signal.SIGKILL)
    cleanup(directory)
    return True


def _alive(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    return process_alive(pid)


def post_fault(directory: Path, fault: dict[str, Any]) -> dict[str, Any]:
    """Register ``fault`` with the sandbox running in ``directory``; ``SandboxControlError`` (one line) when there is
    none, its sandbox.json is unusable, it does not answer (a dead sandbox), or it refuses the fault."""
    info_path = directory / "sandbox.json"
    start = f"start one with: aks-netmig sandbox start --dir {directory} --detach"
    if not info_path.exists():
        raise SandboxControlError(f"no running sandbox in {directory}; {start}")
    try:
        info = json.loads(info_path.read_bytes().decode("utf-8"))
        endpoint, token, ca = str(info["arm_endpoint"]), str(info["token"]), str(info["ca_bundle"])
        ctx = ssl.create_default_context(cafile=ca)
    except (OSError, ValueError, KeyError, TypeError, ssl.SSLError) as e:
        raise SandboxControlError(f"{info_path} is unusable ({e.__class__.__name__}); restart the sandbox "
                                  f"(aks-netmig sandbox stop --dir {directory}, then {start})") from None
    req = urllib.request.Request(
        endpoint + "/_sandbox/faults", data=json.dumps(fault).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
            return dict(json.loads(resp.read() or b"{}"))
    except urllib.error.HTTPError as e:
        body = " ".join(e.read().decode(errors="replace").split())[:300]
        raise SandboxControlError(f"the sandbox refused the fault: {body}") from e
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e.__class__.__name__
        raise SandboxControlError(f"the sandbox in {directory} does not answer at {endpoint} ({reason}); it is not "
                                  f"running: {start}") from None
