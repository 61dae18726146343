"""The network-profile state model and what one AKS update may do (netmig.model.profiles over transitions.yaml)."""

from __future__ import annotations

import pytest

from netmig.model.cluster import NetworkProfile
from netmig.model.profiles import ProfileState, all_states, judge, transitions

P = ProfileState.parse
KNOWN = ["kubenet", "kubenet-calico", "azure-cni", "azure-cni-npm", "azure-cni-calico", "azure-cni-cilium", "overlay",
         "overlay-npm", "overlay-calico", "overlay-cilium", "byo-cni"]


def test_the_model_knows_exactly_the_profiles_aks_accepts() -> None:
    assert [s.name for s in all_states()] == KNOWN
    assert P("kubenet-calico") == ProfileState("kubenet", "none", "azure", "calico")
    assert P("overlay-cilium") == ProfileState("azure", "overlay", "cilium", "cilium")
    assert [s.name for s in all_states() if s.needs_pod_cidr] == [
        "kubenet", "kubenet-calico", "overlay", "overlay-npm", "overlay-calico", "overlay-cilium"]


def test_parse_names_the_known_profiles_when_it_does_not_know_one() -> None:
    with pytest.raises(ValueError, match=r"unknown network profile 'kubenet-cilium'; known profiles: kubenet, "):
        P("kubenet-cilium")


def test_from_network_reads_a_clusters_network_profile() -> None:
    assert ProfileState.from_network(NetworkProfile(plugin="kubenet", policy="calico")).name == "kubenet-calico"
    assert ProfileState.from_network(NetworkProfile.from_arm({"networkPlugin": "azure", "networkPolicy": "azure"})) \
        == P("azure-cni-npm")
    assert ProfileState.from_network(NetworkProfile.from_arm({
        "networkPlugin": "azure", "networkPluginMode": "overlay", "networkPolicy": "cilium",
        "networkDataplane": "cilium"})) == P("overlay-cilium")


@pytest.mark.parametrize(("src", "dst", "code"), [
    # IPAM mode and dataplane can't change in one PUT
    ("azure-cni-npm", "overlay-cilium", "IPAMModeAndDataplaneUpdateNotAllowed"),
    ("azure-cni", "overlay-cilium", "IPAMModeAndDataplaneUpdateNotAllowed"),
    # a node-subnet cluster with a policy engine can't go to overlay until the engine is removed
    ("azure-cni-npm", "overlay-npm", "OverlayMigrationWithNetworkPolicyNotSupported"),
    ("azure-cni-calico", "overlay-calico", "OverlayMigrationWithNetworkPolicyNotSupported"),
    ("azure-cni-calico", "overlay", "OverlayMigrationWithNetworkPolicyNotSupported"),
    # kubenet can't go to Cilium directly
    ("kubenet", "overlay-cilium", "IPAMModeAndDataplaneUpdateNotAllowed"),
    # one engine to another goes through none
    ("azure-cni-npm", "azure-cni-calico", "NetworkPolicyChangeNotSupported"),
    ("overlay-calico", "overlay-npm", "NetworkPolicyChangeNotSupported"),
    # one-way changes
    ("overlay", "azure-cni", "OverlayMigrationNotReversible"),
    ("overlay", "kubenet", "OverlayMigrationNotReversible"),
    ("azure-cni", "kubenet", "AzureCNIToKubenetMigrationNotSupported"),
    ("kubenet", "azure-cni", "KubenetToAzureCNIRequiresOverlay"),
    ("overlay-cilium", "overlay", "CiliumDataplaneDowngradeNotSupported"),
    ("overlay-cilium", "overlay-npm", "CiliumDataplaneDowngradeNotSupported"),
    ("byo-cni", "overlay", "NetworkPluginChangeNotSupported"),
    ("kubenet", "byo-cni", "NetworkPluginChangeNotSupported"),
])
def test_aks_refuses_these_single_updates_with_their_arm_code(src: str, dst: str, code: str) -> None:
    verdict = judge(P(src), P(dst))
    assert verdict.status == "refused"
    assert code in {r.code for r in verdict.reasons}
    assert all(r.url.startswith("https://") for r in verdict.reasons)


def test_kubenet_to_cilium_names_both_reasons() -> None:
    codes = [r.code for r in judge(P("kubenet-calico"), P("overlay-cilium")).reasons]
    assert codes == ["IPAMModeAndDataplaneUpdateNotAllowed", "CiliumDataplaneRequiresAzureCNI"]


def test_an_invalid_target_profile_is_refused_by_its_constraint() -> None:
    verdict = judge(P("overlay-npm"), ProfileState("azure", "overlay", "cilium", "azure"))
    assert verdict.status == "refused"
    assert verdict.code == "CiliumDataplaneRequiresNetworkPolicyCilium"
    assert judge(P("overlay"), ProfileState("azure", "overlay", "azure", "cilium")).code == \
        "NetworkPolicyCiliumRequiresCiliumDataplane"


