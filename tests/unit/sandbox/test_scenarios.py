"""Scenario files: ``base`` variants, the migration scenarios built to fail preflight, the VNet model."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmig_sandbox import scenarios
from netmig_sandbox.arm.network import VirtualNetwork
from netmig_sandbox.arm.state import ArmState

FAILING = {
    "kubenet-calico-k126": "OverlayMigrationRequiresKubernetesVersion",
    "kubenet-overlap": "NetworkProfileCIDROverlapVNET",
    "npm-windows": "CiliumWindowsNodePoolsNotSupported",
    "kubenet-calico-blocked": "KubenetCalicoToOverlayMigrationNotSupported",
    "managed-calico-addon": "addonmanager.kubernetes.io/mode",
    "kubenet-system-identity": "SystemAssigned",
}


def test_every_migration_scenario_loads_and_describes_itself() -> None:
    for name in FAILING:
        sc = scenarios.load(name)
        assert sc["name"] == name and sc["base"]
        assert len(sc["description"]) > 80 and sc["description"] != scenarios.load(sc["base"])["description"]
        assert sc["objects"] == scenarios.load(sc["base"])["objects"]  # workloads inherited


def test_variants_override_what_they_say() -> None:
    assert scenarios.load("kubenet-calico-k126")["cluster"]["kubernetes_version"] == "1.26.12"
    assert scenarios.load("kubenet-calico-k126")["cluster"]["pools"][0]["orchestratorVersion"] == "1.26.12"
    assert scenarios.load("kubenet-calico-blocked")["arm_behaviour"] == {"block_kubenet_calico_to_overlay": True}
    assert scenarios.load("kubenet-system-identity")["cluster"]["identity"] == "SystemAssigned"
    assert scenarios.load("managed-calico-addon")["calico_addon_annotations"] is True
    assert scenarios.load("managed-calico")["calico_apiserver"] is True
    win = scenarios.load("npm-windows")["cluster"]["pools"]
    assert [(p["name"], p["osType"]) for p in win] == [("system", "Linux"), ("user", "Linux"), ("npwin", "Windows")]
    overlap = scenarios.load("kubenet-overlap")["cluster"]
    assert overlap["network_profile"]["networkPlugin"] == "kubenet"  # merged, not replaced
    assert overlap["vnet"]["cidr"] == ["10.224.0.0/12", "10.244.0.0/16"]


def test_base_chain_merges_mappings_and_detects_cycles(tmp_path: Path) -> None:
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("base: kubenet-calico\ndescription: a\ncluster: {network_profile: {podCidr: 192.168.0.0/16}}\n")
    b.write_text("base: a.yaml\ndescription: b\ncluster: {name: bee}\n")
    sc = scenarios.load(str(b))
    assert sc["name"] == "b" and sc["cluster"]["name"] == "bee"
    assert sc["cluster"]["network_profile"] == {**scenarios.load("kubenet-calico")["cluster"]["network_profile"],
                                                "podCidr": "192.168.0.0/16"}
    a.write_text("base: b.yaml\ncluster: {}\n")
    with pytest.raises(scenarios.ScenarioError, match="cycle"):
        scenarios.load(str(b))
    (tmp_path / "c.yaml").write_text("base: nope\ncluster: {}\n")
    with pytest.raises(scenarios.ScenarioError, match="neither a built-in"):
        scenarios.load(str(tmp_path / "c.yaml"))


def test_managed_vnet_is_in_the_node_resource_group_without_pool_subnet_ids() -> None:
    st = ArmState.from_scenario(scenarios.load("kubenet-calico"))
    net = st.network
    assert isinstance(net, VirtualNetwork) and not net.byo
    assert net.resource_group == st.cluster_json()["properties"]["nodeResourceGroup"]
    assert all("vnetSubnetID" not in p for p in st.cluster_json()["properties"]["agentPoolProfiles"])
    vnet = net.vnet_json()
    assert vnet["properties"]["addressSpace"]["addressPrefixes"] == ["10.224.0.0/12"]
    subnet = net.subnet_json("aks-subnet")
    assert subnet["properties"]["addressPrefix"] == "10.224.0.0/16"
    assert subnet["properties"]["routeTable"]["id"].endswith("/routeTables/aks-agentpool-12345678-routetable")
    net.after_reimage({"networkPlugin": "azure", "networkPluginMode": "overlay"})
    assert "routeTable" not in net.subnet_json("aks-subnet")["properties"]  # AKS's own route table is gone


def test_byo_vnet_pools_carry_the_subnet_id_and_byo_route_table_stays() -> None:
    st = ArmState.from_scenario(scenarios.load("kubenet-overlap"))
    net = st.network
    pools = st.cluster_json()["properties"]["agentPoolProfiles"]
    assert {p["vnetSubnetID"] for p in pools} == {net.node_subnet_id}
    assert net.node_subnet_id.endswith("/resourceGroups/rg-network/providers/Microsoft.Network/virtualNetworks/"
                                       "vnet-spoke/subnets/snet-aks")
    peering = net.vnet_json()["properties"]["virtualNetworkPeerings"][0]
    assert peering["properties"]["remoteAddressSpace"]["addressPrefixes"] == ["10.100.0.0/16"]
    net.after_reimage({"networkPlugin": "azure", "networkPluginMode": "overlay"})
    assert net.subnet_json("snet-aks")["properties"]["routeTable"]["id"].endswith("/routeTables/rt-aks")
    usages = net.usages_json({"snet-aks": 6})["value"]
    assert [(u["currentValue"], u["limit"]) for u in usages] == [(6, 65531), (0, 251)]


def test_bad_vnet_definitions_are_refused() -> None:
    base = scenarios.load("kubenet-calico")["cluster"]
    with pytest.raises(ValueError, match=r"must be 10\.224\.0\.0/16"):
        VirtualNetwork.from_scenario({**base, "vnet": {"subnets": {"s": "10.230.0.0/16"}}}, "s", "mc", "x")
    with pytest.raises(ValueError, match="outside the VNet"):
        VirtualNetwork.from_scenario({**base, "vnet": {"cidr": "10.224.0.0/16", "subnets": {
            "aks-subnet": "10.224.0.0/16", "other": "10.9.0.0/24"}}}, "s", "mc", "x")


def test_dual_stack_profile_exposes_both_families() -> None:
    sc = scenarios.load("kubenet-calico")
    sc["cluster"]["network_profile"].update(ipFamilies=["IPv4", "IPv6"],
                                            podCidrs=["10.244.0.0/16", "fd12:3456:789a::/64"],
                                            serviceCidrs=["10.0.0.0/16", "fd12:3456:789a:1::/108"])
    profile = ArmState.from_scenario(sc).cluster_json()["properties"]["networkProfile"]
    assert profile["ipFamilies"] == ["IPv4", "IPv6"]
    assert profile["podCidrs"] == ["10.244.0.0/16", "fd12:3456:789a::/64"]
    assert profile["serviceCidrs"] == ["10.0.0.0/16", "fd12:3456:789a:1::/108"]
