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

import contextlib
import os
import shlex
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import (
    ADDRESS_KEYS,
    SECONDS,
    approver,
    check_credentials,
    cluster_options,
    configure_logging,
    polling_for,
    progress_sink,
    target_from,
)
from netmig.engine.failures import client_faults
from netmig.engine.monitor import STALL_FLAGS, Stalled
from netmig.errors import CheckFailed, NetmigError, Paused

TIMEOUT_FLAGS = STALL_FLAGS


def rerun_command(plan_path: Path, address: dict[str, Any], *, run_dir: Path | None = None, yes: bool = False,
                  prefect: bool | None = None, timeouts: dict[str, float | None] | None = None) -> list[str]:
    """This apply's command line (address, run folder, approval, orchestrator, timeouts as given), to rerun it."""
    cmd = ["aks-netmig", "apply", str(plan_path)]
    for key in ADDRESS_KEYS:
        if address.get(key):
            cmd += [f"--{key.replace('_', '-')}", str(address[key])]
    if run_dir is not None:
        cmd += ["--run-dir", str(run_dir)]
    if yes:
        cmd.append("--yes")
    if prefect is not None:
        cmd.append("--prefect" if prefect else "--no-prefect")
    for option, value in (timeouts or {}).items():
        if value is not None:
            cmd += [TIMEOUT_FLAGS[option], f"{value:g}"]
    return cmd


def _with_timeout(cmd: list[str], flag: str, seconds: float) -> list[str]:
    out = list(cmd)
    if flag in out:
        i = out.index(flag)
        del out[i:i + 2]
    return [*out, flag, f"{seconds:g}"]


def abort_command(rerun: list[str]) -> list[str]:
    """``aks-netmig abort PLAN [address] [--run-dir D] --yes`` for this apply's command line."""
    cmd = ["aks-netmig", "abort", *rerun[2:]]
    cmd = [a for a in cmd if a not in ("--yes", "--prefect", "--no-prefect")]
    for flag in TIMEOUT_FLAGS.values():
        if flag in cmd:
            i = cmd.index(flag)
            del cmd[i:i + 2]
    return [*cmd, "--yes"]


def stall_choices(e: Stalled, rerun: list[str]) -> str:
    """The three choices after a stall, as exact commands (one per line, after the one-line reason)."""
    return ("the ARM operation goes on; choose one:\n"
            f"  wait longer:  {shlex.join(_with_timeout(rerun, TIMEOUT_FLAGS[e.option], e.suggested))}\n"
            f"  abort:        {shlex.join(abort_command(rerun))}  (cancels the ARM operation; rerun apply later)\n"
            f"  resume later: {shlex.join(rerun)}\n"
            "  (if waiting longer ends in a failed ARM operation, e.g. NodeNotReadyTimeout: see the runbook's "
            "\"ARM operation failed\" section)")


def ended_with(error: NetmigError, plan: Any, run_dir: Path, rerun: list[str]) -> NetmigError:
    """The error a failed apply ends with (``netmig.engine.outcome.failure``: exit 4 once the cluster was changed,
    the last line naming the cluster's state and the exact next command)."""
    from netmig.engine.failures import ClientFailure
    from netmig.engine.outcome import failure
    from netmig.journal import Journal

    if isinstance(error, ClientFailure) and not error.cluster_changed:
        return error  # its one line already says nothing was changed and names the next command
    return failure(error, plan, Journal(run_dir / "journal.jsonl").events(), shlex.join(rerun))


class Interrupted(NetmigError):
    """Ctrl-C or SIGTERM during apply, after the journal, the lock and the flow run state were settled. Exit 130."""

    exit_code = 130


def _interrupted(e: BaseException, info: Any, rerun: list[str]) -> Interrupted:
    from netmig.cli.interrupts import signal_name

    text = info.message() if info is not None else f"interrupted ({signal_name(e)}) before the first step"
    return Interrupted(text, f"rerun the same command to resume: {shlex.join(rerun)}")


