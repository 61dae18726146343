"""The simulated reimage a network-profile PUT triggers, observed through the store (every change recorded)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from netmig_sandbox.faults import Fault
from netmig_sandbox.kube.store import ApiError
from netmig_sandbox.sim import topology
from tests.contract.arm_fixtures import arm_sandbox, client, scenario, wait_for

__all__ = ["arm_sandbox"]

pytestmark = pytest.mark.contract

NODES = ("", "nodes")
PODS = ("", "pods")


class Recorder:
    """Every store change (and the ARM pool states / op progress at that moment), in order."""

    def __init__(self, sb: Any) -> None:
        self.changes: list[tuple[str, tuple[str, str], dict[str, Any]]] = []
        self.pool_states: set[tuple[str, str]] = set()
        self.percent: list[float] = []
        self.lock = threading.Lock()

        def install(ctx: Any) -> None:
            def cb(event: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
                with self.lock:
                    self.changes.append((event, key, obj))
                    for name, pool in ctx.arm.pools.items():
                        self.pool_states.add((name, pool["properties"]["provisioningState"]))
                    op = ctx.arm.operations.get(ctx.arm.latest_op_id or "")
                    if op is not None:
                        self.percent.append(op.percent_complete)
            ctx.store.subscribe(cb)

        sb.run(install)

    def node_history(self, name: str) -> list[tuple[str, dict[str, Any]]]:
        with self.lock:
            return [(e, o) for e, k, o in self.changes if k == NODES and o["metadata"]["name"] == name]


def _ready(node: dict[str, Any]) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"].get("conditions", []))


def _snapshot(sb: Any) -> dict[str, Any]:
    return sb.run(lambda ctx: {
        "nodes": {n["metadata"]["name"]: n for n in ctx.store.list(NODES)},
        "pods": {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in ctx.store.list(PODS)},
        "daemonsets": {(d["metadata"]["namespace"], d["metadata"]["name"])
                       for d in ctx.store.list(("apps", "daemonsets"))},
        "events": ctx.store.list(("", "events")),
    })


def _cilium(sb: Any) -> Any:
    c = client(sb)
    rg, name = sb.info["resource_group"], sb.info["cluster_name"]
    mc = c.managed_clusters.get(rg, name)
    mc.network_profile.network_dataplane = "cilium"
    mc.network_profile.network_policy = "cilium"
    return c.managed_clusters.begin_create_or_update(rg, name, mc)


def test_network_profile_put_reimages_every_pool(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    before = _snapshot(sb)
    assert ("kube-system", "azure-npm") in before["daemonsets"]
    rec = Recorder(sb)
    result = _cilium(sb).result(timeout=60)
    assert result.provisioning_state == "Succeeded"
    after = _snapshot(sb)

    # same nodes at the end (surge nodes gone), every one converted, new image, podCIDR none (node-subnet CNI)
    assert set(after["nodes"]) == set(before["nodes"])
    for name, node in after["nodes"].items():
        labels = node["metadata"]["labels"]
        assert labels[topology.LABEL_POLICY] == "cilium"
        assert labels[topology.LABEL_EBPF] == "cilium"
        old_image = before["nodes"][name]["metadata"]["labels"][topology.LABEL_IMAGE]
        assert labels[topology.LABEL_IMAGE] != old_image
        assert node["status"]["nodeInfo"]["bootID"] != before["nodes"][name]["status"]["nodeInfo"]["bootID"]
        assert _ready(node) and not node["spec"].get("unschedulable") and not node["spec"].get("taints")

    # every original node: cordoned then uncordoned, NotReady then Ready, in that order
    for name in before["nodes"]:
        states = [(bool(o["spec"].get("unschedulable")), _ready(o)) for e, o in rec.node_history(name)
                  if e == "MODIFIED"]
        cordoned = states.index((True, True))
        not_ready = states.index((True, False), cordoned)
        back = states.index((False, True), not_ready)
        assert cordoned < not_ready < back

    # a surge node per pool appeared, then was drained and deleted
    surge = {o["metadata"]["name"]: o for e, k, o in rec.changes if k == NODES and e == "ADDED"}
    assert {o["metadata"]["labels"][topology.LABEL_POOL] for o in surge.values()} == {"system", "user"}
    for name, node in surge.items():
        assert name not in before["nodes"]
        assert node["metadata"]["labels"][topology.LABEL_POLICY] == "cilium"
        assert int(node["metadata"]["annotations"]["netmig.sandbox/index"]) >= len(before["nodes"])
        assert [e for e, _ in rec.node_history(name)][-1] == "DELETED"

    # both pools at once: a user node went NotReady before the last system node was Ready again
    order = [(i, o["metadata"]["labels"][topology.LABEL_POOL], _ready(o))
             for i, (e, k, o) in enumerate(rec.changes) if k == NODES and e == "MODIFIED"]
    first_user_down = min(i for i, pool, ready in order if pool == "user" and not ready)
    last_system_up = max(i for i, pool, ready in order if pool == "system" and ready)
    assert first_user_down < last_system_up

    # pools Updating during, Succeeded after; progress grew to 100
    assert {("system", "Updating"), ("user", "Updating")} <= rec.pool_states
    assert all(p.provisioning_state == "Succeeded" for p in client(sb).agent_pools.list(
        sb.info["resource_group"], sb.info["cluster_name"]))
    assert rec.percent == sorted(rec.percent) and max(rec.percent) > 0

    # DaemonSets swapped
    assert ("kube-system", "azure-npm") not in after["daemonsets"]
    assert ("kube-system", "cilium") in after["daemonsets"]
    assert ("kube-system", "kube-proxy") not in after["daemonsets"]

    # non-DaemonSet pods evicted (deleted); DaemonSet pods are not drained (without a kubelet simulator
    # nothing else deletes them; with one, it manages them as DaemonSets / node labels change)
    deleted = {(o["metadata"]["namespace"], o["metadata"]["name"]) for e, k, o in rec.changes
               if k == PODS and e == "DELETED"}
    for (ns, name), pod in before["pods"].items():
        owners = {o["kind"] for o in pod["metadata"].get("ownerReferences") or []}
        if "DaemonSet" not in owners:
            assert (ns, name) in deleted

    # events per node
    reasons = {(ev["involvedObject"]["name"], ev["reason"]) for ev in after["events"]}
    for name in before["nodes"]:
        assert {(name, "Drain"), (name, "Upgrade"), (name, "NodeNotReady")} <= reasons
    assert {r for n, r in reasons if n in surge} >= {"Surge"}


def test_blocking_pdb_stalls_drain_and_fails_with_pod_drain_failure(arm_sandbox: Any) -> None:
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
           "metadata": {"name": "web-pdb", "namespace": "web"},
           "spec": {"minAvailable": "100%", "selector": {"matchLabels": {"app": "frontend"}}}}
    sb = arm_sandbox(scenario("npm", arm_behaviour={"drain_timeout_seconds": 300}), pdbs=[pdb])
    # the eviction service the Kubernetes API uses refuses too
    some_pod = next(name for (ns, name) in _snapshot(sb)["pods"] if ns == "web" and name.startswith("frontend-"))

    def try_evict(ctx: Any) -> tuple[int, str]:
        try:
            ctx.services["evict"]("web", some_pod)
        except ApiError as e:
            return e.code, e.message
        return 200, ""

    assert sb.run(try_evict) == (429, "Cannot evict pod as it would violate the pod's disruption budget.")

    poller = _cilium(sb)
    with pytest.raises(HttpResponseError) as e:
        poller.result(timeout=60)
    text = str(e.value)
    assert "PodDrainFailure" in text and "web/web-pdb" in text
    assert "Cannot evict pod as it would violate the pod's disruption budget" in text
    c = client(sb)
    mc = c.managed_clusters.get(sb.info["resource_group"], sb.info["cluster_name"])
    assert mc.provisioning_state == "Failed"
    assert mc.status.provisioning_error.code == "PodDrainFailure"
    snap = _snapshot(sb)
    frontend = {n for (ns, n) in snap["pods"] if ns == "web" and n.startswith("frontend-")}
    assert some_pod in frontend and len(frontend) == 3  # no pod under the PDB was evicted
    assert any(n["spec"].get("unschedulable") for n in snap["nodes"].values())  # the stalled node stays cordoned


def test_stuck_notready_node_fails_the_operation(arm_sandbox: Any) -> None:
    sb = arm_sandbox(scenario("empty", arm_behaviour={"node_ready_timeout_seconds": 120}))
    target = "aks-nodepool1-12345678-vmss000000"
    sb.run(lambda ctx: ctx.faults.add(Fault(target="node", kind="stuck-notready", params={"node": target})))
    with pytest.raises(HttpResponseError) as e:
        _cilium(sb).result(timeout=60)
    assert "NodeNotReadyTimeout" in str(e.value) and target in str(e.value)
    node = _snapshot(sb)["nodes"][target]
    assert not _ready(node)
    # the fault struck once: the same profile again resumes, reimages the NotReady node again and completes
    c = client(sb)
    rg, name = sb.info["resource_group"], sb.info["cluster_name"]
    assert c.managed_clusters.begin_create_or_update(
        rg, name, c.managed_clusters.get(rg, name)).result(timeout=60).provisioning_state == "Succeeded"
    final = _snapshot(sb)["nodes"]
    assert all(n["metadata"]["labels"][topology.LABEL_EBPF] == "cilium" and _ready(n) for n in final.values())
    assert set(final) == {target, "aks-nodepool1-12345678-vmss000001"}


def test_overlay_migration_assigns_pod_cidrs(arm_sandbox: Any) -> None:
    sb = arm_sandbox(scenario("empty", cluster={"network_profile": {
        "networkPlugin": "kubenet", "networkPolicy": None, "podCidr": "10.244.0.0/16",
        "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"}}))
    c = client(sb)
    rg, name = sb.info["resource_group"], sb.info["cluster_name"]
    mc = c.managed_clusters.get(rg, name)
    mc.network_profile.network_plugin = "azure"
    mc.network_profile.network_plugin_mode = "overlay"
    mc.network_profile.pod_cidr = "192.168.0.0/16"
    c.managed_clusters.begin_create_or_update(rg, name, mc).result(timeout=60)
    nodes = wait_for(lambda: _snapshot(sb)["nodes"], what="nodes")
    for node in nodes.values():
        idx = int(node["metadata"]["annotations"]["netmig.sandbox/index"])
        assert node["spec"]["podCIDR"] == topology.pod_cidr_for_node(
            {"networkPlugin": "azure", "networkPluginMode": "overlay", "podCidr": "192.168.0.0/16"}, idx)
        assert node["metadata"]["labels"][topology.LABEL_OVERLAY] == "true"
    assert ("kube-system", "azure-cns") in _snapshot(sb)["daemonsets"]
