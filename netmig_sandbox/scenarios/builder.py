"""Create a scenario's Kubernetes side in the sandbox store (see ``netmig_sandbox.scenarios``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from netmig_sandbox.kube.store import ApiError, Key, Store
from netmig_sandbox.sim import controlplane, topology

IMAGE_VERSION = "AKSUbuntu-2204gen2containerd-202610.15.0"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")

CALICO_CRD_V1 = (
    "bgpconfigurations", "bgpfilters", "bgppeers", "blockaffinities", "caliconodestatuses", "clusterinformations",
    "felixconfigurations", "globalnetworkpolicies", "globalnetworksets", "hostendpoints", "ipamblocks", "ipamconfigs",
    "ipamhandles", "ippools", "ipreservations", "kubecontrollersconfigurations", "networkpolicies", "networksets",
    "tiers",
)
CLUSTER_SCOPED_CALICO = set(CALICO_CRD_V1) - {"networkpolicies", "networksets"}
TIGERA_OPERATOR_CRDS = ("installations", "apiservers", "imagesets", "tigerastatuses", "goldmanes", "whiskers")
_KIND_OVERRIDES = {
    "bgpconfigurations": "BGPConfiguration", "bgpfilters": "BGPFilter", "bgppeers": "BGPPeer",
    "blockaffinities": "BlockAffinity", "caliconodestatuses": "CalicoNodeStatus",
    "clusterinformations": "ClusterInformation", "felixconfigurations": "FelixConfiguration",
    "globalnetworkpolicies": "GlobalNetworkPolicy", "globalnetworksets": "GlobalNetworkSet",
    "hostendpoints": "HostEndpoint", "ipamblocks": "IPAMBlock", "ipamconfigs": "IPAMConfig",
    "ipamhandles": "IPAMHandle", "ippools": "IPPool", "ipreservations": "IPReservation",
    "kubecontrollersconfigurations": "KubeControllersConfiguration", "networkpolicies": "NetworkPolicy",
    "networksets": "NetworkSet", "tiers": "Tier", "installations": "Installation", "apiservers": "APIServer",
    "imagesets": "ImageSet", "tigerastatuses": "TigeraStatus", "goldmanes": "Goldmane", "whiskers": "Whisker",
}


def key_for(store: Store, api_version: str, kind: str) -> Key:
    group, _, version = api_version.rpartition("/")
    for rt in store.types.values():
        if rt.group == group and rt.kind == kind and (rt.version == version or version in rt.other_versions):
            return rt.key
    raise ApiError(404, "NotFound", f"no resource type for {api_version} {kind}")


def crd_manifest(group: str, plural: str, version: str = "v1", namespaced: bool = False) -> dict[str, Any]:
    kind = _KIND_OVERRIDES.get(plural, plural[:-1].capitalize())
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "names": {"plural": plural, "singular": kind.lower(), "kind": kind, "listKind": f"{kind}List"},
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [{"name": version, "served": True, "storage": True,
                          "subresources": {"status": {}},
                          "schema": {"openAPIV3Schema": {"type": "object",
                                                         "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    }


def _create(store: Store, obj: dict[str, Any]) -> dict[str, Any]:
    key = key_for(store, obj["apiVersion"], obj["kind"])
    return store.create(key, obj, obj.get("metadata", {}).get("namespace"))


def _node(pool: dict[str, Any], profile: dict[str, Any], pool_index: int, global_index: int) -> dict[str, Any]:
    name = topology.node_name(pool["name"], pool_index)
    spec: dict[str, Any] = {"providerID": f"azure:///subscriptions/sandbox/virtualMachines/{name}"}
    cidr = topology.pod_cidr_for_node(profile, global_index)
    if cidr:
        spec["podCIDR"] = cidr
        spec["podCIDRs"] = [cidr]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": topology.node_labels(pool, profile, pool_index, IMAGE_VERSION),
            "annotations": {"netmig.sandbox/index": str(global_index)},
        },
        "spec": spec,
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": topology.node_ip(global_index)},
                          {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "16374624Ki", "pods": str(topology.max_pods(pool))},
            "allocatable": {"cpu": "3860m", "memory": "12880736Ki", "pods": str(topology.max_pods(pool))},
            "nodeInfo": {"kubeletVersion": f"v{pool['orchestratorVersion']}", "bootID": str(uuid.uuid4()),
                         "kubeProxyVersion": f"v{pool['orchestratorVersion']}", "kernelVersion": "5.15.0-1075-azure",
                         "machineID": uuid.uuid4().hex, "systemUUID": str(uuid.uuid4()),
                         "osImage": "Ubuntu 22.04.5 LTS", "containerRuntimeVersion": "containerd://1.7.23-1",
                         "operatingSystem": pool["osType"].lower(), "architecture": "amd64"},
        },
    }


def _deployment(ns: str, name: str, replicas: int, image: str, labels: dict[str, str] | None = None,
                annotations: dict[str, str] | None = None, *, managed: bool = False,
                ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    labels = labels or {"k8s-app": name}
    meta_labels = {**labels, topology.LABEL_MANAGED_BY: "aks"} if managed else dict(labels)
    container: dict[str, Any] = {"name": name, "image": image}
    if ports:
        container["ports"] = ports
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "labels": meta_labels, "annotations": annotations or {}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                 "template": {"metadata": {"labels": dict(labels)},
                              "spec": {"containers": [container]}}},
    }


def _system_objects(ctx: Any) -> list[dict[str, Any]]:
    cluster = ctx.scenario["cluster"]
    profile = cluster["network_profile"]
    objs: list[dict[str, Any]] = [
        _deployment("kube-system", "coredns", 2, "mcr.microsoft.com/oss/kubernetes/coredns:v1.11.3",
                    {"k8s-app": "kube-dns"},
                    ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                           {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                           {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}]),
        _deployment("kube-system", "konnectivity-agent", 2,
                    "mcr.microsoft.com/oss/kubernetes/apiserver-network-proxy/agent:v0.30.3"),
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "coredns-pdb", "namespace": "kube-system"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "konnectivity-agent", "namespace": "kube-system"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"k8s-app": "konnectivity-agent"}}}},
    ]
    addon = addon_annotations(ctx.scenario)
    for ns, name in topology.system_daemonsets(profile):
        ds = topology.daemonset_manifest(ns, name)
        if name == "calico-node" and addon:
            ds["metadata"]["annotations"] = dict(addon)
        objs.append(ds)
    engine = topology.engine_of(profile)
    if engine == "cilium":
        objs.append(_deployment("kube-system", "cilium-operator", 2,
                                "mcr.microsoft.com/oss/cilium/operator-generic:1.17.9"))
    if engine == "calico":
        objs.extend(calico_objects(ctx.scenario))
    return objs


def addon_annotations(scenario: dict[str, Any]) -> dict[str, str]:
    """``addonmanager.kubernetes.io/mode: Reconcile`` when the scenario says AKS reconciles Calico's objects."""
    return {"addonmanager.kubernetes.io/mode": "Reconcile"} if scenario.get("calico_addon_annotations") else {}


