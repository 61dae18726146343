"""``abort``: ask ARM to abort the cluster's in-flight operation and record it in the plan's journal.

Contract: ``abort(AbortRequest)`` reads the cluster (from the address, else the plan's connection); when nothing is
in flight (the cluster and every pool Succeeded / Failed / Canceled) nothing is sent. Otherwise it needs
``yes`` or a ``confirm(what) -> bool`` that says yes (no: ``CheckFailed``, nothing sent; neither: ``Paused``, exit
3), sends the abort and waits for it. With a plan, the abort is recorded in the plan's journal (``abort``, and the
end of the reimage operation it cancelled), so the next apply resumes by sending the same network profile again.
Returns an ``AbortResult`` (``to_dict()``: the ``aks-netmig abort --json`` document).
"""

from __future__ import annotations

import getpass
import shlex
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netmig.commands.argv import argv
from netmig.commands.errors import cannot_read, check_access
from netmig.commands.state import MigrationAt
from netmig.connection import ArmTarget
from netmig.errors import CheckFailed, Paused, UsageError

TERMINAL = ("Succeeded", "Failed", "Canceled")


@dataclass(frozen=True)
class AbortRequest(MigrationAt):
    yes: bool = False
    confirm: Callable[[str], bool] | None = None  # asked when not ``yes`` (a terminal prompt)


@dataclass
class AbortResult:
    cluster: str
    in_flight: bool
    aborted: bool
    provisioning_state_before: str
    provisioning_state_after: str | None
    journal: str | None = None
    resume_command: str | None = None
    target: ArmTarget | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("target")
        return out


def abort(req: AbortRequest) -> AbortResult:
    """See the module contract."""
    from netmig.engine.planning import load_plan
    from netmig.engine.session import run_dir_for

    plan = load_plan(req.plan_path) if req.plan_path else None
    if plan is None and not req.address.names_cluster():
        raise UsageError("no cluster given", "pass a PLAN file or a cluster (--cluster / --sandbox)")
    target = req.address.target(plan)
    check_access(target)
    run_dir = None
    if plan is not None:
        if target.ref.resource_id.lower() != plan.cluster.lower():
            raise UsageError(f"the plan is for {plan.cluster}, but the address given is {target.ref.resource_id}",
                             "pass the plan's cluster (or --sandbox of the sandbox the plan was made for)")
        run_dir = req.run_dir or run_dir_for(req.plan_path or "")
    out = abort_operation(target, plan, run_dir, yes=req.yes, confirm=req.confirm)
    if plan is not None:
        out.resume_command = shlex.join(argv("apply", req.plan_path, address=req.address))
    return out


def _confirm(what: str, yes: bool, confirm: Callable[[str], bool] | None) -> None:
    if yes:
        return
    if confirm is not None:
        if confirm(what):
            return
        raise CheckFailed("not aborted", "nothing was sent")
    raise Paused("paused awaiting confirmation (no terminal to ask on); nothing was sent",
                 "rerun with --yes to abort the operation")


def abort_operation(target: ArmTarget, plan: Any | None, run_dir: Path | None, *, yes: bool,
                    confirm: Callable[[str], bool] | None = None) -> AbortResult:
    """Abort ``target``'s in-flight operation, recorded in ``run_dir``'s journal for ``plan`` (see the module
    contract; the address and the plan are already checked)."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway
    from netmig.journal import Journal

    aks = AksGateway(target)
    with cannot_read(target):
        info = aks.cluster()
    busy = [f"pool {p.name} {p.provisioning_state}" for p in info.pools if p.provisioning_state not in TERMINAL]
    in_flight = info.provisioning_state not in TERMINAL or bool(busy)
    out = AbortResult(cluster=info.ref.resource_id, in_flight=in_flight, aborted=False,
                      provisioning_state_before=info.provisioning_state, provisioning_state_after=None,
                      target=target)
    if not in_flight:
        out.provisioning_state_after = info.provisioning_state
        return out
    _confirm(f"{info.ref} ({info.provisioning_state}{'; ' + ', '.join(busy) if busy else ''})", yes, confirm)
    journal = Journal(run_dir / "journal.jsonl") if run_dir is not None else None
    user = getpass.getuser()
    current = None
    if plan is not None and journal is not None:
        done = set(journal.completed_steps())
        current = next((s.id for s in plan.steps if s.id not in done), None)
        journal.record("abort-requested", step=current, by=user, provisioning_state=info.provisioning_state)
    try:
        aks.abort()
        after = aks.cluster().provisioning_state
    except arm.ArmError as e:
        if e.code == "NoOngoingOperationToAbort":  # it ended between our read and the abort
            if journal is not None:
                journal.record("abort-noop", step=current, by=user, reason=str(e)[:300])
            out.in_flight = False
            out.provisioning_state_after = aks.cluster().provisioning_state
            return out
        if journal is not None:
            journal.record("abort-failed", step=current, by=user, error=str(e)[:500])
        raise CheckFailed(f"ARM did not abort the operation: {e}",
                          "check the cluster (aks-netmig status); the operation may have ended already") from e
    out.aborted, out.provisioning_state_after = True, after
    if plan is not None and journal is not None:
        journal.record("abort", step=current, by=user, provisioning_state=info.provisioning_state, result=after)
        if after == "Canceled":  # the reimage operation ended: the next apply re-sends the profile at once
            from netmig.steps.reimage import note_aborted

            note_aborted(plan, journal, f"the operation was aborted by {user} (aks-netmig abort)")
        out.journal = str(journal.path)
    return out
