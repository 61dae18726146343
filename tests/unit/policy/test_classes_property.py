"""Property: reachability through equivalence classes equals the naive per-pair evaluation."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netmig.policy import class_reachability, compute_classes, diff, from_objects, get_engine, naive_matrix
from tests.unit.policy.strategies import cluster_objects

ENGINES = [get_engine("spec"), get_engine("npm"), get_engine("cilium"), get_engine("cilium", "1.16"),
           get_engine("calico")]


def _expanded(objs: list[dict[str, Any]], engine_idx: int, shared: bool, ports: Any = None) -> None:
    cluster = from_objects(objs)
    engine = ENGINES[engine_idx]
    classes = compute_classes(cluster, ENGINES if shared else [engine])
    m = class_reachability(cluster, engine, classes, ports)
    got = {(s.key, d.key, p, q): ok for s, d, p, q, ok in m.expand()}
    want = naive_matrix(cluster, engine, ports)
    assert got == want


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_objects(), st.integers(0, len(ENGINES) - 1), st.booleans())
def test_class_reachability_equals_naive_on_declared_ports(objs: list[dict[str, Any]], e: int, shared: bool) -> None:
    _expanded(objs, e, shared)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_objects(), st.integers(0, len(ENGINES) - 1))
def test_class_reachability_equals_naive_on_fixed_ports(objs: list[dict[str, Any]], e: int) -> None:
    _expanded(objs, e, False, [(80, "TCP"), (81, "UDP"), (53, "SCTP"), (9999, "TCP")])


@settings(max_examples=60, deadline=None)
@given(cluster_objects())
def test_pods_in_one_class_are_indistinguishable(objs: list[dict[str, Any]]) -> None:
    cluster = from_objects(objs)
    classes = compute_classes(cluster, ENGINES)
    for c in classes.classes:
        assert {m.served_ports() for m in c.members} == {c.served}
        assert len({m.host_network for m in c.members}) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_objects(), st.integers(0, len(ENGINES) - 1), st.integers(0, len(ENGINES) - 1))
def test_diff_equals_naive_difference(objs: list[dict[str, Any]], a: int, b: int) -> None:
    cluster = from_objects(objs)
    ea, eb = ENGINES[a], ENGINES[b]
    na, nb = naive_matrix(cluster, ea), naive_matrix(cluster, eb)
    want = {k: (na[k], nb[k]) for k in na if na[k] != nb[k]}
    got = {(c.src, c.dst, c.port, c.protocol): (c.before, c.after) for c in diff(cluster, ea, eb, explain=False)}
    assert got == want
