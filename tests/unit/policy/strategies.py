"""Hypothesis strategies: small random clusters and policies (as plain Kubernetes dicts)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

KEYS = ["app", "tier", "env"]
VALUES = ["a", "b"]
NAMESPACES = ["x", "y"]
PORT_NAMES = ["http", "dns", "metrics"]
NODES = ["n1", "n2"]
NODE_IPS = {"n1": "192.168.0.1", "n2": "192.168.0.2"}
PROTOCOLS = ["TCP", "TCP", "TCP", "UDP", "SCTP"]  # weighted towards TCP

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)


@st.composite
def selector(draw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    ml = draw(st.dictionaries(st.sampled_from([*KEYS, "team"]), st.sampled_from(VALUES), max_size=1))
    if ml:
        out["matchLabels"] = ml
    exprs = []
    for _ in range(draw(st.integers(0, 1))):
        op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        e: dict[str, Any] = {"key": draw(st.sampled_from([*KEYS, "team"])), "operator": op}
        if op in ("In", "NotIn"):
            e["values"] = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True))
        exprs.append(e)
    if exprs:
        out["matchExpressions"] = exprs
    return out


@st.composite
def peer(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["pod", "ns", "both", "ip", "ip"]))
    if kind == "ip":
        cidr = draw(st.sampled_from(["10.0.0.0/30", "10.0.0.0/29", "0.0.0.0/0", "192.168.0.0/31", "10.0.0.4/32"]))
        ib: dict[str, Any] = {"cidr": cidr}
        if cidr in ("10.0.0.0/29", "0.0.0.0/0") and draw(st.booleans()):
            ib["except"] = ["10.0.0.2/31"] if cidr == "10.0.0.0/29" else ["192.168.0.1/32"]
        return {"ipBlock": ib}
    out: dict[str, Any] = {}
    if kind in ("pod", "both"):
        out["podSelector"] = draw(selector())
    if kind in ("ns", "both"):
        out["namespaceSelector"] = draw(selector())
    return out


@st.composite
def port(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(["num", "named", "range", "proto", "empty"]))
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["protocol"] = draw(st.sampled_from(PROTOCOLS))
    if kind == "num":
        out["port"] = draw(st.sampled_from([80, 81, 53]))
    elif kind == "named":
        out["port"] = draw(st.sampled_from(PORT_NAMES))
    elif kind == "range":
        out["port"] = 80
        out["endPort"] = draw(st.sampled_from([80, 81, 90]))
    elif kind == "proto":
        out["protocol"] = draw(st.sampled_from(PROTOCOLS))
    return out


@st.composite
def rule(draw: Any, peer_key: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out[peer_key] = draw(st.lists(peer(), max_size=2))
    if draw(st.booleans()):
        out["ports"] = draw(st.lists(port(), max_size=2))
    return out


@st.composite
def policy(draw: Any, i: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": draw(selector())}
    if draw(st.booleans()):
        spec["ingress"] = draw(st.lists(rule("from"), max_size=2))
    if draw(st.booleans()):
        spec["egress"] = draw(st.lists(rule("to"), max_size=2))
    if draw(st.booleans()):
        spec["policyTypes"] = draw(st.sampled_from([["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    return {"kind": "NetworkPolicy", "metadata": {"name": f"np{i}", "namespace": draw(st.sampled_from(NAMESPACES))},
            "spec": spec}


@st.composite
def pod(draw: Any, i: int) -> dict[str, Any]:
    host = draw(st.integers(0, 5)) == 0
    node = draw(st.sampled_from(NODES))
    ports = []
    for cp in draw(st.lists(st.tuples(st.sampled_from([None, *PORT_NAMES]), st.sampled_from([80, 80, 81, 53]),
                                      st.sampled_from(PROTOCOLS)), max_size=2)):
        d: dict[str, Any] = {"containerPort": cp[1], "protocol": cp[2]}
        if cp[0]:
            d["name"] = cp[0]
        ports.append(d)
    ip = NODE_IPS[node] if host else f"10.0.0.{i}"
    return {"kind": "Pod", "metadata": {"name": f"p{i}", "namespace": draw(st.sampled_from(NAMESPACES)),
                                        "labels": draw(labels)},
            "spec": {"nodeName": node, "hostNetwork": host, "containers": [{"name": "c", "ports": ports}]},
            "status": {"podIP": ip}}


@st.composite
def cluster_objects(draw: Any) -> list[dict[str, Any]]:
    objs: list[dict[str, Any]] = []
    for ns in NAMESPACES:
        objs.append({"kind": "Namespace", "metadata": {"name": ns, "labels": draw(st.dictionaries(
            st.sampled_from(["team", "app"]), st.sampled_from(VALUES), max_size=1))}})
    for n in NODES:
        objs.append({"kind": "Node", "metadata": {"name": n},
                     "status": {"addresses": [{"type": "InternalIP", "address": NODE_IPS[n]}]}})
    n_pods = draw(st.integers(1, 8))
    objs.extend(draw(pod(i)) for i in range(n_pods))
    n_pol = draw(st.integers(0, 4))
    objs.extend(draw(policy(i)) for i in range(n_pol))
    return objs
