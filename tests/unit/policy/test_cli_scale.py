"""``policy reachability|diff`` at scale: --by workload|pod, streamed JSON / NDJSON equal to the in-memory answers,
bounded memory while streaming, bounded text output."""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.policy import class_reachability, compute_classes, diff, from_objects, get_engine, reachability
from netmig.policy.stream import pod_cells_text
from netmig.policy.workloads import WorkloadView, diff_rows, reachability_rows

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import cluster_gen  # noqa: E402


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    objs = cluster_gen.generate(140, 30, 5)
    p = tmp_path_factory.mktemp("dump") / "cluster.yaml"
    cluster_gen.write_yaml(objs, p)
    return p, objs


def run(*args: str) -> Any:
    r = CliRunner().invoke(cli, ["policy", *args])
    assert r.exit_code == 0, r.output
    return r.output


@pytest.mark.parametrize("engine", ["npm", "cilium"])
def test_pod_level_stream_equals_the_in_memory_answer(dump: Any, engine: str) -> None:
    path, objs = dump
    want = [c.to_dict() for c in reachability(from_objects(objs), get_engine(engine))]
    assert len(want) > 10_000
    doc = json.loads(run("reachability", str(path), "--engine", engine, "--by", "pod", "--format", "json"))
    assert doc == {"engine": engine, "by": "pod", "results": want}
    legacy = json.loads(run("reachability", str(path), "--engine", engine, "--by", "pod", "--json"))
    assert legacy == doc
    lines = run("reachability", str(path), "--engine", engine, "--by", "pod", "--format", "ndjson").splitlines()
    assert [json.loads(x) for x in lines] == want


def test_workload_rows_stream_equals_the_in_memory_rows(dump: Any) -> None:
    path, objs = dump
    cluster = from_objects(objs)
    eng = get_engine("cilium")
    classes = compute_classes(cluster, [eng])
    want = [r.to_dict() for r in reachability_rows(WorkloadView(cluster, classes),
                                                   class_reachability(cluster, eng, classes))]
    doc = json.loads(run("reachability", str(path), "--engine", "cilium", "--format", "json"))
    assert doc["by"] == "workload" and doc["results"] == want
    nd = [json.loads(x) for x in run("reachability", str(path), "--engine", "cilium", "--format",
                                     "ndjson").splitlines()]
    assert nd == want
    # folded pod-level cells give the same counts
    pods = {p.key: p.identity for p in cluster.pods}
    folded: dict[tuple[str, str, int, str], int] = {}
    for c in reachability(cluster, eng):
        k = (pods[c.src], pods[c.dst], c.port, c.protocol)
        folded[k] = folded.get(k, 0) + c.allowed
    assert {(r["src"], r["dst"], r["port"], r["protocol"]): r["allowed_pairs"] for r in want} == folded
    assert {r["verdict"] for r in want} >= {"allowed", "denied"}


def test_diff_by_workload_and_by_pod_streams(dump: Any) -> None:
    path, objs = dump
    cluster = from_objects(objs)
    a, b = get_engine("npm"), get_engine("cilium")
    pod_doc = json.loads(run("diff", str(path), "--from", "npm", "--to", "cilium", "--by", "pod", "--format", "json"))
    assert pod_doc["changes"] == [c.to_dict() for c in diff(cluster, a, b)]
    assert pod_doc["changes"], "the generated cluster changes under cilium"
    nd = run("diff", str(path), "--from", "npm", "--to", "cilium", "--by", "pod", "--format", "ndjson")
    assert [json.loads(x) for x in nd.splitlines()] == pod_doc["changes"]
    wl = json.loads(run("diff", str(path), "--from", "npm", "--to", "cilium", "--format", "json"))
    classes = compute_classes(cluster, [a, b])
    rows = diff_rows(WorkloadView(cluster, classes), class_reachability(cluster, a, classes),
                     class_reachability(cluster, b, classes))
    assert [(r["src"], r["dst"], r["port"], r["lost"], r["gained"]) for r in wl["changes"]] == \
        [(r.src, r.dst, r.port, r.lost, r.gained) for r in rows]
    assert sum(r["lost"] + r["gained"] for r in wl["changes"]) == len(pod_doc["changes"])
    assert all(r["policies"] for r in wl["changes"] if r["lost"])


def test_text_output_is_a_bounded_summary(dump: Any) -> None:
    path, _ = dump
    out = run("reachability", str(path), "--engine", "cilium")
    assert "namespace pairs" in out and "workload rows with the most denied pod pairs" in out
    assert len(out.splitlines()) <= 60
    out = run("reachability", str(path), "--engine", "cilium", "--by", "pod")
    assert "denied pod cells" in out and len(out.splitlines()) <= 60
    out = run("diff", str(path), "--from", "npm", "--to", "cilium")
    assert "workloads with the most changed pod pairs" in out and len(out.splitlines()) <= 2 * 20 + 200 + 10
    shown = [ln for ln in out.splitlines() if " lose, " in ln]
    assert shown and all(ln.rstrip().endswith(")") for ln in shown if " 0 lose," not in ln)  # policies named


def test_pod_stream_memory_does_not_grow_with_the_pairs() -> None:
    objs = cluster_gen.generate(600, 60, 6)
    cluster = from_objects(objs)
    eng = get_engine("spec")
    m = class_reachability(cluster, eng, compute_classes(cluster, [eng]))
    tracemalloc.start()
    try:
        total = 0
        base = tracemalloc.get_traced_memory()[0]
        for chunk in pod_cells_text(cluster, m, "ndjson"):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert total > 25_000_000  # ~450,000 cells
    assert peak < total / 10, (peak, total)
