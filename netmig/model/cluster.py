"""Cluster addresses and network profiles.

Contract: pure values. ``ClusterRef.parse(resource_id)`` raises ``ValueError`` with a one-line reason for a
malformed resource id. ``NetworkProfile.from_arm`` reads ARM JSON (camelCase) or SDK ``as_dict()`` (snake_case).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_RID = re.compile(
    r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.ContainerService/"
    r"managedClusters/(?P<name>[^/]+)/?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ClusterRef:
    subscription_id: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, resource_id: str) -> ClusterRef:
        m = _RID.match(resource_id.strip())
        if not m:
            raise ValueError(
                f"{resource_id!r} is not an AKS resource id; expected "
                "/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.ContainerService/managedClusters/NAME"
            )
        return cls(m["sub"], m["rg"], m["name"])

    @property
    def resource_id(self) -> str:
        return (
            f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.ContainerService/managedClusters/{self.name}"
        )

    def __str__(self) -> str:
        return f"{self.resource_group}/{self.name}"


def _pick(d: dict[str, Any], camel: str, snake: str) -> Any:
    return d.get(camel, d.get(snake))


@dataclass(frozen=True)
class NetworkProfile:
    """The part of an AKS network profile that migrations change."""

    plugin: str  # azure | kubenet | none
    policy: str  # azure (NPM) | calico | cilium | none
    dataplane: str = "azure"  # azure | cilium
    plugin_mode: str | None = None  # overlay | None
    pod_cidr: str | None = None
    service_cidr: str | None = None

    @classmethod
    def from_arm(cls, d: dict[str, Any]) -> NetworkProfile:
        return cls(
            plugin=_pick(d, "networkPlugin", "network_plugin") or "kubenet",
            policy=_pick(d, "networkPolicy", "network_policy") or "none",
            dataplane=_pick(d, "networkDataplane", "network_dataplane") or "azure",
            plugin_mode=_pick(d, "networkPluginMode", "network_plugin_mode"),
            pod_cidr=_pick(d, "podCidr", "pod_cidr"),
            service_cidr=_pick(d, "serviceCidr", "service_cidr"),
        )

    @property
    def engine(self) -> str:
        """The policy engine enforcing NetworkPolicies: npm | calico | cilium | none."""
        if self.dataplane == "cilium" or self.policy == "cilium":
            return "cilium"
        return {"azure": "npm", "calico": "calico"}.get(self.policy, "none")

    @property
    def ipam(self) -> str:
        """kubenet | azure-cni | azure-cni-overlay."""
        if self.plugin == "kubenet":
            return "kubenet"
        return "azure-cni-overlay" if self.plugin_mode == "overlay" else "azure-cni"

    def describe(self) -> str:
        return f"{self.ipam} + {self.engine}" + (f" (pods {self.pod_cidr})" if self.pod_cidr else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PoolInfo:
    name: str
    mode: str
    os_type: str
    count: int
    provisioning_state: str
    max_surge: str | None = None
    vm_size: str | None = None
    orchestrator_version: str | None = None
    availability_set: bool = False
    max_pods: int | None = None
    pod_subnet_id: str | None = None  # set: dynamic pod IP allocation (Azure CNI with a pod subnet)


@dataclass(frozen=True)
class ClusterInfo:
    ref: ClusterRef
    location: str
    kubernetes_version: str
    provisioning_state: str
    network: NetworkProfile
    etag: str | None
    pools: tuple[PoolInfo, ...] = ()
    identity_type: str | None = None
    node_provisioning_mode: str | None = None
    vnet_cidrs: tuple[str, ...] = field(default_factory=tuple)
    raw_network: dict[str, Any] = field(default_factory=dict)

    @property
    def node_count(self) -> int:
        return sum(p.count for p in self.pools)
