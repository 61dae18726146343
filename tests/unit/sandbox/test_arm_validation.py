"""Network-profile transition rules of the sandbox ARM endpoint (netmig_sandbox.arm.validation)."""

from __future__ import annotations

from typing import Any

import pytest

from netmig_sandbox.arm.state import ArmError, ArmState
from netmig_sandbox.arm.validation import (
    CODES,
    merge_profile,
    network_changed,
    validate_network_update,
)

NPM = {"networkPlugin": "azure", "networkPolicy": "azure", "networkDataplane": "azure",
       "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"}
KUBENET_CALICO = {"networkPlugin": "kubenet", "networkPolicy": "calico", "podCidr": "10.244.0.0/16",
                  "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10"}
KUBENET = {**KUBENET_CALICO, "networkPolicy": "none"}
OVERLAY = {"networkPlugin": "azure", "networkPluginMode": "overlay", "networkPolicy": "none",
           "networkDataplane": "azure", "podCidr": "10.244.0.0/16", "serviceCidr": "10.0.0.0/16"}
LINUX = [{"name": "system", "osType": "Linux", "type": "VirtualMachineScaleSets"}]


def check(current: dict[str, Any], change: dict[str, Any], *, version: str = "1.31.2",
          pools: list[dict[str, Any]] | None = None, nap: str = "Manual",
          behaviour: dict[str, Any] | None = None, vnet: list[str] | None = None) -> str | None:
    """The refusal code for applying ``change`` to ``current`` (None when accepted)."""
    try:
        validate_network_update(current, merge_profile(current, change), kubernetes_version=version,
                                pools=LINUX if pools is None else pools, node_provisioning_mode=nap,
                                behaviour=behaviour, vnet_prefixes=vnet)
    except ArmError as e:
        assert e.status == 400
        assert e.code in CODES
        assert e.message
        return e.code
    return None


ACCEPTED = [
    ("npm -> cilium", NPM, {"networkDataplane": "cilium", "networkPolicy": "cilium"}, {}),
    ("kubenet -> overlay", KUBENET, {"networkPlugin": "azure", "networkPluginMode": "overlay"}, {}),
    ("node subnet -> overlay with a pod cidr", {**NPM, "networkPolicy": "none"},
     {"networkPluginMode": "overlay", "podCidr": "192.168.0.0/16"}, {}),
    ("kubenet -> overlay new pod cidr", KUBENET,
     {"networkPlugin": "azure", "networkPluginMode": "overlay", "podCidr": "192.168.0.0/16"}, {}),
    ("kubenet -> overlay new pod cidr outside an overlapping vnet", KUBENET,
     {"networkPlugin": "azure", "networkPluginMode": "overlay", "podCidr": "192.168.0.0/16"},
     {"vnet": ["10.224.0.0/12", "10.244.0.0/16"]}),
    ("kubenet keeps an overlapping pod cidr while not migrating", KUBENET, {"networkPolicy": "calico"},
     {"vnet": ["10.224.0.0/12", "10.244.0.0/16"]}),
    ("kubenet+calico -> overlay+calico (not blocked)", KUBENET_CALICO,
     {"networkPlugin": "azure", "networkPluginMode": "overlay"}, {}),
    ("calico -> none on 1.30", KUBENET_CALICO, {"networkPolicy": "none"}, {"version": "1.30.0"}),
    ("overlay none -> calico", OVERLAY, {"networkPolicy": "calico"}, {}),
    ("overlay -> cilium", OVERLAY, {"networkDataplane": "cilium", "networkPolicy": "cilium"}, {}),
    ("same profile", NPM, dict(NPM), {}),
    ("null fields keep current values", NPM, {"networkPolicy": None, "networkDataplane": None}, {}),
]

