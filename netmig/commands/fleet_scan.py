"""``fleet scan``: every AKS cluster a credential reads, what it runs, which migrations it needs and what blocks them.

Contract:
- ``FleetScanRequest``: a sandbox fleet folder (``sandbox``: its ``sandbox.json`` endpoint, CA bundle and token), or
  an ARM endpoint / CA bundle with the ambient Azure credential; ``subscriptions`` (none: every one the credential
  lists); ``today`` (None: the UTC date now) for the days left.
- ``fleet_scan(req) -> FleetScanResult``: the inventory (``netmig.azure.inventory.list_fleet``: Resource Graph, else
  ARM listing) assessed by ``netmig.fleet.scan`` (ARM data only; nothing is changed). ``clusters`` are the
  ``ClusterScan.to_json()`` dicts in id order; ``source`` says how they were listed. ARM failures are one
  ``CheckFailed`` line (``netmig.commands.errors``); a credential short of the scan's role is a ``UsageError``
  before anything is listed (``netmig.commands.scan_access``). ``deep``: each cluster with a recommended migration
  also gets ``preflight`` (that kind's full preflight: Kubernetes access, policy analysis; ``parallel`` at once; see
  ``_deep``); without it nothing but ARM is read.
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
    deep: bool = False  # also run the recommended migration's full preflight on each cluster
    parallel: int = 4  # clusters preflighted at once with ``deep``


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
    from netmig.commands.scan_access import scan_subscriptions
    from netmig.fleet.scan import scan

    target = fleet_target(req.sandbox, req.arm_endpoint, req.ca_bundle)
    now = dt.datetime.now(dt.UTC)
    with translated(f"cannot list the clusters at {target.endpoint}"):
        subs = scan_subscriptions(target, req.subscriptions, req.deep)  # the role checked first: no silent gaps
        inv = list_fleet(target, subs)
    clusters = [s.to_json() for s in scan(inv.clusters, req.today or now.date())]
    if req.deep:
        _deep(clusters, req)
    return FleetScanResult(clusters, inv.source, now.strftime("%Y-%m-%dT%H:%M:%SZ"), inv.fallback_reason, target)


def member_dirs(sandbox: Path | None) -> dict[str, str]:
    """Lower-cased cluster id -> member folder, from a sandbox fleet's ``sandbox.json`` (empty otherwise)."""
    if sandbox is None:
        return {}
    try:
        info = json.loads((sandbox / "sandbox.json").read_text())
    except (OSError, ValueError):
        return {}
    return {str(c["id"]).lower(): str(c["dir"]) for c in info.get("clusters") or [] if c.get("dir")}


def connection_for(cluster_id: str, sandbox: Path | None, arm_endpoint: str | None, ca_bundle: str | None,
                   members: dict[str, str]) -> dict[str, Any] | None:
    """The address of one fleet cluster (``Address`` keys): its member folder in a sandbox fleet (None for a light
    member, which has no Kubernetes API), else its resource id at the fleet's ARM endpoint / CA bundle."""
    if sandbox is not None:
        folder = members.get(cluster_id.lower())
        return {"sandbox": folder} if folder else None
    out: dict[str, Any] = {"cluster": cluster_id}
    if arm_endpoint:
        out["arm_endpoint"] = arm_endpoint
    if ca_bundle:
        out["ca_bundle"] = ca_bundle
    return out


def _deep(clusters: list[dict[str, Any]], req: FleetScanRequest) -> None:
    """Add ``preflight`` to each cluster with a recommended migration: ``{"kind", "ok", "blocking": [check ids]}``
    from ``netmig.commands.preflight`` (Kubernetes access, the policy analysis, every check of the kind), or
    ``{"kind", "ok": false, "error"}`` when it could not run; ``req.parallel`` clusters at once."""
    from concurrent.futures import ThreadPoolExecutor

    from netmig.commands.plans import PlanRequest, preflight
    from netmig.connection import Address
    from netmig.errors import NetmigError

    if req.parallel < 1:
        raise UsageError(f"--parallel must be >= 1, got {req.parallel}", "pass e.g. --parallel 4")
    members = member_dirs(req.sandbox)

    def one(c: dict[str, Any]) -> None:
        kind = c["recommended"]
        conn = connection_for(c["id"], req.sandbox, req.arm_endpoint, req.ca_bundle, members)
        if conn is None:
            c["preflight"] = {"kind": kind, "ok": False, "error": "light sandbox cluster: no Kubernetes API"}
            return
        try:
            res = preflight(PlanRequest(kind, Address.of(conn)))
        except NetmigError as e:
            c["preflight"] = {"kind": kind, "ok": False, "error": str(e)}
            return
        c["preflight"] = {"kind": kind, "ok": not res.blocking, "blocking": [r.check for r in res.blocking]}

    with ThreadPoolExecutor(max_workers=req.parallel) as pool:
        list(pool.map(one, [c for c in clusters if c.get("recommended")]))


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
