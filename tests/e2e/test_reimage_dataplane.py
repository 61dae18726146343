"""A network-profile change through the real Azure SDK reimages every pool, and traffic follows the engine that is
installed on each node (the issue's "Must show" for the sandbox)."""

from __future__ import annotations

import time
from typing import Any

from netmig.azure.gateway import AksGateway
from netmig.connection import from_sandbox_dir
from netmig.kube.gateway import KubeGateway
from netmig.model.cluster import NetworkProfile

LABEL = "kubernetes.azure.com/network-policy"


def wait_for(cond: Any, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def connect_outcome(kube: KubeGateway, namespace: str, name: str, labels: dict[str, str], node: str, target: str,
                    port: int) -> str:
    """Run an agnhost connect pod pinned to ``node`` and return its log ('' = success)."""
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace, "labels": labels},
           "spec": {"nodeName": node, "restartPolicy": "Never", "containers": [{
               "name": "connect", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
               "command": ["/agnhost", "connect", f"{target}:{port}", "--timeout=1s", "--protocol=tcp"]}]}}
    kube.core.create_namespaced_pod(namespace, pod)

    def finished() -> Any:
        p = kube.core.read_namespaced_pod(name, namespace)
        return p if p.status.phase in ("Succeeded", "Failed") else None

    wait_for(finished, what=f"pod {namespace}/{name} to finish")
    return str(kube.core.read_namespaced_pod_log(name, namespace)).strip()


def test_network_update_reimages_every_pool_and_traffic_follows_each_nodes_engine(sandbox_factory: Any) -> None:
    sb = sandbox_factory("npm", time_scale=0.0005)
    aks = AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01)
    kube = KubeGateway(aks.user_kubeconfig())
    before = {n["metadata"]["name"]: n for n in kube.nodes()}
    assert {n["metadata"]["labels"][LABEL] for n in before.values()} == {"azure"}

    db = kube.pods("data", "app=db")[0]
    db_ip, db_node = db["status"]["podIP"], db["spec"]["nodeName"]
    # the db allows ingress from 10.224.0.0/16 by ipBlock: pods (flat Azure CNI) are in that range
    assert connect_outcome(kube, "monitoring", "probe-npm", {"app": "x"}, db_node, db_ip, 5432) == ""

    seen_states: set[str] = set()
    op = aks.begin_network_update(NetworkProfile(plugin="azure", policy="cilium", dataplane="cilium"))

    def watch(_: Any) -> None:
        for n in kube.nodes():
            spec = n.get("spec") or {}
            ready = next(c["status"] for c in n["status"]["conditions"] if c["type"] == "Ready")
            if n["metadata"]["name"] not in before:
                seen_states.add("surge")
            if spec.get("unschedulable"):
                seen_states.add("cordoned")
            if ready != "True":
                seen_states.add("notready")

    aks.wait(op, timeout=120, on_tick=watch, tick=0.01)
    assert aks.cluster().provisioning_state == "Succeeded"
    assert {"surge", "cordoned", "notready"} <= seen_states

    after = {n["metadata"]["name"]: n for n in kube.nodes()}
    assert set(after) == set(before)  # surge nodes removed, every original node kept its name
    for name, node in after.items():
        labels = node["metadata"]["labels"]
        assert labels[LABEL] == "cilium"
        assert labels["kubernetes.azure.com/ebpf-dataplane"] == "cilium"
        assert labels["kubernetes.azure.com/node-image-version"] != \
            before[name]["metadata"]["labels"]["kubernetes.azure.com/node-image-version"]
        assert not (node.get("spec") or {}).get("unschedulable")
    daemonsets = {d["metadata"]["name"] for d in kube.daemonsets()}
    assert "cilium" in daemonsets and "azure-npm" not in daemonsets

    wait_for(lambda: kube.pods("data", "app=db") and all(
        p["status"].get("phase") == "Running" for p in kube.pods("data", "app=db")), what="db pods Running")
    db = kube.pods("data", "app=db")[0]
    # the same ipBlock no longer matches pod IPs under Cilium: the connection times out
    out = connect_outcome(kube, "monitoring", "probe-cilium", {"app": "x"}, db["spec"]["nodeName"],
                          db["status"]["podIP"], 5432)
    assert out == "TIMEOUT"
    kube.close()
