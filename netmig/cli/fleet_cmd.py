"""``aks-netmig fleet``: scan every cluster, plan waves, show a wave plan's status.

Contract: thin: fills ``netmig.commands.fleet_*`` requests in and renders their results (``netmig.fleet.render``,
``netmig.fleet.waves``). ``scan`` prints a table, or exactly one of ``--json`` / ``--csv`` / ``--markdown``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from netmig.errors import UsageError

_SANDBOX = click.option("--sandbox", type=click.Path(file_okay=False, path_type=Path), default=None,
                        help="A sandbox fleet folder (aks-netmig sandbox start --scenario fleet --dir DIR).")
_ARM = click.option("--arm-endpoint", default=None, help="ARM endpoint (default: public Azure).")
_CA = click.option("--ca-bundle", default=None, help="CA bundle (PEM) for the ARM endpoint.")
_SUBS = click.option("--subscription", "subscriptions", multiple=True,
                     help="Scan only this subscription (repeatable; default: every one the credential lists).")
_TODAY = click.option("--today", type=click.DateTime(["%Y-%m-%d"]), default=None,
                      help="Count days left from this date (default: today, UTC).")


@click.group()
def fleet() -> None:
    """Many clusters: scan what must migrate, plan waves, follow a wave plan."""


@fleet.command("scan")
@_SANDBOX
@_ARM
@_CA
@_SUBS
@_TODAY
@click.option("--json", "as_json", is_flag=True, help='Print {"clusters": [...]} as JSON.')
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per cluster.")
@click.option("--markdown", "as_md", is_flag=True, help="Print a Markdown report.")
def scan(sandbox: Path | None, arm_endpoint: str | None, ca_bundle: str | None, subscriptions: tuple[str, ...],
         today: dt.datetime | None, as_json: bool, as_csv: bool, as_md: bool) -> None:
    """Inventory every AKS cluster (Resource Graph, else ARM listing): network, retirements, blockers, next step."""
    from netmig.commands.fleet_scan import FleetScanRequest, fleet_scan
    from netmig.fleet import render

    if sum((as_json, as_csv, as_md)) > 1:
        raise UsageError("--json, --csv and --markdown are exclusive", "pass only one of them")
    res = fleet_scan(FleetScanRequest(sandbox, arm_endpoint, ca_bundle, subscriptions,
                                      today.date() if today else None))
    if as_json:
        click.echo(render.to_json(res.clusters, res.source, res.scanned_at))
    elif as_csv:
        click.echo(render.to_csv(res.clusters), nl=False)
    elif as_md:
        click.echo(render.markdown(res.clusters), nl=False)
    else:
        click.echo(render.table(res.clusters))
        how = res.source + (f" ({res.fallback_reason})" if res.fallback_reason else "")
        click.echo(f"\n{len(res.clusters)} clusters, listed through {how}.")
