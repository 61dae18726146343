"""User-facing errors: one line naming the problem and the fix, with an exit code.

Contract: the CLI prints ``str(error)`` on one line and exits with ``error.exit_code``; a traceback is shown only
with ``--debug``.
"""

from __future__ import annotations


class NetmigError(Exception):
    """An error the user can act on."""

    exit_code = 1

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}" if fix else problem)


class UsageError(NetmigError):
    """Bad input: a missing file, a malformed plan or flag value. Exit code 2."""

    exit_code = 2


class CheckFailed(NetmigError):
    """A failed check or step. Exit code 1."""

    exit_code = 1


class Paused(NetmigError):
    """Waiting for approval, or stopped on a stall. Exit code 3."""

    exit_code = 3


class FailedAfterChange(NetmigError):
    """A failure after the cluster was changed (a network-profile PUT went out, objects were installed or deleted):
    exit code 4, so that 1 and 2 always mean "nothing was changed". ``netmig.engine.outcome`` decides it."""

    exit_code = 4
