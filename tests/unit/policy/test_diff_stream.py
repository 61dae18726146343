"""``policy diff --by pod`` is streamed (``netmig.policy.stream.pod_diff_text``): the streamed cells equal the
in-memory ``diff.diff`` answer (same cells, order, policies, and the same JSON text), and memory does not grow with
the number of changed pairs."""

from __future__ import annotations

import json
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netmig.policy import class_reachability, compute_classes, diff, from_objects, get_engine
from netmig.policy.stream import pod_diff_blocks, pod_diff_text
from tests.unit.policy.strategies import cluster_objects

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "bench"))

import cluster_gen  # noqa: E402

ENGINES = [get_engine("spec"), get_engine("npm"), get_engine("cilium"), get_engine("cilium", "1.16"),
           get_engine("calico"), get_engine("none")]


def _streamed(cluster: Any, a: Any, b: Any, ports: Any = None, explain: bool = True, fmt: str = "ndjson") -> str:
    classes = compute_classes(cluster, [a, b])
    ma, mb = class_reachability(cluster, a, classes, ports), class_reachability(cluster, b, classes, ports)
    return "".join(pod_diff_text(cluster, ma, mb, fmt, explain))


def _reference(cells: list[Any], fmt: str) -> str:
    """What the CLI wrote before streaming: ``json.dumps(cell.to_dict())`` per line."""
    end = "\n" if fmt == "ndjson" else ",\n"
    text = "".join(json.dumps(c.to_dict()) + end for c in cells)
    return text if fmt == "ndjson" or not text else text[:-2] + "\n"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster_objects(), st.integers(0, len(ENGINES) - 1), st.integers(0, len(ENGINES) - 1), st.booleans(),
       st.sampled_from(["ndjson", "json"]))
def test_streamed_diff_equals_the_in_memory_diff(objs: list[dict[str, Any]], a: int, b: int, fixed: bool,
                                                 fmt: str) -> None:
    cluster = from_objects(objs)
    ports = [(80, "TCP"), (53, "UDP")] if fixed else None
    want = diff(cluster, ENGINES[a], ENGINES[b], ports)
    assert _streamed(cluster, ENGINES[a], ENGINES[b], ports, fmt=fmt) == _reference(want, fmt)


@pytest.mark.parametrize(("a", "b"), [("npm", "cilium"), ("cilium", "npm"), ("spec", "none")])
def test_streamed_diff_on_a_generated_dump(a: str, b: str) -> None:
    cluster = from_objects(cluster_gen.generate(160, 30, 5))
    ea, eb = get_engine(a), get_engine(b)
    want = diff(cluster, ea, eb)
    assert len(want) > 500
    text = _streamed(cluster, ea, eb)
    assert text == _reference(want, "ndjson")
    assert [json.loads(x) for x in text.splitlines()] == [c.to_dict() for c in want]
    classes = compute_classes(cluster, [ea, eb])
    ma, mb = class_reachability(cluster, ea, classes), class_reachability(cluster, eb, classes)
    tuples = [c for block in pod_diff_blocks(cluster, ma, mb, explain=False) for c in block]
    assert tuples == [(c.src, c.dst, c.port, c.protocol, c.before, c.after, ()) for c in diff(cluster, ea, eb,
                                                                                              explain=False)]


def test_streamed_diff_memory_does_not_grow_with_the_pairs() -> None:
    cluster = from_objects(cluster_gen.generate(600, 60, 6))
    a, b = get_engine("npm"), get_engine("none")  # every isolated pair is gained: many changes
    classes = compute_classes(cluster, [a, b])
    ma, mb = class_reachability(cluster, a, classes), class_reachability(cluster, b, classes)
    tracemalloc.start()
    try:
        total = 0
        base = tracemalloc.get_traced_memory()[0]
        for chunk in pod_diff_text(cluster, ma, mb, "ndjson"):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert total > 20_000_000
    assert peak < total / 10, (peak, total)


def test_diff_by_pod_text_counts_every_change_and_shows_a_bounded_part(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from netmig.cli.main import cli

    p = tmp_path / "c.yaml"
    cluster_gen.write_yaml(cluster_gen.generate(160, 30, 5), p)
    args = ["policy", "diff", str(p), "--from", "npm", "--to", "cilium", "--by", "pod"]
    nd = CliRunner().invoke(cli, [*args, "--format", "ndjson"])
    text = CliRunner().invoke(cli, args)
    assert nd.exit_code == 0 and text.exit_code == 0, (nd.output, text.output)
    n = len(nd.output.splitlines())
    lines = text.output.splitlines()
    assert n > 200 and lines[0] == f"{n} cell(s) change from npm to cilium 1.17:"
    assert len(lines) == 1 + 200 + 1 and lines[-1].startswith(f"  ... {n - 200:,} more")
    first = json.loads(nd.output.splitlines()[0])
    assert lines[1].startswith(f"  {first['src']} -> {first['dst']} {first['port']}/{first['protocol']}: ")
