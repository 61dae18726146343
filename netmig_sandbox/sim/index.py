"""In-memory indexes of the simulated cluster, kept current from store change callbacks.

Contract:
- ``ClusterIndex.apply(event, key, obj)`` folds one store change (the callback's own copy of the object) into the
  indexes in O(1) (amortised) and returns the previous version of that object (or None); it never writes to the
  store. Objects held here are read-only snapshots: never mutate them.
- ``ClusterIndex.from_store(store)`` builds an index from the current store content (used when the kubelet
  simulator is not installed, e.g. by the dataplane in isolation).
- Lookups: pods by key / node / namespace / owner / IP, nodes by name / IP, services by key / namespace / virtual IP
  (clusterIP and load-balancer IPs) / nodePort, network policies and Endpoints by namespace, Deployments /
  DaemonSets / ReplicaSets by key (``workloads[key]``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from netmig_sandbox.kube.store import Key, Obj, Store
from netmig_sandbox.sim import topology

PODS: Key = ("", "pods")
NODES: Key = ("", "nodes")
NAMESPACES: Key = ("", "namespaces")
SERVICES: Key = ("", "services")
ENDPOINTS: Key = ("", "endpoints")
EVENTS: Key = ("", "events")
DEPLOYMENTS: Key = ("apps", "deployments")
REPLICASETS: Key = ("apps", "replicasets")
DAEMONSETS: Key = ("apps", "daemonsets")
NETPOLS: Key = ("networking.k8s.io", "networkpolicies")

ObjKey = tuple[str, str]  # (namespace, name)
OwnerKey = tuple[str, str, str]  # (namespace, "Deployment" | "DaemonSet" | other kind, name)

INDEX_ANNOTATION = "netmig.sandbox/index"


def meta_key(obj: Obj) -> ObjKey:
    meta = obj.get("metadata") or {}
    return (meta.get("namespace") or "", meta.get("name") or "")


def pod_owner(pod: Obj) -> OwnerKey | None:
    """The workload owning a pod: a ReplicaSet-owned pod maps to its Deployment (``<deploy>-<hash>``)."""
    meta = pod.get("metadata") or {}
    ns = meta.get("namespace") or ""
    for ref in meta.get("ownerReferences") or []:
        if not ref.get("controller"):
            continue
        kind, name = ref.get("kind", ""), ref.get("name", "")
        if kind == "ReplicaSet":
            h = (meta.get("labels") or {}).get("pod-template-hash")
            if h and name.endswith("-" + h):
                return (ns, "Deployment", name[: -len(h) - 1])
        return (ns, kind, name)
    return None


def node_ip(node: Obj) -> str | None:
    """The node's InternalIP, else the IP derived from its ``netmig.sandbox/index`` annotation."""
    for a in (node.get("status") or {}).get("addresses") or []:
        if a.get("type") == "InternalIP" and a.get("address"):
            return str(a["address"])
    idx = ((node.get("metadata") or {}).get("annotations") or {}).get(INDEX_ANNOTATION)
    if idx is not None and str(idx).isdigit():
        return topology.node_ip(int(idx))
    return None


