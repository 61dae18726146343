"""Small builders for policy tests: plain Kubernetes dicts, and a verdict helper that also checks the class path."""

from __future__ import annotations

from typing import Any

from netmig.policy import Evaluator, class_reachability, compute_classes, from_objects, get_engine

NODE_IPS = {"n1": "192.168.0.1", "n2": "192.168.0.2"}


def ns(name: str, **labels: str) -> dict[str, Any]:
    return {"kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def node(name: str, os: str = "linux") -> dict[str, Any]:
    return {"kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/os": os}},
            "status": {"addresses": [{"type": "InternalIP", "address": NODE_IPS.get(name, "192.168.0.9")}]}}


def pod(name: str, namespace: str = "x", labels: dict[str, str] | None = None, ip: str | None = None,
        node: str = "n1", host: bool = False, ports: Any = (("http", 80, "TCP"),)) -> dict[str, Any]:
    cports = []
    for n, p, q in ports:
        d: dict[str, Any] = {"containerPort": p, "protocol": q}
        if n:
            d["name"] = n
        cports.append(d)
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"nodeName": node, "hostNetwork": host, "containers": [{"name": "c", "ports": cports}]},
            "status": {"podIP": ip or (NODE_IPS[node] if host else None)}}


def netpol(name: str, spec: dict[str, Any], namespace: str = "x") -> dict[str, Any]:
    return {"kind": "NetworkPolicy", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def svc(name: str, selector: dict[str, str], namespace: str = "x", type_: str = "LoadBalancer",
        etp: str | None = None, ports: Any = ({"port": 80, "targetPort": 80},)) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type_, "selector": selector, "ports": list(ports)}
    if etp:
        spec["externalTrafficPolicy"] = etp
    return {"kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def can(objs: list[dict[str, Any]], src: str, dst: str, port: int = 80, proto: str = "TCP", engine: str = "spec",
        cilium_version: str = "1.17") -> bool:
    """Naive verdict for one pod pair; asserts the equivalence-class path agrees."""
    cluster = from_objects(objs)
    eng = get_engine(engine, cilium_version)
    s, d = cluster.pod_by_key[src], cluster.pod_by_key[dst]
    naive = Evaluator(cluster, eng).allowed(s, d, port, proto).allowed
    m = class_reachability(cluster, eng, compute_classes(cluster, [eng]), [(port, proto)])
    assert m.allowed(s, d, port, proto) == naive, "class path disagrees with naive evaluation"
    return naive
