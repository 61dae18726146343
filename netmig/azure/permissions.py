"""The caller's effective Azure permissions at a scope (``Microsoft.Authorization/permissions``), read through the
AKS client's pipeline (its credential, CA bundle and retries; no other SDK needed).

Contract:
- ``grants_at(aks, scope)`` -> ``[Grant(actions, not_actions)]``: ``GET {scope}/providers/Microsoft.Authorization/
  permissions`` (following ``nextLink``); each entry is one role assignment's permissions. Errors are
  ``netmig.azure.errors`` (403 ``AuthFailed``, 404 ``NotFound``, ...).
- ``allowed(grants, action)``: some grant allows ``action`` (``netmig.model.permissions.action_allowed``).
- ``network_scopes(aks)`` -> the scopes the Microsoft.Network reads act on: the VNets of the pools' own subnets
  (bring-your-own), else the node resource group (the AKS-managed VNet lives there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from azure.core.rest import HttpRequest

from netmig.azure import errors
from netmig.azure.gateway import AksGateway, translated
from netmig.model.permissions import action_allowed

API_VERSION = "2022-04-01"


@dataclass(frozen=True)
class Grant:
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]


def grants_at(aks: AksGateway, scope: str) -> list[Grant]:
    """The caller's permissions at ``scope`` (see the module contract)."""
    url: str | None = f"{scope.rstrip('/')}/providers/Microsoft.Authorization/permissions?api-version={API_VERSION}"
    out: list[Grant] = []
    while url:
        with translated(f"reading the caller's permissions on {scope}"):
            res = aks.client.send_request(HttpRequest("GET", url))
            res.raise_for_status()
        body = json.loads(res.text() or "{}")
        for p in body.get("value") or []:
            out.append(Grant(tuple(str(a) for a in p.get("actions") or []),
                             tuple(str(a) for a in p.get("notActions") or [])))
        url = body.get("nextLink")
    return out


def allowed(grants: list[Grant], action: str) -> bool:
    return any(action_allowed(action, list(g.actions), list(g.not_actions)) for g in grants)


def network_scopes(aks: AksGateway) -> list[str]:
    """See the module contract."""
    with translated(f"reading cluster {aks.ref}"):
        mc = aks.client.managed_clusters.get(aks.ref.resource_group, aks.ref.name)
        pools = list(aks.client.agent_pools.list(aks.ref.resource_group, aks.ref.name))
    scopes = sorted({str(p.vnet_subnet_id).split("/subnets/")[0] for p in pools if getattr(p, "vnet_subnet_id", None)})
    if len(scopes) < len(pools) or not scopes:
        node_rg = getattr(mc, "node_resource_group", None)
        if not node_rg:
            raise errors.NotFound(f"cluster {aks.ref} has no node resource group", "NotFound", 404)
        scopes.append(f"/subscriptions/{aks.ref.subscription_id}/resourceGroups/{node_rg}")
    return scopes