def calico_namespaces(scenario: dict[str, Any]) -> list[str]:
    return ["calico-system", "tigera-operator", *(["calico-apiserver"] if scenario.get("calico_apiserver") else [])]


def calico_objects(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """AKS-managed Calico: the operator, calico-system workloads, CRDs and the CRs the operator keeps.

    The workloads AKS removes again when the network policy leaves calico carry ``topology.LABEL_MANAGED_BY``
    (the calico-node DaemonSet comes from ``topology.system_daemonsets``); CRDs, CRs, RBAC, TigeraStatus and the
    APIService do not (they stay behind, see ``netmig_sandbox.sim.managed_calico``).
    """
    addon = addon_annotations(scenario)
    objs: list[dict[str, Any]] = []
    for plural in CALICO_CRD_V1:
        objs.append(crd_manifest("crd.projectcalico.org", plural, "v1", plural not in CLUSTER_SCOPED_CALICO))
    for plural in TIGERA_OPERATOR_CRDS:
        objs.append(crd_manifest("operator.tigera.io", plural, "v1"))
    objs.append(_deployment("tigera-operator", "tigera-operator", 1, "mcr.microsoft.com/oss/tigera/operator:v1.36.3",
                            {"k8s-app": "tigera-operator"}, addon, managed=True))
    objs.append(_deployment("calico-system", "calico-typha", 2, "mcr.microsoft.com/oss/calico/typha:v3.29.1",
                            {"k8s-app": "calico-typha"}, managed=True))
    objs.append(_deployment("calico-system", "calico-kube-controllers", 1,
                            "mcr.microsoft.com/oss/calico/kube-controllers:v3.29.1",
                            {"k8s-app": "calico-kube-controllers"}, managed=True))
    objs += [
        {"apiVersion": "operator.tigera.io/v1", "kind": "Installation",
         "metadata": {"name": "default", "finalizers": ["tigera.io/operator-cleanup"]},
         "spec": {"kubernetesProvider": "AKS", "cni": {"type": "AzureVNET"}, "calicoNetwork": {}}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool", "metadata": {"name": "default-ipv4-ippool"},
         "spec": {"cidr": "10.244.0.0/16", "natOutgoing": True, "nodeSelector": "all()"}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "FelixConfiguration", "metadata": {"name": "default"},
         "spec": {"bpfEnabled": False}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "ClusterInformation", "metadata": {"name": "default"},
         "spec": {"calicoVersion": "v3.29.1", "datastoreReady": True}},
        {"apiVersion": "crd.projectcalico.org/v1", "kind": "KubeControllersConfiguration",
         "metadata": {"name": "default"}, "spec": {}},
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "calico-node", "namespace": "calico-system", "finalizers": ["tigera.io/cni-protector"]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "calico-node", "finalizers": ["tigera.io/cni-protector"]}, "rules": []},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "calico-node", "finalizers": ["tigera.io/cni-protector"]},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "calico-node"},
         "subjects": [{"kind": "ServiceAccount", "name": "calico-node", "namespace": "calico-system"}]},
    ]
    statuses = ["calico", "ippools"]
    if scenario.get("calico_apiserver"):
        statuses.append("apiserver")
        objs += calico_apiserver_objects(managed=True)
        objs.append({"apiVersion": "operator.tigera.io/v1", "kind": "APIServer",
                     "metadata": {"name": "default", "finalizers": ["operator.tigera.io/apiserver-controller"]},
                     "spec": {}})
    for status_name in statuses:
        objs.append({"apiVersion": "operator.tigera.io/v1", "kind": "TigeraStatus", "metadata": {"name": status_name},
                     "spec": {},
                     "status": {"conditions": [{"type": "Available", "status": "True", "reason": "AllObjectsAvailable",
                                                "message": "All Objects Available"},
                                               {"type": "Progressing", "status": "False",
                                                "reason": "AllObjectsAvailable", "message": "All Objects Available"},
                                               {"type": "Degraded", "status": "False",
                                                "reason": "AllObjectsAvailable", "message": "All Objects Available"}]}})
    return objs


