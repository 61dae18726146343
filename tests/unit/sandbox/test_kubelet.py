"""The simulated kubelet + controllers: deployments, scheduling, IPAM, DaemonSets, endpoints, agnhost processes."""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from typing import Any

from netmig_sandbox.sim import agnhost, topology
from tests.unit.sandbox.simkit import (
    AGNHOST,
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    NODES,
    PODS,
    SERVICES,
    add_node,
    add_ns,
    add_pod,
    deployment,
    make_ctx,
    one_server,
    phase,
    pod,
    running,
    server_container,
    set_node_ready,
    settle,
    wait_for,
)


def _pods(ctx: Any, ns: str = "default", prefix: str = "") -> list[dict[str, Any]]:
    return [p for p in ctx.store.list(PODS, ns) if p["metadata"]["name"].startswith(prefix)]


def test_deployment_runs_spread_pods_with_ips_and_status() -> None:
    async def body() -> None:
        ctx = make_ctx()
        nodes = [add_node(ctx, i) for i in range(3)]
        ctx.store.create(DEPLOYMENTS, deployment("web", replicas=6), "default")
        await settle(ctx)
        pods = _pods(ctx, prefix="web-")
        assert len(pods) == 6
        assert Counter(p["spec"]["nodeName"] for p in pods) == dict.fromkeys(nodes, 2)
        ips = {p["status"]["podIP"] for p in pods}
        assert len(ips) == 6
        assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.224.128.0/17") for ip in ips)
        p = pods[0]
        h = p["metadata"]["labels"]["pod-template-hash"]
        assert p["metadata"]["name"].startswith(f"web-{h}-") and len(p["metadata"]["name"]) == len(f"web-{h}-") + 5
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert p["metadata"]["ownerReferences"][0]["name"] == f"web-{h}"
        cs = p["status"]["containerStatuses"][0]
        assert cs["ready"] and cs["started"] and cs["restartCount"] == 0 and "running" in cs["state"]
        assert cs["containerID"].startswith("containerd://") and cs["image"] == AGNHOST
        assert p["status"]["hostIP"] == topology.node_ip(nodes.index(p["spec"]["nodeName"]))
        st = ctx.store.get(DEPLOYMENTS, "default", "web")["status"]
        assert (st["replicas"], st["readyReplicas"], st["availableReplicas"], st["updatedReplicas"]) == (6, 6, 6, 6)
        assert st["observedGeneration"] == 1
        assert {c["type"]: c["status"] for c in st["conditions"]} == {"Available": "True", "Progressing": "True"}
        assert ctx.store.get(("apps", "replicasets"), "default", f"web-{h}")["status"]["readyReplicas"] == 6

        # scale down, then change the template: old pods replaced by new-hash pods
        dep = ctx.store.get(DEPLOYMENTS, "default", "web")
        dep["spec"]["replicas"] = 3
        ctx.store.replace(DEPLOYMENTS, dep)  # PUT: bumps generation like the API server
        await wait_for(lambda: len(_pods(ctx, prefix="web-")) == 3, what="scale down")
        dep = ctx.store.get(DEPLOYMENTS, "default", "web")
        dep["spec"]["template"]["metadata"]["labels"]["v"] = "2"
        ctx.store.replace(DEPLOYMENTS, dep)
        await wait_for(lambda: {p["metadata"]["labels"].get("v") for p in _pods(ctx, prefix="web-")} == {"2"}
                       and len(_pods(ctx, prefix="web-")) == 3, what="rollout")
        await settle(ctx)
        st = ctx.store.get(DEPLOYMENTS, "default", "web")["status"]
        assert st["observedGeneration"] == 3 and st["updatedReplicas"] == 3 and st["readyReplicas"] == 3

    asyncio.run(body())


