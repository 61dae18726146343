"""The kubenet -> Azure CNI Overlay preflight verdicts (pure): each failure names what fails and how to fix it."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from netmig.azure.vnet_ranges import VnetInfo
from netmig.checks.overlay import (
    availability_set_verdict,
    dual_stack_verdict,
    identity_verdict,
    ipblock_verdict,
    kubenet_verdict,
    masq_cidrs,
    masq_verdict,
    version_verdict,
    windows_verdict,
)
from netmig.checks.overlay_vnet import pod_cidr_verdict
from netmig.model.checks import Outcome
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile, PoolInfo

VNET = VnetInfo(id="/subscriptions/s/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet-spoke",
                address_prefixes=("10.224.0.0/12", "10.244.0.0/16"),
                subnets={"snet-aks": ("10.224.0.0/16",), "snet-shared": ("10.244.240.0/24",)},
                node_subnets=("snet-aks",), peerings={"vnet-hub": ("10.100.0.0/16",)})


def cluster(**changes: Any) -> ClusterInfo:
    base = ClusterInfo(
        ref=ClusterRef("sub", "rg", "aks"), location="westeurope", kubernetes_version="1.31.2",
        provisioning_state="Succeeded",
        network=NetworkProfile(plugin="kubenet", policy="calico", pod_cidr="10.244.0.0/16", service_cidr="10.0.0.0/16"),
        etag="e1", identity_type="UserAssigned",
        pools=(PoolInfo("system", "System", "Linux", 3, "Succeeded", orchestrator_version="1.31.2"),
               PoolInfo("user", "User", "Linux", 3, "Succeeded", orchestrator_version="1.31.2")))
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize(("cidr", "named"), [
    ("10.244.0.0/16", "the subnet rg-net/vnet-spoke/snet-shared 10.244.240.0/24; the address space of the VNet "
                      "rg-net/vnet-spoke 10.244.0.0/16"),
    ("10.224.128.0/17", "the node subnet rg-net/vnet-spoke/snet-aks 10.224.0.0/16; the address space of the VNet "
                        "rg-net/vnet-spoke 10.224.0.0/12"),
    ("10.0.0.0/16", "the service CIDR 10.0.0.0/16"),
    ("172.30.0.0/16", "a range AKS reserves 172.30.0.0/16"),
    ("172.31.128.0/17", "a range AKS reserves 172.31.0.0/16"),
])
def test_an_overlapping_pod_cidr_fails_naming_every_range_it_overlaps(cidr: str, named: str) -> None:
    r = pod_cidr_verdict(cidr, "10.0.0.0/16", [VNET], nodes=8)
    assert r.outcome is Outcome.FAIL
    assert r.reason == f"pod CIDR {cidr} overlaps {named}"
    assert r.fix and "--pod-cidr" in r.fix


def test_pod_cidr_validity_size_peering_and_unreadable_vnet() -> None:
    assert pod_cidr_verdict("192.168.0.0/16", "10.0.0.0/16", [VNET], nodes=8).outcome is Outcome.PASS
    for bad in ("192.168.1.0/16", "not-a-cidr", "", None):
        r = pod_cidr_verdict(bad, "10.0.0.0/16", [VNET], nodes=8)
        assert r.outcome is Outcome.FAIL and "is not a valid network" in r.reason
    assert "not IPv4" in pod_cidr_verdict("fd00::/48", None, [VNET], 8).reason
    small = pod_cidr_verdict("192.168.0.0/22", "10.0.0.0/16", [VNET], nodes=8)
    assert small.outcome is Outcome.FAIL and "has 4 /24 blocks" in small.reason and "8 nodes" in small.reason
    peered = pod_cidr_verdict("10.100.0.0/16", "10.0.0.0/16", [VNET], nodes=8)
    assert peered.outcome is Outcome.WARN and "the peered VNet vnet-hub 10.100.0.0/16" in peered.reason
    unread = pod_cidr_verdict("192.168.0.0/16", "10.0.0.0/16", None, nodes=8, unreadable="HTTP 403")
    # the check could not run: an ERROR, which no acceptance lets pass (issue 10, finding 1)
    assert unread.outcome is Outcome.ERROR and "could not be read (HTTP 403)" in unread.reason
    assert unread.blocking and not unread.acceptable and "--accept" not in (unread.fix or "")
    # an overlap is reported even when the VNet is unreadable
    assert "the service CIDR" in pod_cidr_verdict("10.0.0.0/16", "10.0.0.0/16", None, 8).reason


def test_kubernetes_version_and_the_fallbacks_policy_change_floor() -> None:
    assert version_verdict(cluster(), fallback_allowed=True).outcome is Outcome.PASS
    old = version_verdict(cluster(kubernetes_version="1.26.12"), fallback_allowed=False)
    assert old.outcome is Outcome.FAIL and old.reason.startswith("Kubernetes 1.26.12 (control plane): ")
    lagging = cluster(pools=(PoolInfo("user", "User", "Linux", 3, "Succeeded", orchestrator_version="1.26.3"),))
    assert "Kubernetes 1.26.3 (pool user)" in version_verdict(lagging, False).reason
    k129 = cluster(kubernetes_version="1.29.9", pools=())
    assert version_verdict(k129, fallback_allowed=False).outcome is Outcome.WARN
    strict = version_verdict(k129, fallback_allowed=True)
    assert strict.outcome is Outcome.FAIL and "needs 1.30+" in strict.reason
    no_calico = cluster(kubernetes_version="1.29.9", pools=(),
                        network=NetworkProfile(plugin="kubenet", policy="none", pod_cidr="10.244.0.0/16"))
    assert version_verdict(no_calico, fallback_allowed=True).outcome is Outcome.PASS


def test_identity_pools_and_stack() -> None:
    assert identity_verdict("UserAssigned").outcome is Outcome.PASS
    sys_id = identity_verdict("SystemAssigned")
    assert sys_id.outcome is Outcome.FAIL and "system-assigned managed identity" in sys_id.reason
    assert "--assign-identity" in (sys_id.fix or "")
    assert "service principal" in identity_verdict(None).reason
    assert kubenet_verdict(cluster()).outcome is Outcome.PASS
    assert kubenet_verdict(cluster(network=NetworkProfile(plugin="azure", policy="none"))).outcome is Outcome.FAIL
    avset = cluster(pools=(PoolInfo("legacy", "User", "Linux", 2, "Succeeded", availability_set=True),))
    assert availability_set_verdict(avset).reason.startswith("availability-set node pools: legacy")
    assert availability_set_verdict(cluster()).outcome is Outcome.PASS
    win = cluster(pools=(PoolInfo("npwin", "User", "Windows", 2, "Succeeded"),))
    assert windows_verdict(win).outcome is Outcome.FAIL and "npwin" in windows_verdict(win).reason
    assert windows_verdict(cluster()).outcome is Outcome.PASS
    assert dual_stack_verdict({"ipFamilies": ["IPv4", "IPv6"]}).outcome is Outcome.FAIL
    assert dual_stack_verdict({"ip_families": ["IPv4"]}).outcome is Outcome.PASS


def _cm(name: str, text: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "kube-system"}, "data": {"ip-masq-agent": text}}


def test_custom_ip_masq_agent_configuration() -> None:
    own = ["10.244.0.0/16", "10.224.0.0/12"]
    reconciled = _cm("azure-ip-masq-agent-config-reconciled",
                     "nonMasqueradeCIDRs:\n  - 10.244.0.0/16\n  - 10.224.0.0/12\nmasqLinkLocal: true\n")
    assert masq_verdict({}, own).outcome is Outcome.PASS
    ok = masq_verdict({"azure-ip-masq-agent-config-reconciled": reconciled}, own)
    assert ok.outcome is Outcome.PASS and "AKS defaults only" in ok.reason
    custom = _cm("azure-ip-masq-agent-config", '{"nonMasqueradeCIDRs": ["10.244.0.0/16", "10.50.0.0/16"]}')
    assert masq_cidrs(custom) == ["10.244.0.0/16", "10.50.0.0/16"]
    bad = masq_verdict({"azure-ip-masq-agent-config": custom, "azure-ip-masq-agent-config-reconciled": reconciled},
                       own)
    assert bad.outcome is Outcome.FAIL
    assert ("kube-system/azure-ip-masq-agent-config keeps pod traffic to 10.50.0.0/16 unmasqueraded"
            in bad.reason)
    stale = masq_verdict({"azure-ip-masq-agent-config": _cm("azure-ip-masq-agent-config",
                                                            "nonMasqueradeCIDRs: [10.244.0.0/16]")}, own)
    assert stale.outcome is Outcome.WARN and "delete it" in (stale.fix or "")


def test_ipblocks_that_select_pods_by_the_old_pod_cidr() -> None:
    pol = {"metadata": {"namespace": "data", "name": "db-allow-pod-cidr"},
           "spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16"}}]}],
                    "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}]}]}}
    assert ipblock_verdict([pol], "10.244.0.0/16", "10.244.0.0/16").outcome is Outcome.PASS
    r = ipblock_verdict([pol], "10.244.0.0/16", "192.168.0.0/16")
    assert r.outcome is Outcome.FAIL and r.blocking
    assert r.reason.endswith("data/db-allow-pod-cidr (ipBlock 10.244.0.0/16)")  # 0.0.0.0/0 covers the new CIDR
    assert not ipblock_verdict([pol], "10.244.0.0/16", "192.168.0.0/16", accepted=True).blocking
