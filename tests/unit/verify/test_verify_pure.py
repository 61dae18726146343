"""Pure parts of connectivity verification: identity, outcomes, selection, snapshot, compare, report."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from netmig.errors import UsageError
from netmig.policy import get_engine
from netmig.verify import report
from netmig.verify.compare import compare, engine_differences, expected_vs_observed
from netmig.verify.identity import workload_id
from netmig.verify.outcomes import classify, parse_log, predicted, probe_line
from netmig.verify.selection import plan
from netmig.verify.snapshot import Cell, Snapshot, load, sanitize, save
from tests.unit.verify.objects import node, pod

HTTP = [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
OBJECTS: list[dict[str, Any]] = [
    node("n1", "10.0.0.1"), node("n2", "10.0.0.2"),
    *[pod("web", f"fe-abc12-{i}", {"app": "fe", "pod-template-hash": "abc12"}, f"10.224.0.{10 + i}", f"n{1 + i % 2}",
          HTTP, ("ReplicaSet", "fe-abc12")) for i in range(4)],
    *[pod("data", f"db-xyz99-{i}", {"app": "db", "pod-template-hash": "xyz99"}, f"10.224.1.{10 + i}", f"n{1 + i % 2}",
          [{"name": "sql", "containerPort": 5432}], ("ReplicaSet", "db-xyz99")) for i in range(3)],
    *[pod("mon", f"exp-{i}", {"app": "exp"}, f"10.0.0.{1 + i}", f"n{1 + i}", [{"containerPort": 9100}],
          ("DaemonSet", "exp"), host=True) for i in range(2)],
    pod("web", "done", {"app": "fe"}, "10.224.0.99", "n1", HTTP, phase="Succeeded"),
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "db-cidr", "namespace": "data"},
     "spec": {"podSelector": {"matchLabels": {"app": "db"}},
              "ingress": [{"from": [{"ipBlock": {"cidr": "10.224.0.0/24"}}], "ports": [{"port": 5432}]}]}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "web"}, "data": {"k": "czNjcjN0"}},
]


# ------------------------------------------------------------------------------------------------ identity
def test_identity_is_the_workload_not_the_pod() -> None:
    assert workload_id(OBJECTS[2]) == "web/deployment/fe"
    assert workload_id(OBJECTS[9]) == "mon/daemonset/exp"
    bare = pod("demo", "client", {"app": "client", "pod-template-hash": "1"}, "10.1.1.1", "n1")
    assert workload_id(bare) == "demo/pod/app=client"


# ------------------------------------------------------------------------------------------------ outcomes
@pytest.mark.parametrize(("code", "err", "want"), [
    (0, "", "open"), (1, "REFUSED", "refused"), (1, "TIMEOUT", "timeout"), (1, "OTHER: dial tcp: unreachable", "error"),
    (1, "DNS: lookup x on 10.0.0.10:53: no such host", "error"), (127, "sh: /agnhost: not found", "error")])
def test_four_outcomes(code: int, err: str, want: str) -> None:
    assert classify(code, err) == want


def test_probe_line_is_the_exact_batch_shape_and_logs_parse_back() -> None:
    from netmig_sandbox.sim.agnhost import PROBE_LINE  # the shape the simulated (and any POSIX) shell runs

    line = probe_line("p7", "10.224.0.5", 8080, 2, "TCP")
    assert PROBE_LINE.match(line)
    obs = parse_log("netmig-probe p7 1 TIMEOUT\nnoise\nnetmig-probe p8 0 \nnetmig-probe p9 1 REFUSED\n")
    assert {k: v.outcome for k, v in obs.items()} == {"p7": "timeout", "p8": "open", "p9": "refused"}
    with pytest.raises(ValueError):
        probe_line("bad id", "10.0.0.1", 80, 1, "TCP")
    assert predicted(True) == "open" and predicted(False) == "timeout" and predicted(True, False) == "refused"


# ------------------------------------------------------------------------------------------------ selection
def test_plan_covers_every_class_cell_with_far_fewer_probes_than_pod_pairs() -> None:
    p = plan(OBJECTS, ("npm", "cilium"))
    assert p.covered_cells == p.class_cells > 0
    pod_cells = sum(1 for pr in p.probes() if pr.kind == "pod")
    assert pod_cells < p.pods * p.pods
    srcs = {s.source.identity for s in p.sources}
    assert "mon/daemonset/exp" not in srcs  # hostNetwork pods are node traffic, not probe sources
    dsts = {pr.dst for pr in p.probes()}
    assert {"mon/daemonset/exp@same-node", "mon/daemonset/exp@other-node"} <= dsts
    assert all(pr.src_pod != pr.dst_pod for pr in p.probes())
    assert p.pods == 9  # the Succeeded pod is not live


def test_baseline_cells_are_probed_again() -> None:
    p = plan(OBJECTS, ("npm",), baseline=[("web/deployment/fe", "data/deployment/db", 5432, "TCP"),
                                           ("web/deployment/gone", "data/deployment/db", 5432, "TCP")])
    assert any(pr.key == ("web/deployment/fe", "data/deployment/db", 5432, "TCP") for pr in p.probes())
    assert any("gone" in s for s in p.skipped)


# ------------------------------------------------------------------------------------------------ snapshot
def test_sanitize_keeps_no_secrets(tmp_path: Path) -> None:
    objs = sanitize(OBJECTS)
    text = json.dumps(objs)
    assert "s3cr3t" not in text and "czNjcjN0" not in text and "annotations" not in text and "TOKEN" not in text
    snap = Snapshot("npm", [], objs)
    save(snap, tmp_path / "s.json")
    assert load(tmp_path / "s.json").objects == objs
    with pytest.raises(UsageError):
        load(tmp_path / "missing.json")


# ------------------------------------------------------------------------------------------------ compare
def _cell(src_pod: str, ip: str, outcome: str, dst: str = "data/db-xyz99-0") -> Cell:
    return Cell("web/deployment/fe", "data/deployment/db", 5432, "TCP", "pod", outcome,  # type: ignore[arg-type]
                src_pod=src_pod, src_ip=ip, dst_pod=dst, host="10.224.1.10")


def test_compare_explains_engine_changes_and_flags_the_rest() -> None:
    objs = sanitize(OBJECTS)
    before = Snapshot("npm", [_cell("web/fe-abc12-0", "10.224.0.50", "open")], objs)
    after = Snapshot("cilium 1.17", [_cell("web/fe-abc12-0", "10.224.0.51", "timeout")], objs)
    cmp = compare(before, after)
    assert cmp.probes == 1 and len(cmp.changes) == 1
    expl = cmp.changes[0].explanation
    assert expl is not None and expl.startswith("ip-block") and "data/db-cidr" in expl
    # an observation the engine does not predict is unexplained
    weird = Snapshot("cilium 1.17", [_cell("web/fe-abc12-0", "10.224.0.51", "refused")], objs)
    assert compare(before, weird).changes[0].explanation is None
    assert compare(before, before).changes == []
    assert [m.expected for m in expected_vs_observed(before, "cilium")] == ["timeout"]
    assert set(engine_differences(get_engine("npm"), get_engine("cilium"))) >= {"ip-block", "named-port",
                                                                                 "own-node egress"}


# ------------------------------------------------------------------------------------------------ report
def test_reports_render() -> None:
    objs = sanitize(OBJECTS)
    b = Snapshot("npm", [_cell("web/fe-abc12-0", "10.224.0.50", "open")], objs)
    a = Snapshot("cilium 1.17", [_cell("web/fe-abc12-0", "10.224.0.51", "timeout")], objs)
    b.cells[0].expected = "timeout"
    assert "!" in report.matrix(b)
    cmp = compare(b, a)
    root = ET.fromstring(report.comparison_junit(cmp))
    assert root.get("failures") == "1"
    assert "| web/deployment/fe |" in report.comparison_markdown(cmp)
    assert ET.fromstring(report.snapshot_junit(b)).get("failures") == "1"