def test_evicted_pod_is_recreated_on_another_node() -> None:
    async def body() -> None:
        ctx = make_ctx()
        a, b = add_node(ctx, 0), add_node(ctx, 1)
        ctx.store.create(DEPLOYMENTS, deployment("api", replicas=2), "default")
        await settle(ctx)
        victim = next(p for p in _pods(ctx, prefix="api-") if p["spec"]["nodeName"] == a)
        ctx.store.update(NODES, None, a, lambda o: o["spec"].update(unschedulable=True))  # cordon
        ctx.store.delete(PODS, "default", victim["metadata"]["name"])  # evict
        await wait_for(lambda: len(_pods(ctx, prefix="api-")) == 2
                       and all(running(ctx, p["metadata"]["name"]) for p in _pods(ctx, prefix="api-")),
                       what="replacement")
        pods = _pods(ctx, prefix="api-")
        assert victim["metadata"]["name"] not in {p["metadata"]["name"] for p in pods}
        assert [p["spec"]["nodeName"] for p in pods] == [b, b]
        # a pod whose node is deleted is deleted (and replaced)
        ctx.store.update(NODES, None, a, lambda o: o["spec"].update(unschedulable=False))
        ctx.store.delete(NODES, None, b)
        await wait_for(lambda: len(_pods(ctx, prefix="api-")) == 2
                       and all(p["spec"].get("nodeName") == a and p["status"].get("phase") == "Running"
                               for p in _pods(ctx, prefix="api-")), what="pods moved off the deleted node")

    asyncio.run(body())


def test_pod_stays_pending_without_a_ready_node_then_schedules() -> None:
    async def body() -> None:
        ctx = make_ctx()
        add_pod(ctx, "lonely")
        await wait_for(lambda: any(c["type"] == "PodScheduled" and c["status"] == "False"
                                   and c["reason"] == "Unschedulable"
                                   for c in pod(ctx, "lonely").get("status", {}).get("conditions", [])),
                       what="Unschedulable")
        assert phase(ctx, "lonely") == "Pending" and not pod(ctx, "lonely")["spec"].get("nodeName")
        n = add_node(ctx, 0, ready=False)
        await settle(ctx)
        assert phase(ctx, "lonely") == "Pending"  # NotReady node: not schedulable
        set_node_ready(ctx, n, True)
        await wait_for(lambda: running(ctx, "lonely"), what="scheduled once the node is Ready")
        # a node going NotReady leaves its running pods alone
        set_node_ready(ctx, n, False)
        await settle(ctx)
        assert running(ctx, "lonely")

    asyncio.run(body())


def test_daemonset_pods_follow_node_labels() -> None:
    async def body() -> None:
        ctx = make_ctx()
        add_ns(ctx, "calico-system")
        n0, n1 = add_node(ctx, 0, engine="azure"), add_node(ctx, 1, engine="azure")
        ctx.store.create(DAEMONSETS, topology.daemonset_manifest("kube-system", "azure-npm"), "kube-system")
        ctx.store.create(DAEMONSETS, topology.daemonset_manifest("kube-system", "kube-proxy"), "kube-system")
        await settle(ctx)

        def npm_pods() -> dict[str, dict[str, Any]]:
            return {p["spec"]["nodeName"]: p for p in _pods(ctx, "kube-system", "azure-npm-")}

        assert set(npm_pods()) == {n0, n1}
        assert npm_pods()[n0]["status"]["podIP"] == topology.node_ip(0)  # hostNetwork: node IP
        st = ctx.store.get(DAEMONSETS, "kube-system", "azure-npm")["status"]
        assert st["desiredNumberScheduled"] == st["currentNumberScheduled"] == st["numberReady"] == 2
        assert st["numberAvailable"] == st["updatedNumberScheduled"] == 2 and st["observedGeneration"] == 1

        # the reimage simulator relabels n0 for Cilium: azure-npm and kube-proxy leave it, cilium arrives
        def to_cilium(o: dict[str, Any]) -> None:
            o["metadata"]["labels"][topology.LABEL_POLICY] = "cilium"
            o["metadata"]["labels"][topology.LABEL_EBPF] = "cilium"
        ctx.store.update(NODES, None, n0, to_cilium)
        ctx.store.create(DAEMONSETS, topology.daemonset_manifest("kube-system", "cilium"), "kube-system")
        await settle(ctx)
        assert set(npm_pods()) == {n1}
        assert {p["spec"]["nodeName"] for p in _pods(ctx, "kube-system", "cilium-")} == {n0}
        assert {p["spec"]["nodeName"] for p in _pods(ctx, "kube-system", "kube-proxy-")} == {n1}
        assert ctx.store.get(DAEMONSETS, "kube-system", "azure-npm")["status"]["desiredNumberScheduled"] == 1

        # numberReady counts pods on Ready nodes only; deleting the DaemonSet deletes its pods
        set_node_ready(ctx, n1, False)
        await wait_for(lambda: ctx.store.get(DAEMONSETS, "kube-system", "azure-npm")["status"]["numberReady"] == 0,
                       what="numberReady 0")
        ctx.store.delete(DAEMONSETS, "kube-system", "azure-npm")
        await wait_for(lambda: not npm_pods(), what="DaemonSet pods deleted")

    asyncio.run(body())


