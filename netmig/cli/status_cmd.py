"""``aks-netmig status PLAN|--cluster``: a migration's steps from its journal, and/or the cluster's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import cluster_options, polling_for, target_from


@click.command()
@click.argument("plan_path", metavar="[PLAN]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@cluster_options
def status(plan_path: Path | None, run_dir: Path | None, **kwargs: Any) -> None:
    """Show a migration's progress (PLAN) and the cluster's network profile, operation state and lock."""
    from netmig.engine.planning import load_plan
    from netmig.engine.runner import status as step_status
    from netmig.engine.session import run_dir_for
    from netmig.errors import UsageError
    from netmig.journal import Journal

    plan = load_plan(plan_path) if plan_path else None
    if plan is not None:
        rd = run_dir or run_dir_for(plan_path or "")
        journal = Journal(rd / "journal.jsonl")
        click.echo(f"Migration {plan.migration_id} ({plan.kind}) — state in {rd}")
        for sid, state, detail in step_status(journal.events(), [s.id for s in plan.steps]):
            click.echo(f"  {sid:<16} {state:<8} {detail}")
        stall = [e for e in journal.events() if e["event"] == "stall"]
        if stall:
            click.echo(f"  last stall: {stall[-1]['reason']}")
    if plan is None and not any(kwargs.get(k) for k in ("sandbox", "cluster", "subscription")):
        raise UsageError("nothing to show", "pass a PLAN file or a cluster (--cluster / --sandbox)")
    if plan is not None and not any(kwargs.get(k) for k in ("sandbox", "cluster", "subscription")) \
            and plan.arm_endpoint.startswith("https://127.0.0.1"):
        return  # a sandbox plan without --sandbox: no credentials to read the cluster with
    _cluster_status(target_from(kwargs, plan.cluster if plan else None, plan.arm_endpoint if plan else None))


def _cluster_status(target: Any) -> None:
    from netmig.azure.gateway import AksGateway
    from netmig.kube import lease
    from netmig.kube.gateway import KubeGateway

    aks = AksGateway(target, polling_interval=polling_for(target))
    info = aks.cluster()
    click.echo(f"Cluster {info.ref}: {info.provisioning_state}, {info.network.describe()}, "
               f"pools {', '.join(f'{p.name}={p.provisioning_state}' for p in info.pools)}")
    with KubeGateway(aks.user_kubeconfig()) as kube:
        _, holder = lease.read(kube)
        click.echo(f"Lock: {holder.describe() if holder else 'free'}")
