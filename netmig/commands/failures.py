"""Client faults (ARM, Kubernetes API) that end a run, as one line: what failed, the cluster's state, and the
next command (``netmig.commands.errors`` translates them for every other command).

Contract: ``client_failure(e, plan, run_dir, rerun)`` returns a ``ClientFailure`` (exit code 1, a ``CheckFailed``)
for an ``ArmError`` or ``KubeError`` that ended a run after the client's and the step's own retries. Its problem names
the API, the operation and ARM's / the API server's answer (truncated, no token or body beyond the message); its
fix names the cluster's state as the run folder's journal tells it (nothing changed yet; or which change was sent
and that the ARM operation goes on) and the exact next commands (``aks-netmig status PLAN`` when the cluster was
changed, then ``rerun``). ``cluster_changed`` tells whether a cluster-changing step had started.
``client_faults(plan, run_dir, rerun)`` is the context manager every runner entry (apply on both orchestrators, the
demo) wraps its run in.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from netmig.commands.errors import is_gateway_error
from netmig.errors import CheckFailed


class ClientFailure(CheckFailed):
    """An ARM / Kubernetes API fault that ended the run (see the module contract)."""

    def __init__(self, problem: str, fix: str, *, cluster_changed: bool) -> None:
        super().__init__(problem, fix)
        self.cluster_changed = cluster_changed


def cluster_state(plan: Any, run_dir: Path) -> tuple[bool, str]:
    """(changed, description) from the journal. "Changed" is ``netmig.engine.outcome.cluster_changed`` (the one
    definition apply's exit code 4 uses); the description says what was sent."""
    from netmig import journal
    from netmig.engine.outcome import changing_kinds, cluster_changed

    events = journal.events(run_dir / "journal.jsonl")
    changed = cluster_changed(plan, events)
    puts = [e for e in events if e.kind == journal.EventKind.ARM_PUT]
    if changed and puts:
        last = puts[-1]
        return True, (f"the network-profile change of step {last.step} was sent; the ARM operation goes on "
                      "without aks-netmig (its reimage is watched again on the rerun)")
    if changed:
        kinds = {s.id: s.kind for s in plan.steps}
        changing = changing_kinds()
        started = [e.step for e in events if e.kind == journal.EventKind.STEP_START
                   and kinds.get(str(e.step)) in changing]
        return True, f"step {started[-1] if started else '?'} had started changing the cluster"
    return False, "nothing was changed on the cluster"


def client_failure(e: BaseException, plan: Any, run_dir: Path, rerun: list[str]) -> ClientFailure:
    """The one-line failure for an ARM / Kubernetes API fault (see the module contract)."""
    from netmig.azure.errors import ArmError

    api = "ARM" if isinstance(e, ArmError) else "Kubernetes API"
    status = getattr(e, "status", None)
    text = " ".join(str(e).split())[:300]
    hint = ""
    if status in (401, 403):
        hint = " (permission: the identity needs the role the runbook names)"
    elif getattr(e, "temporary", False):
        hint = " (after retries)"
    changed, state = cluster_state(plan, run_dir)
    plan_path = rerun[2] if len(rerun) > 2 else "PLAN"
    steps = f"see aks-netmig status {shlex.quote(plan_path)}, then " if changed else ""
    return ClientFailure(f"{api}: {text}{hint}",
                         f"cluster state: {state}; next: {steps}rerun {shlex.join(rerun)} once the cause is fixed",
                         cluster_changed=changed)


@contextmanager
def client_faults(plan: Any, run_dir: Path, rerun: list[str]) -> Iterator[None]:
    """Inside the block, an ARM / Kubernetes API fault becomes ``client_failure(...)`` (raised ``from`` it)."""
    try:
        yield
    except Exception as e:
        if is_gateway_error(e):
            raise client_failure(e, plan, run_dir, rerun) from e
        raise
