"""The node subnets of a cluster and their free IPs, read from Microsoft.Network through the AKS client's pipeline.

Contract: ``node_subnets(aks)`` returns one ``SubnetUsage`` per distinct node subnet with the pools on it:
a pool's ``vnetSubnetID`` (BYO VNet), else the AKS-managed VNet ``aks-vnet-*`` in the node resource group (subnet
``aks-subnet``, else its first one). ``in_use`` / ``limit`` come from the VNet's ``usages`` (Azure already
subtracts its 5 reserved addresses from ``limit``). Errors are ``netmig.azure.errors`` (e.g. ``AuthFailed`` without
Reader on the VNet); no azure-mgmt-network needed. Read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from azure.core.rest import HttpRequest

from netmig.azure import errors
from netmig.azure.gateway import AksGateway, translated

API_VERSION = "2024-05-01"


@dataclass(frozen=True)
class SubnetUsage:
    subnet_id: str
    in_use: int
    limit: int
    pools: tuple[str, ...] = field(default_factory=tuple)

    @property
    def free(self) -> int:
        return max(0, self.limit - self.in_use)

    @property
    def name(self) -> str:
        parts = self.subnet_id.split("/")
        return f"{parts[-3]}/{parts[-1]}" if len(parts) >= 3 else self.subnet_id


def _get(aks: AksGateway, path: str) -> dict[str, Any]:
    sep = "&" if "?" in path else "?"
    with translated(f"reading {path.rsplit('/providers/', 1)[-1]}"):
        res = aks.client.send_request(HttpRequest("GET", f"{path}{sep}api-version={API_VERSION}"))
    if res.status_code == 404:
        raise errors.NotFound(f"{path}: not found", "NotFound", 404)
    if res.status_code in (401, 403):
        raise errors.AuthFailed(f"reading {path}: not authorized ({res.status_code}); Reader on the VNet is needed",
                                None, res.status_code)
    if res.status_code == 429 or res.status_code >= 500:
        raise errors.Temporary(f"reading {path}: HTTP {res.status_code}", None, res.status_code)
    if res.status_code >= 400:
        raise errors.Rejected(f"reading {path}: HTTP {res.status_code}", None, res.status_code)
    return dict(json.loads(res.text() or "{}"))


def _managed_subnet(aks: AksGateway) -> str:
    with translated(f"reading cluster {aks.ref}"):
        mc = aks.client.managed_clusters.get(aks.ref.resource_group, aks.ref.name)
    node_rg = getattr(mc, "node_resource_group", None)
    if not node_rg:
        raise errors.NotFound(f"cluster {aks.ref} has no node resource group", "NotFound", 404)
    vnets = _get(aks, f"/subscriptions/{aks.ref.subscription_id}/resourceGroups/{node_rg}/providers/"
                      "Microsoft.Network/virtualNetworks").get("value") or []
    managed = [v for v in vnets if str(v.get("name", "")).startswith("aks-vnet-")] or vnets
    if not managed:
        raise errors.NotFound(f"no virtual network in the node resource group {node_rg}", "NotFound", 404)
    subnets = (managed[0].get("properties") or {}).get("subnets") or []
    chosen = next((s for s in subnets if s.get("name") == "aks-subnet"), subnets[0] if subnets else None)
    if chosen is None:
        raise errors.NotFound(f"the virtual network {managed[0].get('name')} has no subnet", "NotFound", 404)
    return str(chosen["id"])


def node_subnets(aks: AksGateway) -> list[SubnetUsage]:
    with translated(f"listing node pools of {aks.ref}"):
        raw = list(aks.client.agent_pools.list(aks.ref.resource_group, aks.ref.name))
    by_subnet: dict[str, list[str]] = {}
    managed: str | None = None
    for p in raw:
        sid = getattr(p, "vnet_subnet_id", None)
        if not sid:
            managed = managed or _managed_subnet(aks)
            sid = managed
        by_subnet.setdefault(str(sid), []).append(str(p.name))
    out = []
    for sid, pools in by_subnet.items():
        vnet = sid.lower().split("/subnets/")[0]
        usages = _get(aks, sid.split("/subnets/")[0] + "/usages").get("value") or []
        entry = next((u for u in usages if str(u.get("id", "")).lower() == sid.lower()), None)
        if entry is None:
            raise errors.NotFound(f"no usage reported for subnet {sid} of {vnet}", "NotFound", 404)
        out.append(SubnetUsage(sid, int(entry.get("currentValue") or 0), int(entry.get("limit") or 0),
                               tuple(sorted(pools))))
    return out
