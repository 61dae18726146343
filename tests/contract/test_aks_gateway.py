"""netmig.azure.gateway against the sandbox's ARM endpoint: reads, one-PUT updates, resume, error translation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from netmig.azure import errors
from netmig.azure.gateway import AksGateway
from netmig.connection import ArmTarget, from_sandbox_dir
from netmig.model.cluster import ClusterRef, NetworkProfile
from netmig_sandbox.faults import Fault

CILIUM = NetworkProfile(plugin="azure", policy="cilium", dataplane="cilium")


def network_puts(sb: Any) -> int:
    lines = (sb.directory / "arm-requests.jsonl").read_text().splitlines()
    return sum(1 for line in lines if json.loads(line).get("network_profile_change"))


def test_cluster_and_pools_are_read_as_plain_values(sandbox_factory: Any) -> None:
    sb = sandbox_factory("npm")
    info = AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01).cluster()
    assert info.network.engine == "npm" and info.network.ipam == "azure-cni"
    assert info.provisioning_state == "Succeeded"
    assert [(p.name, p.mode, p.os_type, p.count) for p in info.pools] == [
        ("system", "System", "Linux", 3), ("user", "User", "Linux", 3)]
    assert info.node_count == 6 and info.etag


def test_user_kubeconfig_is_the_sandbox_kubeconfig(sandbox_factory: Any) -> None:
    sb = sandbox_factory("empty")
    kc = AksGateway(from_sandbox_dir(sb.directory)).user_kubeconfig()
    assert kc == (sb.directory / "kubeconfig").read_bytes()


def test_network_update_is_one_put_and_resume_sends_none(sandbox_factory: Any) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    aks = AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01)
    op = aks.begin_network_update(CILIUM, etag=aks.cluster().etag)
    assert network_puts(sb) == 1
    resumed = aks.resume(op.continuation_token)
    aks.wait(resumed, timeout=120)
    assert network_puts(sb) == 1
    assert aks.cluster().network.engine == "cilium"


def test_a_stale_etag_is_a_conflict(sandbox_factory: Any) -> None:
    sb = sandbox_factory("npm")
    aks = AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01)
    with pytest.raises(errors.Conflict):
        aks.begin_network_update(CILIUM, etag='"not-the-etag"')
    assert network_puts(sb) == 0


def test_a_refused_change_is_rejected_with_the_aks_code(sandbox_factory: Any) -> None:
    sb = sandbox_factory("npm")
    aks = AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01)
    with pytest.raises(errors.Rejected) as e:
        aks.begin_network_update(NetworkProfile(plugin="azure", policy="azure", dataplane="cilium"))
    assert e.value.code == "CiliumDataplaneRequiresNetworkPolicyCilium"


def test_a_failed_operation_is_operation_failed(sandbox_factory: Any) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    sb.context.faults.add(Fault(target="lro", kind="fail", code="ReconcileVMSSAgentPoolFailed"))
    aks = AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01)
    op = aks.begin_network_update(CILIUM)
    with pytest.raises(errors.OperationFailed) as e:
        aks.wait(op, timeout=120)
    assert "ReconcileVMSSAgentPoolFailed" in str(e.value)


def test_persistent_throttling_becomes_throttled(sandbox_factory: Any) -> None:
    sb = sandbox_factory("empty")
    sb.context.faults.add(Fault(target="arm", status=429, code="TooManyRequests", retry_after=0, times=None,
                                method="GET", path="managedClusters/[^/]+$"))
    with pytest.raises(errors.Throttled) as e:
        AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01).cluster()
    assert e.value.temporary


def test_a_wrong_token_is_auth_failed_and_never_printed(sandbox_factory: Any) -> None:
    sb = sandbox_factory("empty")
    good = from_sandbox_dir(sb.directory)
    bad = ArmTarget(ref=good.ref, endpoint=good.endpoint, ca_bundle=good.ca_bundle, static_token="wrong-token-xyz")
    with pytest.raises(errors.AuthFailed) as e:
        AksGateway(bad).cluster()
    assert "wrong-token-xyz" not in str(e.value)
    assert "wrong-token-xyz" not in repr(bad)


def _subscription_requests(sb: Any) -> list[dict[str, Any]]:
    lines = (sb.directory / "arm-requests.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["path"].lower().startswith("/subscriptions")
            and "/providers/" not in r["path"].lower()]


def test_subscriptions_are_listed_through_arm_without_a_cluster_address(sandbox_factory: Any) -> None:
    sb = sandbox_factory("empty")
    good = from_sandbox_dir(sb.directory)
    probe = ArmTarget(ref=ClusterRef("-", "-", "-"), endpoint=good.endpoint, ca_bundle=good.ca_bundle,
                      static_token=good.static_token)
    assert AksGateway(probe).list_subscriptions() == [(good.ref.subscription_id, "Sandbox subscription")]
    assert [(r["method"], r["path"], r["status"], r["api_version"]) for r in _subscription_requests(sb)] == [
        ("GET", "/subscriptions", 200, "2022-12-01")]


def test_one_subscription_is_read_and_an_unknown_one_is_not_found(sandbox_factory: Any) -> None:
    from azure.core.rest import HttpRequest

    sb = sandbox_factory("empty")
    aks = AksGateway(from_sandbox_dir(sb.directory))
    sid = aks.ref.subscription_id
    res = aks.client.send_request(HttpRequest("GET", f"/subscriptions/{sid}?api-version=2022-12-01"))
    assert res.status_code == 200
    assert {k: res.json()[k] for k in ("id", "subscriptionId", "displayName", "state")} == {
        "id": f"/subscriptions/{sid}", "subscriptionId": sid, "displayName": "Sandbox subscription",
        "state": "Enabled"}
    assert res.json()["tenantId"]
    other = aks.client.send_request(HttpRequest("GET", "/subscriptions/00000000-0000-0000-0000-00000000dead"
                                                       "?api-version=2022-12-01"))
    assert other.status_code == 404 and other.json()["error"]["code"] == "SubscriptionNotFound"
    assert [r["status"] for r in _subscription_requests(sb)] == [200, 404]


@pytest.mark.parametrize(("status", "code", "error"), [
    (403, "AuthorizationFailed", errors.AuthFailed),
    (429, "TooManyRequests", errors.Throttled),
])
def test_subscription_listing_errors_are_translated(sandbox_factory: Any, status: int, code: str,
                                                    error: type[errors.ArmError]) -> None:
    sb = sandbox_factory("empty")
    sb.context.faults.add(Fault(target="arm", status=status, code=code, retry_after=0, times=None, method="GET",
                                path="^/subscriptions$"))
    with pytest.raises(error) as e:
        AksGateway(from_sandbox_dir(sb.directory), polling_interval=0.01).list_subscriptions()
    assert "listing subscriptions" in str(e.value) and e.value.status == status


def test_subscription_listing_with_a_wrong_token_is_auth_failed(sandbox_factory: Any) -> None:
    sb = sandbox_factory("empty")
    good = from_sandbox_dir(sb.directory)
    bad = ArmTarget(ref=good.ref, endpoint=good.endpoint, ca_bundle=good.ca_bundle, static_token="wrong-token-xyz")
    with pytest.raises(errors.AuthFailed) as e:
        AksGateway(bad).list_subscriptions()
    assert "wrong-token-xyz" not in str(e.value)
