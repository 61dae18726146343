"""Risk-first selection under a budget: every predicted-change cell is planned and kept; a shrunken budget drops
sampled cells only; the coverage record and its words equal what was probed (pure, no cluster)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netmig.policy import class_reachability, compute_classes, diff_classes, from_objects, get_engine
from netmig.verify.budget import (
    CostModel,
    all_batches,
    coverage,
    coverage_text,
    fit_prefix,
    mandatory_batches,
    optional_batches,
    parse_duration,
)
from netmig.verify.identity import identities
from netmig.verify.selection import Plan, live_objects, plan_for
from tests.unit.policy.strategies import cluster_objects

ENGINES = ("spec", "npm", "cilium", "calico")


def _plan(objs: list[dict[str, Any]], source: str, target: str) -> tuple[Plan, set[tuple[int, int, int, str]], Any]:
    live = live_objects(objs)
    cluster = from_objects(live)
    classes = compute_classes(cluster, [get_engine(source), get_engine(target)])
    p = plan_for(cluster, classes, identities(live), (source, target), target=target)
    changed = {(d.src, d.dst, d.port, d.protocol)
               for d in diff_classes(class_reachability(cluster, get_engine(source), classes),
                                     class_reachability(cluster, get_engine(target), classes))
               if not classes.classes[d.src].host_network}
    return p, changed, classes


def _class_cell(p: Any, classes: Any, probe: Any, klass: int) -> tuple[int, int, int, str] | None:
    if probe.kind != "pod" or probe.dst_pod is None:
        return None
    return (klass, classes.of_pod[probe.dst_pod], probe.port, probe.protocol)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_objects(), st.sampled_from(ENGINES), st.sampled_from(ENGINES), st.floats(0.0, 30.0))
def test_every_predicted_change_cell_is_planned_and_never_dropped(objs: list[dict[str, Any]], source: str,
                                                                   target: str, budget: float) -> None:
    p, changed, classes = _plan(objs, source, target)
    planned = {_class_cell(p, classes, pr, sp.source.klass): pr for sp in p.sources for pr in sp.probes}
    addressable = {c for c in planned if c is not None}
    for cell in changed:
        if cell in addressable:  # a class cell without any addressable destination has no probe at all
            assert planned[cell].tier == "predicted", cell
    kept = {pr.id for b in mandatory_batches(p) for pr in b.probes}
    assert {pr.id for pr in p.probes() if pr.tier == "predicted"} <= kept
    # whatever budget is left for the rest, only a prefix of the optional pods is added: no predicted probe there
    model = CostModel(0.5, 0.01, 0.5, 4)
    optional = optional_batches(p)
    assert all(pr.tier in ("path", "sampled") for b in optional[:fit_prefix(optional, model, budget)]
               for pr in b.probes)
    # every probe is in exactly one pod of mandatory + optional, and of all_batches
    ids = [pr.id for b in mandatory_batches(p) + optional for pr in b.probes]
    assert sorted(ids) == sorted(pr.id for pr in p.probes())
    assert sorted(pr.id for b in all_batches(p) for pr in b.probes) == sorted(ids)


def _ns(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"name": name}}}


def _objects() -> list[dict[str, Any]]:
    """Two namespaces, a db whose ingress is an ipBlock over the pod range (NPM matches pod IPs, Cilium does not),
    and enough other pods for stable cells to sample."""
    from tests.unit.verify.objects import node, pod, policy

    objs = [_ns("a"), _ns("b"), node("n1", "10.240.0.4"), node("n2", "10.240.0.5")]
    for i, (ns, app, port) in enumerate([("a", "web", 80), ("a", "api", 8080), ("a", "job", 9090),
                                         ("b", "db", 5432), ("b", "cache", 6379), ("b", "queue", 5672)]):
        objs.append(pod(ns, app, {"app": app}, f"10.1.0.{i + 10}", f"n{i % 2 + 1}",
                        [{"containerPort": port, "protocol": "TCP"}]))
    objs.append(policy("b", "db-from-pods", {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"],
                                             "ingress": [{"from": [{"ipBlock": {"cidr": "10.1.0.0/24"}}]}]}))
    return objs


def test_shrunken_budget_drops_sampled_cells_only_and_coverage_says_so() -> None:
    p, changed, _ = _plan(_objects(), "npm", "cilium")
    assert changed, "the ipBlock over pod IPs changes between npm and cilium"
    model = CostModel(1.0, 0.01, 2.0, 2)
    optional = optional_batches(p, per_pod=2)
    full = fit_prefix(optional, model, 1e9)
    small = fit_prefix(optional, model, 1.5)
    assert full == len(optional) and 0 < small < full
    ran = [pr.id for b in mandatory_batches(p) + optional[:small] for pr in b.probes]
    cov = coverage(p, ran, probe_pods=len(mandatory_batches(p)) + small, probes=len(ran), budget_s=1.5,
                   elapsed_s=1.0)
    pc, stable = cov["predicted_changes"], cov["stable"]
    assert pc["probed"] == pc["cells"] > 0
    assert 0 < stable["probed"] < stable["cells"] and stable["method"] == "stratified"
    probed_keys = {pr.key for pr in p.probes() if pr.id in set(ran)}
    predicted_keys = {pr.key for pr in p.probes() if pr.tier == "predicted"}
    assert stable["probed"] == len(probed_keys - predicted_keys)
    assert pc["probed"] == len(probed_keys & predicted_keys)
    text = coverage_text(cov)
    assert text.startswith(f"all {pc['cells']} predicted changes probed; ")
    assert f"{stable['probed']} of {stable['cells']} stable cells probed" in text and "stratified" in text
    everything = [pr.id for pr in p.probes()]
    cov_all = coverage(p, everything, probe_pods=1, probes=len(everything), budget_s=None, elapsed_s=1.0)
    assert cov_all["stable"]["probed"] == cov_all["stable"]["cells"] and cov_all["stable"]["method"] == "all"


def test_cost_model_fits_measured_pods() -> None:
    prior = CostModel.prior(2, 8)
    got = prior.fit([(10, 0, 1.1), (100, 0, 2.0), (10, 10, 2.1), (50, 20, 3.5)])
    assert got.pod_s == pytest.approx(1.0) and got.fast_s == pytest.approx(0.01)
    assert got.slow_s == pytest.approx(0.1, rel=0.05)
    assert prior.fit([]) == prior
    only_fast = prior.fit([(10, 0, 1.0), (10, 0, 1.2)])
    assert only_fast.slow_s == prior.slow_s  # nothing measured about timeouts: the prior stays


@pytest.mark.parametrize(("text", "seconds"), [("10m", 600), ("90s", 90), ("1h30m", 5400), ("45", 45)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "10x", "m", "-5m", "10m5"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_after_snapshot_reuses_every_baseline_cell_and_names_the_gone_ones() -> None:
    objs = _objects()
    p, _, _ = _plan(objs, "npm", "cilium")
    sampled = [pr.key for pr in p.probes() if pr.tier == "sampled"][:3]
    gone = ("a/pod/retired", "b/pod/db", 5432, "TCP")
    live = live_objects(objs)
    cluster = from_objects(live)
    classes = compute_classes(cluster, [get_engine("cilium")])
    after = plan_for(cluster, classes, identities(live), ("cilium",), baseline=[*sampled, gone])
    kept = {pr.key for b in mandatory_batches(after) for pr in b.probes}
    assert set(sampled) <= kept  # a budget never drops a baseline cell
    assert after.skipped == ["baseline cell a/pod/retired -> b/pod/db 5432/TCP: no live source pod"]
