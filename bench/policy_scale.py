"""Policy engine at NPM's limits: 20,000 pods / 2,000 policies / 250 nodes, generated in-process (seeded).

Prints analysis and class-reachability times and the ratio against the naive per-pair evaluation measured in the
same run on a random sample of cells (the full naive matrix would take hours; the total is extrapolated linearly
from the sample's per-cell cost). Run: .venv/bin/python bench/policy_scale.py [--pods N] [--policies N] [--nodes N]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from netmig.policy import (
    Evaluator,
    analyze,
    class_reachability,
    compute_classes,
    from_objects,
    get_engine,
)

APPS = ["web", "api", "worker", "cache", "db", "auth", "search", "queue", "cron", "gateway"]
TIERS = {"web": "frontend", "gateway": "frontend", "api": "backend", "auth": "backend", "search": "backend",
         "worker": "backend", "queue": "backend", "cron": "backend", "cache": "data", "db": "data"}
PORTS = {"web": [("http", 8080, "TCP")], "gateway": [("http", 8443, "TCP")], "api": [("http", 8080, "TCP"),
         ("metrics", 9090, "TCP")], "auth": [("grpc", 9000, "TCP")], "search": [("http", 9200, "TCP")],
         "worker": [("metrics", 9090, "TCP")], "queue": [("amqp", 5672, "TCP")], "cron": [],
         "cache": [("redis", 6379, "TCP")], "db": [("pg", 5432, "TCP")]}


def generate(n_pods: int = 20_000, n_policies: int = 2_000, n_nodes: int = 250, seed: int = 7) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    n_ns = max(1, n_policies // 10)
    objs: list[dict[str, Any]] = []
    nodes = [f"aks-pool-{i:04d}" for i in range(n_nodes)]
    for i, n in enumerate(nodes):
        objs.append({"kind": "Node", "metadata": {"name": n, "labels": {"kubernetes.io/os": "linux"}},
                     "status": {"addresses": [{"type": "InternalIP", "address": f"10.224.{i // 250}.{i % 250 + 4}"}]}})
    namespaces = [f"team-{i:03d}" for i in range(n_ns)]
    objs.append({"kind": "Namespace", "metadata": {"name": "kube-system"}})
    for i, ns in enumerate(namespaces):
        objs.append({"kind": "Namespace", "metadata": {"name": ns, "labels": {
            "team": f"t{i % 20}", "env": "prod" if i % 3 else "dev", "tier": "shared" if i % 7 == 0 else "app"}}})
    ip_counter = 0

    def next_ip() -> str:
        nonlocal ip_counter
        ip_counter += 1
        return f"10.244.{ip_counter // 250}.{ip_counter % 250 + 2}"

    # kube-system: coredns + one hostNetwork agent per node
    for i in range(4):
        objs.append(_pod("kube-system", f"coredns-{i}", {"k8s-app": "kube-dns"}, rnd.choice(nodes), next_ip(),
                         [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]))
    for i, n in enumerate(nodes):
        objs.append(_pod("kube-system", f"agent-{i}", {"app": "agent"}, n, f"10.224.{i // 250}.{i % 250 + 4}",
                         [("metrics", 9100, "TCP")], host=True))
    per_ns, extra = divmod(max(0, n_pods - 4 - n_nodes), n_ns)
    for k, ns in enumerate(namespaces):
        for j in range(per_ns + (k < extra)):
            app = APPS[j % len(APPS)]
            labels = {"app": app, "tier": TIERS[app], "pod-template-hash": f"{rnd.getrandbits(32):08x}"}
            if j % 17 == 0:
                labels["canary"] = "true"
            objs.append(_pod(ns, f"{app}-{j:03d}", labels, rnd.choice(nodes), next_ip(), PORTS[app]))
        objs.append({"kind": "Service", "metadata": {"name": "web", "namespace": ns}, "spec": {
            "type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    made = 0
    for i, ns in enumerate(namespaces):
        for spec_fn in _POLICY_MAKERS:
            if made >= n_policies:
                break
            objs.append({"kind": "NetworkPolicy", "metadata": {"name": spec_fn.__name__.strip("_").replace("_", "-"),
                         "namespace": ns}, "spec": spec_fn(i, rnd)})
            made += 1
    return objs


def _pod(ns: str, name: str, labels: dict[str, str], node: str, ip: str, ports: list[tuple[str, int, str]],
         host: bool = False) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": node, "hostNetwork": host, "containers": [{"name": "main", "ports": [
                {"name": n, "containerPort": p, "protocol": q} for n, p, q in ports]}]},
            "status": {"podIP": ip}}


def _deny_all(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {}, "policyTypes": ["Ingress"]}


def _web_from_world(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"ports": [{"port": 8080}]}]}


def _api_from_frontend(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{"from": [
        {"podSelector": {"matchLabels": {"tier": "frontend"}}}], "ports": [{"port": "http"}]}]}


def _data_from_backend(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"tier": "data"}}, "ingress": [{"from": [
        {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]},
                                              {"key": "canary", "operator": "DoesNotExist"}]}}],
        "ports": [{"port": 5432}, {"port": 6379}]}]}


def _team_access(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"tier": "backend"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": f"t{(i + 1) % 20}"}},
         "podSelector": {"matchLabels": {"app": "api"}}}], "ports": [{"port": 9000, "endPort": 9100}]}]}


def _metrics(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"tier": "shared"}}}],
                         "ports": [{"port": "metrics"}]}]}


def _egress_dns(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"tier": "frontend"}}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"podSelector": {"matchLabels": {"app": "api"}}}]}]}


def _egress_cidr(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app": "worker"}}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [f"10.244.{rnd.randrange(80)}.0/24"]}}]},
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443}]}]}


def _search(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app": "search"}}, "ingress": [{"from": [
        {"namespaceSelector": {"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}}]}]}


def _queue(i: int, rnd: random.Random) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app": "queue"}}, "ingress": [{"from": [
        {"podSelector": {"matchLabels": {"app": "worker"}}}, {"podSelector": {"matchLabels": {"app": "api"}}}],
        "ports": [{"protocol": "TCP"}]}]}


_POLICY_MAKERS = [_deny_all, _web_from_world, _api_from_frontend, _data_from_backend, _team_access, _metrics,
                  _egress_dns, _egress_cidr, _search, _queue]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=20_000)
    ap.add_argument("--policies", type=int, default=2_000)
    ap.add_argument("--nodes", type=int, default=250)
    ap.add_argument("--sample", type=int, default=20_000, help="naive cells to time")
    args = ap.parse_args()

    t0 = time.perf_counter()
    objs = generate(args.pods, args.policies, args.nodes)
    t_gen = time.perf_counter() - t0
    t0 = time.perf_counter()
    cluster = from_objects(objs)
    t_parse = time.perf_counter() - t0
    npm, cilium = get_engine("npm"), get_engine("cilium")

    t0 = time.perf_counter()
    findings = analyze(cluster, npm, cilium)
    t_analyze = time.perf_counter() - t0

    t0 = time.perf_counter()
    classes = compute_classes(cluster, [cilium])
    t_classes = time.perf_counter() - t0
    t0 = time.perf_counter()
    m = class_reachability(cluster, cilium, classes)
    t_reach = time.perf_counter() - t0
    t0 = time.perf_counter()
    classes_npm = compute_classes(cluster, [npm])
    m_npm = class_reachability(cluster, npm, classes_npm)
    t_npm = time.perf_counter() - t0
    n_cells = sum(len(classes.classes[d].members) for d, _, _ in m.cells) * len(cluster.pods)

    # naive per-pair evaluation on a random sample of the same cells
    rnd = random.Random(1)
    ev = Evaluator(cluster, cilium)
    dst_cells = [(d, p, q) for d, p, q in m.cells]
    sample = []
    for _ in range(args.sample):
        d, p, q = rnd.choice(dst_cells)
        sample.append((rnd.choice(cluster.pods), rnd.choice(classes.classes[d].members), p, q))
    t0 = time.perf_counter()
    mismatches = 0
    for s, dpod, p, q in sample:
        if ev.allowed(s, dpod, p, q).allowed != m.allowed(s, dpod, p, q):
            mismatches += 1
    t_sample = time.perf_counter() - t0
    t_naive = t_sample / len(sample) * n_cells

    errors = sum(f.severity == "error" for f in findings)
    print(f"cluster: {len(cluster.pods)} pods, {len(cluster.policies)} policies, {len(cluster.nodes)} nodes, "
          f"{len(cluster.services)} services (generated {t_gen:.2f}s, parsed {t_parse:.2f}s)")
    print(f"classes: {len(classes)} (cilium); cells: {n_cells:,} pod-level, {len(m.cells):,} class columns")
    print(f"{'step':44} {'seconds':>10}")
    print(f"{'analyze npm -> cilium (incl. 2 class matrices)':44} {t_analyze:10.2f}   {len(findings)} findings, "
          f"{errors} errors")
    print(f"{'compute classes (cilium)':44} {t_classes:10.2f}")
    print(f"{'class reachability (cilium)':44} {t_reach:10.2f}")
    print(f"{'classes + class reachability (npm)':44} {t_npm:10.2f}   {len(classes_npm)} classes, "
          f"{sum(b.bit_count() for b in m_npm.cells.values()):,} allowed class cells")
    print(f"{'analysis + class reachability':44} {t_analyze + t_classes + t_reach:10.2f}   goal < 5 s")
    print(f"{'naive per-pair, sample of ' + str(len(sample)) + ' cells':44} {t_sample:10.2f}   "
          f"{t_sample / len(sample) * 1e6:.1f} us/cell, {mismatches} mismatches vs classes")
    print(f"{'naive per-pair, all cells (extrapolated)':44} {t_naive:10.0f}   ~{t_naive / 3600:.1f} h")
    print(f"ratio naive / (classes + class reachability): {t_naive / (t_classes + t_reach):,.0f}x")


if __name__ == "__main__":
    main()
