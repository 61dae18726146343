"""The real Azure SDK against what issue #15 item 8 added to the sandbox's ARM: Retry-After on operation status
(and the SDK honouring it), upgradeProfiles, kubernetesVersions, runCommand, pool nodeLabels on the nodes,
maxPods = the nodes' pod capacity, and one Kubernetes version (ARM, nodes, the API server) everywhere."""

from __future__ import annotations

import datetime as dt
import itertools
import ssl
import urllib.request
from typing import Any

import pytest
from azure.mgmt.containerservice.models import RunCommandRequest
from kubernetes import client as kclient
from kubernetes import config as kconfig

from tests.contract.arm_fixtures import arm_sandbox, client, requests, scenario, wait_for

pytestmark = pytest.mark.contract
__all__ = ["arm_sandbox"]


def _names(sb: Any) -> tuple[str, str]:
    return sb.info["resource_group"], sb.info["cluster_name"]


def _polls(sb: Any) -> list[dict[str, Any]]:
    return [r for r in requests(sb) if r["method"] == "GET" and "/operations/" in r["path"]]


def test_operation_status_carries_retry_after_and_the_sdk_waits_for_it(arm_sandbox: Any) -> None:
    # 0.5 s between polls (10 simulated s at 0.05), an update of ~2 s: far slower than the client's own 0.01 s
    sc = scenario("npm", arm_behaviour={"retry_after_seconds": 10, "operation_seconds": 40})
    sb = arm_sandbox(sc, time_scale=0.05)
    c = client(sb, polling_interval=0.01)
    rg, name = _names(sb)
    mc = c.managed_clusters.get(rg, name)
    mc.tags = {"touched": "yes"}
    c.managed_clusters.begin_create_or_update(rg, name, mc).result(timeout=60)
    polls = _polls(sb)
    assert 2 <= len(polls) <= 8, f"{len(polls)} polls: the SDK did not follow Retry-After"
    gaps = [b["time"] - a["time"] for a, b in itertools.pairwise(polls)]
    assert min(gaps) >= 0.4, gaps  # the SDK waited the 0.5 s Retry-After, not its 0.01 s polling_interval

    # the header itself, as any client sees it
    op_path = polls[-1]["path"]
    ctx = ssl.create_default_context(cafile=sb.info["ca_bundle"])
    req = urllib.request.Request(f"{sb.info['arm_endpoint']}{op_path}?api-version=2026-08-01",
                                 headers={"Authorization": f"Bearer {sb.info['token']}"})
    with urllib.request.urlopen(req, context=ctx) as resp:
        assert resp.headers["Retry-After"] == "0.5"


def test_upgrade_profile_and_kubernetes_versions(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    c = client(sb)
    rg, name = _names(sb)
    profile = c.managed_clusters.get_upgrade_profile(rg, name)
    assert profile.name == "default"
    assert profile.control_plane_profile.kubernetes_version == "1.31.2"
    offered = [u.kubernetes_version for u in profile.control_plane_profile.upgrades]
    assert offered == ["1.31.5", "1.32.3", "1.32.4"]  # later patches, then the next minor only
    assert [(p.name, p.kubernetes_version) for p in profile.agent_pool_profiles] == [
        (p.name, "1.31.2") for p in c.agent_pools.list(rg, name)]

    versions = c.managed_clusters.list_kubernetes_versions(c.managed_clusters.get(rg, name).location)
    minors = {v.version: v for v in versions.values_property}
    assert minors["1.31"].is_default is True and "1.31.2" in minors["1.31"].patch_versions
    assert minors["1.31"].patch_versions["1.31.2"].upgrades == offered
    assert "KubernetesOfficial" in minors["1.32"].capabilities.support_plan


def test_run_command_runs_a_simulated_kubectl_against_the_cluster(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    c = client(sb)
    rg, name = _names(sb)
    result = c.managed_clusters.begin_run_command(rg, name, RunCommandRequest(command="kubectl get nodes")).result(
        timeout=60)
    assert result.provisioning_state == "Succeeded" and result.exit_code == 0
    lines = result.logs.splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    nodes = sb.run(lambda ctx: sorted(n["metadata"]["name"] for n in ctx.store.list(("", "nodes"))))
    assert sorted(ln.split()[0] for ln in lines[1:]) == nodes
    assert {ln.split()[1] for ln in lines[1:]} == {"Ready"} and {ln.split()[-1] for ln in lines[1:]} == {"v1.31.2"}

    pods = c.managed_clusters.begin_run_command(rg, name, RunCommandRequest(command="kubectl get pods -A")).result(
        timeout=60)
    rows = pods.logs.splitlines()
    assert rows[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    want = sb.run(lambda ctx: sorted((p["metadata"]["namespace"], p["metadata"]["name"])
                                     for p in ctx.store.list(("", "pods"))))
    assert sorted((r.split()[0], r.split()[1]) for r in rows[1:]) == want

    bad = c.managed_clusters.begin_run_command(rg, name, RunCommandRequest(command="kubectl get frobs")).result(
        timeout=60)
    assert bad.exit_code == 1 and 'the server doesn\'t have a resource type "frobs"' in bad.logs
    stamps = [dt.datetime.fromisoformat(str(t)) for t in (bad.started_at, bad.finished_at)]
    assert stamps[0] <= stamps[1]


def test_pool_node_labels_reach_the_nodes_and_max_pods_is_their_capacity(arm_sandbox: Any) -> None:
    sc = scenario("npm")
    sc["cluster"]["pools"][0]["nodeLabels"] = {"team": "blue"}
    sc["cluster"]["pools"][0]["maxPods"] = 50
    sb = arm_sandbox(sc)
    c = client(sb)
    rg, name = _names(sb)
    pool = c.agent_pools.list(rg, name).next()
    assert pool.node_labels == {"team": "blue"} and pool.max_pods == 50

    def nodes() -> list[dict[str, Any]]:
        return list(sb.run(lambda ctx: [n for n in ctx.store.list(("", "nodes"))
                                         if n["metadata"]["labels"]["agentpool"] == pool.name]))

    assert nodes() and all(n["metadata"]["labels"]["team"] == "blue" for n in nodes())
    assert {n["status"]["capacity"]["pods"] for n in nodes()} == {"50"}
    assert {n["status"]["allocatable"]["pods"] for n in nodes()} == {"50"}

    pool.node_labels = {"team": "green", "tier": "web"}
    c.agent_pools.begin_create_or_update(rg, name, pool.name, pool).result(timeout=60)
    wait_for(lambda: all(n["metadata"]["labels"].get("team") == "green"
                         and n["metadata"]["labels"].get("tier") == "web" for n in nodes()), what="new node labels")


def test_one_kubernetes_version_everywhere(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    c = client(sb)
    rg, name = _names(sb)
    arm_version = c.managed_clusters.get(rg, name).current_kubernetes_version
    kubelets = sb.run(lambda ctx: {n["status"]["nodeInfo"]["kubeletVersion"] for n in ctx.store.list(("", "nodes"))})
    cfg = kclient.Configuration()
    kconfig.load_kube_config(config_file=sb.info["kubeconfig"], client_configuration=cfg)
    server = kclient.VersionApi(kclient.ApiClient(cfg)).get_code()
    assert kubelets == {f"v{arm_version}"} and server.git_version == f"v{arm_version}"
    assert (server.major, server.minor) == tuple(arm_version.split(".")[:2])