REFUSED = [
    ("dataplane alone", NPM, {"networkDataplane": "cilium"}, {},
     "CiliumDataplaneRequiresNetworkPolicyCilium"),
    ("policy cilium alone", NPM, {"networkPolicy": "cilium"}, {}, "NetworkPolicyCiliumRequiresCiliumDataplane"),
    ("cilium on kubenet", KUBENET, {"networkDataplane": "cilium", "networkPolicy": "cilium"}, {},
     "CiliumDataplaneRequiresAzureCNI"),
    ("IPAM + dataplane in one PUT", {**NPM, "networkPolicy": "none"},
     {"networkPluginMode": "overlay", "networkDataplane": "cilium", "networkPolicy": "cilium"}, {},
     "IPAMModeAndDataplaneUpdateNotAllowed"),
    ("cilium with a Windows pool", NPM, {"networkDataplane": "cilium", "networkPolicy": "cilium"},
     {"pools": [*LINUX, {"name": "win", "osType": "Windows"}]}, "CiliumWindowsNodePoolsNotSupported"),
    ("cilium with node auto-provisioning", NPM, {"networkDataplane": "cilium", "networkPolicy": "cilium"},
     {"nap": "Auto"}, "CiliumMigrationNotSupportedWithNodeAutoProvisioning"),
    ("cilium rollback", {**OVERLAY, "networkDataplane": "cilium", "networkPolicy": "cilium"},
     {"networkDataplane": "azure", "networkPolicy": "none"}, {}, "CiliumDataplaneDowngradeNotSupported"),
    ("kubenet -> overlay on 1.26", KUBENET, {"networkPlugin": "azure", "networkPluginMode": "overlay"},
     {"version": "1.26.6"}, "OverlayMigrationRequiresKubernetesVersion"),
    ("overlay -> kubenet", OVERLAY, {"networkPlugin": "kubenet", "networkPluginMode": ""}, {},
     "OverlayMigrationNotReversible"),
    ("kubenet -> azure without overlay", KUBENET, {"networkPlugin": "azure"}, {},
     "KubenetToAzureCNIRequiresOverlay"),
    ("azure cni -> kubenet", {**NPM, "networkPolicy": "none"}, {"networkPlugin": "kubenet"}, {},
     "AzureCNIToKubenetMigrationNotSupported"),
    ("kubenet+calico -> overlay+calico blocked", KUBENET_CALICO,
     {"networkPlugin": "azure", "networkPluginMode": "overlay"},
     {"behaviour": {"block_kubenet_calico_to_overlay": True}}, "KubenetCalicoToOverlayMigrationNotSupported"),
    ("availability set -> overlay", KUBENET, {"networkPlugin": "azure", "networkPluginMode": "overlay"},
     {"pools": [{"name": "a", "osType": "Linux", "type": "AvailabilitySet"}]},
     "OverlayMigrationAvailabilitySetNotSupported"),
    ("node subnet with NPM -> overlay", NPM, {"networkPluginMode": "overlay"}, {},
     "OverlayMigrationWithNetworkPolicyNotSupported"),
    ("uninstall calico on 1.29", KUBENET_CALICO, {"networkPolicy": "none"}, {"version": "1.29.9"},
     "NetworkPolicyUpdateNotSupportedOnKubernetesVersion"),
    ("install azure npm on 1.29", {**NPM, "networkPolicy": "none"}, {"networkPolicy": "azure"},
     {"version": "1.29.9"}, "NetworkPolicyUpdateNotSupportedOnKubernetesVersion"),
    ("azure -> calico directly", NPM, {"networkPolicy": "calico"}, {}, "NetworkPolicyChangeNotSupported"),
    ("pod cidr change without migration", OVERLAY, {"podCidr": "192.168.0.0/16"}, {}, "PodCidrChangeNotAllowed"),
    ("node subnet -> overlay without a pod cidr (transitions.yaml: pod_cidr_required)",
     {**NPM, "networkPolicy": "none"}, {"networkPluginMode": "overlay"}, {}, "PodCidrRequiredForOverlayMigration"),
    ("pod cidr overlapping the node subnet", KUBENET,
     {"networkPlugin": "azure", "networkPluginMode": "overlay", "podCidr": "10.224.0.0/12"}, {},
     "NetworkProfileCIDROverlapVNET"),
    ("kept pod cidr overlapping the vnet", KUBENET, {"networkPlugin": "azure", "networkPluginMode": "overlay"},
     {"vnet": ["10.224.0.0/12", "10.244.0.0/16"]}, "NetworkProfileCIDROverlapVNET"),
    ("kept pod cidr in 172.30/16", {**KUBENET, "podCidr": "172.30.0.0/16"},
     {"networkPlugin": "azure", "networkPluginMode": "overlay"}, {}, "PodCidrOverlap"),
    ("pod cidr in 172.31/16", KUBENET,
     {"networkPlugin": "azure", "networkPluginMode": "overlay", "podCidr": "172.31.0.0/16"}, {}, "PodCidrOverlap"),
    ("service cidr change", NPM, {"serviceCidr": "10.1.0.0/16"}, {}, "PropertyChangeNotAllowed"),
    ("unknown policy", NPM, {"networkPolicy": "weave"}, {}, "InvalidParameter"),
    ("kubenet -> overlay + npm in one PUT (transitions.yaml: undocumented)", KUBENET,
     {"networkPlugin": "azure", "networkPluginMode": "overlay", "networkPolicy": "azure"}, {},
     "UndocumentedNetworkProfileChange"),
    ("azure cni -> byo cni (transitions.yaml: no-migration-to-byo-cni)", {**NPM, "networkPolicy": "none"},
     {"networkPlugin": "none"}, {}, "NetworkPluginChangeNotSupported"),
]


