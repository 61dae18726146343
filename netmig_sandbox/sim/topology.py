"""Cluster topology facts shared by the scenario loader and the simulators.

Contract (pure functions, no store access):
- ``engine_of(profile)``: the policy engine a node carries for an ARM ``networkProfile`` dict
  (camelCase ARM JSON): ``cilium`` when networkDataplane is cilium, else networkPolicy (azure|calico) or ``none``.
- ``node_labels(pool, profile, index, image_version)``: the labels AKS puts on a node of that pool (the pool's
  ``nodeLabels`` included).
- ``max_pods(pool)``: the pool's maxPods, which is its nodes' pod capacity.
- ``node_name(pool_name, index, generation)``: VMSS-style node names; a reimage keeps names, surge nodes get
  fresh indexes.
- ``system_daemonsets(profile)``: (namespace, name) of the networking DaemonSets the profile runs.
- ``pod_cidr_for_node(profile, index)``: the node's /24 from the pod CIDR (kubenet/overlay) or None (flat CNI).
"""

from __future__ import annotations

import ipaddress
from typing import Any

NODE_SUBNET = "10.224.0.0/16"
DEFAULT_POD_CIDR = "10.244.0.0/16"
LABEL_POLICY = "kubernetes.azure.com/network-policy"
LABEL_EBPF = "kubernetes.azure.com/ebpf-dataplane"
LABEL_OVERLAY = "kubernetes.azure.com/azure-cni-overlay"
LABEL_PODNET = "kubernetes.azure.com/podnetwork-type"
LABEL_IMAGE = "kubernetes.azure.com/node-image-version"
LABEL_POOL = "kubernetes.azure.com/agentpool"
# on the networking components AKS installs and removes itself (DaemonSets, the managed Calico workloads);
# self-managed ones (e.g. a tigera-operator installed from its manifest) lack it and AKS leaves them alone
LABEL_MANAGED_BY = "kubernetes.azure.com/managedby"


def engine_of(profile: dict[str, Any]) -> str:
    if (profile.get("networkDataplane") or "azure") == "cilium":
        return "cilium"
    policy = profile.get("networkPolicy") or "none"
    return policy if policy in ("azure", "calico", "cilium") else "none"


def is_overlay(profile: dict[str, Any]) -> bool:
    return profile.get("networkPlugin") == "azure" and profile.get("networkPluginMode") == "overlay"


def uses_pod_cidr(profile: dict[str, Any]) -> bool:
    return profile.get("networkPlugin") == "kubenet" or is_overlay(profile)


def node_name(pool_name: str, index: int) -> str:
    return f"aks-{pool_name}-12345678-vmss{index:06d}"


def node_labels(pool: dict[str, Any], profile: dict[str, Any], index: int, image_version: str) -> dict[str, str]:
    os_type = (pool.get("osType") or "Linux").lower()
    labels = {
        "kubernetes.io/os": os_type,
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": node_name(pool["name"], index),
        "agentpool": pool["name"],
        LABEL_POOL: pool["name"],
        "kubernetes.azure.com/mode": (pool.get("mode") or "User").lower(),
        "kubernetes.azure.com/role": "agent",
        "node.kubernetes.io/instance-type": pool.get("vmSize") or "Standard_D4s_v5",
        LABEL_IMAGE: image_version,
        LABEL_POLICY: engine_of(profile),
    }
    labels.update({str(k): str(v) for k, v in (pool.get("nodeLabels") or {}).items()})
    if engine_of(profile) == "cilium":
        labels[LABEL_EBPF] = "cilium"
    if is_overlay(profile):
        labels[LABEL_OVERLAY] = "true"
        labels[LABEL_PODNET] = "overlay"
    return labels


def max_pods(pool: dict[str, Any]) -> int:
    """The pool's maxPods (ARM's ``maxPods``; AKS' defaults 110 on Linux, 30 on Windows): the pod capacity its
    nodes report."""
    default = 110 if (pool.get("osType") or "Linux").lower() == "linux" else 30
    return int(pool.get("maxPods") or default)


def system_daemonsets(profile: dict[str, Any]) -> list[tuple[str, str]]:
    """The networking DaemonSets a node pool runs under this profile."""
    out: list[tuple[str, str]] = []
    engine = engine_of(profile)
    if engine != "cilium":
        out.append(("kube-system", "kube-proxy"))
    if profile.get("networkPlugin") == "azure":
        out.append(("kube-system", "azure-cns"))
    if engine == "azure":
        out.append(("kube-system", "azure-npm"))
    elif engine == "calico":
        out.append(("calico-system", "calico-node"))
    elif engine == "cilium":
        out.append(("kube-system", "cilium"))
    return out


def pod_cidr_for_node(profile: dict[str, Any], index: int) -> str | None:
    if not uses_pod_cidr(profile):
        return None
    net = ipaddress.ip_network(profile.get("podCidr") or DEFAULT_POD_CIDR)
    subnets = net.subnets(new_prefix=24)
    for i, sub in enumerate(subnets):
        if i == index:
            return str(sub)
    raise ValueError(f"pod CIDR {net} has no /24 number {index}")


def node_ip(index: int) -> str:
    return str(ipaddress.ip_network(NODE_SUBNET)[4 + index])


# engine each networking DaemonSet belongs to: a node runs it when its labels say so
_DS_AFFINITY: dict[str, list[dict[str, Any]]] = {
    "kube-proxy": [{"key": LABEL_EBPF, "operator": "DoesNotExist"}],
    "azure-cns": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}],
    "azure-npm": [{"key": LABEL_POLICY, "operator": "In", "values": ["azure"]}],
    "calico-node": [{"key": LABEL_POLICY, "operator": "In", "values": ["calico"]}],
    "cilium": [{"key": LABEL_EBPF, "operator": "In", "values": ["cilium"]}],
}
_DS_IMAGES = {
    "kube-proxy": "mcr.microsoft.com/oss/kubernetes/kube-proxy:v1.30.4",
    "azure-cns": "mcr.microsoft.com/containernetworking/azure-cns:v1.6.13",
    "azure-npm": "mcr.microsoft.com/containernetworking/azure-npm:v1.6.13",
    "calico-node": "mcr.microsoft.com/oss/calico/node:v3.29.1",
    "cilium": "mcr.microsoft.com/oss/cilium/cilium:1.17.9",
}


def daemonset_manifest(namespace: str, name: str) -> dict[str, Any]:
    """A networking DaemonSet (AKS-managed) whose node affinity selects exactly the nodes that run it."""
    labels = {"k8s-app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": namespace, "labels": {**labels, LABEL_MANAGED_BY: "aks"}},
        "spec": {
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": _DS_AFFINITY[name]}]}}},
                    "containers": [{"name": name, "image": _DS_IMAGES[name]}],
                },
            },
        },
    }