def _pending(plan: Any, journal: Any) -> list[str]:
    done = set(journal.completed_steps())
    return [s.id for s in plan.steps if s.id not in done]


@click.command()
@click.argument("plan_path", metavar="PLAN", type=click.Path(dir_okay=False, path_type=Path))
@cluster_options
@click.option("--yes", is_flag=True, help="Approve without asking (runbooks, CI).")
@click.option("--dry-run", is_flag=True, help="Show what would run (pending steps, the ARM change); change nothing.")
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="State folder (journal, backups, snapshots, report); default PLAN.run/ next to the plan.")
@click.option("--stall-timeout", type=SECONDS, default=None, help="Seconds without reimage progress before pausing.")
@click.option("--pdb-timeout", type=SECONDS, default=None, help="Seconds a PDB may block a drain before pausing.")
@click.option("--notready-timeout", type=SECONDS, default=None,
              help="Seconds a node may stay NotReady during the reimage before pausing.")
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
    from netmig.engine.context import Options
    from netmig.engine.planning import load_plan
    from netmig.engine.session import run_dir_for

    configure_logging()
    plan = load_plan(plan_path)
    address = dict(kwargs)
    target = target_from(kwargs, plan)
    rerun = rerun_command(plan_path, address, run_dir=run_dir, yes=yes, prefect=prefect,
                          timeouts={"stall_seconds": stall_timeout, "pdb_block_seconds": pdb_timeout,
                                    "notready_seconds": notready_timeout})
    run_dir = run_dir or run_dir_for(plan_path)
    options = Options(dry_run=dry_run, stall_seconds=stall_timeout, pdb_block_seconds=pdb_timeout,
                      notready_seconds=notready_timeout,
                      poll_seconds=1.0 if target.static_token else None)  # the sandbox runs fast
    if prefect is None:
        prefect = os.environ.get("NETMIG_ORCHESTRATOR", "prefect") != "local"
    check_credentials(target)  # before a Prefect server starts or the run folder is written
    if target.sandbox and not any(address.get(k) for k in ("sandbox", "cluster", "subscription")):
        address["sandbox"] = target.sandbox  # the plan's connection, for the flow (never its token)
    if dry_run or abort:
        _dry_run_or_abort(plan, target, run_dir, abort)
        return
    from netmig.logs import run_log

    verbose = verbose or bool((click_ctx.find_root().obj or {}).get("verbose"))
    if prefect:  # imported first: Prefect installs its console handler on import; run_log detaches it
        from netmig.cli.migrate_common import prepare_prefect_env

        prepare_prefect_env()
        from flows.migrate import OUTCOME, run_flow
    with run_log(run_dir / "apply.log", verbose):
        try:
            with client_faults(plan, run_dir, rerun):
                if prefect:
                    try:
                        run_flow(plan_path=str(plan_path), address=address, run_dir=run_dir, yes=yes,
                                 options=options, approver=approver(yes))
                    except KeyboardInterrupt as e:
                        raise _interrupted(e, OUTCOME.get("interruption"), rerun) from None
                else:
                    run_local(plan, target, run_dir, yes=yes, options=options, rerun=rerun)
        except Stalled as e:
            raise Paused(e.problem, stall_choices(e, rerun)) from e
        except (Paused, Interrupted):
            raise
        except NetmigError as e:  # exit 4 when the cluster was changed; the last line: its state and the next command
            raise ended_with(e, plan, run_dir, rerun) from e
    click.echo(f"Migration {plan.migration_id} done. Report: {run_dir / 'report.md'}")


