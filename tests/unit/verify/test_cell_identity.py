"""Cell identity when the pods of one workload fall into several policy classes: qualified by labels when they tell
the classes apart, otherwise aggregated (one key, several observations, none dropped); how compare reports them."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from netmig.verify import report
from netmig.verify.compare import compare, summarize
from netmig.verify.identity import qualified, qualifier
from netmig.verify.selection import Plan, plan
from netmig.verify.snapshot import Cell, Snapshot, sanitize
from tests.unit.verify.objects import (
    FE,
    HTTP,
    NODES,
    deployment_pods,
    fe_pods,
    lb_objects,
    offline_snapshot,
    pod,
    policy,
)

SQL = [{"name": "sql", "containerPort": 5432, "protocol": "TCP"}]
DB = "data/deployment/db"


def _db() -> list[dict[str, Any]]:
    return deployment_pods("data", "db", [f"10.224.1.{10 + i}" for i in range(3)], ["n1", "n2", "n3"], SQL)


def _probes_per_key(p: Plan) -> Counter[tuple[str, str, int, str]]:
    return Counter(pr.key for pr in p.probes())


# ------------------------------------------------------------------------------------------------ qualification
def test_qualifier_names_only_the_differing_policy_labels() -> None:
    assert qualifier({"app": "fe", "track": "canary"}, {"app": "fe", "track": None}) == "[track=canary]"
    assert qualifier({"app": "fe", "track": None}, {"app": "fe", "track": "stable"}) == "[!track]"
    assert qualifier({"app": "fe"}, {"app": "fe"}) == ""


def test_the_most_common_label_projection_keeps_the_bare_identity() -> None:
    pods = {f"web/fe-{i}": FE for i in range(3)} | {"web/solo": "web/deployment/solo"}
    proj = {"web/fe-0": {"tier": "front"}, "web/fe-1": {"tier": "front"}, "web/fe-2": {"tier": "back"},
            "web/solo": {"tier": "x"}}
    assert qualified(pods, proj) == {"web/fe-0": FE, "web/fe-1": FE, "web/fe-2": FE + "[tier=back]",
                                     "web/solo": "web/deployment/solo"}
    # a tie is broken by the projection's text, so the choice does not depend on pod names or order
    two = {"web/a": FE, "web/b": FE}
    one = qualified(two, {"web/a": {"tier": "back"}, "web/b": {"tier": "front"}})
    other = qualified({"web/b": FE, "web/a": FE}, {"web/b": {"tier": "front"}, "web/a": {"tier": "back"}})
    assert one == other == {"web/a": FE, "web/b": FE + "[tier=front]"}


def test_label_patched_on_one_pod_gets_a_qualified_identity_and_no_key_collides() -> None:
    canary = policy("web", "canary-lockdown", {"podSelector": {"matchLabels": {"track": "canary"}},
                                               "policyTypes": ["Ingress"]})
    objects = [*NODES, *fe_pods({2: {"track": "canary"}}), *_db(), canary]
    p = plan(objects, ("npm", "cilium"))
    srcs = sorted(s.source.identity for s in p.sources)
    assert FE in srcs and FE + "[track=canary]" in srcs
    assert {FE, FE + "[track=canary]"} <= {pr.dst for pr in p.probes()}
    assert max(_probes_per_key(p).values()) == 1 and p.aggregated_cells == 0  # distinct keys, nothing aggregated
    snap = offline_snapshot(objects, p, "npm")
    got = {(c.src, c.dst): c.outcome for c in snap.cells if c.port == 8080}
    assert got[(DB, FE)] == "open" and got[(DB, FE + "[track=canary]")] == "timeout"


def test_patched_label_in_compare_is_reported_as_one_sided_not_as_unchanged() -> None:
    canary = policy("web", "canary-lockdown", {"podSelector": {"matchLabels": {"track": "canary"}},
                                               "policyTypes": ["Ingress"]})
    before_objs = [*NODES, *fe_pods(), *_db(), canary]
    after_objs = [*NODES, *fe_pods({2: {"track": "canary"}}), *_db(), canary]
    before = offline_snapshot(before_objs, plan(before_objs, ("npm",)), "npm")
    after_plan = plan(after_objs, ("npm",), baseline=[c.key for c in before.cells])
    after = offline_snapshot(after_objs, after_plan, "npm")
    cmp = compare(before, after)
    assert cmp.changes == [] and cmp.only_before == []
    assert cmp.only_after and all("[track=canary]" in o.src + o.dst for o in cmp.only_after)
    assert cmp.changed  # one-sided cells are something to report, never "unchanged"
    assert cmp.probes == len(before.by_key())


def test_cell_keys_survive_new_pod_names_and_addresses() -> None:
    # kubenet -> overlay: every pod re-created by its controller with a new name and a new address; the labels
    # (and so the qualified identities) come back, the ipBlock split of db by address does not
    canary = policy("web", "canary-from-data", {"podSelector": {"matchLabels": {"track": "canary"}},
                                                "ingress": [{"from": [{"namespaceSelector": {}}]}]})
    egress = policy("web", "fe-to-db-subnet", {
        "podSelector": {"matchLabels": {"app": "fe"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.224.1.0/24", "except": ["10.224.1.10/32"]}}]}]})
    before_objs = [*NODES, *fe_pods({2: {"track": "canary"}}), *_db(), canary, egress]
    after_objs = [*NODES, canary, egress,
                  *deployment_pods("web", "fe", ["10.244.7.3", "10.244.8.3", "10.244.9.3"], ["n3", "n1", "n2"], HTTP,
                                   {2: {"track": "canary"}}, template_hash="n3w"),
                  *deployment_pods("data", "db", ["10.244.7.4", "10.244.8.4", "10.244.9.4"], ["n2", "n3", "n1"], SQL,
                                   template_hash="n3w")]
    before_plan, after_plan = plan(before_objs, ("npm",)), plan(after_objs, ("npm",))
    assert {pr.key for pr in before_plan.probes()} == {pr.key for pr in after_plan.probes()}
    assert before_plan.aggregated_cells > 0 and after_plan.aggregated_cells == 0  # the address split is gone
    cmp = compare(offline_snapshot(before_objs, before_plan, "npm"), offline_snapshot(after_objs, after_plan, "npm"))
    assert cmp.only_before == [] and cmp.only_after == []
    assert [(c.key, c.before_outcomes, c.after_outcomes) for c in cmp.changes] == [
        ((FE, DB, 5432, "TCP"), ["open", "timeout"], ["timeout"]),
        ((FE + "[track=canary]", DB, 5432, "TCP"), ["open", "timeout"], ["timeout"])]
    assert all(c.explanation and c.explanation.startswith("policy or workload change") for c in cmp.changes)


# ------------------------------------------------------------------------------------------------ aggregation
def test_ipblock_except_splits_one_workload_by_address_into_an_aggregated_cell() -> None:
    # fe may only reach db addresses in 10.224.1.0/24 except db-h4sh-0's: db's pods fall in two classes, which no
    # label tells apart (the split follows pod IPs, which a migration changes): one key, both observations kept
    egress = policy("web", "fe-to-db-subnet", {
        "podSelector": {"matchLabels": {"app": "fe"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.224.1.0/24", "except": ["10.224.1.10/32"]}}]}]})
    objects = [*NODES, *fe_pods(), *_db(), egress]
    p = plan(objects, ("npm", "cilium"))
    key = (FE, DB, 5432, "TCP")
    assert _probes_per_key(p)[key] == 2 and p.aggregated_cells >= 1
    assert {pr.dst_pod for pr in p.probes() if pr.key == key} == {"data/db-h4sh-0", "data/db-h4sh-1"}
    before, after = offline_snapshot(objects, p, "npm"), offline_snapshot(objects, p, "cilium")
    assert sorted(c.outcome for c in before.by_key()[key]) == ["open", "timeout"]
    assert [c.outcome for c in after.by_key()[key]] == ["timeout", "timeout"]
    change = next(c for c in compare(before, after).changes if c.key == key)
    assert (change.before, change.after) == ("open", "timeout")
    assert change.before_outcomes == ["open", "timeout"] and change.after_outcomes == ["timeout"]
    assert change.aggregated and change.observations == (2, 2)
    assert change.explanation is not None and change.explanation.startswith("ip-block")
    assert ".X" in report.matrix(before)  # both outcomes shown in the one matrix cell


def test_hostnetwork_nodes_split_by_ipblock_aggregate_the_other_node_cell() -> None:
    # the node exporter is hostNetwork on n1..n3; fe's egress ipBlock excludes n3's address, so the exporter's pods
    # fall in two classes ({n3}, {n1, n2}); from fe's representative on n1 both are "another node"
    exporter = [pod("mon", f"exp-{i}", {"app": "exp"}, f"10.0.0.{i}", f"n{i}", [{"containerPort": 9100}],
                    ("DaemonSet", "exp"), host=True) for i in (1, 2, 3)]
    egress = policy("web", "fe-to-nodes", {
        "podSelector": {"matchLabels": {"app": "fe"}}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/24", "except": ["10.0.0.3/32"]}}]}]})
    objects = [*NODES, *fe_pods(), *exporter, egress]
    p = plan(objects, ("npm",))
    other = (FE, "mon/daemonset/exp@other-node", 9100, "TCP")
    same = (FE, "mon/daemonset/exp@same-node", 9100, "TCP")
    assert _probes_per_key(p)[other] == 2 and _probes_per_key(p)[same] == 1
    assert {pr.dst_pod for pr in p.probes() if pr.key == other} == {"mon/exp-2", "mon/exp-3"}
    snap = offline_snapshot(objects, p, "npm")
    assert sorted(c.outcome for c in snap.by_key()[other]) == ["open", "timeout"]
    assert len(snap.cells) == p.n_probes  # nothing dropped


def test_aggregated_values_map_to_single_before_and_after() -> None:
    assert summarize({"open", "timeout"}, {"timeout"}) == ("open", "timeout")
    assert summarize({"open"}, {"open", "refused"}) == ("open", "refused")
    assert summarize({"open", "timeout"}, {"open", "refused"}) == ("timeout", "refused")
    assert summarize({"timeout"}, {"open"}) == ("timeout", "open")


def _cell(src: str, outcome: str, src_pod: str = "web/fe-h4sh-0") -> Cell:
    return Cell(src, DB, 5432, "TCP", "pod", outcome, src_pod=src_pod, dst_pod="data/db-h4sh-0",  # type: ignore[arg-type]
                host="10.224.1.10")


def test_one_sided_cells_are_reported_with_the_reason_and_counted_as_a_change() -> None:
    objs = sanitize([*NODES, *fe_pods(), *_db()])
    gone = f"baseline cell web/deployment/old -> {DB} 5432/TCP: no live source pod"
    before = Snapshot("npm", [_cell(FE, "open"), _cell("web/deployment/old", "open")], objs)
    after = Snapshot("npm", [_cell(FE, "open"), _cell("web/deployment/new", "timeout")], objs,
                     stats={"skipped": [gone]})
    cmp = compare(before, after)
    assert cmp.changes == [] and cmp.probes == 1 and cmp.changed
    assert [(o.src, o.outcomes, o.reason) for o in cmp.only_before] == [
        ("web/deployment/old", ["open"], "not probed after: no live source pod")]
    assert [(o.src, o.outcomes) for o in cmp.only_after] == [("web/deployment/new", ["timeout"])]
    doc = json.loads(report.to_json(cmp.to_dict()))
    assert doc["changes"] == [] and doc["probes"] == 1
    assert doc["only_before"][0]["src"] == "web/deployment/old" and doc["only_after"][0]["outcomes"] == ["timeout"]
    assert "only before: web/deployment/old" in report.comparison_text(cmp)
    assert compare(before, before).changed is False


# ------------------------------------------------------------------------------------------------ LoadBalancer
def test_lb_paths_say_which_change_between_engines() -> None:
    objects = lb_objects()
    snap = offline_snapshot(objects, plan(objects, ("npm", "cilium")), "npm")
    [path] = snap.predicted_only
    assert (path.service, path.service_port, path.backend, path.port) == ("web/fe", 80, FE, 8080)
    assert [(v.engine, v.allowed) for v in path.by_engine] == [("npm", True), ("cilium 1.17", False)]
    assert path.differs_between_engines
    text = report.matrix(snap)
    assert "1 of 1 change between engines" in text
    assert "CHANGES external -> web/fe:80 -> web/deployment/fe 8080/TCP: allowed under npm (service-bypass); " \
           "denied under cilium 1.17" in text
    assert "| **yes** |" in report.snapshot_markdown(snap)
    reread = Snapshot.from_dict(json.loads(json.dumps(snap.to_dict())))
    assert reread.predicted_only == snap.predicted_only


def test_compare_lists_predicted_only_changes_apart_from_observed_changes() -> None:
    objects = lb_objects()
    p = plan(objects, ("npm", "cilium"))
    before, after = offline_snapshot(objects, p, "npm"), offline_snapshot(objects, p, "cilium")
    cmp = compare(before, after)
    assert cmp.changes == []  # nothing observed changed: the LB path is not an observed cell
    [lb] = cmp.predicted_changes
    assert (lb.service, lb.backend, lb.before, lb.after) == ("web/fe", FE, "allowed", "denied")
    assert lb.explanation is not None and lb.explanation.startswith("service-traffic-policy")
    assert "web/fe-from-gw" in lb.explanation
    doc = cmp.to_dict()
    assert doc["predicted_only_changes"][0]["predicted_only"] is True
    assert doc["changes"] == [] and cmp.changed
    assert "LoadBalancer paths (predicted only" in report.comparison_text(cmp)
    assert "## LoadBalancer paths (predicted only, not probed)" in report.comparison_markdown(cmp)