def test_combined_changes_aks_does_not_document_are_undocumented_not_allowed() -> None:
    verdict = judge(P("kubenet-calico"), P("overlay"))
    assert verdict.status == "undocumented"
    assert verdict.code == "UndocumentedNetworkProfileChange"
    assert judge(P("azure-cni"), P("overlay-npm")).status == "undocumented"


def _table(state: str) -> list[tuple[str, str, str, str, int, str]]:
    return [(t.target.name, t.rule, t.verdict, t.kind, t.reimages, t.window) for t in transitions(P(state))]


def test_transitions_from_every_known_state() -> None:
    assert {s: _table(s) for s in KNOWN} == {
        "kubenet": [
            ("overlay", "kubenet-to-overlay", "allowed", "kubenet-to-overlay", 1, "none"),
            ("kubenet-calico", "install-calico", "allowed", "install-policy", 1, "none")],
        "kubenet-calico": [
            ("overlay-calico", "kubenet-calico-to-overlay-calico", "may-refuse", "kubenet-to-overlay", 1, "none"),
            ("kubenet", "uninstall-engine", "allowed", "uninstall", 1, "until-later-stage")],
        "azure-cni": [
            ("overlay", "azure-cni-to-overlay", "allowed", "azure-cni-to-overlay", 1, "none"),
            ("azure-cni-cilium", "cilium-on-unenforced", "allowed", "npm-to-cilium", 1, "none"),
            ("azure-cni-npm", "install-npm", "allowed", "install-policy", 1, "none"),
            ("azure-cni-calico", "install-calico", "allowed", "install-policy", 1, "none")],
        "azure-cni-npm": [
            ("azure-cni-cilium", "engine-to-cilium", "allowed", "npm-to-cilium", 1, "one-reimage"),
            ("azure-cni", "uninstall-engine", "allowed", "uninstall", 1, "until-later-stage")],
        "azure-cni-calico": [
            ("azure-cni-cilium", "engine-to-cilium", "allowed", "npm-to-cilium", 1, "one-reimage"),
            ("azure-cni", "uninstall-engine", "allowed", "uninstall", 1, "until-later-stage"),
            ("azure-cni", "calico-to-self-managed", "allowed", "calico-to-self-managed", 1, "one-reimage")],
        "azure-cni-cilium": [
            ("overlay-cilium", "azure-cni-to-overlay", "allowed", "azure-cni-to-overlay", 1, "none")],
        "overlay": [
            ("overlay-cilium", "cilium-on-unenforced", "allowed", "npm-to-cilium", 1, "none"),
            ("overlay-npm", "install-npm", "allowed", "install-policy", 1, "none"),
            ("overlay-calico", "install-calico", "allowed", "install-policy", 1, "none")],
        "overlay-npm": [
            ("overlay-cilium", "engine-to-cilium", "allowed", "npm-to-cilium", 1, "one-reimage"),
            ("overlay", "uninstall-engine", "allowed", "uninstall", 1, "until-later-stage")],
        "overlay-calico": [
            ("overlay-cilium", "engine-to-cilium", "allowed", "npm-to-cilium", 1, "one-reimage"),
            ("overlay", "uninstall-engine", "allowed", "uninstall", 1, "until-later-stage"),
            ("overlay", "calico-to-self-managed", "allowed", "calico-to-self-managed", 1, "one-reimage")],
        "overlay-cilium": [],
        "byo-cni": [],
    }


def test_transition_details_the_journey_needs() -> None:
    [to_overlay] = [t for t in transitions(P("azure-cni-cilium"))]
    assert (to_overlay.pod_cidr, to_overlay.irreversible, to_overlay.kind_exists) == ("required", True, True)
    assert "no dynamic pod IP allocation (pod subnet)" in [p.text for p in to_overlay.preconditions]
    direct = transitions(P("kubenet-calico"))[0]
    assert direct.uncertain and direct.refusal is not None
    assert direct.refusal.code == "KubenetCalicoToOverlayMigrationNotSupported"
    assert direct.pod_cidr == "optional"
    # the npm-to-cilium template accepts any Azure CNI on the azure dataplane (NPM, Calico or no engine)
    swap = transitions(P("overlay-calico"))[0]
    assert swap.kind == "npm-to-cilium" and swap.template_covers
    assert transitions(P("azure-cni-npm"))[0].template_covers
    self_managed = transitions(P("overlay-calico"))[2]
    assert not self_managed.journey


def test_every_transition_changes_what_its_rule_says_and_every_pair_has_one_verdict() -> None:
    for src in all_states():
        for dst in all_states():
            verdict = judge(src, dst)
            assert verdict.status in ("allowed", "may-refuse", "refused", "undocumented")
            if src == dst:
                assert verdict.status == "allowed" and not verdict.transitions
            elif verdict.status in ("allowed", "may-refuse"):
                assert verdict.transitions and not verdict.reasons
                assert all(t.source == src and t.target == dst for t in verdict.transitions)
            else:
                assert verdict.reasons and not verdict.transitions
