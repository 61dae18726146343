"""The sandbox ARM endpoint against the REAL azure-mgmt-containerservice client over HTTPS (no mocks)."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.request
from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
from azure.core.polling import LROPoller
from azure.mgmt.containerservice import ContainerServiceClient

from netmig_sandbox.faults import Fault
from tests.contract.arm_fixtures import StaticCredential, arm_sandbox, client, requests, scenario, wait_for

__all__ = ["arm_sandbox"]  # the fixture, imported for pytest

pytestmark = pytest.mark.contract

CILIUM = {"network_dataplane": "cilium", "network_policy": "cilium"}


def _names(sb: Any) -> tuple[str, str]:
    return sb.info["resource_group"], sb.info["cluster_name"]


def _code(e: HttpResponseError) -> str:
    assert e.error is not None, e
    return str(e.error.code)


def _message(e: HttpResponseError) -> str:
    assert e.error is not None, e
    return str(e.error.message)


def _set(mc: Any, **fields: Any) -> Any:
    for k, v in fields.items():
        setattr(mc.network_profile, k, v)
    return mc


def _put_log(sb: Any) -> list[dict[str, Any]]:
    return [r for r in requests(sb) if r["method"] == "PUT" and "/agentPools/" not in r["path"]]


def _admin(sb: Any, method: str, path: str, body: dict[str, Any] | None = None,
           token: str | None = None) -> tuple[int, Any]:
    ctx = ssl.create_default_context(cafile=sb.info["ca_bundle"])
    req = urllib.request.Request(sb.info["arm_endpoint"] + path, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token or sb.info['token']}",
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx) as resp:
            raw = resp.read()
            return resp.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def test_get_list_cluster_and_pools(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    c = client(sb)
    rg, name = _names(sb)
    mc = c.managed_clusters.get(rg, name)
    assert mc.provisioning_state == "Succeeded"
    assert mc.network_profile.network_plugin == "azure"
    assert mc.network_profile.network_policy == "azure"
    assert mc.kubernetes_version == "1.31.2" and mc.e_tag
    assert sorted(p.name for p in mc.agent_pool_profiles) == ["system", "user"]
    assert [x.name for x in c.managed_clusters.list()] == [name]
    assert [x.name for x in c.managed_clusters.list_by_resource_group(rg)] == [name]
    pools = {p.name: p for p in c.agent_pools.list(rg, name)}
    assert set(pools) == {"system", "user"} and pools["user"].count == 3
    assert pools["system"].mode == "System" and pools["system"].upgrade_settings.max_surge == "1"
    assert c.agent_pools.get(rg, name, "user").provisioning_state == "Succeeded"
    with pytest.raises(ResourceNotFoundError) as e:
        c.managed_clusters.get(rg, "nope")
    assert _code(e.value) == "ResourceNotFound"
    with pytest.raises(ResourceNotFoundError):
        c.agent_pools.get(rg, name, "nope")
    logged = requests(sb)
    assert logged and all(r["api_version"] == "2026-08-01" for r in logged)
    assert {"method", "path", "status", "time"} <= set(logged[0])


def test_bad_token_is_401(arm_sandbox: Any) -> None:
    sb = arm_sandbox("empty")
    rg, name = _names(sb)
    bad = ContainerServiceClient(StaticCredential("wrong"), sb.info["subscription_id"],
                                 base_url=sb.info["arm_endpoint"], connection_verify=sb.info["ca_bundle"])
    with pytest.raises(ClientAuthenticationError) as e:
        bad.managed_clusters.get(rg, name)
    assert _code(e.value) == "InvalidAuthenticationToken"
    assert _admin(sb, "GET", "/_sandbox/state", token="wrong")[0] == 401


def test_lro_npm_to_cilium_succeeds(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    c = client(sb)
    rg, name = _names(sb)
    mc = _set(c.managed_clusters.get(rg, name), **CILIUM)
    poller = c.managed_clusters.begin_create_or_update(rg, name, mc)
    result = poller.result(timeout=60)
    assert poller.status() == "Succeeded"
    assert result.provisioning_state == "Succeeded"
    assert result.network_profile.network_dataplane == "cilium"
    assert result.network_profile.network_policy == "cilium"
    assert all(p.provisioning_state == "Succeeded" for p in c.agent_pools.list(rg, name))
    puts = _put_log(sb)
    assert len(puts) == 1 and puts[0]["network_profile_change"] is True and puts[0]["reimage"] is True
    # a PUT of the same profile afterwards is no network-profile change
    c.managed_clusters.begin_create_or_update(rg, name, c.managed_clusters.get(rg, name)).result(timeout=60)
    assert _put_log(sb)[-1]["network_profile_change"] is False


def test_etag_mismatch_is_412(arm_sandbox: Any) -> None:
    from azure.core import MatchConditions
    from azure.core.exceptions import ResourceModifiedError

    sb = arm_sandbox("empty")
    c = client(sb)
    rg, name = _names(sb)
    mc = c.managed_clusters.get(rg, name)
    with pytest.raises((ResourceModifiedError, HttpResponseError)) as e:
        c.managed_clusters.begin_create_or_update(rg, name, mc, etag="stale",
                                                  match_condition=MatchConditions.IfNotModified)
    assert e.value.status_code == 412
    poller = c.managed_clusters.begin_create_or_update(rg, name, mc, etag=mc.e_tag,
                                                       match_condition=MatchConditions.IfNotModified)
    assert poller.result(timeout=60).e_tag != mc.e_tag


def test_failed_lro_raises_with_code(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    sb.run(lambda ctx: ctx.faults.add(Fault(target="lro", kind="fail", code="ReconcileVMSSAgentPoolFailed",
                                            message="VMSS reconcile failed", params={"after_nodes": 2})))
    c = client(sb)
    rg, name = _names(sb)
    poller = c.managed_clusters.begin_create_or_update(rg, name, _set(c.managed_clusters.get(rg, name), **CILIUM))
    with pytest.raises(HttpResponseError) as e:
        poller.result(timeout=60)
    assert "ReconcileVMSSAgentPoolFailed" in str(e.value)
    mc = c.managed_clusters.get(rg, name)
    assert mc.provisioning_state == "Failed"
    assert mc.status.provisioning_error.code == "ReconcileVMSSAgentPoolFailed"
    # the same profile again resumes: only the nodes not converted yet are reimaged
    left = sb.run(lambda ctx: sum(
        1 for n in ctx.store.list(("", "nodes"))
        if n["metadata"]["labels"].get("kubernetes.azure.com/network-policy") != "cilium"))
    assert 0 < left < 6
    result = c.managed_clusters.begin_create_or_update(rg, name, c.managed_clusters.get(rg, name)).result(timeout=60)
    assert result.provisioning_state == "Succeeded"
    assert _put_log(sb)[-1] | {"reimage": True} == _put_log(sb)[-1]
    assert _put_log(sb)[-1]["network_profile_change"] is False
    assert sb.run(lambda ctx: all(
        n["metadata"]["labels"].get("kubernetes.azure.com/network-policy") == "cilium"
        for n in ctx.store.list(("", "nodes"))))


def test_429_with_retry_after_is_retried(arm_sandbox: Any) -> None:
    sb = arm_sandbox("empty")
    rg, name = _names(sb)
    status, _ = _admin(sb, "POST", "/_sandbox/faults", {
        "target": "arm", "method": "GET", "path": f"/managedClusters/{name}$", "times": 2, "status": 429,
        "code": "TooManyRequests", "message": "throttled", "retry_after": 0.05})
    assert status == 201
    assert _admin(sb, "GET", "/_sandbox/faults")[1]["faults"][0]["status"] == 429
    mc = client(sb).managed_clusters.get(rg, name)
    assert mc.name == name
    gets = [r for r in requests(sb) if r["method"] == "GET" and r["path"].endswith(f"/managedClusters/{name}")]
    assert [r["status"] for r in gets] == [429, 429, 200]
    assert gets[2]["time"] - gets[0]["time"] >= 0.09  # Retry-After honoured twice


def test_put_during_operation_is_409(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm", time_scale=0.01)
    c = client(sb)
    rg, name = _names(sb)
    mc = c.managed_clusters.get(rg, name)
    poller = c.managed_clusters.begin_create_or_update(rg, name, _set(mc, **CILIUM))
    with pytest.raises(HttpResponseError) as e:
        c.managed_clusters.begin_create_or_update(rg, name, c.managed_clusters.get(rg, name))
    assert e.value.status_code == 409
    assert _code(e.value) == "OperationNotAllowed"
    assert "Another operation (Updating) is in progress" in _message(e.value)
    with pytest.raises(HttpResponseError) as e2:
        pool = c.agent_pools.get(rg, name, "user")
        pool.count = 4
        c.agent_pools.begin_create_or_update(rg, name, "user", pool)
    assert e2.value.status_code == 409
    assert poller.result(timeout=60).provisioning_state == "Succeeded"


def test_abort_cancels_and_resume_completes(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm", time_scale=0.01)
    c = client(sb)
    rg, name = _names(sb)
    poller = c.managed_clusters.begin_create_or_update(rg, name, _set(c.managed_clusters.get(rg, name), **CILIUM))
    wait_for(lambda: sb.run(lambda ctx: any(
        n["metadata"]["labels"].get("kubernetes.azure.com/network-policy") == "cilium"
        for n in ctx.store.list(("", "nodes")))), what="a first converted node")
    c.managed_clusters.begin_abort_latest_operation(rg, name).result(timeout=60)
    with pytest.raises(HttpResponseError):
        poller.result(timeout=60)
    assert poller.status() == "Canceled"
    mc = c.managed_clusters.get(rg, name)
    assert mc.provisioning_state == "Canceled"
    ops = _admin(sb, "GET", "/_sandbox/state")[1]["operations"]
    assert [o["status"] for o in ops if o["kind"] == "reimage"] == ["Canceled"]
    # nothing left to abort
    with pytest.raises(HttpResponseError) as e:
        c.managed_clusters.begin_abort_latest_operation(rg, name)
    assert e.value.status_code == 409 and _code(e.value) == "NoOngoingOperationToAbort"
    # the same target profile again resumes and completes
    result = c.managed_clusters.begin_create_or_update(rg, name, mc).result(timeout=60)
    assert result.provisioning_state == "Succeeded"
    assert sb.run(lambda ctx: all(
        n["metadata"]["labels"].get("kubernetes.azure.com/ebpf-dataplane") == "cilium"
        for n in ctx.store.list(("", "nodes"))))


def test_agent_pool_scale_and_abort(arm_sandbox: Any) -> None:
    sb = arm_sandbox("empty", time_scale=0.01)
    c = client(sb)
    rg, name = _names(sb)
    pool = c.agent_pools.get(rg, name, "nodepool1")
    pool.count = 3
    pool.upgrade_settings.max_surge = "33%"
    result = c.agent_pools.begin_create_or_update(rg, name, "nodepool1", pool).result(timeout=60)
    assert result.count == 3 and result.upgrade_settings.max_surge == "33%"
    assert sb.run(lambda ctx: len(ctx.store.list(("", "nodes")))) == 3
    pool.count = 2
    poller = c.agent_pools.begin_create_or_update(rg, name, "nodepool1", pool)
    c.agent_pools.begin_abort_latest_operation(rg, name, "nodepool1").result(timeout=60)
    with pytest.raises(HttpResponseError):
        poller.result(timeout=60)
    assert c.agent_pools.get(rg, name, "nodepool1").provisioning_state == "Canceled"


def test_continuation_token_resumes_without_second_put(arm_sandbox: Any) -> None:
    sb = arm_sandbox("npm")
    c = client(sb)
    rg, name = _names(sb)
    poller = c.managed_clusters.begin_create_or_update(rg, name, _set(c.managed_clusters.get(rg, name), **CILIUM))
    token = poller.continuation_token()
    del poller
    other = client(sb)
    resumed: LROPoller[Any] = other.managed_clusters.begin_create_or_update(rg, name, None,
                                                                             continuation_token=token)
    assert resumed.result(timeout=60).provisioning_state == "Succeeded"
    assert len(_put_log(sb)) == 1


def test_list_credentials_return_the_kubeconfig(arm_sandbox: Any) -> None:
    sb = arm_sandbox("empty")
    c = client(sb)
    rg, name = _names(sb)
    expected = sb.run(lambda ctx: ctx.kubeconfig())
    user = c.managed_clusters.list_cluster_user_credentials(rg, name)
    assert user.kubeconfigs[0].name == "clusterUser"
    value = user.kubeconfigs[0].value
    text = value.decode() if isinstance(value, bytes) else base64.b64decode(value).decode()
    assert text == expected
    admin = c.managed_clusters.list_cluster_admin_credentials(rg, name)
    assert admin.kubeconfigs[0].name == "clusterAdmin"


REFUSALS = [
    ("npm", {}, {"network_dataplane": "cilium"}, "CiliumDataplaneRequiresNetworkPolicyCilium"),
    ("npm", {}, {"network_policy": "cilium"}, "NetworkPolicyCiliumRequiresCiliumDataplane"),
    ("npm", {}, {"network_policy": "calico"}, "NetworkPolicyChangeNotSupported"),
    ("npm", {}, {"network_plugin_mode": "overlay"}, "OverlayMigrationWithNetworkPolicyNotSupported"),
    ("npm", {"cluster": {"pools": [{"name": "system", "mode": "System", "count": 1},
                                   {"name": "win", "count": 1, "osType": "Windows"}]}},
     CILIUM, "CiliumWindowsNodePoolsNotSupported"),
    ("npm", {"cluster": {"node_provisioning_mode": "Auto"}}, CILIUM,
     "CiliumMigrationNotSupportedWithNodeAutoProvisioning"),
    ("npm", {"cluster": {"kubernetes_version": "1.29.9"}}, {"network_policy": "none"},
     "NetworkPolicyUpdateNotSupportedOnKubernetesVersion"),
    ("empty", {}, {"network_plugin_mode": "overlay", **CILIUM}, "IPAMModeAndDataplaneUpdateNotAllowed"),
    ("empty", {}, {"network_plugin": "kubenet"}, "AzureCNIToKubenetMigrationNotSupported"),
    ("kubenet-calico", {}, {"network_plugin": "azure"}, "KubenetToAzureCNIRequiresOverlay"),
    ("kubenet-calico", {}, {"network_plugin": "azure", "network_plugin_mode": "overlay", **CILIUM},
     "IPAMModeAndDataplaneUpdateNotAllowed"),
    ("kubenet-calico", {"arm_behaviour": {"block_kubenet_calico_to_overlay": True}},
     {"network_plugin": "azure", "network_plugin_mode": "overlay"}, "KubenetCalicoToOverlayMigrationNotSupported"),
    ("kubenet-calico", {"cluster": {"kubernetes_version": "1.26.6"}},
     {"network_plugin": "azure", "network_plugin_mode": "overlay"}, "OverlayMigrationRequiresKubernetesVersion"),
    ("kubenet-calico", {}, {"network_plugin": "azure", "network_plugin_mode": "overlay",
                            "pod_cidr": "172.30.0.0/16"}, "PodCidrOverlap"),
    ("kubenet-calico", {}, {"pod_cidr": "192.168.0.0/16"}, "PodCidrChangeNotAllowed"),
    ("kubenet-calico", {}, CILIUM, "CiliumDataplaneRequiresAzureCNI"),
    ("kubenet-calico", {}, {"service_cidr": "10.9.0.0/16"}, "PropertyChangeNotAllowed"),
]


@pytest.mark.parametrize(("name", "overrides", "change", "code"), REFUSALS,
                         ids=[f"{r[0]}-{r[3]}" for r in REFUSALS])
def test_validation_refusals_over_the_wire(arm_sandbox: Any, name: str, overrides: dict[str, Any],
                                          change: dict[str, Any], code: str) -> None:
    sb = arm_sandbox(scenario(name, **overrides))
    c = client(sb)
    rg, cluster = _names(sb)
    mc = _set(c.managed_clusters.get(rg, cluster), **change)
    with pytest.raises(HttpResponseError) as e:
        c.managed_clusters.begin_create_or_update(rg, cluster, mc)
    assert e.value.status_code == 400
    assert _code(e.value) == code
    assert c.managed_clusters.get(rg, cluster).provisioning_state == "Succeeded"
    assert _put_log(sb)[-1]["status"] == 400


def test_overlay_migration_kubenet_calico_allowed_and_one_way(arm_sandbox: Any) -> None:
    sb = arm_sandbox("kubenet-calico")
    c = client(sb)
    rg, name = _names(sb)
    mc = _set(c.managed_clusters.get(rg, name), network_plugin="azure", network_plugin_mode="overlay")
    result = c.managed_clusters.begin_create_or_update(rg, name, mc).result(timeout=60)
    assert result.network_profile.network_plugin_mode == "overlay"
    assert result.network_profile.network_policy == "calico"
    assert sb.run(lambda ctx: all(
        n["metadata"]["labels"].get("kubernetes.azure.com/azure-cni-overlay") == "true"
        for n in ctx.store.list(("", "nodes"))))
    back = _set(c.managed_clusters.get(rg, name), network_plugin="kubenet")
    with pytest.raises(HttpResponseError) as e:
        c.managed_clusters.begin_create_or_update(rg, name, back)
    assert _code(e.value) == "OverlayMigrationNotReversible"
