"""A temporary local Prefect server owned by one CLI command (``aks-netmig apply`` when PREFECT_API_URL is unset).

Prefect's own ephemeral server (``SubprocessASGIServer``) is a plain child process in the CLI's process group: a
Ctrl-C in the terminal kills it together with the CLI (the flow then cannot report its state: ConnectError
tracebacks, minutes of retries), and a CLI killed with SIGKILL leaves it running for ever (parent pid 1). This
one is started the same way (uvicorn, ``prefect.server.api.server:create_app``, the UI off) with three
differences:

- its own session (``start_new_session``): the terminal's SIGINT reaches the CLI only, which stops the server
  itself once the flow run's final state is recorded;
- on Linux the kernel's parent-death signal (``prctl(PR_SET_PDEATHSIG, SIGTERM)``, set in the child between fork
  and exec): when the CLI dies, however it dies (SIGKILL included), the server gets SIGTERM;
- a record ``PREFECT_HOME/netmig-servers/PID.json`` (server pid, owner pid, port) while it runs: ``start`` first
  reaps servers whose owner no longer exists (belt and braces where PDEATHSIG does not exist), checking by the
  process's command line that the pid is still such a server.

Contract: ``temporary_server(log_path)`` starts the server (its output appended to ``log_path``), waits until
``/api/health`` answers (``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``, default 180), sets
PREFECT_API_URL for the block (``temporary_settings``) and stops the server at the end (SIGTERM to its process
group, SIGKILL after ``STOP_GRACE`` seconds). ``reap()`` returns the pids it stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from netmig.processes import pid_alive

SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
APP = "prefect.server.api.server:create_app"
STOP_GRACE = 3.0
PR_SET_PDEATHSIG = 1


def _prefect_home() -> Path:
    return Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()


def registry_dir() -> Path:
    return _prefect_home() / "netmig-servers"


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _is_server(pid: int, port: int) -> bool:
    cmd = _cmdline(pid)
    return APP in cmd and f"--port {port}" in cmd


def _stop_group(pid: int, grace: float = STOP_GRACE) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pid):
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                break
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def reap() -> list[int]:
    """Stop the temporary servers whose owning command is gone; returns their pids. Stale records are removed."""
    stopped = []
    d = registry_dir()
    for rec in sorted(d.glob("*.json")) if d.is_dir() else []:
        try:
            data = json.loads(rec.read_text())
            pid, owner, port = int(data["pid"]), int(data["owner"]), int(data["port"])
        except (OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                rec.unlink()
            continue
        if pid_alive(owner) and owner != os.getpid():
            continue
        if pid_alive(pid) and _is_server(pid, port):
            _stop_group(pid)
            stopped.append(pid)
        with contextlib.suppress(OSError):
            rec.unlink()
    return stopped


def _die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks the kernel to SIGTERM the child when this process dies (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:  # runs in the child between fork and exec: no imports, no locks
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
    return preexec


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TemporaryServer:
    """One uvicorn process serving the Prefect API on 127.0.0.1 (see the module contract)."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.record: Path | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def _spawn(self) -> subprocess.Popen[bytes]:
        import prefect
        from prefect.settings import get_current_settings

        self.port = _free_port()
        env = {**os.environ, **get_current_settings().to_environment_variables(exclude_unset=True), **SERVER_ENV}
        env.pop("PREFECT_API_URL", None)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- temporary Prefect server on 127.0.0.1:{self.port} ---\n".encode())
            log.flush()
            return subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "--app-dir", str(Path(prefect.__file__).parent.parent),
                 "--factory", APP, "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "error",
                 "--lifespan", "on"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                preexec_fn=_die_with_parent())  # the child calls one pre-resolved libc function only

    def start(self, timeout: float | None = None) -> str:
        import httpx

        reap()
        timeout = timeout or float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS") or 180)
        deadline = time.monotonic() + timeout
        self.proc = self._spawn()
        self._write_record()
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self.proc.poll()
                if code == 3:  # uvicorn: the port was taken meanwhile
                    self._remove_record()
                    self.proc = self._spawn()
                    self._write_record()
                elif code is not None:
                    raise RuntimeError(f"the temporary Prefect server exited with code {code} while starting; its "
                                       f"log is {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{self.api_url}/health").status_code == 200:
                        return self.api_url
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the temporary Prefect server did not answer within {timeout:.0f} s "
                                       f"(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS); its log is "
                                       f"{self.log_path}")
                time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            _stop_group(self.proc.pid)
            self.proc = None
        self._remove_record()

    def _write_record(self) -> None:
        assert self.proc is not None
        d = registry_dir()
        d.mkdir(parents=True, exist_ok=True)
        self.record = d / f"{self.proc.pid}.json"
        self.record.write_text(json.dumps({"pid": self.proc.pid, "owner": os.getpid(), "port": self.port,
                                           "started": time.time()}))

    def _remove_record(self) -> None:
        if self.record is not None:
            with contextlib.suppress(OSError):
                self.record.unlink()
            self.record = None


@contextlib.contextmanager
def temporary_server(log_path: Path) -> Iterator[TemporaryServer]:
    """A started ``TemporaryServer`` with PREFECT_API_URL pointing at it; stopped at the end, whatever happens."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = TemporaryServer(log_path)
    try:
        url = server.start()
        with temporary_settings(updates={PREFECT_API_URL: url}):
            try:
                yield server
            finally:
                drain(1.5)
    finally:
        server.stop()


def drain(timeout: float = 3.0) -> None:
    """Send what Prefect's background workers still hold (log lines, events: task run states) before the server
    goes away; bounded, and never raises."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):
            worker.drain_all(timeout=timeout)
