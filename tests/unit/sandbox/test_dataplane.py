"""The simulated dataplane: NetworkPolicy semantics, engine differences (NPM / Cilium / Calico), outcomes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from netmig_sandbox.context import SandboxContext
from netmig_sandbox.sim import dataplane, topology
from tests.unit.sandbox.simkit import (
    AGNHOST,
    NETPOLS,
    PODS,
    SERVICES,
    add_node,
    add_ns,
    add_pod,
    make_ctx,
    phase,
    pod,
    policy,
    server_container,
    settle,
    wait_for,
)

N0 = topology.node_name("nodepool1", 0)
N1 = topology.node_name("nodepool1", 1)


def run(fn: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(fn())  # type: ignore[arg-type]


async def world(engine: str, *, cilium_version: str | None = None, engines: tuple[str, str] | None = None,
                pod_cidr: bool = False) -> SandboxContext:
    """Two nodes (engines as given), namespace ``demo`` with a TCP/80 server on N1 and a client on N0."""
    sc: dict[str, Any] = {"cluster": {"network_profile": {"networkPlugin": "azure"}}}
    if cilium_version:
        sc["cilium_version"] = cilium_version
    ctx = make_ctx(sc)
    e0, e1 = engines or (engine, engine)
    add_node(ctx, 0, engine=e0, pod_cidr="10.244.0.0/24" if pod_cidr else None)
    add_node(ctx, 1, engine=e1, pod_cidr="10.244.1.0/24" if pod_cidr else None)
    add_ns(ctx, "demo")
    add_pod(ctx, "server", "demo", labels={"app": "server"}, node=N1, containers=[server_container(80)])
    add_pod(ctx, "client", "demo", node=N0)
    await settle(ctx)
    return ctx


def ip(ctx: SandboxContext, name: str, ns: str = "demo") -> str:
    return str(pod(ctx, name, ns)["status"]["podIP"])


def decide(ctx: SandboxContext, src: str, dst_ip: str, port: int = 80, proto: str = "TCP",
           ns: str = "demo") -> str:
    return dataplane.decide(ctx, pod(ctx, src, ns), dst_ip, port, proto)


def add_policy(ctx: SandboxContext, name: str, spec: dict[str, Any], ns: str = "demo") -> None:
    ctx.store.create(NETPOLS, policy(name, ns, spec), ns)


DEMO_POLICY = {"podSelector": {"matchLabels": {"app": "server"}},
               "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                            "ports": [{"port": 80, "protocol": "TCP"}]}]}
DENY_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"]}
DENY_EGRESS = {"podSelector": {}, "policyTypes": ["Egress"]}


# ------------------------------------------------------------------ the seed demo
def test_seed_demo_timeout_then_open_after_labelling_the_client() -> None:
    async def body() -> None:
        ctx = await world("azure")
        server = ip(ctx, "server")
        assert decide(ctx, "client", server) == "open"  # no policy yet
        add_policy(ctx, "demo-policy", DEMO_POLICY)
        assert decide(ctx, "client", server) == "timeout"
        # the same through a real agnhost connect pod: TIMEOUT on stderr, exit 1
        add_pod(ctx, "probe1", "demo", restart="Never", containers=[{
            "name": "c", "image": AGNHOST,
            "command": ["/agnhost", "connect", f"{server}:80", "--timeout=3s", "--protocol=tcp"]}])
        await wait_for(lambda: phase(ctx, "probe1", "demo") == "Failed", what="probe1 fails")
        assert ctx.logs[("demo", "probe1", "c")] == "TIMEOUT\n"
        ctx.store.update(PODS, "demo", "client", lambda o: o["metadata"].setdefault("labels", {})
                         .update(app="client"))
        assert decide(ctx, "client", server) == "open"
        assert decide(ctx, "client", server, 81) == "timeout"  # port not allowed
        add_pod(ctx, "probe2", "demo", labels={"app": "client"}, restart="Never", containers=[{
            "name": "c", "image": AGNHOST,
            "command": ["/agnhost", "connect", f"{server}:80", "--timeout=3s", "--protocol=tcp"]}])
        await wait_for(lambda: phase(ctx, "probe2", "demo") == "Succeeded", what="probe2 succeeds")
        assert ctx.logs[("demo", "probe2", "c")] == ""

    run(body)


# ------------------------------------------------------------------ outcomes
def test_refused_vs_timeout() -> None:
    async def body() -> None:
        ctx = await world("azure")
        server = ip(ctx, "server")
        assert decide(ctx, "client", server, 81) == "refused"  # allowed, nothing listens (RST)
        assert decide(ctx, "client", server, 80, "UDP") == "timeout"  # allowed, no UDP reply
        assert decide(ctx, "client", server, 80, "SCTP") == "refused"
        assert decide(ctx, "client", "10.9.9.9") == "timeout"  # no route
        assert decide(ctx, "client", server, 80, "ICMP") == "error"
        add_policy(ctx, "deny", DENY_INGRESS)
        assert decide(ctx, "client", server, 81) == "timeout"  # denied: dropped
        assert decide(ctx, "server", server, 80) == "open"  # self traffic always allowed

    run(body)


# ------------------------------------------------------------------ semantics
def test_policy_semantics_corner_cases() -> None:
    async def body() -> None:
        ctx = await world("calico")
        add_ns(ctx, "other", {"team": "x"})
        add_pod(ctx, "o1", "other", labels={"app": "client"}, node=N0)
        add_pod(ctx, "udp", "demo", labels={"app": "udp"}, node=N1, containers=[server_container(53, "udp")])
        await settle(ctx)
        server = ip(ctx, "server")
        # policy without from/ports allows everything of its type; ingress: [] denies
        add_policy(ctx, "p", {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{}]})
        assert decide(ctx, "o1", server, ns="other") == "open"
        add_policy(ctx, "deny", {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": []})
        assert decide(ctx, "o1", server, ns="other") == "open"  # OR across policies
        ctx.store.delete(NETPOLS, "demo", "p")
        assert decide(ctx, "o1", server, ns="other") == "timeout"
        # podSelector alone = own namespace only; ns AND pod in one peer; NotIn matches missing keys
        add_policy(ctx, "p2", {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{"from": [
            {"podSelector": {"matchLabels": {"app": "client"}}}]}]})
        assert decide(ctx, "o1", server, ns="other") == "timeout"
        add_policy(ctx, "p3", {"podSelector": {"matchLabels": {"app": "server"}}, "ingress": [{"from": [
            {"namespaceSelector": {"matchLabels": {"team": "x"}},
             "podSelector": {"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["db"]}]}}]}]})
        assert decide(ctx, "o1", server, ns="other") == "open"
        ctx.store.update(PODS, "other", "o1", lambda o: o["metadata"]["labels"].update(role="db"))
        assert decide(ctx, "o1", server, ns="other") == "timeout"
        # protocol-only port, UDP vs TCP distinct, default protocol TCP
        udp = ip(ctx, "udp")
        add_policy(ctx, "u", {"podSelector": {"matchLabels": {"app": "udp"}}, "ingress": [{"ports": [
            {"protocol": "UDP"}]}]})
        assert decide(ctx, "client", udp, 53, "UDP") == "open"
        assert decide(ctx, "client", udp, 53, "TCP") == "timeout"
        ctx.store.delete(NETPOLS, "demo", "u")
        add_policy(ctx, "u2", {"podSelector": {"matchLabels": {"app": "udp"}}, "ingress": [{"ports": [
            {"port": 53}]}]})
        assert decide(ctx, "client", udp, 53, "UDP") == "timeout"
        # egress must allow too (source side), ipBlock with except
        add_policy(ctx, "eg", {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [
            {"ipBlock": {"cidr": "10.224.0.0/16", "except": [f"{udp}/32"]}}]}]}, "other")
        ctx.store.delete(NETPOLS, "demo", "deny")
        ctx.store.delete(NETPOLS, "demo", "p2")
        ctx.store.delete(NETPOLS, "demo", "p3")
        assert decide(ctx, "o1", server, ns="other") == "open"
        ctx.store.delete(NETPOLS, "demo", "u2")
        assert decide(ctx, "o1", udp, 53, "UDP", ns="other") == "timeout"  # excepted

    run(body)


def test_named_ports_resolve_per_destination_pod_and_protocol() -> None:
    async def body() -> None:
        ctx = await world("azure")
        add_pod(ctx, "a", "demo", labels={"app": "srv"}, node=N1,
                containers=[server_container(8080, port_name="http")])
        add_pod(ctx, "b", "demo", labels={"app": "srv"}, node=N1,
                containers=[server_container(9090, port_name="http")])
        await settle(ctx)
        add_policy(ctx, "named", {"podSelector": {"matchLabels": {"app": "srv"}},
                                  "ingress": [{"ports": [{"port": "http"}]}]})
        assert decide(ctx, "client", ip(ctx, "a"), 8080) == "open"
        assert decide(ctx, "client", ip(ctx, "b"), 9090) == "open"
        assert decide(ctx, "client", ip(ctx, "a"), 9090) == "timeout"
        assert decide(ctx, "client", ip(ctx, "a"), 8080, "UDP") == "timeout"

    run(body)


# ------------------------------------------------------------------ engine differences
@pytest.mark.parametrize(("engine", "expected"), [("azure", "open"), ("calico", "open"), ("cilium", "timeout")])
def test_ipblock_over_pod_ips(engine: str, expected: str) -> None:
    async def body() -> None:
        ctx = await world(engine)
        add_policy(ctx, "ipb", {"podSelector": {"matchLabels": {"app": "server"}},
                                "ingress": [{"from": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]})
        assert decide(ctx, "client", ip(ctx, "server")) == expected

    run(body)


@pytest.mark.parametrize(("engine", "expected"), [("azure", "open"), ("calico", "timeout"), ("cilium", "timeout"),
                                                  ("none", "open")])
def test_egress_to_own_node(engine: str, expected: str) -> None:
    async def body() -> None:
        ctx = await world(engine)
        add_pod(ctx, "hostsrv", "demo", node=N0, host_network=True, containers=[server_container(10250)])
        await settle(ctx)
        add_policy(ctx, "deny-egress", DENY_EGRESS)
        assert decide(ctx, "client", topology.node_ip(0), 10250) == expected
        assert decide(ctx, "client", ip(ctx, "server")) == ("open" if engine == "none" else "timeout")

    run(body)


def test_node_local_traffic_and_host_network_are_unpoliced() -> None:
    async def body() -> None:
        for engine, remote in (("azure", "open"), ("cilium", "timeout")):
            ctx = await world(engine)
            add_policy(ctx, "deny", DENY_INGRESS)
            add_policy(ctx, "nodes", {"podSelector": {}, "ingress": [{"from": [
                {"ipBlock": {"cidr": "10.224.0.0/24"}}]}]})
            server = ip(ctx, "server")
            assert dataplane.decide_from_node(ctx, N1, server, 80, "TCP") == "open"  # node-local
            assert dataplane.decide_from_node(ctx, N0, server, 80, "TCP") == remote  # ipBlock vs node IP
            add_pod(ctx, "hn", "demo", node=N0, host_network=True)
            await settle(ctx)
            assert decide(ctx, "hn", server) == remote

    run(body)


def _lb(ctx: SandboxContext, etp: str) -> None:
    ctx.store.create(SERVICES, {"metadata": {"name": "lb"}, "spec": {
        "type": "LoadBalancer", "externalTrafficPolicy": etp, "selector": {"app": "server"},
        "ports": [{"port": 443, "targetPort": 80}]}}, "demo")


@pytest.mark.parametrize(("engine", "etp", "expected"), [
    ("azure", "Cluster", "open"), ("cilium", "Cluster", "timeout"), ("calico", "Cluster", "timeout"),
    ("azure", "Local", "timeout"), ("cilium", "Local", "timeout"), ("none", "Cluster", "open"),
])
def test_load_balancer_external_traffic(engine: str, etp: str, expected: str) -> None:
    async def body() -> None:
        ctx = await world(engine)
        _lb(ctx, etp)
        add_policy(ctx, "deny", DENY_INGRESS)
        await settle(ctx)
        await wait_for(lambda: dataplane.view(ctx).endpoints.get(("demo", "lb")), what="endpoints")
        assert dataplane.decide_external(ctx, "demo/lb", 443) == expected
        add_policy(ctx, "world", {"podSelector": {}, "ingress": [{"from": [
            {"ipBlock": {"cidr": "203.0.113.0/24"}}]}]})
        assert dataplane.decide_external(ctx, "demo/lb", 443) == "open"
        node_port = ctx.store.get(SERVICES, "demo", "lb")["spec"]["ports"][0]["nodePort"]
        assert dataplane.decide_external(ctx, "demo/lb", node_port) == "open"
        assert dataplane.decide_external(ctx, "demo/lb", 444) == "timeout"

    run(body)


@pytest.mark.parametrize(("engine", "version", "at_8080"), [
    ("cilium", "1.17", "open"), ("cilium", "1.16", "timeout"), ("azure", "1.16", "open")])
def test_end_port(engine: str, version: str, at_8080: str) -> None:
    async def body() -> None:
        ctx = await world(engine, cilium_version=version)
        add_pod(ctx, "s8080", "demo", labels={"app": "server"}, node=N1, containers=[server_container(8080)])
        add_pod(ctx, "s8000", "demo", labels={"app": "server"}, node=N1, containers=[server_container(8000)])
        await settle(ctx)
        add_policy(ctx, "range", {"podSelector": {"matchLabels": {"app": "server"}},
                                  "ingress": [{"ports": [{"port": 8000, "endPort": 8100}]}]})
        assert decide(ctx, "client", ip(ctx, "s8080"), 8080) == at_8080
        assert decide(ctx, "client", ip(ctx, "s8000"), 8000) == "open"
        assert decide(ctx, "client", ip(ctx, "s8080"), 8101) == "timeout"

    run(body)


@pytest.mark.parametrize(("engine", "b_outcome"), [("azure", "open"), ("calico", "open"), ("cilium", "timeout")])
def test_named_port_collision_under_cilium(engine: str, b_outcome: str) -> None:
    async def body() -> None:
        ctx = await world(engine)
        add_pod(ctx, "a", "demo", labels={"app": "srv"}, node=N1,
                containers=[server_container(8080, port_name="http")])
        add_pod(ctx, "b", "demo", labels={"app": "srv"}, node=N1,
                containers=[server_container(9090, port_name="http")])
        await settle(ctx)
        add_policy(ctx, "named", {"podSelector": {"matchLabels": {"app": "srv"}},
                                  "ingress": [{"ports": [{"port": "http"}]}]})
        assert decide(ctx, "client", ip(ctx, "a"), 8080) == "open"  # lowest number: fine everywhere
        assert decide(ctx, "client", ip(ctx, "b"), 9090) == b_outcome

    run(body)


def test_each_side_uses_its_own_nodes_engine() -> None:
    async def body() -> None:
        # client on an NPM node, server on a Cilium node (mid-migration)
        ctx = await world("azure", engines=("azure", "cilium"))
        server = ip(ctx, "server")
        add_policy(ctx, "ipb-in", {"podSelector": {"matchLabels": {"app": "server"}},
                                   "ingress": [{"from": [{"ipBlock": {"cidr": "10.224.0.0/16"}}]}]})
        assert decide(ctx, "client", server) == "timeout"  # ingress judged by Cilium on N1
        ctx.store.delete(NETPOLS, "demo", "ipb-in")
        add_policy(ctx, "ipb-out", {"podSelector": {}, "policyTypes": ["Egress"],
                                    "egress": [{"to": [{"ipBlock": {"cidr": "10.224.0.0/16"}}]}]})
        assert decide(ctx, "client", server) == "open"  # egress judged by NPM on N0

    run(body)


# ------------------------------------------------------------------ services
def test_cluster_ip_dnat_to_an_endpoint_pod() -> None:
    async def body() -> None:
        ctx = await world("cilium")
        ctx.store.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
            "selector": {"app": "server"}, "ports": [{"name": "h", "port": 8000, "targetPort": 80}]}}, "demo")
        ctx.store.create(SERVICES, {"metadata": {"name": "empty"}, "spec": {
            "selector": {"app": "nobody"}, "ports": [{"port": 80}]}}, "demo")
        await settle(ctx)
        await wait_for(lambda: (dataplane.view(ctx).endpoints.get(("demo", "web")) or {}).get("subsets"),
                       what="endpoints")
        vip = ctx.store.get(SERVICES, "demo", "web")["spec"]["clusterIP"]
        assert decide(ctx, "client", vip, 8000) == "open"
        assert decide(ctx, "client", vip, 80) == "timeout"  # the VIP has no such port
        empty = ctx.store.get(SERVICES, "demo", "empty")["spec"]["clusterIP"]
        assert decide(ctx, "client", empty, 80) == "refused"  # no endpoints: kube-proxy REJECT
        add_policy(ctx, "demo-policy", DEMO_POLICY)
        assert decide(ctx, "client", vip, 8000) == "timeout"  # evaluated against the pod, port 80
        ctx.store.update(PODS, "demo", "client", lambda o: o["metadata"].setdefault("labels", {})
                         .update(app="client"))
        assert decide(ctx, "client", vip, 8000) == "open"

    run(body)


def test_dns_needs_egress_to_kube_dns() -> None:
    async def body() -> None:
        ctx = await world("azure")
        add_pod(ctx, "coredns", "kube-system", labels={"k8s-app": "kube-dns"}, node=N1,
                containers=[server_container(53, "udp")])
        ctx.store.create(SERVICES, {"metadata": {"name": "kube-dns"}, "spec": {
            "selector": {"k8s-app": "kube-dns"}, "ports": [{"port": 53, "protocol": "UDP"}]}}, "kube-system")
        ctx.store.create(SERVICES, {"metadata": {"name": "server"}, "spec": {
            "selector": {"app": "server"}, "ports": [{"port": 80}]}}, "demo")
        add_policy(ctx, "egress-web-only", {"podSelector": {"matchLabels": {"app": "probe"}},
                                            "policyTypes": ["Egress"],
                                            "egress": [{"ports": [{"port": 80}]}]})
        await settle(ctx)
        assert ctx.store.get(SERVICES, "kube-system", "kube-dns")["spec"]["clusterIP"] == "10.0.0.10"
        for name, labels in (("plain", {}), ("locked", {"app": "probe"})):
            add_pod(ctx, name, "demo", labels=labels, restart="Never", containers=[{
                "name": "c", "image": AGNHOST, "command": ["/agnhost", "connect", "server.demo:80", "--timeout=1s"]}])
        await wait_for(lambda: phase(ctx, "plain", "demo") == "Succeeded" and phase(ctx, "locked", "demo") == "Failed",
                       what="probes")
        assert ctx.logs[("demo", "locked", "c")].startswith("DNS: lookup server.demo on 10.0.0.10:53: read udp")

    run(body)


# ------------------------------------------------------------------ self-managed Calico (label says none)
def test_self_managed_calico_node_pod_enforces_on_a_node_labelled_none() -> None:
    async def body() -> None:
        ctx = await world("none")
        server = ip(ctx, "server")
        add_policy(ctx, "deny", DENY_INGRESS)
        assert decide(ctx, "client", server) == "open"  # AKS says none, nothing enforces
        add_ns(ctx, "calico-system")
        add_pod(ctx, "calico-node-x", "calico-system", labels={"k8s-app": "calico-node"}, node=N1,
                host_network=True)
        await settle(ctx)
        assert dataplane.engine_of_node(dataplane.view(ctx), N1) == "calico"
        assert dataplane.engine_of_node(dataplane.view(ctx), N0) == "none"  # only where it runs
        assert decide(ctx, "client", server) == "timeout"  # ingress enforced on the server's node
        # a calico-node pod elsewhere (namespace or label) does not count; a NotReady one does not either
        def not_ready(o: dict[str, Any]) -> None:
            for c in o["status"]["conditions"]:
                if c["type"] == "Ready":
                    c["status"] = "False"

        ctx.store.update(PODS, "calico-system", "calico-node-x", not_ready)
        assert dataplane.engine_of_node(dataplane.view(ctx), N1) == "none"
        add_pod(ctx, "calico-node-y", "demo", labels={"k8s-app": "calico-node"}, node=N1)
        await settle(ctx)
        assert decide(ctx, "client", server) == "open"

    run(body)


def test_node_label_wins_over_a_calico_node_pod() -> None:
    async def body() -> None:
        ctx = await world("azure")
        add_ns(ctx, "calico-system")
        add_pod(ctx, "calico-node-x", "calico-system", labels={"k8s-app": "calico-node"}, node=N1,
                host_network=True)
        await settle(ctx)
        assert dataplane.engine_of_node(dataplane.view(ctx), N1) == "azure"

    run(body)
