"""``fleet scan``: every AKS cluster a credential reads, what it runs, which migrations it needs and what blocks them.

Contract:
- ``FleetScanRequest``: a sandbox fleet folder (``sandbox``: its ``sandbox.json`` endpoint, CA bundle and token), or
  an ARM endpoint / CA bundle with the ambient Azure credential; ``subscriptions`` (none: every one the credential
  lists); ``today`` (None: the UTC date now) for the days left.
- ``fleet_scan(req) -> FleetScanResult``: the inventory (``netmig.azure.inventory.list_fleet``: Resource Graph, else
  ARM listing) assessed by ``netmig.fleet.scan`` (ARM data only; nothing is changed). ``clusters`` are the
  ``ClusterScan.to_json()`` dicts in id order; ``source`` says how they were listed. ARM failures are one
  ``CheckFailed`` line (``netmig.commands.errors``).
- ``load_scan(path)`` reads a saved ``fleet scan --json`` back (``UsageError`` naming the file when it is not one).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig.commands.errors import translated
from netmig.connection import ArmTarget, from_sandbox_dir, resolve
from netmig.errors import UsageError
from netmig.model.cluster import ClusterRef


@dataclass(frozen=True)
class FleetScanRequest:
    sandbox: Path | None = None
    arm_endpoint: str | None = None
    ca_bundle: str | None = None
    subscriptions: tuple[str, ...] = ()
    today: dt.date | None = None


@dataclass(frozen=True)
class FleetScanResult:
    clusters: list[dict[str, Any]]
    source: str
    scanned_at: str
    fallback_reason: str | None = None
    target: ArmTarget | None = field(default=None, repr=False)


def fleet_target(sandbox: Path | None, arm_endpoint: str | None = None, ca_bundle: str | None = None) -> ArmTarget:
    """The ARM connection a fleet command uses (its cluster part is a placeholder: fleet commands name none)."""
    if sandbox is not None:
        return from_sandbox_dir(sandbox)
    return resolve(cluster=ClusterRef("-", "-", "-").resource_id, arm_endpoint=arm_endpoint, ca_bundle=ca_bundle)


def fleet_scan(req: FleetScanRequest) -> FleetScanResult:
    """See the module contract."""
    from netmig.azure.inventory import list_fleet
    from netmig.fleet.scan import scan

    target = fleet_target(req.sandbox, req.arm_endpoint, req.ca_bundle)
    now = dt.datetime.now(dt.UTC)
    with translated(f"cannot list the clusters at {target.endpoint}"):
        inv = list_fleet(target, list(req.subscriptions))
    clusters = [s.to_json() for s in scan(inv.clusters, req.today or now.date())]
    return FleetScanResult(clusters, inv.source, now.strftime("%Y-%m-%dT%H:%M:%SZ"), inv.fallback_reason, target)


def load_scan(path: Path) -> list[dict[str, Any]]:
    """The clusters of a saved ``fleet scan --json`` file."""
    from netmig.inputs import read_text

    text = read_text(path, "fleet scan", "write one with: aks-netmig fleet scan --json > FILE")
    try:
        doc = json.loads(text)
        clusters = doc["clusters"]
        if not isinstance(clusters, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{path} is not a fleet scan (no \"clusters\" list)",
                         "write one with: aks-netmig fleet scan --json > FILE") from None
    return [dict(c) for c in clusters]