def node_ready(node: Obj) -> bool:
    for c in (node.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def is_host_network(pod: Obj) -> bool:
    return bool((pod.get("spec") or {}).get("hostNetwork"))


def pod_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c.get("status") == "True"
    return False


def service_vips(svc: Obj) -> list[str]:
    spec = svc.get("spec") or {}
    out = [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]
    for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []:
        if ing.get("ip"):
            out.append(ing["ip"])
    return out


class ClusterIndex:
    """See the module docstring."""

    def __init__(self) -> None:
        self.pods: dict[ObjKey, Obj] = {}
        self.pods_by_node: dict[str, set[ObjKey]] = defaultdict(set)
        self.pods_by_ns: dict[str, set[ObjKey]] = defaultdict(set)
        self.pods_by_owner: dict[OwnerKey, set[ObjKey]] = defaultdict(set)
        self.pod_by_ip: dict[str, ObjKey] = {}
        self.nodes: dict[str, Obj] = {}
        self.node_by_ip: dict[str, str] = {}
        self.namespaces: dict[str, Obj] = {}
        self.services: dict[ObjKey, Obj] = {}
        self.services_by_ns: dict[str, set[str]] = defaultdict(set)
        self.service_by_ip: dict[str, ObjKey] = {}
        self.service_by_nodeport: dict[tuple[int, str], ObjKey] = {}
        self.endpoints: dict[ObjKey, Obj] = {}
        self.policies_by_ns: dict[str, dict[str, Obj]] = defaultdict(dict)
        self.workloads: dict[Key, dict[ObjKey, Obj]] = {DEPLOYMENTS: {}, DAEMONSETS: {}, REPLICASETS: {}}

    @classmethod
    def from_store(cls, store: Store) -> ClusterIndex:
        idx = cls()
        for key in (NAMESPACES, NODES, PODS, SERVICES, ENDPOINTS, NETPOLS, DEPLOYMENTS, DAEMONSETS, REPLICASETS):
            if key in store.types:
                for obj in store.iter_raw(key):
                    idx.apply("ADDED", key, obj)
        return idx

    def ns_labels(self, ns: str) -> dict[str, str]:
        obj = self.namespaces.get(ns)
        labels = dict(((obj or {}).get("metadata") or {}).get("labels") or {})
        labels.setdefault("kubernetes.io/metadata.name", ns)
        return labels

    def node_ip_of(self, name: str | None) -> str | None:
        node = self.nodes.get(name or "")
        return node_ip(node) if node is not None else None

    # ---------------------------------------------------------------- apply
    def apply(self, event: str, key: Key, obj: Obj) -> Obj | None:
        if key == PODS:
            return self._apply_pod(event, obj)
        if key == NODES:
            return self._apply_node(event, obj)
        if key == SERVICES:
            return self._apply_service(event, obj)
        if key == NAMESPACES:
            return self._apply_simple(self.namespaces, event, obj["metadata"]["name"], obj)
        if key == ENDPOINTS:
            return self._apply_simple(self.endpoints, event, meta_key(obj), obj)
        if key == NETPOLS:
            ns, name = meta_key(obj)
            return self._apply_simple(self.policies_by_ns[ns], event, name, obj)
        if key in self.workloads:
            return self._apply_simple(self.workloads[key], event, meta_key(obj), obj)
        return None

    @staticmethod
    def _apply_simple(table: dict[Any, Obj], event: str, k: Any, obj: Obj) -> Obj | None:
        old = table.get(k)
        if event == "DELETED":
            table.pop(k, None)
        else:
            table[k] = obj
        return old

    def _apply_pod(self, event: str, pod: Obj) -> Obj | None:
        k = meta_key(pod)
        old = self.pods.get(k)
        if old is not None:
            self._unindex_pod(k, old)
        if event == "DELETED":
            self.pods.pop(k, None)
            return old
        self.pods[k] = pod
        self.pods_by_ns[k[0]].add(k)
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            self.pods_by_node[node].add(k)
        owner = pod_owner(pod)
        if owner is not None:
            self.pods_by_owner[owner].add(k)
        ip = (pod.get("status") or {}).get("podIP")
        if ip and not is_host_network(pod):
            self.pod_by_ip[ip] = k
        return old

    def _unindex_pod(self, k: ObjKey, old: Obj) -> None:
        self.pods_by_ns[k[0]].discard(k)
        node = (old.get("spec") or {}).get("nodeName")
        if node:
            s = self.pods_by_node.get(node)
            if s is not None:
                s.discard(k)
                if not s:
                    del self.pods_by_node[node]
        owner = pod_owner(old)
        if owner is not None:
            s = self.pods_by_owner.get(owner)
            if s is not None:
                s.discard(k)
                if not s:
                    del self.pods_by_owner[owner]
        ip = (old.get("status") or {}).get("podIP")
        if ip and self.pod_by_ip.get(ip) == k:
            del self.pod_by_ip[ip]

    def _apply_node(self, event: str, node: Obj) -> Obj | None:
        name = node["metadata"]["name"]
        old = self.nodes.get(name)
        if old is not None:
            ip = node_ip(old)
            if ip and self.node_by_ip.get(ip) == name:
                del self.node_by_ip[ip]
        if event == "DELETED":
            self.nodes.pop(name, None)
            return old
        self.nodes[name] = node
        ip = node_ip(node)
        if ip:
            self.node_by_ip[ip] = name
        return old

    def _apply_service(self, event: str, svc: Obj) -> Obj | None:
        k = meta_key(svc)
        old = self.services.get(k)
        if old is not None:
            for ip in service_vips(old):
                if self.service_by_ip.get(ip) == k:
                    del self.service_by_ip[ip]
            for p in (old.get("spec") or {}).get("ports") or []:
                np_key = (int(p.get("nodePort") or 0), (p.get("protocol") or "TCP").upper())
                if self.service_by_nodeport.get(np_key) == k:
                    del self.service_by_nodeport[np_key]
        if event == "DELETED":
            self.services.pop(k, None)
            self.services_by_ns[k[0]].discard(k[1])
            return old
        self.services[k] = svc
        self.services_by_ns[k[0]].add(k[1])
        for ip in service_vips(svc):
            self.service_by_ip[ip] = k
        for p in (svc.get("spec") or {}).get("ports") or []:
            if p.get("nodePort"):
                self.service_by_nodeport[(int(p["nodePort"]), (p.get("protocol") or "TCP").upper())] = k
        return old
