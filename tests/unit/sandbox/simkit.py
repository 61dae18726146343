"""Test kit for the kubelet / dataplane simulators: a hand-built SandboxContext and bounded polling helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netmig_sandbox.clock import SimClock
from netmig_sandbox.context import SandboxContext
from netmig_sandbox.faults import Faults
from netmig_sandbox.kube.store import ResourceType, Store
from netmig_sandbox.sim import kubelet, topology

TYPES = (
    ResourceType("", "v1", "namespaces", "Namespace", False),
    ResourceType("", "v1", "nodes", "Node", False, subresources=("status",)),
    ResourceType("", "v1", "pods", "Pod", True, subresources=("status",)),
    ResourceType("", "v1", "services", "Service", True, subresources=("status",)),
    ResourceType("", "v1", "endpoints", "Endpoints", True),
    ResourceType("", "v1", "events", "Event", True),
    ResourceType("apps", "v1", "deployments", "Deployment", True, subresources=("status",)),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, subresources=("status",)),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, subresources=("status",)),
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True),
)
NS = ("", "namespaces")
NODES = ("", "nodes")
PODS = ("", "pods")
SERVICES = ("", "services")
ENDPOINTS = ("", "endpoints")
DEPLOYMENTS = ("apps", "deployments")
DAEMONSETS = ("apps", "daemonsets")
NETPOLS = ("networking.k8s.io", "networkpolicies")
AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"


def make_ctx(scenario: dict[str, Any] | None = None, time_scale: float = 0.0001) -> SandboxContext:
    """A SandboxContext with the types registered by hand and the kubelet installed (call inside a loop)."""
    store = Store()
    for rt in TYPES:
        store.register_type(rt)
    sc = scenario or {"cluster": {"name": "t", "network_profile": {"networkPlugin": "azure",
                                                                   "networkPolicy": "azure"}}}
    ctx = SandboxContext(store=store, faults=Faults(), clock=SimClock(time_scale), dir=Path("/nonexistent"),
                         scenario=sc, arm_token="a", kube_token="k")
    for ns in ("default", "kube-system"):
        store.create(NS, {"metadata": {"name": ns}})
    kubelet.install(ctx)
    return ctx


def add_ns(ctx: SandboxContext, name: str, labels: dict[str, str] | None = None) -> None:
    ctx.store.create(NS, {"metadata": {"name": name, "labels": labels or {}}})


def node_manifest(index: int, engine: str = "azure", pool: str = "nodepool1", ready: bool = True,
                  pod_cidr: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    profile: dict[str, Any] = {"networkPlugin": "azure", "networkPolicy": engine if engine != "cilium" else None}
    if engine == "cilium":
        profile.update(networkDataplane="cilium", networkPolicy="cilium")
    lab = topology.node_labels({"name": pool}, profile, index, "img-1")
    lab.update(labels or {})
    spec: dict[str, Any] = {}
    if pod_cidr:
        spec = {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]}
    return {
        "metadata": {"name": topology.node_name(pool, index), "labels": lab,
                     "annotations": {"netmig.sandbox/index": str(index)}},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                   "addresses": [{"type": "InternalIP", "address": topology.node_ip(index)}]},
    }


def add_node(ctx: SandboxContext, index: int, **kw: Any) -> str:
    obj = node_manifest(index, **kw)
    ctx.store.create(NODES, obj)
    return str(obj["metadata"]["name"])


def set_node_ready(ctx: SandboxContext, name: str, ready: bool) -> None:
    def mut(o: dict[str, Any]) -> None:
        o["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]

    ctx.store.update(NODES, None, name, mut)


def server_container(port: int = 80, proto: str = "tcp", name: str = "server",
                     port_name: str | None = None) -> dict[str, Any]:
    flag = "--udp" if proto == "udp" else "--tcp"
    c: dict[str, Any] = {"name": name, "image": AGNHOST,
                         "command": ["/agnhost", "serve-hostname", flag, "--http=false", "--port", str(port)],
                         "ports": [{"containerPort": port, "protocol": proto.upper()}]}
    if port_name:
        c["ports"][0]["name"] = port_name
    return c


def pod_manifest(name: str, ns: str = "default", labels: dict[str, str] | None = None,
                 containers: list[dict[str, Any]] | None = None, node: str | None = None,
                 restart: str = "Always", host_network: bool = False) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers or [{"name": "main", "image": AGNHOST,
                                                           "command": ["sleep", "infinity"]}],
                            "restartPolicy": restart}
    if node:
        spec["nodeName"] = node
    if host_network:
        spec["hostNetwork"] = True
    return {"metadata": {"name": name, "namespace": ns, "labels": labels or {}}, "spec": spec}


def add_pod(ctx: SandboxContext, name: str, ns: str = "default", **kw: Any) -> None:
    ctx.store.create(PODS, pod_manifest(name, ns, **kw), ns)


def deployment(name: str, ns: str = "default", replicas: int = 2, labels: dict[str, str] | None = None,
               containers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {"metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": dict(labels)},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": containers or [server_container()]}}}}


def policy(name: str, ns: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def pod(ctx: SandboxContext, name: str, ns: str = "default") -> dict[str, Any]:
    return ctx.store.get(PODS, ns, name)


def running(ctx: SandboxContext, name: str, ns: str = "default") -> bool:
    if not ctx.store.exists(PODS, ns, name):
        return False
    return (pod(ctx, name, ns).get("status") or {}).get("phase") == "Running"


def phase(ctx: SandboxContext, name: str, ns: str = "default") -> str:
    if not ctx.store.exists(PODS, ns, name):
        return ""
    return str((pod(ctx, name, ns).get("status") or {}).get("phase") or "")


async def wait_for(pred: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``pred`` (bounded) yielding to the loop in between; return its first truthy value."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = pred()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def settle(ctx: SandboxContext, timeout: float = 10.0) -> None:
    """Wait until every pod that can run is Running/terminal and no work is queued in the kubelet."""
    k = ctx.services["kubelet"]

    def quiet() -> bool:
        if k.has_work() or k._starting:
            return False
        for p in ctx.store.iter_raw(PODS):
            st = p.get("status") or {}
            if st.get("phase") in (None, "Pending"):
                unsched = any(c.get("type") == "PodScheduled" and c.get("status") == "False"
                              for c in st.get("conditions") or [])
                node = ctx.store._objects[NODES].get(("", p["spec"].get("nodeName") or ""))
                node_down = node is not None and not any(
                    c.get("type") == "Ready" and c.get("status") == "True"
                    for c in node["status"].get("conditions") or [])
                if not unsched and not node_down:
                    return False
        return True

    await wait_for(quiet, timeout, "the cluster to settle")


async def one_server(port: int = 80) -> tuple[SandboxContext, str]:
    """A context with one node and one Running agnhost server pod ``server`` listening on ``port``, and its IP."""
    ctx = make_ctx()
    add_node(ctx, 0)
    add_pod(ctx, "server", containers=[server_container(port)])
    await settle(ctx)
    return ctx, pod(ctx, "server")["status"]["podIP"]
