"""Test hooks: kill or pause the process at a chosen point, to prove resumability and locking (README "Test hooks").

``checkpoint(point)`` is called by the engine at these points:

- ``STEP_ID:before`` / ``STEP_ID:after``: every step boundary (the runner);
- ``watch-reimage:event=N``: after the N-th node event of the watch-reimage step;
- ``update-network:put-sent``: the network-profile PUT was answered by ARM, its continuation token is NOT yet
  journaled (a crash there must not lead to a second PUT: the rerun re-attaches through the cluster's profile);
- ``STEP:waiting``: each round of a wait-daemonset / wait-tigerastatus step's wait; ``STEP:probing``: after each probe
  pod of a connectivity-snapshot / verify step finished; ``verify:probing`` the same in ``aks-netmig verify``;
  ``restore:progress`` after each progress line of ``aks-netmig restore`` (the Ctrl-C tests signal there).

``NETMIG_TEST_KILL_AT=P1,P2`` — at a listed point the process sends itself SIGKILL: no cleanup, no flush, exactly
like ``kill -9``. ``NETMIG_TEST_PAUSE_AT=P1,P2`` — at a listed point the process sends itself SIGSTOP and carries on
when it gets SIGCONT (a test waits for the stop with ``os.waitpid(pid, os.WUNTRACED)``: synchronisation without
sleeps). Never set either outside tests.
"""

from __future__ import annotations

import os
import signal

KILL_ENV = "NETMIG_TEST_KILL_AT"
PAUSE_ENV = "NETMIG_TEST_PAUSE_AT"
ENV = KILL_ENV  # the original name


def _listed(env: str, point: str) -> bool:
    wanted = os.environ.get(env)
    return bool(wanted) and point in (w.strip() for w in (wanted or "").split(","))


def checkpoint(point: str) -> None:
    """SIGKILL (``NETMIG_TEST_KILL_AT``) or SIGSTOP (``NETMIG_TEST_PAUSE_AT``) this process at ``point``."""
    if _listed(KILL_ENV, point):
        os.kill(os.getpid(), signal.SIGKILL)
    if _listed(PAUSE_ENV, point):
        os.kill(os.getpid(), signal.SIGSTOP)


kill_point = checkpoint  # the original name