def test_ipam_pod_cidr_flat_and_after_an_ipam_change() -> None:
    async def body() -> None:
        ctx = make_ctx()
        n0 = add_node(ctx, 0, pod_cidr="10.244.0.0/24")
        add_pod(ctx, "a")
        add_pod(ctx, "b")
        await settle(ctx)
        assert {pod(ctx, "a")["status"]["podIP"], pod(ctx, "b")["status"]["podIP"]} == {"10.244.0.2", "10.244.0.3"}
        ctx.store.delete(PODS, "default", "a")
        await settle(ctx)
        add_pod(ctx, "c")
        await settle(ctx)
        assert pod(ctx, "c")["status"]["podIP"] == pod_ip_freed(ctx, "b")
        # an overlay migration: the node gets a new podCIDR; new pods use it
        ctx.store.update(NODES, None, n0, lambda o: o["spec"].update(podCIDR="192.168.7.0/24",
                                                                     podCIDRs=["192.168.7.0/24"]))
        add_pod(ctx, "d")
        await settle(ctx)
        assert pod(ctx, "d")["status"]["podIP"] == "192.168.7.2"
        # flat Azure CNI node: node-subnet upper range, globally unique
        add_node(ctx, 1)
        add_pod(ctx, "e", node=topology.node_name("nodepool1", 1))
        await settle(ctx)
        assert pod(ctx, "e")["status"]["podIP"] == "10.224.128.4"

    def pod_ip_freed(ctx: Any, other: str) -> str:
        return "10.244.0.2" if pod(ctx, other)["status"]["podIP"] == "10.244.0.3" else "10.244.0.3"

    asyncio.run(body())


