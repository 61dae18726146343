"""``aks-netmig apply PLAN``: execute a reviewed plan, resumably.

Runs the Prefect flow ``netmig-migrate`` (a temporary local Prefect server when PREFECT_API_URL is unset) or, with
``--no-prefect`` (or NETMIG_ORCHESTRATOR=local), the library runner directly. Either way completed steps are
skipped on a rerun and an in-flight ARM operation is re-attached, never re-sent.
Exit codes: 0 done, 1 a check/step failed and nothing was changed, 2 bad input (nothing changed), 3 paused (awaiting
approval, or a stall), 4 failed after the cluster was changed (``netmig.engine.outcome``; the last line of a
failure names the cluster's state and the exact next command), 130 interrupted (Ctrl-C or SIGTERM, within
seconds: the journal records where the run stopped, the cluster lock is released unless the network-profile change
it sent may still be running in ARM, the Prefect flow run ends Cancelled; rerun the same command to resume, exactly
as after ``kill -9``).
Prefect's and the SDKs' log lines go to ``RUN_DIR/apply.log`` (and the Prefect server), not to the terminal, unless
``-v``; the terminal shows aks-netmig's own lines and the result.
A stall prints one line naming its cause (the node, the PodDisruptionBudget namespace/name), then the exact
commands for the three choices: wait longer (this command with a larger timeout), abort the ARM operation
(``aks-netmig abort PLAN --yes``; ``apply --abort`` is a hidden, deprecated alias), resume later (this command).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import SECONDS, approver, cluster_options, configure_logging, progress_sink
from netmig.commands.applying import ApplyRequest, ApplyRun, failures, interrupted
from netmig.connection import Address
from netmig.errors import CheckFailed


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@cluster_options
@click.option("--yes", is_flag=True, help="Approve without asking (runbooks, CI).")
@click.option("--dry-run", is_flag=True, help="Show what would run (pending steps, the ARM change); change nothing.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="State folder (journal, backups, snapshots, report); default PLAN.run/ next to the plan.")
@click.option("--stall-timeout", type=SECONDS, default=None,
              help="Seconds without reimage progress before pausing  [default: the plan's stall_seconds, 1800]")
@click.option("--pdb-timeout", type=SECONDS, default=None,
              help="Seconds a PDB may block a drain before pausing  [default: the plan's pdb_block_seconds, 900]")
@click.option("--notready-timeout", type=SECONDS, default=None,
              help="Seconds a node may stay NotReady during the reimage before pausing  [default: the plan's "
              "notready_seconds, 1500]")
@click.option("--prefect/--no-prefect", default=None,
              help="Run as the Prefect flow (default) or with the library runner (NETMIG_ORCHESTRATOR=local).")
@click.option("--abort", is_flag=True, hidden=True,
              help="Deprecated alias of `aks-netmig abort PLAN --yes` (kept for old runbooks).")
@click.option("-v", "--verbose", is_flag=True,
              help="Also show Prefect's and the SDKs' log lines on the terminal (always in RUN_DIR/apply.log).")
@click.pass_context
def apply(click_ctx: click.Context, plan_path: Path, yes: bool, dry_run: bool, run_dir: Path | None,
          stall_timeout: float | None, pdb_timeout: float | None, notready_timeout: float | None,
          prefect: bool | None, abort: bool, verbose: bool, **kwargs: Any) -> None:
    """Execute a plan written by `aks-netmig plan` (resumable: rerun it after any interruption)."""
    from netmig.commands import prepare_apply, run_local

    configure_logging()
    run = prepare_apply(ApplyRequest(plan_path, Address.of(kwargs), run_dir=run_dir, yes=yes, dry_run=dry_run,
                                     stall_seconds=stall_timeout, pdb_block_seconds=pdb_timeout,
                                     notready_seconds=notready_timeout, prefect=prefect))
    if prefect is None:
        prefect = os.environ.get("NETMIG_ORCHESTRATOR", "prefect") != "local"
    if abort:
        _abort(run)
        return
    if dry_run:
        _dry_run(run)
        return
    from netmig.logs import run_log

    verbose = verbose or bool((click_ctx.find_root().obj or {}).get("verbose"))
    if prefect:  # imported first: Prefect installs its console handler on import; run_log detaches it
        from netmig.cli.migrate_common import prepare_prefect_env

        prepare_prefect_env()
        from flows.migrate import run_flow
    with run_log(run.run_dir / "apply.log", verbose), failures(run):
        if prefect:
            try:
                run_flow(plan_path=str(plan_path), address=run.address.as_dict(), run_dir=run.run_dir, yes=yes,
                         options=run.options, approver=approver(yes))
            except KeyboardInterrupt as e:  # the flow run ended Cancelled; ``info``: what stop_run recorded
                raise interrupted(e, getattr(e, "info", None), run.rerun) from None
        else:
            run_local(run, approver=approver(yes), progress=progress_sink())
    click.echo(f"Migration {run.plan.migration_id} done. Report: {run.run_dir / 'report.md'}")


def _abort(run: ApplyRun) -> None:
    """The deprecated alias: the one abort (aks-netmig abort PLAN --yes)."""
    from netmig.commands.aborting import abort_operation

    out = abort_operation(run.target, run.plan, run.run_dir, yes=True)
    click.echo(f"Aborted the running operation on {run.plan.cluster} (now {out.provisioning_state_after})."
               if out.aborted else f"No operation in flight on {run.plan.cluster}: nothing to abort.")
    click.echo("Rerun apply to resume the migration: it sends the same network profile again, which reimages "
               "the nodes left. (`apply --abort` is deprecated: use `aks-netmig abort PLAN --yes`.)")


def _dry_run(run: ApplyRun) -> None:
    from netmig.commands import dry_run

    result = dry_run(run)
    click.echo(f"Dry run of {run.plan.migration_id}: nothing is changed.")
    click.echo("  steps to run: " + (" -> ".join(result.pending) if result.pending else "none (done)"))
    if result.drift is not None:
        click.echo("  cluster: " + ("unchanged since the plan" if not result.drift else "; ".join(result.drift)))
        if result.drift:
            raise CheckFailed("the cluster changed since the plan was made", "make a new plan")
    for line in result.requests:
        click.echo(line)
