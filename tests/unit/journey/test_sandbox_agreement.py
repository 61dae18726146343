"""Every pair of profiles: the sandbox's ARM validation against the model (transitions.yaml).

The sandbox's ARM validation reads the same transitions.yaml (netmig_sandbox/arm/profile_rules.py, by path, without
importing netmig), so it refuses exactly the transitions the model refuses: one test enumerates every ordered pair
of valid profiles, with the kubenet+Calico -> overlay refusal both off and on.
"""

from __future__ import annotations

from typing import Any

import pytest

from netmig.model.profiles import ProfileState, all_states, judge
from netmig_sandbox.arm.state import ArmError
from netmig_sandbox.arm.validation import validate_network_update

PAIRS = [(a, b) for a in all_states() for b in all_states() if a != b]


def _arm(s: ProfileState) -> dict[str, Any]:
    d: dict[str, Any] = {"networkPlugin": s.plugin, "networkPolicy": s.policy, "networkDataplane": s.dataplane}
    if s.plugin_mode == "overlay":
        d["networkPluginMode"] = "overlay"
    if s.needs_pod_cidr:
        d["podCidr"] = "192.168.0.0/16"
    return d


def _sandbox(a: ProfileState, b: ProfileState, block_kubenet_calico: bool) -> str | None:
    try:
        validate_network_update(_arm(a), _arm(b), kubernetes_version="1.31.0", pools=[{"name": "np1"}],
                                behaviour={"block_kubenet_calico_to_overlay": block_kubenet_calico})
    except ArmError as e:
        return e.code
    return None


@pytest.mark.parametrize("block", [False, True], ids=["direct-allowed", "kubenet-calico-blocked"])
def test_the_sandbox_refuses_exactly_what_the_model_refuses(block: bool) -> None:
    disagree = []
    for a, b in PAIRS:
        verdict = judge(a, b)
        code = _sandbox(a, b, block)
        if verdict.status == "may-refuse":
            expected = {verdict.transitions[0].refusal.code} if block and verdict.transitions[0].refusal else {None}
            ok = code in expected
        elif verdict.status == "allowed":
            ok = code is None
        else:
            ok = code in {r.code for r in verdict.reasons}
        if not ok:
            disagree.append(f"{a.name} -> {b.name}: model {verdict.status} {verdict.code}, sandbox {code}")
    assert disagree == []


def test_every_pair_is_enumerated() -> None:
    names = [s.name for s in all_states()]
    assert len(PAIRS) == len(names) * (len(names) - 1)
    assert {"kubenet-calico", "azure-cni-npm", "azure-cni-calico", "overlay-cilium", "byo-cni"} <= set(names)


def test_the_sandbox_reads_the_products_rules_file_by_path() -> None:
    from netmig.model import transition_rules
    from netmig_sandbox.arm.profile_rules import rules_path

    assert rules_path().read_text(encoding="utf-8") == transition_rules.rules_text()


def _sandbox_put(a: ProfileState, requested: dict[str, Any]) -> str | None:
    """The sandbox's verdict on a PUT sending ``requested`` to a cluster at ``a`` (merged the way its ARM merges)."""
    from netmig_sandbox.arm.validation import merge_profile

    current = _arm(a)
    try:
        validate_network_update(current, merge_profile(current, requested), kubernetes_version="1.31.0",
                                pools=[{"name": "np1"}], behaviour={})
    except ArmError as e:
        return e.code
    return None


def test_a_put_without_a_pod_cidr_is_refused_exactly_where_the_model_requires_one() -> None:
    """Every allowed pair sent WITHOUT a pod CIDR: refused with the rules' ``pod_cidr_required`` code exactly when
    the model's transition says ``pod_cidr: required`` (node subnet -> overlay); accepted otherwise (kubenet keeps its
    own pod CIDR, and no other change needs one)."""
    from netmig.model.transition_rules import load_rules

    need = load_rules().pod_cidr_required
    assert need is not None and need.code == "PodCidrRequiredForOverlayMigration"
    assert need.source.url.startswith("https://learn.microsoft.com/azure/aks/update-azure-cni")
    required = []
    disagree = []
    for a, b in PAIRS:
        verdict = judge(a, b)
        if verdict.status not in ("allowed", "may-refuse"):
            continue
        requested = {k: v for k, v in _arm(b).items() if k not in ("podCidr", "podCidrs")}
        code = _sandbox_put(a, requested)
        wants = need.code if verdict.transitions[0].pod_cidr == "required" else None
        if wants:
            required.append(f"{a.name} -> {b.name}")
            assert _sandbox_put(a, _arm(b)) is None, f"{a.name} -> {b.name} with a pod CIDR"
        if code != wants:
            disagree.append(f"{a.name} -> {b.name}: model wants {wants}, sandbox {code}")
    assert disagree == []
    assert "azure-cni -> overlay" in required and "azure-cni-cilium -> overlay-cilium" in required
