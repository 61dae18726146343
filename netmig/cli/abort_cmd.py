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

import json
import sys
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import cluster_options, configure_logging
from netmig.connection import Address


def _ask(what: str) -> bool:
    import questionary

    # unsafe_ask: Ctrl-C at the prompt is an interrupt (exit 130), not a "no"
    return bool(questionary.confirm(f"Abort the running operation on {what}?", default=False).unsafe_ask())


def terminal_confirm() -> Any:
    """The confirmation prompt when stdin and stdout are a terminal, else None (``--yes`` or exit 3)."""
    return _ask if sys.stdin.isatty() and sys.stdout.isatty() else None


@click.command()
@click.argument("plan_path", metavar="[PLAN]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The plan's state folder (default PLAN.run/ next to the plan).")
@cluster_options
@click.option("--yes", is_flag=True, help="Abort without asking (runbooks).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (keys: see the module docs).")
def abort(plan_path: Path | None, run_dir: Path | None, yes: bool, as_json: bool, **kwargs: Any) -> None:
    """Ask ARM to abort the cluster's in-flight operation (after a stall) and record it in the plan's journal."""
    from netmig.commands import AbortRequest
    from netmig.commands import abort as abort_command

    configure_logging()
    result = abort_command(AbortRequest(plan_path=plan_path, run_dir=run_dir, address=Address.of(kwargs), yes=yes,
                                        confirm=None if yes else terminal_confirm()))
    out = result.to_dict()
    target = result.target
    assert target is not None
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