@pytest.mark.parametrize(("label", "current", "change", "kw"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_accepted_transitions(label: str, current: dict[str, Any], change: dict[str, Any],
                              kw: dict[str, Any]) -> None:
    assert check(current, change, **kw) is None


@pytest.mark.parametrize(("label", "current", "change", "kw", "code"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_transitions(label: str, current: dict[str, Any], change: dict[str, Any], kw: dict[str, Any],
                             code: str) -> None:
    assert check(current, change, **kw) == code


def test_every_code_is_exercised() -> None:
    assert {r[4] for r in REFUSED} == set(CODES)


def test_merge_and_change_detection() -> None:
    target = merge_profile(KUBENET, {"networkPlugin": "azure", "networkPluginMode": "overlay"})
    assert target["podCidr"] == "10.244.0.0/16" and target["networkDataplane"] == "azure"
    assert network_changed(KUBENET, target)
    # fields outside the reimage set (outboundType...) do not count as a network-profile change
    assert not network_changed(NPM, {**NPM, "outboundType": "userDefinedRouting"})
    # null policy == "none"; absent dataplane == azure
    assert not network_changed({"networkPlugin": "azure", "networkPolicy": None},
                               {"networkPlugin": "azure", "networkPolicy": "none", "networkDataplane": "azure"})


def test_state_from_scenario_and_409() -> None:
    st = ArmState.from_scenario({"cluster": {
        "subscription_id": "s", "resource_group": "rg", "name": "c", "location": "eastus",
        "kubernetes_version": "1.30.4", "identity": "UserAssigned",
        "network_profile": {"networkPlugin": "kubenet", "networkPolicy": None},
        "pools": [{"name": "p1", "mode": "System", "count": 2, "maxSurge": "33%"}]},
        "arm_behaviour": {"block_kubenet_calico_to_overlay": True}})
    c = st.cluster_json()
    assert c["id"] == "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c"
    assert c["properties"]["networkProfile"]["podCidr"] == "10.244.0.0/16"
    assert c["properties"]["networkProfile"]["networkPolicy"] == "none"
    assert c["properties"]["agentPoolProfiles"][0]["upgradeSettings"] == {"maxSurge": "33%"}
    assert "userAssignedIdentities" in c["identity"]
    assert st.behaviour["block_kubenet_calico_to_overlay"] is True
    etag = c["eTag"]
    op = st.start_operation("update", "cluster")
    st.set_cluster_state("Updating")
    assert st.cluster_json()["eTag"] != etag
    with pytest.raises(ArmError) as e:
        st.start_operation("update", "cluster")
    assert e.value.status == 409 and e.value.code == "OperationNotAllowed"
    assert "Another operation (Updating) is in progress" in e.value.message
    st.finish_operation(op, "Failed", {"code": "X", "message": "m"})
    assert st.cluster_json()["properties"]["provisioningState"] == "Failed"
    assert op.to_json()["error"] == {"code": "X", "message": "m"}


def test_merge_keeps_the_other_family_of_a_dual_stack_pod_cidr() -> None:
    dual = {**KUBENET, "podCidrs": ["10.244.0.0/16", "fd12:3456:789a::/64"]}
    target = merge_profile(dual, {"networkPlugin": "azure", "networkPluginMode": "overlay",
                                  "podCidr": "192.168.0.0/16"})
    assert target["podCidrs"] == ["192.168.0.0/16", "fd12:3456:789a::/64"]
