"""The Kubernetes objects AKS itself installs: its deployments and the AKS-managed Calico add-on (CRDs, the
tigera-operator, calico-system workloads, the CRs the operator keeps, the Calico API server).

Contract: pure data builders (no store writes but ``key_for``'s lookup). ``scenarios.builder`` creates these
objects when a scenario starts; the simulators (``sim.tigera``, ``sim.managed_calico``) read the same data when
AKS re-installs or the operator reconciles, which is why it lives here, below the scenarios.
"""

from __future__ import annotations

from typing import Any

from netmig_sandbox.kube.store import ApiError, Key, Store
from netmig_sandbox.sim import topology

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


def deployment(ns: str, name: str, replicas: int, image: str, labels: dict[str, str] | None = None,
               annotations: dict[str, str] | None = None, *, managed: bool = False,
               ports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Deployment manifest of one container; ``managed`` adds ``topology.LABEL_MANAGED_BY: aks``."""
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
    objs.append(deployment("tigera-operator", "tigera-operator", 1, "mcr.microsoft.com/oss/tigera/operator:v1.36.3",
                            {"k8s-app": "tigera-operator"}, addon, managed=True))
    objs.append(deployment("calico-system", "calico-typha", 2, "mcr.microsoft.com/oss/calico/typha:v3.29.1",
                            {"k8s-app": "calico-typha"}, managed=True))
    objs.append(deployment("calico-system", "calico-kube-controllers", 1,
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
        deployment("calico-apiserver", "calico-apiserver", 2, "mcr.microsoft.com/oss/calico/apiserver:v3.29.1",
                    labels, managed=managed, ports=[{"name": "apiserver", "containerPort": 5443, "protocol": "TCP"}]),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "calico-api", "namespace": "calico-apiserver", "labels": svc_labels},
         "spec": {"selector": {"apiserver": "true"},
                  "ports": [{"name": "apiserver", "port": 443, "targetPort": 5443, "protocol": "TCP"}]}},
        {"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v3.projectcalico.org"},
         "spec": {"group": "projectcalico.org", "version": "v3", "groupPriorityMinimum": 1500, "versionPriority": 200,
                  "service": {"name": "calico-api", "namespace": "calico-apiserver", "port": 443}}},
    ]
