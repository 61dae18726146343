"""The journey planner on every start state the model knows, and its ordering as a property."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmig.journey.planner import JourneyPlan, explain, plan_journey, window_of
from netmig.model.profiles import ProfileState, Transition, all_states, judge, transitions
from netmig.model.transition_rules import load_rules

P = ProfileState.parse
GOAL = P("overlay-cilium")

# start -> (route, unenforced reimages, reimages, route if the uncertain stage is refused or None)
TO_OVERLAY_CILIUM: dict[str, tuple[str, int, int, str | None]] = {
    "kubenet": ("kubenet -> overlay -> overlay-cilium", 0, 2, None),
    "kubenet-calico": ("kubenet-calico -> overlay-calico -> overlay-cilium", 1, 2,
                       "kubenet-calico -> kubenet -> overlay -> overlay-cilium"),
    "azure-cni": ("azure-cni -> overlay -> overlay-cilium", 0, 2, None),
    "azure-cni-npm": ("azure-cni-npm -> azure-cni-cilium -> overlay-cilium", 1, 2, None),
    "azure-cni-calico": ("azure-cni-calico -> azure-cni-cilium -> overlay-cilium", 1, 2, None),
    "azure-cni-cilium": ("azure-cni-cilium -> overlay-cilium", 0, 1, None),
    "overlay": ("overlay -> overlay-cilium", 0, 1, None),
    "overlay-npm": ("overlay-npm -> overlay-cilium", 1, 1, None),
    "overlay-calico": ("overlay-calico -> overlay-cilium", 1, 1, None),
    "overlay-cilium": ("overlay-cilium", 0, 0, None),
}


def test_the_table_covers_every_start_state_the_model_knows() -> None:
    assert set(TO_OVERLAY_CILIUM) | {"byo-cni"} == {s.name for s in all_states()}


@pytest.mark.parametrize("start", sorted(TO_OVERLAY_CILIUM))
def test_every_start_to_overlay_cilium(start: str) -> None:
    route, window, reimages, fallback = TO_OVERLAY_CILIUM[start]
    plan = plan_journey(P(start), GOAL)
    assert plan.path is not None and plan.unreachable is None
    assert plan.path.route() == route
    assert plan.window.reimages == window
    assert not plan.window.open_at_end
    assert plan.reimages == reimages == len(plan.stages)
    if fallback is None:
        assert plan.if_refused is None
    else:
        assert plan.if_refused is not None and plan.if_refused.path is not None
        assert plan.if_refused.path.route() == fallback


def _rejected_paths(plan: JourneyPlan) -> dict[str, str]:
    return {r.path.route(): r.why for r in plan.rejected if r.path is not None}


def _refused(plan: JourneyPlan) -> dict[str, set[str]]:
    return {f"{r.verdict.source.name} -> {r.verdict.target.name}": {x.code for x in r.verdict.reasons}
            for r in plan.rejected if r.verdict is not None and r.why == "refused"}


def test_npm_node_subnet_swaps_to_cilium_first_because_overlay_needs_the_engine_gone() -> None:
    plan = plan_journey(P("azure-cni-npm"), GOAL)
    assert [(t.rule, t.kind, t.window) for t in plan.stages] == [
        ("engine-to-cilium", "npm-to-cilium", "one-reimage"),
        ("azure-cni-to-overlay", "azure-cni-to-overlay", "none")]
    assert plan.window.stages == (1,)
    assert _rejected_paths(plan) == {
        "azure-cni-npm -> azure-cni -> azure-cni-cilium -> overlay-cilium": "longer-window",
        "azure-cni-npm -> azure-cni -> overlay -> overlay-cilium": "longer-window",
        "azure-cni-npm -> azure-cni -> azure-cni-calico -> azure-cni-cilium -> overlay-cilium": "longer-window",
        "azure-cni-npm -> azure-cni -> overlay -> overlay-calico -> overlay-cilium": "longer-window",
        "azure-cni-npm -> azure-cni -> overlay -> overlay-npm -> overlay-cilium": "longer-window",
    }
    refused = _refused(plan)
    assert refused["azure-cni-npm -> overlay-npm"] == {"OverlayMigrationWithNetworkPolicyNotSupported"}
    assert refused["azure-cni-npm -> overlay-cilium"] == {"IPAMModeAndDataplaneUpdateNotAllowed",
                                                         "OverlayMigrationWithNetworkPolicyNotSupported"}


def test_kubenet_calico_goes_direct_and_names_its_fallback() -> None:
    plan = plan_journey(P("kubenet-calico"), GOAL)
    first, second = plan.stages
    assert (first.rule, first.kind, first.uncertain) == ("kubenet-calico-to-overlay-calico", "kubenet-to-overlay", True)
    assert (second.rule, second.window) == ("engine-to-cilium", "one-reimage")
    assert _rejected_paths(plan)["kubenet-calico -> kubenet -> overlay -> overlay-cilium"] == "longer-window"
    assert _refused(plan)["kubenet-calico -> overlay-cilium"] == {"IPAMModeAndDataplaneUpdateNotAllowed",
                                                                 "CiliumDataplaneRequiresAzureCNI"}
    fallback = plan.if_refused
    assert fallback is not None and fallback.path is not None
    assert fallback.refused_rules == {"kubenet-calico-to-overlay-calico"}
    assert (fallback.window.reimages, fallback.reimages, fallback.window.stages) == (3, 3, (1, 2, 3))
    assert [t.kind for t in fallback.stages] == ["uninstall", "kubenet-to-overlay", "npm-to-cilium"]
    assert any(r.why == "refused" and "taken as refused (KubenetCalicoToOverlayMigrationNotSupported)" in r.text
               for r in fallback.rejected)


def test_equal_paths_are_a_tie_decided_by_rule_id() -> None:
    plan = plan_journey(P("azure-cni"), GOAL)
    assert _rejected_paths(plan)["azure-cni -> azure-cni-cilium -> overlay-cilium"] == "tie"
    assert _rejected_paths(plan)["azure-cni -> overlay -> overlay-npm -> overlay-cilium"] == "longer-window"


def test_nothing_to_do_and_no_way_from_byo_cni() -> None:
    here = plan_journey(GOAL, GOAL)
    assert here.path is not None and here.stages == () and here.rejected == ()
    assert explain(here) == ["Journey overlay-cilium (Azure CNI Overlay + Cilium) -> overlay-cilium "
                             "(Azure CNI Overlay + Cilium): already there; nothing to do."]
    byo = plan_journey(P("byo-cni"), GOAL)
    assert byo.path is None
    assert byo.unreachable is not None and "NetworkPluginChangeNotSupported" in byo.unreachable
    assert {r.why for r in byo.rejected} == {"refused"}


@pytest.mark.parametrize(("start", "goal", "route", "window", "reimages", "open_at_end"), [
    # removing the engine is the goal: the window stays open at the end
    ("azure-cni-npm", "overlay", "azure-cni-npm -> azure-cni -> overlay", 2, 2, True),
    # overlay + Calico from kubenet + Calico: direct, or (refused) the kubenet-to-overlay fallback's three updates
    ("kubenet-calico", "overlay-calico", "kubenet-calico -> overlay-calico", 0, 1, False),
    ("azure-cni-calico", "azure-cni-cilium", "azure-cni-calico -> azure-cni-cilium", 1, 1, False),
    ("azure-cni-npm", "overlay-calico", "azure-cni-npm -> azure-cni -> overlay -> overlay-calico", 3, 3, False),
])
def test_other_goals(start: str, goal: str, route: str, window: int, reimages: int, open_at_end: bool) -> None:
    plan = plan_journey(P(start), P(goal))
    assert plan.path is not None and plan.path.route() == route
    assert (plan.window.reimages, plan.reimages, plan.window.open_at_end) == (window, reimages, open_at_end)


def test_the_kubenet_calico_fallback_to_overlay_calico_is_the_templates_fallback_variant() -> None:
    fallback = plan_journey(P("kubenet-calico"), P("overlay-calico")).if_refused
    assert fallback is not None and fallback.path is not None
    assert fallback.path.route() == "kubenet-calico -> kubenet -> overlay -> overlay-calico"
    assert (fallback.window.reimages, fallback.reimages) == (3, 3)
    assert fallback.stages[-1].kind == "install-policy" and not fallback.stages[-1].kind_exists


def test_unreachable_goals_say_why() -> None:
    plan = plan_journey(P("overlay-cilium"), P("overlay-npm"))
    assert plan.path is None
    assert plan.unreachable is not None and "CiliumDataplaneDowngradeNotSupported" in plan.unreachable


def test_explain_states_route_window_stages_fallback_and_rejections() -> None:
    lines = explain(plan_journey(P("kubenet-calico"), GOAL))
    text = "\n".join(lines)
    assert lines[0].startswith("Journey kubenet-calico (kubenet + Calico) -> overlay-cilium (Azure CNI Overlay + "
                               "Cilium): 2 stage(s), 2 reimage(s), NetworkPolicies unenforced for 1 reimage(s)")
    assert "route: kubenet-calico -> overlay-calico -> overlay-cilium" in text
    assert "AKS MAY REFUSE this update (KubenetCalicoToOverlayMigrationNotSupported)" in text
    assert "If AKS refuses kubenet-calico-to-overlay-calico: kubenet-calico -> kubenet -> overlay -> overlay-cilium" \
        in text
    assert "its template does not accept" not in text
    assert "Rejected:" in text and "kubenet-calico -> overlay-cilium in one update: AKS refuses" in text
    assert all("\n" not in line for line in lines)


def test_explain_says_pod_cidr_and_missing_templates() -> None:
    text = "\n".join(explain(plan_journey(P("azure-cni-npm"), GOAL)))
    assert "kind azure-cni-to-overlay]" in text and "no template yet" not in text
    assert "pod CIDR required (--pod-cidr)" in text
    impossible = explain(plan_journey(P("byo-cni"), GOAL))
    assert ": impossible: no sequence of documented AKS network-profile updates" in impossible[0]


def test_plans_are_deterministic() -> None:
    for start in all_states():
        a, b = plan_journey(start, GOAL), plan_journey(start, GOAL)
        assert a == b and explain(a) == explain(b)


# --- property: the chosen path is valid and nothing valid is strictly better -------------------------------------

STATES = all_states()
MAY_REFUSE = sorted(r.id for r in load_rules().transitions if r.verdict == "may-refuse")
BRUTE_DEPTH = 6  # longer than any simple path the planner needs, and cycles allowed: a brute force of its own


def _all_sequences(start: ProfileState, goal: ProfileState, refused: frozenset[str]) -> list[tuple[Transition, ...]]:
    """Every sequence (cycles allowed) of journey transitions up to BRUTE_DEPTH stages from start to goal."""
    out: list[tuple[Transition, ...]] = []
    frontier: list[tuple[ProfileState, tuple[Transition, ...]]] = [(start, ())]
    for _ in range(BRUTE_DEPTH + 1):
        nxt = []
        for state, seq in frontier:
            if state == goal:
                out.append(seq)
            for t in transitions(state):
                if t.journey and t.rule not in refused:
                    nxt.append((t.target, (*seq, t)))
        frontier = nxt
    return out


@settings(max_examples=150, deadline=None)
@given(start=st.sampled_from(STATES), goal=st.sampled_from(STATES),
       refused=st.frozensets(st.sampled_from(MAY_REFUSE)))
def test_property_chosen_path_is_valid_and_no_valid_path_is_strictly_better(
        start: ProfileState, goal: ProfileState, refused: frozenset[str]) -> None:
    plan = plan_journey(start, goal, refused_rules=refused)
    sequences = _all_sequences(start, goal, refused)
    if plan.path is None:
        assert sequences == []
        assert plan.unreachable
        return
    state = start
    for t in plan.stages:  # only transitions the model allows, chained
        assert t.source == state and t.journey and t.rule not in refused
        verdict = judge(t.source, t.target)
        assert verdict.status in ("allowed", "may-refuse")
        assert t.rule in {x.rule for x in verdict.transitions}
        state = t.target
    assert state == goal
    best = (plan.window.reimages, plan.reimages)
    for seq in sequences:
        w = window_of(seq)
        assert (w.reimages, sum(t.reimages for t in seq)) >= best, [t.rule for t in seq]
    # every rejected path is valid and not better than the chosen one
    for r in plan.rejected:
        if r.path is not None:
            assert r.path.key > plan.path.key


def test_the_journey_package_is_pure_and_imports_nothing_above_the_model() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "netmig" / "journey"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top in ("__future__", "dataclasses") or name.startswith("netmig.model"), (path.name, name)


def test_stages_say_which_fields_they_set() -> None:
    plan = plan_journey(P("azure-cni-npm"), GOAL)
    assert [t.changes for t in plan.stages] == [{"dataplane": "cilium", "policy": "cilium"},
                                                {"plugin_mode": "overlay"}]


def test_with_equal_windows_the_fewest_reimages_win() -> None:
    """A rule book where neither uninstalling nor swapping an engine leaves a window: the paths through policy none
    are then rejected for their extra reimages alone."""
    import yaml

    from netmig.model.transition_rules import rules_text

    doc = yaml.safe_load(rules_text())
    for t in doc["transitions"]:
        if t["id"] in ("uninstall-engine", "engine-to-cilium"):
            t["window"] = "none"
    rules = load_rules(yaml.safe_dump(doc))
    plan = plan_journey(P("azure-cni-npm"), GOAL, rules=rules)
    assert plan.path is not None and plan.path.route() == "azure-cni-npm -> azure-cni-cilium -> overlay-cilium"
    assert plan.window.reimages == 0
    assert _rejected_paths(plan)["azure-cni-npm -> azure-cni -> overlay -> overlay-cilium"] == "more-reimages"
