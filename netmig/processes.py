"""Local processes: whether a pid still runs (pure stdlib; used by the Lease's dead-holder check and the temporary
Prefect server's reaping)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists on this machine (a process of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
