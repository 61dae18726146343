"""Property: answers by workload equal the pod-level answers folded by workload identity."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netmig.policy import class_reachability, compute_classes, diff, from_objects, get_engine, reachability
from netmig.policy.workloads import WorkloadView, diff_rows, reach_tables, reachability_rows
from tests.unit.policy.strategies import cluster_objects

ENGINES = [get_engine("spec"), get_engine("npm"), get_engine("cilium"), get_engine("calico"), get_engine("none")]
OWNERS = [None, ("ReplicaSet", "web-5d8f7c9b6d"), ("ReplicaSet", "api-7b9c"), ("StatefulSet", "db"),
          ("DaemonSet", "agent"), ("Job", "migrate")]


@st.composite
def owned_cluster(draw: Any) -> list[dict[str, Any]]:
    """The random cluster, with some pods owned by controllers (Deployment pods carry pod-template-hash)."""
    objs = draw(cluster_objects())
    for o in objs:
        if o["kind"] != "Pod":
            continue
        owner = draw(st.sampled_from(OWNERS))
        if owner is None:
            continue
        kind, name = owner
        o["metadata"]["ownerReferences"] = [{"kind": kind, "name": name, "controller": True, "apiVersion": "v1"}]
        if name.startswith("web-"):
            o["metadata"]["labels"] = {**o["metadata"]["labels"], "pod-template-hash": "5d8f7c9b6d"}
    return objs


def _identity(cluster: Any) -> dict[str, str]:
    return {p.key: p.identity for p in cluster.pods}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(owned_cluster(), st.integers(0, len(ENGINES) - 1), st.booleans())
def test_reachability_by_workload_equals_pod_level_folded(objs: list[dict[str, Any]], e: int, fixed: bool) -> None:
    cluster = from_objects(objs)
    engine = ENGINES[e]
    ports = [(80, "TCP"), (53, "UDP")] if fixed else None
    ident = _identity(cluster)
    want: dict[tuple[str, str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in reachability(cluster, engine, ports):
        row = want[(ident[c.src], ident[c.dst], c.port, c.protocol)]
        row[0] += 1
        row[1] += c.allowed
    classes = compute_classes(cluster, [engine])
    m = class_reachability(cluster, engine, classes, ports)
    view = WorkloadView(cluster, classes)
    rows = list(reachability_rows(view, m))
    got = {(r.src, r.dst, r.port, r.protocol): [r.pairs, r.allowed_pairs] for r in rows}
    assert got == dict(want)
    assert rows == sorted(rows, key=lambda r: (r.src, r.dst, r.port, r.protocol))
    pods_of = defaultdict(int)
    for k in ident.values():
        pods_of[k] += 1
    assert all(r.src_pods == pods_of[r.src] and r.pairs == r.src_pods * r.dst_pods for r in rows)
    # the namespace summary adds up to the same pairs
    pairs, allowed = reach_tables(view, m).by_namespace()
    assert int(pairs.sum()) == sum(v[0] for v in want.values())
    assert int(allowed.sum()) == sum(v[1] for v in want.values())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(owned_cluster(), st.integers(0, len(ENGINES) - 1), st.integers(0, len(ENGINES) - 1))
def test_diff_by_workload_equals_pod_level_folded(objs: list[dict[str, Any]], a: int, b: int) -> None:
    cluster = from_objects(objs)
    ea, eb = ENGINES[a], ENGINES[b]
    ident = _identity(cluster)
    want: dict[tuple[str, str, int, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in diff(cluster, ea, eb, explain=False):
        row = want[(ident[c.src], ident[c.dst], c.port, c.protocol)]
        row[0 if c.before else 1] += 1
    classes = compute_classes(cluster, [ea, eb])
    view = WorkloadView(cluster, classes)
    ma, mb = class_reachability(cluster, ea, classes), class_reachability(cluster, eb, classes)
    got = {(r.src, r.dst, r.port, r.protocol): [r.lost, r.gained] for r in diff_rows(view, ma, mb)}
    assert got == dict(want)