def calico_apiserver_objects(*, managed: bool) -> list[dict[str, Any]]:
    """The Calico API server: its Deployment and Service in ``calico-apiserver`` and the APIService
    ``v3.projectcalico.org`` the aggregator routes to it (the namespace is created separately)."""
    labels = {"k8s-app": "calico-apiserver", "apiserver": "true"}
    svc_labels = {topology.LABEL_MANAGED_BY: "aks"} if managed else {}
    return [
        _deployment("calico-apiserver", "calico-apiserver", 2, "mcr.microsoft.com/oss/calico/apiserver:v3.29.1",
                    labels, managed=managed, ports=[{"name": "apiserver", "containerPort": 5443, "protocol": "TCP"}]),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "calico-api", "namespace": "calico-apiserver", "labels": svc_labels},
         "spec": {"selector": {"apiserver": "true"},
                  "ports": [{"name": "apiserver", "port": 443, "targetPort": 5443, "protocol": "TCP"}]}},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v3.projectcalico.org"},
         "spec": {"group": "projectcalico.org", "version": "v3", "groupPriorityMinimum": 1500, "versionPriority": 200,
                  "service": {"name": "calico-api", "namespace": "calico-apiserver", "port": 443}}},
    ]


async def materialize(ctx: Any) -> None:
    store: Store = ctx.store
    scenario = ctx.scenario
    cluster = scenario["cluster"]
    profile = cluster["network_profile"]
    extra_ns = calico_namespaces(scenario) if topology.engine_of(profile) == "calico" else []
    for ns in (*SYSTEM_NAMESPACES, *extra_ns):
        store.create(("", "namespaces"), {"metadata": {"name": ns}})
    for obj in controlplane.system_objects(ctx):
        _create(store, obj)
    global_index = 0
    for pool in cluster["pools"]:
        for i in range(int(pool["count"])):
            store.create(("", "nodes"), _node(pool, profile, i, global_index))
            global_index += 1
    for obj in _system_objects(ctx):
        _create(store, obj)
    for obj in scenario.get("objects", []):
        if obj.get("kind") == "Namespace" and store.exists(("", "namespaces"), None, obj["metadata"]["name"]):
            continue
        _create(store, obj)
    await settle(ctx)


async def settle(ctx: Any, timeout: float = 120.0) -> None:
    """Wait (bounded) until no pod is Pending: the kubelet simulator has placed everything it can."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        pending = sum(
            1 for p in ctx.store.iter_raw(("", "pods"))
            if (p.get("status") or {}).get("phase", "Pending") == "Pending"
            and not _unschedulable(p)
        )
        unready = sum(
            1 for d in ctx.store.iter_raw(("apps", "deployments"))
            if ((d.get("status") or {}).get("readyReplicas") or 0) < (d.get("spec") or {}).get("replicas", 1)
        )
        if pending == 0 and unready == 0:
            return
        await asyncio.sleep(0.01)


def _unschedulable(pod: dict[str, Any]) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return True
    return False
