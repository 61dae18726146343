"""``aks-netmig permissions (--migration KIND [--read-only | --verify] | --fleet-scan [--deep]) [--json]``: the
least-privilege roles a migration kind, or the fleet scan, needs, built from the declarations of its step kinds and
checks (``netmig.commands.permissions``; this module only renders).

Output: an Azure custom role definition (JSON for ``az role definition create --role-definition @role.json``;
replace the ``AssignableScopes`` placeholder) and the Kubernetes ClusterRole / Role / bindings (YAML for
``kubectl apply -f``; replace the subject placeholder). ``--json`` prints one object ``{"azure_role": {...},
"kubernetes": [...]}``. ``--read-only``: the roles for ``plan`` and ``preflight`` only (no write, no probe).
``--fleet-scan``: the read-only Azure role ``fleet scan`` needs (assign it at each subscription it scans; no
Kubernetes object); with ``--deep``: also what ``fleet scan --deep`` reads on each cluster.
Exit codes: 0; 2 unknown kind, or options that don't go together.
"""

from __future__ import annotations

import json

import click
import yaml


@click.command("permissions")
@click.option("--migration", "kind", default=None, help="the migration kind (plans/KIND.yaml)")
@click.option("--json", "as_json", is_flag=True, help='one JSON object: {"azure_role": {...}, "kubernetes": [...]}')
@click.option("--read-only", is_flag=True, help="the roles plan and preflight need (reads only)")
@click.option("--verify", "verify", is_flag=True,
              help="the roles `aks-netmig verify` needs (reads + connectivity probes, no Azure write)")
@click.option("--fleet-scan", is_flag=True,
              help="the read-only Azure role `aks-netmig fleet scan` needs (instead of --migration)")
@click.option("--deep", is_flag=True,
              help="with --fleet-scan: the roles `fleet scan --deep` needs (each recommended migration's preflight)")
def permissions(kind: str | None, as_json: bool, read_only: bool, verify: bool, fleet_scan: bool,
                deep: bool) -> None:
    """Print the Azure role and Kubernetes RBAC a migration kind, or the fleet scan, needs (least privilege)."""
    from netmig.commands.permissions import PermissionsRequest
    from netmig.commands.permissions import permissions as build
    from netmig.engine.permissions import ASSIGNABLE_SCOPE, FLEET_SCOPE

    doc = build(PermissionsRequest(kind, read_only=read_only, verify=verify, fleet_scan=fleet_scan,
                                   deep=deep)).to_dict()
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"# Azure custom role: az role definition create --role-definition @{doc['azure_role']['Name']}.json")
    if fleet_scan:
        click.echo(f"# (replace AssignableScopes: {FLEET_SCOPE}, one entry per subscription to scan; assign the "
                   "role at each of them: Resource Graph returns only the clusters the role may read)")
    else:
        click.echo(f"# (replace AssignableScopes: {ASSIGNABLE_SCOPE})")
    click.echo(json.dumps(doc["azure_role"], indent=2))
    if not doc["kubernetes"]:
        click.echo("# Kubernetes RBAC: none (fleet scan reads ARM only)")
        return
    click.echo("# Kubernetes RBAC: kubectl apply -f - (replace the subject with the identity aks-netmig runs as)")
    click.echo(yaml.safe_dump_all(doc["kubernetes"], sort_keys=False), nl=False)
