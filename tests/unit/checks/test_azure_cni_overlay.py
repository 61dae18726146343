"""The azure-cni-to-overlay preflight verdicts (netmig.checks.azure_cni_overlay): pure functions of the cluster."""

from __future__ import annotations

from dataclasses import replace

import pytest

from netmig.checks.azure_cni_overlay import (
    dynamic_pod_ip_verdict,
    no_engine_verdict,
    node_subnet_verdict,
    windows_build_verdict,
)
from netmig.model.checks import Outcome
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile, PoolInfo

LINUX = PoolInfo(name="user", mode="User", os_type="Linux", count=3, provisioning_state="Succeeded")


def _cluster(network: NetworkProfile, *pools: PoolInfo) -> ClusterInfo:
    return ClusterInfo(ref=ClusterRef("s", "rg", "c"), location="westeurope", kubernetes_version="1.31.2",
                       provisioning_state="Succeeded", network=network, etag=None, pools=pools or (LINUX,))


NODE_SUBNET = NetworkProfile(plugin="azure", policy="none")


@pytest.mark.parametrize(("network", "outcome"), [
    (NODE_SUBNET, Outcome.PASS),
    (NetworkProfile(plugin="azure", policy="none", plugin_mode="overlay", pod_cidr="10.244.0.0/16"), Outcome.FAIL),
    (NetworkProfile(plugin="kubenet", policy="none", pod_cidr="10.244.0.0/16"), Outcome.FAIL),
])
def test_the_source_must_be_node_subnet_azure_cni(network: NetworkProfile, outcome: Outcome) -> None:
    assert node_subnet_verdict(_cluster(network)).outcome is outcome


@pytest.mark.parametrize(("policy", "dataplane", "outcome"), [
    ("none", "azure", Outcome.PASS), ("cilium", "cilium", Outcome.PASS),
    ("azure", "azure", Outcome.FAIL), ("calico", "azure", Outcome.FAIL),
])
def test_no_npm_or_calico_at_that_moment(policy: str, dataplane: str, outcome: Outcome) -> None:
    r = no_engine_verdict(_cluster(NetworkProfile(plugin="azure", policy=policy, dataplane=dataplane)))
    assert r.outcome is outcome
    if outcome is Outcome.FAIL:
        assert not r.acceptable and "journey plan --to overlay-cilium" in (r.fix or "")
        assert "\n" not in r.reason + (r.fix or "")


def test_dynamic_pod_ip_allocation_fails_naming_the_pools() -> None:
    dyn = replace(LINUX, name="dyn", pod_subnet_id="/subscriptions/s/.../subnets/pods")
    r = dynamic_pod_ip_verdict(_cluster(NODE_SUBNET, LINUX, dyn))
    assert r.outcome is Outcome.FAIL and "dyn" in r.reason and not r.acceptable
    assert dynamic_pod_ip_verdict(_cluster(NODE_SUBNET)).outcome is Outcome.PASS


def test_windows_pools_are_a_warning_about_the_os_build() -> None:
    win = replace(LINUX, name="win", os_type="Windows")
    r = windows_build_verdict(_cluster(NODE_SUBNET, LINUX, win))
    assert r.outcome is Outcome.WARN and "20348.1668" in r.reason and "win" in r.reason
    assert windows_build_verdict(_cluster(NODE_SUBNET)).outcome is Outcome.PASS
