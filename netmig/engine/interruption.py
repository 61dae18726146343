"""What a run does when it is interrupted (Ctrl-C, SIGTERM): record where it stopped, free the cluster lock unless
an ARM operation the migration started is still running, and say so in one message.

Contract:
- ``stop_run(ctx, signame)`` records ``run-interrupted`` in the journal (``signal``, ``step``: the step that was
  running, or None between steps; ``after``: the last completed step; ``lease``: released | kept | none;
  ``operation``: the step whose network-profile change may still be running in ARM, or None) and returns an
  ``Interruption``. Nothing is sent to ARM. The lease is kept when an operation may still run (its keeper thread is
  stopped, so it expires after its duration unless the rerun takes it over, as after ``kill -9``); otherwise it is
  released. A failure to release is reported in the message, never raised.
- ``operation_in_flight(plan, journal)``: the id of an update-network-profile step whose PUT was sent (journaled
  ``arm-put`` or continuation token) while the watch-reimage step following it is not done and the operation was
  not recorded as ended (``operation-failed``); None otherwise.
- The rerun resumes exactly as after ``kill -9``: completed steps are skipped, the ARM operation is re-attached.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from netmig.journal import EventKind
from netmig.stepkit.context import StepContext

RUN_INTERRUPTED = "run-interrupted"


@dataclass(frozen=True)
class Interruption:
    signal: str
    step: str | None
    after: str | None
    lease: str  # released | kept | none | release-failed
    operation: str | None

    def message(self) -> str:
        where = (f"in step {self.step}" if self.step else
                 f"after step {self.after}" if self.after else "before the first step")
        parts = [f"interrupted ({self.signal}) {where}; the journal records where the run stopped"]
        if self.operation:
            parts.append(f"the network-profile change sent by step {self.operation} may still be running in ARM "
                         "(it goes on without aks-netmig)")
        if self.lease == "kept":
            parts.append("the cluster lock kube-system/aks-netmig-lock is kept for it (it expires unless the rerun "
                         "takes it over)")
        elif self.lease == "released":
            parts.append("the cluster lock was released")
        elif self.lease == "release-failed":
            parts.append("the cluster lock could not be released (it expires by itself)")
        return "; ".join(parts)


def operation_in_flight(plan: Any, journal: Any) -> str | None:
    from netmig.steps.reimage import sent_watches

    ended = {e.step for e in journal.read() if e.is_(EventKind.OPERATION_FAILED)}
    return next((op_step for ws, op_step in sent_watches(plan, journal) if ws.id not in ended), None)


def _position(ctx: StepContext) -> tuple[str | None, str | None]:
    """(the step running when interrupted, the last step completed)."""
    running: str | None = None
    after: str | None = None
    for e in ctx.journal.read():
        if e.is_(EventKind.STEP_START):
            running = e.step
        elif e.kind in (EventKind.STEP_DONE, EventKind.STEP_FAILED, EventKind.STEP_PAUSED) and e.step == running:
            running = None
        elif e.is_(EventKind.STEP_INTERRUPTED):
            running = e.step
        if e.is_(EventKind.STEP_DONE):
            after = e.step
    return running, after


def stop_run(ctx: StepContext, signame: str) -> Interruption:
    from netmig.steps.lock import KEEPER, drop

    step, after = _position(ctx)
    operation = operation_in_flight(ctx.plan, ctx.journal)
    keeper = ctx.scratch.get(KEEPER)
    lease = "none"
    if keeper is not None:
        if operation:
            ctx.scratch.pop(KEEPER, None)
            keeper.stop()
            lease = "kept"
        else:
            lease = "released"
            try:
                drop(ctx)
            except Exception:  # an interrupt must end; the lease expires by itself
                lease = "release-failed"
    info = Interruption(signal=signame, step=step, after=after, lease=lease, operation=operation)
    with contextlib.suppress(Exception):
        ctx.journal.record(RUN_INTERRUPTED, run_id=ctx.run_id, signal=signame, step=step, after=after, lease=lease,
                           operation=operation)
    return info
