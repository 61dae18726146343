"""Objects every AKS cluster has that no scenario spells out, and the controllers that keep them.

Contract:
- ``system_objects(ctx) -> list[Obj]``: the ``default/kubernetes`` Service (clusterIP: the first address of the
  service CIDR, port 443 ``https``) with its selector-less Endpoints (the API server's address) and the
  ``kube-system/kube-dns`` Service (clusterIP ``dnsServiceIP``, ``dns`` 53/UDP, ``dns-tcp`` 53/TCP, selecting the
  CoreDNS pods ``k8s-app=kube-dns``). The scenario builder creates them with the system namespaces.
- ``install(ctx)`` (on the loop thread, before the scenario is materialized) subscribes a ``ControlPlane`` to the
  store; like the kubelet simulator, its store callback only marks work, drained with ``loop.call_soon``:
  - namespaces: every namespace that is not terminating gets the ``default`` ServiceAccount and the
    ``kube-root-ca.crt`` ConfigMap (``ca.crt``: the sandbox CA), re-created when deleted (the serviceaccount and
    root-ca-cert-publisher controllers);
  - node leases: a ``kube-node-lease/<node>`` Lease (holder the node, 40 s, owned by the Node) per node, deleted
    with the node, ``renewTime`` renewed every ``LEASE_RENEW`` simulated seconds while the node is Ready -- but
    at most every ``MIN_RENEW_REAL`` real seconds, so a 250-node sandbox at a small time scale does not flood
    the watch history;
  - EndpointSlices (``discovery.k8s.io/v1``): one slice per Endpoints subset, named ``<service>-<hash>``,
    labelled ``kubernetes.io/service-name`` and managed by ``endpointslice-controller.k8s.io``, owned by the
    Service, rewritten whenever the Endpoints change and deleted with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
from typing import TYPE_CHECKING, Any

from netmig_sandbox.kube.store import ApiError, Key

if TYPE_CHECKING:
    from netmig_sandbox.context import SandboxContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]

NAMESPACES: Key = ("", "namespaces")
NODES: Key = ("", "nodes")
SERVICEACCOUNTS: Key = ("", "serviceaccounts")
CONFIGMAPS: Key = ("", "configmaps")
ENDPOINTS: Key = ("", "endpoints")
SERVICES: Key = ("", "services")
LEASES: Key = ("coordination.k8s.io", "leases")
SLICES: Key = ("discovery.k8s.io", "endpointslices")
ROOT_CA = "kube-root-ca.crt"
LEASE_NS = "kube-node-lease"
LEASE_RENEW = 10.0  # simulated seconds, like the kubelet's renew interval
MIN_RENEW_REAL = 5.0
API_SERVER_IP = "20.62.0.1"  # the cluster's API server endpoint (AKS: a public address of the control plane)
SLICE_MANAGER = "endpointslice-controller.k8s.io"


def _now_micro() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def system_objects(ctx: SandboxContext) -> list[Obj]:
    """The ``kubernetes`` and ``kube-dns`` Services (+ the API server's Endpoints); see the module contract."""
    profile = (ctx.scenario.get("cluster") or {}).get("network_profile") or {}
    service_cidr = ipaddress.ip_network(profile.get("serviceCidr") or "10.0.0.0/16")
    api_ip = str(service_cidr[1])
    dns_ip = str(profile.get("dnsServiceIP") or service_cidr[10])
    return [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kubernetes", "namespace": "default",
                      "labels": {"component": "apiserver", "provider": "kubernetes"}},
         "spec": {"type": "ClusterIP", "clusterIP": api_ip, "clusterIPs": [api_ip], "ipFamilies": ["IPv4"],
                  "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster", "sessionAffinity": "None",
                  "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 443}]},
         "status": {"loadBalancer": {}}},
        {"apiVersion": "v1", "kind": "Endpoints",
         "metadata": {"name": "kubernetes", "namespace": "default"},
         "subsets": [{"addresses": [{"ip": API_SERVER_IP}],
                      "ports": [{"name": "https", "port": 443, "protocol": "TCP"}]}]},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": "kube-system",
                      "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                 "kubernetes.io/name": "CoreDNS", "addonmanager.kubernetes.io/mode": "Reconcile"}},
         "spec": {"type": "ClusterIP", "clusterIP": dns_ip, "clusterIPs": [dns_ip], "ipFamilies": ["IPv4"],
                  "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster", "sessionAffinity": "None",
                  "selector": {"k8s-app": "kube-dns"},
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]},
         "status": {"loadBalancer": {}}},
    ]


