"""Shared pieces of plan / apply / status: cluster-address options, logging, approval and progress callbacks."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from netmig.connection import ArmTarget, resolve
from netmig.errors import Paused

F = TypeVar("F", bound=Callable[..., Any])
ADDRESS_KEYS = ("sandbox", "cluster", "subscription", "resource_group", "name", "arm_endpoint", "ca_bundle")


def cluster_options(f: F) -> F:
    opts = [
        click.option("--sandbox", type=click.Path(file_okay=False, path_type=Path),
                     help="A sandbox folder: endpoint, CA bundle, token and cluster from DIR/sandbox.json."),
        click.option("--cluster", help="AKS resource id /subscriptions/.../managedClusters/NAME."),
        click.option("--subscription"), click.option("--resource-group"), click.option("--name"),
        click.option("--arm-endpoint", help="ARM endpoint (default: public Azure)."),
        click.option("--ca-bundle", help="PEM bundle to trust for the ARM endpoint."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def target_from(kwargs: dict[str, Any], default_cluster: str | None = None,
                default_endpoint: str | None = None) -> ArmTarget:
    addr = {k: kwargs.pop(k, None) for k in ADDRESS_KEYS}
    if not any(addr[k] for k in ("sandbox", "cluster", "subscription")) and default_cluster:
        addr["cluster"] = default_cluster
        addr["arm_endpoint"] = addr["arm_endpoint"] or default_endpoint
    return resolve(**addr)


def polling_for(target: ArmTarget) -> float:
    return 0.2 if target.static_token else 5.0


def configure_logging() -> None:
    from netmig.logs import configure

    configure()


def approver(yes: bool) -> Callable[[Any], Any]:
    def ask(plan: Any) -> Any:
        user = getpass.getuser()
        if yes:
            return {"approved": True, "approver": user, "via": "--yes"}
        if sys.stdin.isatty() and sys.stdout.isatty():
            import questionary

            click.echo(f"\nAbout to change {plan.cluster}:\n  {plan.source_profile().describe()} -> "
                       f"{plan.target_profile().describe()}; {plan.nodes_to_reimage} nodes reimaged"
                       + (f"\n  IRREVERSIBLE: {plan.irreversible_reason}" if plan.irreversible else ""))
            # unsafe_ask: Ctrl-C at the prompt is an interrupt (exit 130, nothing recorded as a "no"), not a rejection
            ok = questionary.confirm("Approve this migration?", default=False).unsafe_ask()
            return {"approved": bool(ok), "approver": user, "via": "prompt"}
        raise Paused("paused awaiting approval (no terminal to ask on)",
                     "review the plan, then rerun apply with --yes")
    return ask


def progress_sink() -> Any:
    from netmig.engine.context import ProgressSink

    if sys.stderr.isatty():
        from netmig.cli.progress import RichProgress

        return RichProgress()
    return ProgressSink()


def prepare_prefect_env() -> None:
    """Before prefect is imported: no analytics, and a PREFECT_HOME that exists (Prefect does not create parents)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    home = os.environ.get("PREFECT_HOME")
    if home:
        Path(home).expanduser().mkdir(parents=True, exist_ok=True)