def run_local(plan: Any, target: Any, run_dir: Path, *, yes: bool, options: Any,
              rerun: list[str] | None = None) -> None:
    """The library runner (no Prefect). ARM / Kubernetes API faults: one line (``client_faults``) naming ``rerun``
    (default ``aks-netmig apply PLAN``). Ctrl-C / SIGTERM: ``Interrupted`` once ``stop_run`` has recorded it."""
    from netmig.cli.interrupts import signal_name
    from netmig.engine.interruption import stop_run
    from netmig.engine.runner import run_plan
    from netmig.engine.session import open_context
    from netmig.kube import errors as kube

    sink = progress_sink()
    ctx = open_context(plan, target, run_dir, approver=approver(yes), progress=sink, options=options,
                       polling_interval=polling_for(target))
    try:
        with client_faults(plan, run_dir, rerun or ["aks-netmig", "apply", "PLAN"]):
            run_plan(ctx)
    except KeyboardInterrupt as e:
        raise _interrupted(e, stop_run(ctx, signal_name(e)), rerun or []) from None
    finally:
        from netmig.steps.lock import KEEPER, drop

        if ctx.scratch.get(KEEPER) is not None:  # ended by a failure or a pause: free the cluster (a crash can't)
            with contextlib.suppress(kube.KubeError):
                drop(ctx)
        sink.close()
        ctx.close()


def _dry_run_or_abort(plan: Any, target: Any, run_dir: Path, abort: bool) -> None:
    from netmig.azure.gateway import AksGateway
    from netmig.engine.planning import drift
    from netmig.journal import Journal

    aks = AksGateway(target, polling_interval=polling_for(target))
    journal = Journal(run_dir / "journal.jsonl")
    if abort:  # the deprecated alias: the one abort (aks-netmig abort PLAN --yes)
        from netmig.cli.abort_cmd import abort_operation

        out = abort_operation(target, plan, run_dir, yes=True)
        click.echo(f"Aborted the running operation on {plan.cluster} (now {out['provisioning_state_after']})."
                   if out["aborted"] else f"No operation in flight on {plan.cluster}: nothing to abort.")
        click.echo("Rerun apply to resume the migration: it sends the same network profile again, which reimages "
                   "the nodes left. (`apply --abort` is deprecated: use `aks-netmig abort PLAN --yes`.)")
        return
    pending = _pending(plan, journal)
    click.echo(f"Dry run of {plan.migration_id}: nothing is changed.")
    click.echo("  steps to run: " + (" -> ".join(pending) if pending else "none (done)"))
    if plan.steps and plan.steps[0].id in pending:
        problems = drift(plan, aks.cluster())
        click.echo("  cluster: " + ("unchanged since the plan" if not problems else "; ".join(problems)))
        if problems:
            raise CheckFailed("the cluster changed since the plan was made", "make a new plan")
    for line in planned_requests(plan, aks, pending, journal):
        click.echo(line)


def planned_requests(plan: Any, aks: Any, pending: list[str], journal: Any = None) -> list[str]:
    """The network-profile PUTs the pending update-network-profile steps of the default path will send, built by
    ``AksGateway.network_update_request`` -- the function ``begin_network_update`` sends them with -- from the
    step's own parameters (``netmig.engine.planning.step_target``), one block per request."""
    import json

    from netmig.engine.planning import step_target
    from netmig.steps.network import token_key

    out: list[str] = []
    default = plan.default_variant
    source = plan.source_profile()
    first = True
    for step in plan.steps:
        if step.kind != "update-network-profile" or step.variant not in (None, default):
            continue
        target = step_target(source, step)
        if step.id in pending and journal is not None and journal.value(token_key(step.id)):
            out.append(f"  ARM request (step {step.id}): already sent (its operation is in the journal); not sent "
                       "again")
        elif step.id in pending:
            etag = plan.etag if first else None
            req = aks.network_update_request(target, etag).describe()
            if_match = req["if_match"] or ("none" if first else "the etag read right before the PUT")
            out.append(f"  ARM request (step {step.id}): {req['method']} {req['path']}?api-version="
                       f"{req['api_version']}")
            out.append(f"    If-Match: {if_match}")
            out.append(f"    body.properties.networkProfile: {json.dumps(req['network_profile'], sort_keys=True)}")
            out.append(f"    changes: {source.describe() if first else 'the previous step'} -> {target.describe()}")
        first = False
    if not out:
        out.append("  ARM requests: none pending")
    return out