def test_services_get_ips_and_endpoints() -> None:
    async def body() -> None:
        sc = {"cluster": {"network_profile": {"networkPlugin": "azure", "networkPolicy": "azure",
                                              "serviceCidr": "10.96.0.0/16"}}}
        ctx = make_ctx(sc)
        add_node(ctx, 0)
        add_node(ctx, 1)
        ctx.store.create(DEPLOYMENTS, deployment("web", replicas=2, containers=[
            server_container(8080, port_name="http")]), "default")
        ctx.store.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
            "selector": {"app": "web"}, "ports": [{"name": "h", "port": 80, "targetPort": "http"}]}}, "default")
        ctx.store.create(SERVICES, {"metadata": {"name": "lb"}, "spec": {
            "type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 443, "targetPort": 8080}]}},
            "default")
        await settle(ctx)
        await wait_for(lambda: ctx.store.exists(ENDPOINTS, "default", "web"), what="endpoints")
        svc = ctx.store.get(SERVICES, "default", "web")
        assert ipaddress.ip_address(svc["spec"]["clusterIP"]) in ipaddress.ip_network("10.96.0.0/16")
        await wait_for(lambda: len((ctx.store.get(ENDPOINTS, "default", "web").get("subsets") or [{}])[0]
                                   .get("addresses", [])) == 2, what="2 ready addresses")
        ep = ctx.store.get(ENDPOINTS, "default", "web")
        assert ep["subsets"][0]["ports"] == [{"name": "h", "port": 8080, "protocol": "TCP"}]
        ips = {a["ip"] for a in ep["subsets"][0]["addresses"]}
        assert ips == {p["status"]["podIP"] for p in _pods(ctx, prefix="web-")}
        lb = ctx.store.get(SERVICES, "default", "lb")
        assert lb["status"]["loadBalancer"]["ingress"][0]["ip"].startswith("52.")
        assert 30000 <= lb["spec"]["ports"][0]["nodePort"] <= 32767
        assert lb["spec"]["clusterIP"] != svc["spec"]["clusterIP"]
        # a pod going away leaves the endpoints
        victim = _pods(ctx, prefix="web-")[0]
        ctx.store.delete(PODS, "default", victim["metadata"]["name"])
        await wait_for(lambda: victim["status"]["podIP"] not in {
            a["ip"] for s in ctx.store.get(ENDPOINTS, "default", "web").get("subsets", [])
            for a in s.get("addresses", [])}, what="endpoint removed")

    asyncio.run(body())


def _connect_pod(ctx: Any, name: str, target: str, proto: str = "tcp", ns: str = "default",
                 labels: dict[str, str] | None = None, restart: str = "Never") -> None:
    add_pod(ctx, name, ns, labels=labels, restart=restart, containers=[{
        "name": "c", "image": AGNHOST,
        "command": ["/agnhost", "connect", target, "--timeout=1s", f"--protocol={proto}"]}])


def test_agnhost_connect_pods_log_and_exit_like_agnhost() -> None:
    async def body() -> None:
        ctx = make_ctx()
        add_node(ctx, 0)
        add_pod(ctx, "server", labels={"app": "server"}, containers=[server_container(80)])
        ctx.store.create(SERVICES, {"metadata": {"name": "server"}, "spec": {
            "selector": {"app": "server"}, "ports": [{"port": 80}]}}, "default")
        await settle(ctx)
        ip = pod(ctx, "server")["status"]["podIP"]
        _connect_pod(ctx, "ok", f"{ip}:80")
        _connect_pod(ctx, "refused", f"{ip}:81")
        _connect_pod(ctx, "udp", f"{ip}:80", proto="udp")
        _connect_pod(ctx, "bydns", "server:80")
        _connect_pod(ctx, "fqdn", "server.default.svc.cluster.local:80")
        _connect_pod(ctx, "nodns", "nosuch.default:80")
        _connect_pod(ctx, "always", f"{ip}:81", restart="Always")
        names = ("ok", "refused", "udp", "bydns", "fqdn", "nodns")
        await wait_for(lambda: all(phase(ctx, n) in ("Succeeded", "Failed") for n in names), what="probes done")
        for n in names:
            assert phase(ctx, n) == ("Succeeded" if n in ("ok", "bydns", "fqdn") else "Failed"), n
        assert ctx.logs[("default", "ok", "c")] == ""
        assert ctx.logs[("default", "refused", "c")] == "REFUSED\n"
        assert ctx.logs[("default", "udp", "c")] == "TIMEOUT\n"  # nothing serves UDP: no reply
        assert ctx.logs[("default", "nodns", "c")].startswith("DNS: lookup nosuch.default on 10.0.0.10:53")
        term = pod(ctx, "refused")["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (term["exitCode"], term["reason"]) == (1, "Error")
        term = pod(ctx, "ok")["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (term["exitCode"], term["reason"]) == (0, "Completed")
        await wait_for(lambda: pod(ctx, "always")["status"]["containerStatuses"][0]["restartCount"] == 1,
                       what="restart recorded")
        cs = pod(ctx, "always")["status"]["containerStatuses"][0]
        assert cs["lastState"]["terminated"]["exitCode"] == 1 and phase(ctx, "always") == "Running"
        assert ctx.logs[("default", "server", "server")] == ""

    asyncio.run(body())


def test_batch_probe_script_shape_and_strictness() -> None:
    async def body() -> None:
        ctx, ip = await one_server()
        script = "\n".join([
            agnhost.quote_probe_line("p1", ip, 80, 1, "tcp"),
            agnhost.quote_probe_line("p2", ip, 81, 1, "tcp"),
            agnhost.quote_probe_line("p3", "10.9.9.9", 80, 1, "tcp"),
        ]) + "\n"
        add_pod(ctx, "batch", restart="Never", containers=[{"name": "probe", "image": AGNHOST,
                                                             "command": ["/bin/sh", "-c", script]}])
        add_pod(ctx, "weird", restart="Never", containers=[{"name": "probe", "image": AGNHOST,
                                                             "command": ["/bin/sh", "-c",
                                                                         f"/agnhost connect {ip}:80 && echo ok"]}])
        add_pod(ctx, "sleeper", containers=[{"name": "s", "image": AGNHOST,
                                             "command": ["/bin/sh", "-c", "sleep 3600"]}])
        await wait_for(lambda: phase(ctx, "batch") == "Succeeded" and phase(ctx, "weird") == "Failed",
                       what="batch done")
        assert ctx.logs[("default", "batch", "probe")] == (
            "netmig-probe p1 0 \nnetmig-probe p2 1 REFUSED\nnetmig-probe p3 1 TIMEOUT\n")
        assert ctx.logs[("default", "weird", "probe")] == "OTHER: unsupported in sandbox\n"
        assert running(ctx, "sleeper")

    asyncio.run(body())


def test_program_parsing() -> None:
    p = agnhost.parse_container({"command": ["/agnhost", "serve-hostname", "--udp", "--http=false", "--port", "53"]})
    assert p.kind == "server" and p.listens == {(53, "UDP")}
    p = agnhost.parse_container({"image": "x/agnhost:2.53", "args": ["serve-hostname"]})
    assert p.listens == {(9376, "TCP")}
    p = agnhost.parse_container({"command": ["agnhost", "connect", "--timeout", "3s", "a.b:80", "--protocol=sctp"]})
    assert p.kind == "connect" and p.probe == agnhost.Probe("a.b", 80, 3.0, "SCTP")
    p = agnhost.parse_container({"command": ["nginx"], "ports": [{"containerPort": 443}]})
    assert p.kind == "idle" and p.listens == {(443, "TCP")}
    assert agnhost.parse_container({"command": ["/agnhost", "connect"]}).kind == "invalid"
    assert agnhost.parse_duration("1m30s") == 90.0 and agnhost.parse_duration("500ms") == 0.5


def test_reconciles_are_idempotent() -> None:
    """Re-running every controller on a settled cluster writes nothing."""

    async def body() -> None:
        ctx = make_ctx()
        add_node(ctx, 0)
        add_node(ctx, 1)
        ctx.store.create(DEPLOYMENTS, deployment("web", replicas=3), "default")
        ctx.store.create(DAEMONSETS, topology.daemonset_manifest("kube-system", "azure-npm"), "kube-system")
        ctx.store.create(SERVICES, {"metadata": {"name": "web"}, "spec": {
            "type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}]}}, "default")
        await settle(ctx)
        await wait_for(lambda: ctx.store.exists(ENDPOINTS, "default", "web"), what="endpoints")
        k = ctx.services["kubelet"]
        rv = ctx.store.resource_version
        k.dirty_deployments.add(("default", "web"))
        k.dirty_daemonsets.add(("kube-system", "azure-npm"))
        k.dirty_services.add(("default", "web"))
        k.dirty_endpoint_ns.update({"default", "kube-system"})
        k.to_schedule.update(k.index.pods)
        k._drain()
        assert ctx.store.resource_version == rv
        assert not k.has_work()

    asyncio.run(body())
