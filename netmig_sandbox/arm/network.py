"""The virtual network of the cluster's nodes, served read-only the way Microsoft.Network serves it.

Why this exists (modelling choice): the managedCluster JSON of real AKS never carries the node subnet's address
prefix or the VNet's address space, yet the kubenet -> Azure CNI Overlay preflight needs them (the pod CIDR must not
overlap the VNet). What AKS does expose, and the sandbox mirrors:

- BYO VNet: ``properties.agentPoolProfiles[].vnetSubnetID`` (agentPool ``properties.vnetSubnetID``) is the subnet's
  resource id, e.g. ``/subscriptions/S/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/
  vnet-spoke/subnets/snet-aks``.
- AKS-managed VNet: ``vnetSubnetID`` is absent (null in the SDK); the VNet ``aks-vnet-<number>`` (subnet
  ``aks-subnet``) lives in the node resource group ``properties.nodeResourceGroup``.

The prefixes are then read from Microsoft.Network, exactly as on Azure (needs Reader on the VNet). The product can
do it without azure-mgmt-network through the same authenticated pipeline:
``ContainerServiceClient.send_request(HttpRequest("GET", f"{subnet_id}?api-version=2024-05-01"))``. The sandbox ARM
endpoint serves (any api-version, read-only; other methods 405):

    GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Network/virtualNetworks
    GET .../virtualNetworks/{vnet}                  addressSpace.addressPrefixes, subnets, virtualNetworkPeerings
    GET .../virtualNetworks/{vnet}/subnets[/{subnet}]   addressPrefix, routeTable (kubenet)
    GET .../virtualNetworks/{vnet}/usages           per subnet: currentValue (IPs in use) / limit

Scenario key (all optional)::

    cluster:
      vnet:
        name: str                 # default aks-vnet-12345678
        resource_group: str       # set: a BYO VNet (pools get vnetSubnetID); unset: AKS-managed, in the node RG
        cidr: str | [str]         # the VNet address space, default 10.224.0.0/12
        subnets: {name: prefix}   # default {aks-subnet: 10.224.0.0/16}
        node_subnet: str          # the subnet the nodes join (default: aks-subnet, else the first subnet); its
                                  # prefix must be 10.224.0.0/16 (node IPs are simulated from that range)
        peerings: [{name: str, remote_cidr: str | [str]}]   # virtualNetworkPeerings (remoteAddressSpace)
        route_table: str          # kubenet: a BYO route table id (default: AKS's own in the node RG)

Behaviour: a kubenet cluster's node subnet has a ``routeTable``; once a migration to Azure CNI Overlay has reimaged
every node, AKS's own route table is detached (deleted); a BYO one stays attached (its pod routes are deleted, routes
are not modelled). ``usages`` counts one IP per node, plus ``maxPods`` per node for node-subnet Azure CNI (whose pod
IPs come from the subnet); Azure reserves 5 addresses of every subnet.
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Any

from netmig_sandbox.sim.topology import NODE_SUBNET

NETWORK = "Microsoft.Network"
MANAGED_VNET = "aks-vnet-12345678"
MANAGED_SUBNET = "aks-subnet"
DEFAULT_ADDRESS_SPACE = "10.224.0.0/12"
MANAGED_ROUTE_TABLE = "aks-agentpool-12345678-routetable"


def _list(value: Any, default: list[str]) -> list[str]:
    if value is None:
        return list(default)
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _etag() -> str:
    return f'W/"{uuid.uuid4()}"'


@dataclass
class VirtualNetwork:
    """See the module docstring."""

    subscription_id: str
    resource_group: str
    name: str
    location: str
    address_prefixes: list[str]
    subnets: dict[str, str]
    node_subnet: str
    byo: bool
    peerings: list[dict[str, Any]] = field(default_factory=list)
    route_table_id: str | None = None  # attached to the node subnet (kubenet)
    route_table_managed: bool = True
    guid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @classmethod
    def from_scenario(cls, cluster: dict[str, Any], subscription_id: str, node_resource_group: str,
                      location: str) -> VirtualNetwork:
        spec = cluster.get("vnet") or {}
        byo = bool(spec.get("resource_group"))
        subnets = {str(k): str(v) for k, v in (spec.get("subnets") or {MANAGED_SUBNET: NODE_SUBNET}).items()}
        node_subnet = str(spec.get("node_subnet") or (MANAGED_SUBNET if MANAGED_SUBNET in subnets
                                                       else next(iter(subnets))))
        if node_subnet not in subnets:
            raise ValueError(f"cluster.vnet.node_subnet {node_subnet!r} is not one of cluster.vnet.subnets "
                             f"({', '.join(subnets)})")
        if ipaddress.ip_network(subnets[node_subnet]) != ipaddress.ip_network(NODE_SUBNET):
            raise ValueError(f"cluster.vnet: the node subnet {node_subnet} must be {NODE_SUBNET} (node IPs are "
                             f"simulated from it), not {subnets[node_subnet]}")
        net = cls(
            subscription_id=subscription_id,
            resource_group=str(spec.get("resource_group") or node_resource_group),
            name=str(spec.get("name") or MANAGED_VNET),
            location=location,
            address_prefixes=_list(spec.get("cidr"), [DEFAULT_ADDRESS_SPACE]),
            subnets=subnets,
            node_subnet=node_subnet,
            byo=byo,
            peerings=[{"name": str(p["name"]), "remote": _list(p.get("remote_cidr"), [])}
                      for p in spec.get("peerings") or []],
        )
        for name, prefix in subnets.items():
            sub = ipaddress.ip_network(prefix)
            if not any(sub.subnet_of(ipaddress.ip_network(a)) for a in net.address_prefixes  # type: ignore[arg-type]
                       if ipaddress.ip_network(a).version == sub.version):
                raise ValueError(f"cluster.vnet: subnet {name} {prefix} is outside the VNet address space "
                                 f"{', '.join(net.address_prefixes)}")
        plugin = (cluster.get("network_profile") or {}).get("networkPlugin")
        if plugin == "kubenet":
            if spec.get("route_table"):
                net.route_table_id = str(spec["route_table"])
                net.route_table_managed = False
            else:
                net.route_table_id = (f"/subscriptions/{subscription_id}/resourceGroups/{node_resource_group}/"
                                      f"providers/{NETWORK}/routeTables/{MANAGED_ROUTE_TABLE}")
        return net

    # ------------------------------------------------------------------ ids
    @property
    def id(self) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/{NETWORK}/"
                f"virtualNetworks/{self.name}")

    def subnet_id(self, name: str) -> str:
        return f"{self.id}/subnets/{name}"

    @property
    def node_subnet_id(self) -> str:
        return self.subnet_id(self.node_subnet)

    def pool_subnet_id(self) -> str | None:
        """What agent pools carry as ``vnetSubnetID``: the node subnet for a BYO VNet, nothing when AKS owns it."""
        return self.node_subnet_id if self.byo else None

    # ------------------------------------------------------------------ behaviour
    def after_reimage(self, profile: dict[str, Any]) -> None:
        """A network-profile reimage finished: the overlay migration drops AKS's own route table."""
        if (profile.get("networkPlugin") == "azure" and profile.get("networkPluginMode") == "overlay"
                and self.route_table_managed):
            self.route_table_id = None

    # ------------------------------------------------------------------ rendering
    def subnet_json(self, name: str) -> dict[str, Any]:
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "addressPrefix": self.subnets[name],
            "privateEndpointNetworkPolicies": "Disabled",
            "privateLinkServiceNetworkPolicies": "Enabled",
            "delegations": [],
        }
        if name == self.node_subnet and self.route_table_id:
            props["routeTable"] = {"id": self.route_table_id}
        return {"id": self.subnet_id(name), "name": name, "etag": _etag(),
                "type": f"{NETWORK}/virtualNetworks/subnets", "properties": props}

    def peering_json(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"{self.id}/virtualNetworkPeerings/{p['name']}", "name": p["name"], "etag": _etag(),
            "type": f"{NETWORK}/virtualNetworks/virtualNetworkPeerings",
            "properties": {
                "provisioningState": "Succeeded", "peeringState": "Connected", "peeringSyncLevel": "FullyInSync",
                "remoteVirtualNetwork": {"id": f"/subscriptions/{self.subscription_id}/resourceGroups/"
                                               f"{self.resource_group}/providers/{NETWORK}/virtualNetworks/{p['name']}"},
                "remoteAddressSpace": {"addressPrefixes": list(p["remote"])},
                "allowVirtualNetworkAccess": True, "allowForwardedTraffic": False, "allowGatewayTransit": False,
                "useRemoteGateways": False,
            },
        }

    def vnet_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "type": f"{NETWORK}/virtualNetworks", "location": self.location,
            "etag": _etag(), "tags": {},
            "properties": {
                "provisioningState": "Succeeded", "resourceGuid": self.guid,
                "addressSpace": {"addressPrefixes": list(self.address_prefixes)},
                "subnets": [self.subnet_json(n) for n in self.subnets],
                "virtualNetworkPeerings": [self.peering_json(p) for p in self.peerings],
                "enableDdosProtection": False,
            },
        }

    def usages_json(self, in_use: dict[str, int]) -> dict[str, Any]:
        out = []
        for name, prefix in self.subnets.items():
            size = ipaddress.ip_network(prefix).num_addresses
            out.append({"id": self.subnet_id(name), "currentValue": int(in_use.get(name, 0)),
                        "limit": max(0, size - 5), "unit": "Count",
                        "name": {"value": "Subnet size and usage", "localizedValue": "Subnet size and usage"}})
        return {"value": out}
