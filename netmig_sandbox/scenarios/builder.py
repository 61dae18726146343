"""Create a scenario's Kubernetes side in the sandbox store (see ``netmig_sandbox.scenarios``)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from netmig_sandbox.kube.store import Store
from netmig_sandbox.sim import controlplane, topology
from netmig_sandbox.sim.aks_objects import (
    addon_annotations,
    calico_namespaces,
    calico_objects,
    deployment,
    key_for,
)
from netmig_sandbox.sim.index import INDEX_ANNOTATION

IMAGE_VERSION = "AKSUbuntu-2204gen2containerd-202610.15.0"
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def _create(store: Store, obj: dict[str, Any]) -> dict[str, Any]:
    key = key_for(store, obj["apiVersion"], obj["kind"])
    return store.create(key, obj, obj.get("metadata", {}).get("namespace"))


def _node(pool: dict[str, Any], profile: dict[str, Any], pool_index: int, global_index: int) -> dict[str, Any]:
    name = topology.node_name(pool["name"], pool_index)
    spec: dict[str, Any] = {"providerID": f"azure:///subscriptions/sandbox/virtualMachines/{name}"}
    cidr = topology.pod_cidr_for_node(profile, global_index)
    if cidr:
        spec["podCIDR"] = cidr
        spec["podCIDRs"] = [cidr]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": topology.node_labels(pool, profile, pool_index, IMAGE_VERSION),
            "annotations": {INDEX_ANNOTATION: str(global_index)},
        },
        "spec": spec,
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status"}],
            "addresses": [{"type": "InternalIP", "address": topology.node_ip(global_index)},
                          {"type": "Hostname", "address": name}],
            "capacity": {"cpu": "4", "memory": "16374624Ki", "pods": str(topology.max_pods(pool))},
            "allocatable": {"cpu": "3860m", "memory": "12880736Ki", "pods": str(topology.max_pods(pool))},
            "nodeInfo": {"kubeletVersion": f"v{pool['orchestratorVersion']}", "bootID": str(uuid.uuid4()),
                         "kubeProxyVersion": f"v{pool['orchestratorVersion']}", "kernelVersion": "5.15.0-1075-azure",
                         "machineID": uuid.uuid4().hex, "systemUUID": str(uuid.uuid4()),
                         "osImage": "Ubuntu 22.04.5 LTS", "containerRuntimeVersion": "containerd://1.7.23-1",
                         "operatingSystem": pool["osType"].lower(), "architecture": "amd64"},
        },
    }


def _system_objects(ctx: Any) -> list[dict[str, Any]]:
    cluster = ctx.scenario["cluster"]
    profile = cluster["network_profile"]
    objs: list[dict[str, Any]] = [
        deployment("kube-system", "coredns", 2, "mcr.microsoft.com/oss/kubernetes/coredns:v1.11.3",
                    {"k8s-app": "kube-dns"},
                    ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                           {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                           {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}]),
        deployment("kube-system", "konnectivity-agent", 2,
                    "mcr.microsoft.com/oss/kubernetes/apiserver-network-proxy/agent:v0.30.3"),
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "coredns-pdb", "namespace": "kube-system"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"k8s-app": "kube-dns"}}}},
        {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
         "metadata": {"name": "konnectivity-agent", "namespace": "kube-system"},
         "spec": {"minAvailable": 1, "selector": {"matchLabels": {"k8s-app": "konnectivity-agent"}}}},
    ]
    addon = addon_annotations(ctx.scenario)
    for ns, name in topology.system_daemonsets(profile):
        ds = topology.daemonset_manifest(ns, name)
        if name == "calico-node" and addon:
            ds["metadata"]["annotations"] = dict(addon)
        objs.append(ds)
    engine = topology.engine_of(profile)
    if engine == "cilium":
        objs.append(deployment("kube-system", "cilium-operator", 2,
                                "mcr.microsoft.com/oss/cilium/operator-generic:1.17.9"))
    if engine == "calico":
        objs.extend(calico_objects(ctx.scenario))
    return objs


async def materialize(ctx: Any) -> None:
    store: Store = ctx.store
    scenario = ctx.scenario
    cluster = scenario["cluster"]
    profile = cluster["network_profile"]
    extra_ns = calico_namespaces(scenario) if topology.engine_of(profile) == "calico" else []
    for ns in (*SYSTEM_NAMESPACES, *extra_ns):
        store.create(("", "namespaces"), {"metadata": {"name": ns}})
    for obj in controlplane.system_objects(ctx):
        _create(store, obj)
    global_index = 0
    for pool in cluster["pools"]:
        for i in range(int(pool["count"])):
            store.create(("", "nodes"), _node(pool, profile, i, global_index))
            global_index += 1
    for obj in _system_objects(ctx):
        _create(store, obj)
    for obj in scenario.get("objects", []):
        if obj.get("kind") == "Namespace" and store.exists(("", "namespaces"), None, obj["metadata"]["name"]):
            continue
        _create(store, obj)
    await settle(ctx)


async def settle(ctx: Any, timeout: float = 120.0) -> None:
    """Wait (bounded) until no pod is Pending: the kubelet simulator has placed everything it can."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        pending = sum(
            1 for p in ctx.store.iter_raw(("", "pods"))
            if (p.get("status") or {}).get("phase", "Pending") == "Pending"
            and not _unschedulable(p)
        )
        unready = sum(
            1 for d in ctx.store.iter_raw(("apps", "deployments"))
            if ((d.get("status") or {}).get("readyReplicas") or 0) < (d.get("spec") or {}).get("replicas", 1)
        )
        if pending == 0 and unready == 0:
            return
        await asyncio.sleep(0.01)


def _unschedulable(pod: dict[str, Any]) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return True
    return False
