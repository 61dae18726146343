"""Test hook: kill the process at a chosen point, to prove resumability (documented in README "Resuming").

``NETMIG_TEST_KILL_AT`` is a comma-separated list of points; the runner honours ``STEP_ID:before`` and
``STEP_ID:after`` (step boundaries), the watch-reimage step ``watch-reimage:event=N`` (after the N-th node event).
When a point is reached the process sends itself SIGKILL: no cleanup, no flush, exactly like ``kill -9``.
Never set it outside tests.
"""

from __future__ import annotations

import os
import signal

ENV = "NETMIG_TEST_KILL_AT"


def kill_point(point: str) -> None:
    wanted = os.environ.get(ENV)
    if wanted and point in (w.strip() for w in wanted.split(",")):
        os.kill(os.getpid(), signal.SIGKILL)
