"""One process per run folder: an exclusive ``flock`` on ``RUN_DIR/run.lock``.

Why: two applies of the same plan share one journal; without this the second could skip a step the first just
recorded (the cluster Lease then never sees the second run). The kernel drops the flock when the holder exits in
any way (``kill -9`` included), so a crashed run never blocks its own rerun.

Contract: ``hold(run_dir)`` returns a ``RunLock`` (``release()`` it; idempotent) or raises ``CheckFailed`` naming
the pid holding it. ``holder(run_dir)`` is that pid when a live process holds the folder, else None (read-only).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from netmig.errors import CheckFailed

NAME = "run.lock"


class RunLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path, self._fd = path, fd

    def release(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def _pid(path: Path) -> str:
    try:
        return path.read_text().strip() or "?"
    except OSError:
        return "?"


def hold(run_dir: Path) -> RunLock:
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise CheckFailed(f"another aks-netmig run of this plan is in progress (pid {_pid(path)}, run folder "
                          f"{run_dir})", "wait for it to finish (aks-netmig status PLAN), or stop it; nothing "
                          "was changed") from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return RunLock(path, fd)


def holder(run_dir: Path) -> int | None:
    path = run_dir / NAME
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = _pid(path)
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