def install(ctx: SandboxContext) -> None:
    """Install the control-plane controllers on ``ctx`` (see the module contract); idempotent."""
    if "controlplane" in ctx.services:
        return
    cp = ControlPlane(ctx)
    ctx.services["controlplane"] = cp
    ctx.store.subscribe_readonly(cp.on_change, (NAMESPACES, SERVICEACCOUNTS, CONFIGMAPS, NODES, ENDPOINTS))


class ControlPlane:
    """Namespace defaults, node leases and EndpointSlices (see the module contract)."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.dirty_ns: set[str] = set()
        self.new_nodes: dict[str, str] = {}  # name -> uid
        self.gone_nodes: set[str] = set()
        self.dirty_endpoints: set[tuple[str, str]] = set()
        self._scheduled = False
        self._renewer: asyncio.Task[None] | None = None

    def on_change(self, event: str, key: Key, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if key == NAMESPACES and event != "DELETED":
            self.dirty_ns.add(meta.get("name", ""))
        elif key in (SERVICEACCOUNTS, CONFIGMAPS) and event == "DELETED" and meta.get("name") in ("default", ROOT_CA):
            self.dirty_ns.add(meta.get("namespace", ""))
        elif key == NODES and event == "ADDED":
            self.new_nodes[meta.get("name", "")] = str(meta.get("uid", ""))
        elif key == NODES and event == "DELETED":
            self.gone_nodes.add(meta.get("name", ""))
            self.new_nodes.pop(meta.get("name", ""), None)
        elif key == ENDPOINTS:
            self.dirty_endpoints.add((meta.get("namespace", ""), meta.get("name", "")))
        else:
            return
        self._kick()

    def _kick(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._scheduled = True
        loop.call_soon(self._drain)
        if self._renewer is None:
            self._renewer = self.ctx.spawn(self._renew_leases())

    def _drain(self) -> None:
        self._scheduled = False
        nss, self.dirty_ns = self.dirty_ns, set()
        nodes, self.new_nodes = self.new_nodes, {}
        gone, self.gone_nodes = self.gone_nodes, set()
        eps, self.dirty_endpoints = self.dirty_endpoints, set()
        for ns in sorted(nss):
            self._safely(self._namespace_defaults, ns)
        for name, uid in sorted(nodes.items()):
            self._safely(self._create_lease, name, uid)
        for name in sorted(gone):
            with contextlib.suppress(ApiError):
                self.store.delete(LEASES, LEASE_NS, name)
        for ns, name in sorted(eps):
            self._safely(self._sync_slices, ns, name)

    @staticmethod
    def _safely(fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except ApiError:
            pass  # raced with a deletion: the next event brings it back here
        except Exception:
            log.exception("sandbox control plane: %s%s failed", getattr(fn, "__name__", fn), args)

    # ------------------------------------------------------------ namespaces
    def _namespace_defaults(self, ns: str) -> None:
        if not ns or not self.store.exists(NAMESPACES, None, ns):
            return
        if (self.store.get(NAMESPACES, None, ns).get("metadata") or {}).get("deletionTimestamp"):
            return
        if SERVICEACCOUNTS in self.store.types and not self.store.exists(SERVICEACCOUNTS, ns, "default"):
            self.store.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                "metadata": {"name": "default", "namespace": ns}}, ns)
        if CONFIGMAPS in self.store.types and not self.store.exists(CONFIGMAPS, ns, ROOT_CA):
            self.store.create(CONFIGMAPS, {
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": ROOT_CA, "namespace": ns, "annotations": {
                    "kubernetes.io/description": "Contains a CA bundle that can be used to verify the "
                    "kube-apiserver when using internal endpoints such as the internal service IP or "
                    "kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes "
                    "clusters."}},
                "data": {"ca.crt": self.ctx.ca_pem.decode()}}, ns)

    # ------------------------------------------------------------ node leases
    def _create_lease(self, node: str, uid: str) -> None:
        if LEASES not in self.store.types or not self.store.exists(NAMESPACES, None, LEASE_NS):
            return
        if self.store.exists(LEASES, LEASE_NS, node) or not self.store.exists(NODES, None, node):
            return
        self.store.create(LEASES, {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": node, "namespace": LEASE_NS,
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}]},
            "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": _now_micro()}}, LEASE_NS)

    async def _renew_leases(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await self.ctx.clock.sleep(LEASE_RENEW)
            rest = MIN_RENEW_REAL - (loop.time() - started)
            if rest > 0:
                await asyncio.sleep(rest)
            if LEASES not in self.store.types:
                continue
            now = _now_micro()
            for node in list(self.store.iter_raw(NODES)):
                name = node["metadata"]["name"]
                ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (node.get("status") or {}).get("conditions") or [])
                if not ready or not self.store.exists(LEASES, LEASE_NS, name):
                    continue

                def renew(o: Obj, now: str = now) -> None:
                    o.setdefault("spec", {})["renewTime"] = now

                with contextlib.suppress(ApiError):
                    self.store.update(LEASES, LEASE_NS, name, renew)

    # ------------------------------------------------------------ endpoint slices
    def _sync_slices(self, ns: str, name: str) -> None:
        if SLICES not in self.store.types:
            return
        existing = {o["metadata"]["name"]: o for o in self.store.list(SLICES, ns)
                    if ((o.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name") == name
                    and o["metadata"]["labels"].get("endpointslice.kubernetes.io/managed-by") == SLICE_MANAGER}
        wanted: dict[str, Obj] = {}
        if self.store.exists(ENDPOINTS, ns, name) and self.store.exists(SERVICES, ns, name):
            ep = self.store.get(ENDPOINTS, ns, name)
            svc = self.store.get(SERVICES, ns, name)
            for i, subset in enumerate(ep.get("subsets") or []):
                slice_name = f"{name}-{hashlib.sha256(f'{ns}/{name}/{i}'.encode()).hexdigest()[:5]}"
                endpoints = []
                for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
                    for a in subset.get(key) or []:
                        e: Obj = {"addresses": [a["ip"]],
                                  "conditions": {"ready": ready, "serving": ready, "terminating": False}}
                        if a.get("nodeName"):
                            e["nodeName"] = a["nodeName"]
                        if a.get("targetRef"):
                            e["targetRef"] = a["targetRef"]
                        endpoints.append(e)
                wanted[slice_name] = {
                    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                    "metadata": {"name": slice_name, "namespace": ns, "generateName": f"{name}-",
                                 "labels": {"kubernetes.io/service-name": name,
                                            "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER},
                                 "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": name,
                                                      "uid": svc["metadata"].get("uid"), "controller": True,
                                                      "blockOwnerDeletion": True}]},
                    "addressType": "IPv4",
                    "endpoints": endpoints,
                    "ports": [{"name": p.get("name", ""), "port": p.get("port"), "protocol": p.get("protocol", "TCP")}
                              for p in subset.get("ports") or []],
                }
        for slice_name, body in wanted.items():
            current = existing.get(slice_name)
            if current is None:
                self.store.create(SLICES, body, ns)
            elif (current.get("endpoints"), current.get("ports")) != (body["endpoints"], body["ports"]):
                def put(o: Obj, body: Obj = body) -> None:
                    o["endpoints"] = body["endpoints"]
                    o["ports"] = body["ports"]
                self.store.update(SLICES, ns, slice_name, put)
        for slice_name in set(existing) - set(wanted):
            with contextlib.suppress(ApiError):
                self.store.delete(SLICES, ns, slice_name)
