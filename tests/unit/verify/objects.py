"""Plain Kubernetes dicts for the verifier's pure tests, and an offline stand-in for a probe run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netmig.policy import from_objects, get_engine
from netmig.verify.selection import Plan
from netmig.verify.snapshot import Cell, Snapshot, expect, predict_lb, sanitize

Obj = dict[str, Any]


def pod(ns: str, name: str, labels: dict[str, str], ip: str, node: str, ports: list[dict[str, Any]] | None = None,
        owner: tuple[str, str] | None = None, host: bool = False, phase: str = "Running") -> Obj:
    md: dict[str, Any] = {"name": name, "namespace": ns, "labels": labels, "annotations": {"secret": "x"}}
    if owner:
        md["ownerReferences"] = [{"kind": owner[0], "name": owner[1], "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": {"nodeName": node, "hostNetwork": host, "containers": [
                {"name": "c", "image": "agnhost", "env": [{"name": "TOKEN", "value": "s3cr3t"}],
                 "ports": ports or []}]},
            "status": {"phase": phase, "podIP": ip}}


def node(name: str, ip: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def policy(ns: str, name: str, spec: Mapping[str, Any]) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns},
            "spec": dict(spec)}


def deployment_pods(ns: str, app: str, ips: Iterable[str], nodes: Iterable[str], ports: list[dict[str, Any]],
                    extra: Mapping[int, Mapping[str, str]] | None = None, template_hash: str = "h4sh") -> list[Obj]:
    """Pods ``APP-HASH-I`` of Deployment ``APP`` (through ReplicaSet ``APP-HASH``); ``extra[i]``: labels added to pod
    i (a label patched on one pod)."""
    out = []
    for i, (ip, n) in enumerate(zip(ips, nodes, strict=True)):
        labels = {"app": app, "pod-template-hash": template_hash, **(extra or {}).get(i, {})}
        out.append(pod(ns, f"{app}-{template_hash}-{i}", labels, ip, n, ports,
                       ("ReplicaSet", f"{app}-{template_hash}")))
    return out


def offline_snapshot(objects: list[Obj], p: Plan, engine: str) -> Snapshot:
    """What a probe run would record if every probe observed exactly the engine's prediction: one ``Cell`` per
    planned probe (the probe pod keeps its representative's address), plus the predicted-only paths."""
    live = [o for o in objects if o.get("kind") != "Pod" or (o.get("status") or {}).get("phase") == "Running"]
    cluster = from_objects(live)
    prof = get_engine(engine)
    cells = []
    for pr in p.probes():
        c = Cell(pr.src, pr.dst, pr.port, pr.protocol, pr.kind, "error", port_name=pr.port_name, src_pod=pr.src_pod,
                 dst_pod=pr.dst_pod, host=pr.host)
        got = expect(cluster, c, prof)[0]
        c.outcome = got if got is not None else "error"
        c.expected = got
        cells.append(c)
    others = [get_engine(e) for e in p.engines]
    return Snapshot(prof.label, cells, sanitize(live), predict_lb(cluster, p.predicted_only, prof, others),
                    stats={"skipped": list(p.skipped), "engines": list(p.engines)})


HTTP = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
NODES = [node("n1", "10.0.0.1"), node("n2", "10.0.0.2"), node("n3", "10.0.0.3")]
FE = "web/deployment/fe"


def fe_pods(extra: dict[int, dict[str, str]] | None = None) -> list[Obj]:
    """Deployment web/fe: three pods serving http 8080, one per node."""
    return deployment_pods("web", "fe", [f"10.224.0.{10 + i}" for i in range(3)], ["n1", "n2", "n3"], HTTP, extra)


def lb_objects() -> list[dict[str, Any]]:
    """fe behind a LoadBalancer (externalTrafficPolicy Cluster) that a policy opens only to the gw pods."""
    gateway = deployment_pods("web", "gw", ["10.224.2.10"], ["n1"], [])
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fe", "namespace": "web"},
           "spec": {"type": "LoadBalancer", "selector": {"app": "fe"}, "clusterIP": "10.0.100.10",
                    "externalTrafficPolicy": "Cluster",
                    "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}}
    only_gw = policy("web", "fe-from-gw", {"podSelector": {"matchLabels": {"app": "fe"}},
                                           "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "gw"}}}],
                                                        "ports": [{"port": "http"}]}]})
    return [*NODES, *fe_pods(), *gateway, svc, only_gw]
