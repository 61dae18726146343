"""A realistic cluster dump as ``kubectl get ns,nodes,pods,svc,netpol -A -o yaml`` writes it (one ``kind: List``).

Deterministic (seeded). ``generate(pods, policies, nodes)`` returns the objects: Namespaces, Nodes (10 system + the
rest user), Pods owned by ReplicaSets of Deployments (``pod-template-hash`` label and name suffix, some Deployments
mid-rollout with two ReplicaSets), StatefulSets (``statefulset.kubernetes.io/pod-name``), DaemonSets (kube-system,
some hostNetwork), Jobs (``job-name`` / ``controller-uid``) and a few bare pods, every pod with uid, resourceVersion,
creationTimestamp, ownerReferences, named container ports, resources, probes, env and a full status; Services of
every type (ClusterIP, headless, NodePort, LoadBalancer with externalTrafficPolicy Cluster and Local,
ExternalName); NetworkPolicies mixing default-deny, selectors, namespace selectors, named ports, endPort, ipBlock
(with except) and egress rules.

``write_yaml(objs, path)`` / ``write_json(objs, path)`` write them as kubectl would (block YAML, go-yaml's quoting
of strings that would otherwise read as another type). CLI: ``python bench/cluster_gen.py OUT.yaml --pods 20000``.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

APPS = ["web", "api", "worker", "cache", "search", "auth", "queue", "cron", "gateway", "billing", "mailer", "report"]
TIERS = {"web": "frontend", "gateway": "frontend", "api": "backend", "auth": "backend", "search": "backend",
         "worker": "backend", "queue": "backend", "cron": "backend", "billing": "backend", "mailer": "backend",
         "report": "backend", "cache": "data", "db": "data"}
PORTS: dict[str, list[tuple[str, int, str]]] = {
    "web": [("http", 8080, "TCP")], "gateway": [("https", 8443, "TCP"), ("http", 8080, "TCP")],
    "api": [("http", 8080, "TCP"), ("metrics", 9090, "TCP")], "auth": [("grpc", 9000, "TCP")],
    "search": [("http", 9200, "TCP"), ("transport", 9300, "TCP")], "worker": [("metrics", 9090, "TCP")],
    "queue": [("amqp", 5672, "TCP")], "cron": [], "cache": [("redis", 6379, "TCP")], "db": [("pg", 5432, "TCP")],
    "billing": [("http", 8081, "TCP")], "mailer": [("smtp", 2525, "TCP")], "report": [("http", 8082, "TCP")],
}
TS = "2026-11-20T08:{:02d}:{:02d}Z"


class _Ids:
    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.rv = 100000

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rnd.getrandbits(128), version=4))

    def meta(self, name: str, ns: str | None, labels: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        self.rv += 7
        m: dict[str, Any] = {"creationTimestamp": TS.format(self.rv % 60, self.rv // 60 % 60)}
        if "generateName" in extra:
            m["generateName"] = extra.pop("generateName")
        if labels:
            m["labels"] = labels
        m["name"] = name
        if ns:
            m["namespace"] = ns
        m.update(extra)
        m["resourceVersion"] = str(self.rv)
        m["uid"] = self.uid()
        return m

    def hash(self) -> str:
        return "".join(self.rnd.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(10))


def _container(app: str, ports: list[tuple[str, int, str]], rnd: random.Random) -> dict[str, Any]:
    c: dict[str, Any] = {"image": f"contoso.azurecr.io/{app}:1.{rnd.randrange(40)}.{rnd.randrange(9)}",
                         "imagePullPolicy": "IfNotPresent", "name": app}
    if ports:
        c["ports"] = [{"containerPort": p, "name": n, "protocol": q} for n, p, q in ports]
    c["resources"] = {"limits": {"memory": "512Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}}
    return c


def _pod(ids: _Ids, ns: str, name: str, labels: dict[str, str], owner: tuple[str, str, str] | None, node: str,
         ip: str, node_ip: str, app: str, ports: list[tuple[str, int, str]], host: bool = False,
         generate_name: str | None = None) -> dict[str, Any]:
    rnd = ids.rnd
    extra: dict[str, Any] = {}
    if generate_name:
        extra["generateName"] = generate_name
    if owner:
        kind, oname, api = owner
        extra["ownerReferences"] = [{"apiVersion": api, "blockOwnerDeletion": True, "controller": True,
                                     "kind": kind, "name": oname, "uid": ids.uid()}]
    md = ids.meta(name, ns, labels, **extra)
    spec: dict[str, Any] = {"containers": [_container(app, ports, rnd)], "dnsPolicy": "ClusterFirst",
                            "enableServiceLinks": True}
    if host:
        spec["hostNetwork"] = True
    spec.update({"nodeName": node, "restartPolicy": "Always", "serviceAccountName": "default"})
    status = {
        "hostIP": node_ip, "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
        "qosClass": "Burstable",
    }
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md, "spec": spec, "status": status}


def generate(n_pods: int = 20_000, n_policies: int = 2_000, n_nodes: int = 250, seed: int = 11) -> list[dict[str, Any]]:
    """The objects (see the module docstring); exactly ``n_pods`` pods and ``n_policies`` policies."""
    rnd = random.Random(seed)
    ids = _Ids(rnd)
    objs: list[dict[str, Any]] = []
    n_ns = max(1, n_policies // 10)
    nodes: list[tuple[str, str]] = []
    for i in range(n_nodes):
        pool = "system" if i < min(10, n_nodes) else "user"
        name = f"aks-{pool}-{31415926 + (i % 7)}-vmss{i:06x}"
        ip = f"10.224.{i // 250}.{i % 250 + 4}"
        nodes.append((name, ip))
        objs.append({"apiVersion": "v1", "kind": "Node", "metadata": ids.meta(name, None, {
            "agentpool": pool, "kubernetes.azure.com/agentpool": pool, "kubernetes.io/os": "linux",
            "kubernetes.io/hostname": name, "kubernetes.azure.com/network-policy": "azure",
            "node.kubernetes.io/instance-type": "Standard_D8s_v5",
            "topology.kubernetes.io/zone": f"westeurope-{i % 3 + 1}"}),
            "spec": {"podCIDR": f"10.244.{i}.0/24", "providerID": f"azure:///subscriptions/x/vm/{i}"},
            "status": {"addresses": [{"address": ip, "type": "InternalIP"}, {"address": name, "type": "Hostname"}],
                       "allocatable": {"cpu": "7820m", "memory": "28160592Ki", "pods": "110"},
                       "conditions": [{"status": "True", "type": "Ready", "reason": "KubeletReady"}],
                       "nodeInfo": {"kubeletVersion": "v1.31.2", "osImage": "Ubuntu 22.04.5 LTS"}}})
    pod_ip = [0]

    def next_ip() -> str:
        pod_ip[0] += 1
        k = pod_ip[0]
        return f"10.244.{k // 250 % 256}.{k % 250 + 2}"

    pods: list[dict[str, Any]] = []
    # kube-system: DaemonSets on every node (two hostNetwork), coredns, metrics-server
    objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": ids.meta("kube-system", None, {
        "kubernetes.io/metadata.name": "kube-system"}), "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}})
    for ds, host, ports in (("kube-proxy", True, [("metrics", 10249, "TCP")]),
                            ("azure-npm", True, [("metrics", 10091, "TCP")]),
                            ("azure-ip-masq-agent", False, [])):
        rev = ids.hash()[:9]
        for name, ip in nodes:
            if len(pods) >= n_pods:
                break
            labels = {"component": ds, "controller-revision-hash": rev, "pod-template-generation": "1",
                      "k8s-app": ds}
            pods.append(_pod(ids, "kube-system", f"{ds}-{ids.hash()[:5]}", labels, ("DaemonSet", ds, "apps/v1"),
                             name, ip if host else next_ip(), ip, ds, ports, host=host, generate_name=f"{ds}-"))
    for dep, replicas, ports in (("coredns", 2, [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"),
                                                  ("metrics", 9153, "TCP")]),
                                 ("metrics-server", 2, [("https", 4443, "TCP")])):
        h = ids.hash()
        for _ in range(replicas):
            name, ip = rnd.choice(nodes)
            labels = {"k8s-app": "kube-dns" if dep == "coredns" else dep, "pod-template-hash": h}
            pods.append(_pod(ids, "kube-system", f"{dep}-{h}-{ids.hash()[:5]}", labels,
                             ("ReplicaSet", f"{dep}-{h}", "apps/v1"), name, next_ip(), ip, dep, ports,
                             generate_name=f"{dep}-{h}-"))
    objs.append(_service(ids, "kube-system", "kube-dns", "ClusterIP", {"k8s-app": "kube-dns"},
                         [("dns", 53, "UDP", 53), ("dns-tcp", 53, "TCP", 53)], "10.0.0.10"))

    namespaces = [f"team{i % 25:02d}-{APPS[i % len(APPS)]}-{i:03d}" for i in range(n_ns)]
    remaining = n_pods - len(pods)
    per_ns, extra = divmod(max(0, remaining), n_ns)
    for k, ns in enumerate(namespaces):
        team = f"team{k % 25:02d}"
        objs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": ids.meta(ns, None, {
            "kubernetes.io/metadata.name": ns, "team": team, "env": "prod" if k % 3 else "dev",
            "tier": "shared" if k % 7 == 0 else "app"}), "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"}})
        budget = per_ns + (k < extra)
        pods.extend(_namespace_pods(ids, ns, team, k, budget, nodes, next_ip, objs))
    objs.extend(pods)
    made = 0
    for i, ns in enumerate(namespaces):
        for maker in _POLICY_MAKERS:
            if made >= n_policies:
                break
            spec = maker(i, rnd, namespaces)
            objs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                         "metadata": ids.meta(maker.__name__.strip("_").replace("_", "-"), ns, {"team": f"t{i % 25}"},
                                              generation=1, annotations={"owner": "platform"}),
                         "spec": spec})
            made += 1
    return objs


def _service(ids: _Ids, ns: str, name: str, typ: str, selector: dict[str, str] | None,
             ports: list[tuple[str, int, str, int | str]], cluster_ip: str | None, etp: str | None = None,
             external_name: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if typ != "ExternalName":
        spec["clusterIP"] = cluster_ip or "None"
        spec["clusterIPs"] = [cluster_ip or "None"]
        spec["internalTrafficPolicy"] = "Cluster"
        spec["ipFamilies"] = ["IPv4"]
        spec["ipFamilyPolicy"] = "SingleStack"
    if etp:
        spec["externalTrafficPolicy"] = etp
    if external_name:
        spec["externalName"] = external_name
    sp = []
    for i, (pname, port, proto, target) in enumerate(ports):
        e: dict[str, Any] = {"name": pname, "port": port, "protocol": proto, "targetPort": target}
        if typ in ("NodePort", "LoadBalancer"):
            e["nodePort"] = 30000 + (ids.rv + i) % 2767
        sp.append(e)
    if sp:
        spec["ports"] = sp
    if selector:
        spec["selector"] = selector
    spec["sessionAffinity"] = "None"
    spec["type"] = typ
    status: dict[str, Any] = {"loadBalancer": {}}
    if typ == "LoadBalancer":
        status = {"loadBalancer": {"ingress": [{"ip": f"20.{ids.rv % 250}.{ids.rv // 250 % 250}.7",
                                                "ipMode": "VIP"}]}}
    return {"apiVersion": "v1", "kind": "Service", "metadata": ids.meta(name, ns), "spec": spec, "status": status}


def _namespace_pods(ids: _Ids, ns: str, team: str, k: int, budget: int, nodes: list[tuple[str, str]],
                    next_ip: Any, objs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    rnd = ids.rnd
    made = 0
    svc_ip = [0]

    def cip() -> str:
        svc_ip[0] += 1
        return f"10.0.{k % 250 + 1}.{svc_ip[0] % 250 + 1}"

    def place() -> tuple[str, str]:
        return nodes[rnd.randrange(len(nodes))]

    # a StatefulSet database (3 replicas), headless + ClusterIP services
    if budget >= 8:
        rev = f"db-{ids.hash()[:10]}"
        for j in range(3):
            node, nip = place()
            labels = {"app": "db", "app.kubernetes.io/name": "postgres", "app.kubernetes.io/part-of": team,
                      "tier": "data", "controller-revision-hash": rev, "apps.kubernetes.io/pod-index": str(j),
                      "statefulset.kubernetes.io/pod-name": f"db-{j}"}
            yield _pod(ids, ns, f"db-{j}", labels, ("StatefulSet", "db", "apps/v1"), node, next_ip(), nip, "db",
                       PORTS["db"], generate_name="db-")
            made += 1
        objs.append(_service(ids, ns, "db-headless", "ClusterIP", {"app": "db"}, [("pg", 5432, "TCP", "pg")], None))
        objs.append(_service(ids, ns, "db", "ClusterIP", {"app": "db"}, [("pg", 5432, "TCP", 5432)], cip()))
    # a Job with two pods and one bare debug pod
    if budget - made >= 6:
        uid = ids.uid()
        for _ in range(2):
            node, nip = place()
            labels = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": "migrate",
                      "controller-uid": uid, "job-name": "migrate", "app": "migrate"}
            yield _pod(ids, ns, f"migrate-{ids.hash()[:5]}", labels, ("Job", "migrate", "batch/v1"), node,
                       next_ip(), nip, "migrate", [], generate_name="migrate-")
            made += 1
        node, nip = place()
        yield _pod(ids, ns, "debug", {"run": "debug", "owner": f"user{k % 9}"}, None, node, next_ip(), nip,
                   "debug", [])
        made += 1
    # Deployments share the rest; every third is mid-rollout (two ReplicaSets, another version label)
    apps = [APPS[(k + j) % len(APPS)] for j in range(8)]
    left = budget - made
    for j, app in enumerate(apps):
        n = left // len(apps) + (j < left % len(apps))
        dep = f"{app}-{j}"
        base = {"app": dep, "app.kubernetes.io/name": app, "app.kubernetes.io/part-of": team, "tier": TIERS[app]}
        sets = [(ids.hash(), "v2", n)]
        if j % 3 == 0 and n >= 2:
            sets = [(ids.hash(), "v2", n - n // 3), (ids.hash(), "v1", n // 3)]
        for h, version, count in sets:
            for r in range(count):
                node, nip = place()
                labels = {**base, "version": version, "pod-template-hash": h}
                if r == 0 and j % 4 == 1:
                    labels["canary"] = "true"
                yield _pod(ids, ns, f"{dep}-{h}-{ids.hash()[:5]}", labels, ("ReplicaSet", f"{dep}-{h}", "apps/v1"),
                           node, next_ip(), nip, app, PORTS[app], generate_name=f"{dep}-{h}-")
        ports = [(n_, p, q, n_ if i % 2 else p) for i, (n_, p, q) in enumerate(PORTS[app])]
        if not ports:
            continue
        typ, etp = "ClusterIP", None
        if app == "web":
            typ, etp = "LoadBalancer", "Local" if k % 2 else "Cluster"
        elif app == "gateway":
            typ, etp = "NodePort", "Cluster"
        objs.append(_service(ids, ns, dep, typ, {"app": dep}, [(n_, 80 if i == 0 else p, q, t)
                                                               for i, (n_, p, q, t) in enumerate(ports)],
                             cip(), etp))
    objs.append(_service(ids, ns, "billing-api", "ExternalName", None, [], None,
                         external_name="billing.contoso.example"))


def _deny_all(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {}, "policyTypes": ["Ingress"]}


def _web_from_world(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "web"}}, "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"port": 8080, "protocol": "TCP"}]}]}


def _api_from_frontend(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "frontend"}}}],
                         "ports": [{"port": "http", "protocol": "TCP"}]}]}


def _data_from_backend(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"tier": "data"}}, "policyTypes": ["Ingress"], "ingress": [{"from": [
        {"podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["backend"]},
                                              {"key": "canary", "operator": "DoesNotExist"}]}}],
        "ports": [{"port": 5432, "protocol": "TCP"}, {"port": 6379, "protocol": "TCP"}]}]}


def _team_access(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"tier": "backend"}}, "policyTypes": ["Ingress"], "ingress": [{"from": [
        {"namespaceSelector": {"matchLabels": {"team": f"team{(i + 1) % 25:02d}"}},
         "podSelector": {"matchLabels": {"app.kubernetes.io/name": "api"}}}],
        "ports": [{"port": 9000, "endPort": 9100, "protocol": "TCP"}]}]}


def _metrics(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["db"]}]},
            "policyTypes": ["Ingress"], "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {
                "tier": "shared"}}}], "ports": [{"port": "metrics", "protocol": "TCP"}]}]}


def _egress_dns(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"tier": "frontend"}}, "policyTypes": ["Egress"], "egress": [
        {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                 "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
         "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        {"to": [{"podSelector": {"matchLabels": {"tier": "backend"}}}]}]}


def _egress_cidr(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "worker"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16",
                                            "except": [f"10.244.{rnd.randrange(80)}.0/24"]}}]},
                       {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]}]}


def _search_from_prod(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "search"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"namespaceSelector": {"matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod"]}]}}]}]}


def _queue_from_workers(i: int, rnd: random.Random, nss: list[str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "queue"}}, "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "worker"}}},
                                  {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "api"}}}],
                         "ports": [{"protocol": "TCP"}]}]}


_POLICY_MAKERS = [_deny_all, _web_from_world, _api_from_frontend, _data_from_backend, _team_access, _metrics,
                  _egress_dns, _egress_cidr, _search_from_prod, _queue_from_workers]

# --- writing ---------------------------------------------------------------------------------------------------

_PLAIN_OK = re.compile(r"^[A-Za-z_/][A-Za-z0-9_./-]*$")
_NEEDS_QUOTES = re.compile(
    r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|~)$")


def _scalar(v: Any) -> str:
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        return json.dumps(v)
    s = str(v)
    if s and _PLAIN_OK.match(s) and not _NEEDS_QUOTES.match(s):
        return s
    return json.dumps(s)


def _emit(v: Any, indent: str, out: list[str]) -> None:
    """Block YAML in kubectl's layout: mappings indented by 2, sequences of mappings as ``- key: ...``."""
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, dict) and x:
                out.append(f"{indent}{k}:\n")
                _emit(x, indent + "  ", out)
            elif isinstance(x, list) and x:
                out.append(f"{indent}{k}:\n")
                _emit(x, indent, out)
            elif isinstance(x, dict | list):
                out.append(f"{indent}{k}: {'{}' if isinstance(x, dict) else '[]'}\n")
            else:
                out.append(f"{indent}{k}: {_scalar(x)}\n")
    else:
        for x in v:
            if isinstance(x, dict) and x:
                sub: list[str] = []
                _emit(x, indent + "  ", sub)
                first = sub[0]
                out.append(f"{indent}- {first[len(indent) + 2:]}")
                out.extend(sub[1:])
            elif isinstance(x, list):
                out.append(f"{indent}- {json.dumps(x)}\n")
            else:
                out.append(f"{indent}- {_scalar(x)}\n")


