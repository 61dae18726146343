"""The virtual networks of a cluster's nodes, read from Microsoft.Network (read-only): address spaces, subnets,
peerings -- the ranges an overlay pod CIDR must not overlap.

Contract: ``read_vnets(aks)`` returns a ``VnetInfo`` per VNet the node pools use: a pool's ``vnetSubnetID`` (BYO
VNet), else the AKS-managed VNet ``aks-vnet-*`` in the node resource group. Each has its address space, its subnets
(name -> prefixes), the subnets the nodes use, and its peerings' remote address spaces. Errors are
``netmig.azure.errors`` (e.g. ``AuthFailed`` without Reader on the VNet). Plain GETs through the AKS client's
pipeline (``aks.client.send_request``), no azure-mgmt-network needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

API_VERSION = "2024-05-01"


@dataclass(frozen=True)
class VnetInfo:
    id: str
    address_prefixes: tuple[str, ...]
    subnets: dict[str, tuple[str, ...]] = field(default_factory=dict)
    node_subnets: tuple[str, ...] = ()
    peerings: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        parts = self.id.split("/")
        return f"{parts[4]}/{parts[-1]}" if len(parts) > 8 else parts[-1]


def _get(aks: Any, path: str) -> dict[str, Any]:
    from azure.core.rest import HttpRequest

    from netmig.azure import errors
    from netmig.azure.gateway import translated

    with translated(f"reading {path.rsplit('/providers/', 1)[-1]}"):
        res = aks.client.send_request(HttpRequest("GET", f"{path}?api-version={API_VERSION}"))
    what = f"reading {path.rsplit('/providers/', 1)[-1]}: HTTP {res.status_code}"
    if res.status_code == 404:
        raise errors.NotFound(what, "NotFound", 404)
    if res.status_code in (401, 403):
        raise errors.AuthFailed(what + " (Reader on the VNet is needed)", None, res.status_code)
    if res.status_code == 429 or res.status_code >= 500:
        raise errors.Temporary(what, None, res.status_code)
    if res.status_code >= 400:
        raise errors.Rejected(what, None, res.status_code)
    return dict(json.loads(res.text() or "{}"))


def _prefixes(props: dict[str, Any]) -> tuple[str, ...]:
    many = props.get("addressPrefixes") or []
    one = props.get("addressPrefix")
    return tuple(str(x) for x in ([one] if one else []) + list(many))


def read_vnets(aks: Any) -> list[VnetInfo]:
    from netmig.azure import errors
    from netmig.azure.gateway import translated

    with translated(f"listing node pools of {aks.ref}"):
        pools = list(aks.client.agent_pools.list(aks.ref.resource_group, aks.ref.name))
    subnet_ids = {str(p.vnet_subnet_id) for p in pools if getattr(p, "vnet_subnet_id", None)}
    vnet_ids: dict[str, set[str]] = {}
    for sid in subnet_ids:
        vnet, _, subnet = sid.partition("/subnets/")
        vnet_ids.setdefault(vnet, set()).add(subnet)
    if any(not getattr(p, "vnet_subnet_id", None) for p in pools):  # AKS-managed VNet in the node resource group
        with translated(f"reading cluster {aks.ref}"):
            mc = aks.client.managed_clusters.get(aks.ref.resource_group, aks.ref.name)
        node_rg = getattr(mc, "node_resource_group", None)
        listed = _get(aks, f"/subscriptions/{aks.ref.subscription_id}/resourceGroups/{node_rg}/providers/"
                           "Microsoft.Network/virtualNetworks").get("value") or []
        managed = [v for v in listed if str(v.get("name", "")).startswith("aks-vnet-")] or listed
        if not managed:
            raise errors.NotFound(f"no virtual network in the node resource group {node_rg}", "NotFound", 404)
        subnets = (managed[0].get("properties") or {}).get("subnets") or []
        chosen = next((s for s in subnets if s.get("name") == "aks-subnet"), subnets[0] if subnets else {})
        vnet_ids.setdefault(str(managed[0]["id"]), set()).add(str(chosen.get("name", "aks-subnet")))
    out = []
    for vid, node_subnets in sorted(vnet_ids.items()):
        props = _get(aks, vid).get("properties") or {}
        out.append(VnetInfo(
            id=vid, address_prefixes=tuple((props.get("addressSpace") or {}).get("addressPrefixes") or ()),
            subnets={str(s["name"]): _prefixes(s.get("properties") or {}) for s in props.get("subnets") or []},
            node_subnets=tuple(sorted(node_subnets)),
            peerings={str(p["name"]): tuple(((p.get("properties") or {}).get("remoteAddressSpace") or {})
                                            .get("addressPrefixes") or ())
                      for p in props.get("virtualNetworkPeerings") or []}))
    return out
