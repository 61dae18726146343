"""``aks-netmig abort [PLAN]``: ask ARM to abort the cluster's in-flight operation and record it.

The cluster comes from ``--sandbox`` / ``--cluster`` / ``--subscription ...`` or, for a real cluster, from PLAN.
When nothing is in flight (the cluster and every pool are Succeeded / Failed / Canceled) nothing is sent. Otherwise
it asks for confirmation (a prompt on a terminal, ``--yes``; without either: exit 3, nothing sent), sends the
abort (managedClusters/abort, Canceling -> Canceled) and waits for it. With a PLAN the abort is recorded in the
plan's journal (``abort``), and so is the end of the reimage operation it cancelled (``operation-failed``), so the
next ``aks-netmig apply PLAN`` resumes the migration by sending the same network profile again.

Exit codes: 0 aborted or nothing to abort, 1 ARM refused or failed, 2 bad input, 3 not confirmed (no terminal).
``--json``: ``cluster``, ``in_flight``, ``aborted``, ``provisioning_state_before``, ``provisioning_state_after``,
``journal`` (path or null), ``resume_command`` (null without a plan).
"""

from __future__ import annotations

import getpass
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import (
    ADDRESS_KEYS,
    check_credentials,
    cluster_options,
    configure_logging,
    polling_for,
    target_from,
)
from netmig.errors import CheckFailed, Paused, UsageError

TERMINAL = ("Succeeded", "Failed", "Canceled")


def _confirm(what: str, yes: bool) -> None:
    if yes:
        return
    if sys.stdin.isatty() and sys.stdout.isatty():
        import questionary

        if questionary.confirm(f"Abort the running operation on {what}?", default=False).unsafe_ask():
            return
        raise CheckFailed("not aborted", "nothing was sent")
    raise Paused("paused awaiting confirmation (no terminal to ask on); nothing was sent",
                 "rerun with --yes to abort the operation")


def abort_operation(target: Any, plan: Any | None, run_dir: Path | None, *, yes: bool) -> dict[str, Any]:
    """The library function behind the command (see the module docstring); returns the ``--json`` document."""
    from netmig.azure import errors as arm
    from netmig.azure.gateway import AksGateway
    from netmig.journal import Journal

    aks = AksGateway(target, polling_interval=polling_for(target))
    try:
        info = aks.cluster()
    except arm.ArmError as e:
        raise CheckFailed(f"cannot read {target.describe()}: {e}", "check the address and the credentials") from e
    busy = [f"pool {p.name} {p.provisioning_state}" for p in info.pools if p.provisioning_state not in TERMINAL]
    in_flight = info.provisioning_state not in TERMINAL or bool(busy)
    out: dict[str, Any] = {"cluster": info.ref.resource_id, "in_flight": in_flight, "aborted": False,
                           "provisioning_state_before": info.provisioning_state, "provisioning_state_after": None,
                           "journal": None, "resume_command": None}
    if not in_flight:
        out["provisioning_state_after"] = info.provisioning_state
        return out
    _confirm(f"{info.ref} ({info.provisioning_state}{'; ' + ', '.join(busy) if busy else ''})", yes)
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
            out.update(in_flight=False, provisioning_state_after=aks.cluster().provisioning_state)
            return out
        if journal is not None:
            journal.record("abort-failed", step=current, by=user, error=str(e)[:500])
        raise CheckFailed(f"ARM did not abort the operation: {e}",
                          "check the cluster (aks-netmig status); the operation may have ended already") from e
    out.update(aborted=True, provisioning_state_after=after)
    if plan is not None and journal is not None:
        journal.record("abort", step=current, by=user, provisioning_state=info.provisioning_state, result=after)
        if after == "Canceled":  # the reimage operation ended: the next apply re-sends the profile at once
            from netmig.steps.reimage import note_aborted

            note_aborted(plan, journal, f"the operation was aborted by {user} (aks-netmig abort)")
        out["journal"] = str(journal.path)
    return out


@click.command()
@click.argument("plan_path", metavar="[PLAN]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The plan's state folder (default PLAN.run/ next to the plan).")
@cluster_options
@click.option("--yes", is_flag=True, help="Abort without asking (runbooks).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys: see the module docs).")
def abort(plan_path: Path | None, run_dir: Path | None, yes: bool, as_json: bool, **kwargs: Any) -> None:
    """Ask ARM to abort the cluster's in-flight operation (after a stall) and record it in the plan's journal."""
    from netmig.cli.status_cmd import address_args
    from netmig.engine.planning import load_plan
    from netmig.engine.session import run_dir_for

    configure_logging()
    address = {k: kwargs.get(k) for k in ADDRESS_KEYS}
    plan = load_plan(plan_path) if plan_path else None
    if plan is None and not any(address.get(k) for k in ("sandbox", "cluster", "subscription")):
        raise UsageError("no cluster given", "pass a PLAN file or a cluster (--cluster / --sandbox)")
    target = target_from(kwargs, plan)
    check_credentials(target)
    if plan is not None:
        if target.ref.resource_id.lower() != plan.cluster.lower():
            raise UsageError(f"the plan is for {plan.cluster}, but the address given is {target.ref.resource_id}",
                             "pass the plan's cluster (or --sandbox of the sandbox the plan was made for)")
        run_dir = run_dir or run_dir_for(plan_path or "")
    out = abort_operation(target, plan, run_dir if plan is not None else None, yes=yes)
    if plan is not None:
        out["resume_command"] = shlex.join(["aks-netmig", "apply", str(plan_path), *address_args(address)])
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    if not out["in_flight"]:
        click.echo(f"No operation in flight on {target.ref} (provisioningState {out['provisioning_state_before']}): "
                   "nothing to abort.")
    else:
        recorded = f" Recorded in {out['journal']}." if out["journal"] else ""
        click.echo(f"Aborted the operation on {target.ref}: provisioningState {out['provisioning_state_before']} -> "
                   f"{out['provisioning_state_after']}.{recorded}")
    if out["resume_command"]:
        click.echo(f"Resume the migration later with: {out['resume_command']}")