def write_yaml(objs: list[dict[str, Any]], path: Path) -> None:
    """One ``kind: List`` document, as ``kubectl get ... -o yaml`` prints it."""
    with path.open("w", encoding="utf-8") as f:
        f.write("apiVersion: v1\nitems:\n")
        for o in objs:
            lines: list[str] = []
            _emit([o], "", lines)
            f.write("".join(lines))
        f.write('kind: List\nmetadata:\n  resourceVersion: ""\n')


def write_json(objs: list[dict[str, Any]], path: Path) -> None:
    """The same List as ``kubectl get ... -o json``."""
    path.write_text(json.dumps({"apiVersion": "v1", "items": objs, "kind": "List",
                                "metadata": {"resourceVersion": ""}}, indent=4))


def label_sets(objs: list[dict[str, Any]]) -> int:
    """Distinct pod label sets."""
    return len({tuple(sorted((o["metadata"].get("labels") or {}).items())) for o in objs if o["kind"] == "Pod"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--pods", type=int, default=20_000)
    ap.add_argument("--policies", type=int, default=2_000)
    ap.add_argument("--nodes", type=int, default=250)
    ap.add_argument("--json", action="store_true", help="write kubectl -o json instead of YAML")
    a = ap.parse_args()
    objs = generate(a.pods, a.policies, a.nodes)
    (write_json if a.json else write_yaml)(objs, a.out)
    kinds: dict[str, int] = {}
    for o in objs:
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    print(f"{a.out}: {a.out.stat().st_size / 1e6:.1f} MB; {kinds}; {label_sets(objs)} distinct pod label sets")


if __name__ == "__main__":
    main()
