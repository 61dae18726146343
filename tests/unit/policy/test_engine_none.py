"""The ``none`` engine (AKS network policy none): NetworkPolicies exist but nothing enforces them."""

from __future__ import annotations

from netmig.policy import (
    ENGINE_NAMES,
    analyze,
    class_reachability,
    compute_classes,
    from_objects,
    get_engine,
    naive_matrix,
)
from tests.unit.policy.helpers import can, netpol, node, ns, pod

OBJS = [ns("x"), node("n1"), node("n2"),
        pod("a", labels={"app": "a"}, ip="10.0.0.1"), pod("b", labels={"app": "b"}, ip="10.0.0.2", node="n2"),
        netpol("deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})]


def test_none_is_a_known_engine_that_enforces_nothing() -> None:
    assert "none" in ENGINE_NAMES
    eng = get_engine("none")
    assert eng.name == "none" and eng.label == "none" and not eng.enforces
    assert all(get_engine(n).enforces for n in ENGINE_NAMES if n != "none")


def test_policies_are_ignored_by_the_pair_and_the_class_path() -> None:
    assert not can(OBJS, "x/a", "x/b", engine="calico")
    assert can(OBJS, "x/a", "x/b", engine="none")  # ``can`` also asserts the class path agrees
    cluster = from_objects(OBJS)
    eng = get_engine("none")
    m = class_reachability(cluster, eng, compute_classes(cluster, [get_engine("calico"), eng]))
    assert all(ok for *_, ok in m.expand())
    assert all(naive_matrix(cluster, eng).values())


def test_analysis_to_none_attributes_every_newly_allowed_cell_to_the_policy() -> None:
    found = [f for f in analyze(OBJS, "calico", "none") if f.rule == "connectivity-change"]
    assert [f.name for f in found] == ["deny-all"]
    assert not [f for f in analyze(OBJS, "none", "none") if f.rule == "connectivity-change"]
