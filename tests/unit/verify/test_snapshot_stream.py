"""The snapshot file as a stream: written one value per line (never one big string), still one valid JSON
document, read back line by line into equal cells; older indented files still load; a cut file is one line of
error. The budget's model of parallel connects and the cautious cost; the plain probe-progress lines."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest

from netmig.errors import UsageError
from netmig.verify.budget import CostModel, mandatory_batches
from netmig.verify.selection import plan
from netmig.verify.snapshot import Snapshot, cell_keys, load, save, write, write_seconds_per_cell
from tests.unit.verify.objects import lb_objects, offline_snapshot


class _Chunks(io.StringIO):
    """A text stream remembering the largest single write."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def write(self, s: str) -> int:
        self.largest = max(self.largest, len(s))
        return super().write(s)


def _snapshot() -> Snapshot:
    objs = lb_objects()
    p = plan(objs, ("npm", "cilium"), target="cilium")
    snap = offline_snapshot(objs, p, "npm")
    snap.stats = {"probes": len(snap.cells), "skipped": ["baseline cell x -> y 80/TCP: no live source pod"]}
    snap.coverage = {"probe_pods": 2, "probes": len(snap.cells)}
    return snap


def test_written_as_a_stream_of_small_writes_and_one_valid_json_document(tmp_path: Path) -> None:
    snap = _snapshot()
    assert len(snap.cells) > 3 and snap.predicted_only
    out = _Chunks()
    write(snap, out)
    text = out.getvalue()
    biggest_item = max(len(json.dumps(x)) for x in [*snap.objects, *(asdict(c) for c in snap.cells)])
    assert out.largest <= biggest_item  # one value per write, never the document as one string
    assert json.loads(text) == json.loads(json.dumps(snap.to_dict()))  # the same document as before
    lines = text.splitlines()
    assert lines[1] == '"predicted_only": [' and '"cells": [' in lines and lines[-1] == "]}"


def test_read_back_line_by_line_into_equal_cells(tmp_path: Path) -> None:
    snap = _snapshot()
    save(snap, tmp_path / "s.json")
    got = load(tmp_path / "s.json")
    assert got.cells == snap.cells and got.objects == snap.objects and got.predicted_only == snap.predicted_only
    assert (got.stats, got.coverage, got.engine, got.format) == (snap.stats, snap.coverage, snap.engine, snap.format)
    # equal values share one string and one policies list across the loaded cells
    pairs = [(a, b) for a in got.cells for b in got.cells if a is not b and a.src == b.src]
    assert pairs and all(a.src is b.src for a, b in pairs)
    same = [c for c in got.cells if c.policies == got.cells[0].policies]
    assert all(c.policies is same[0].policies for c in same)


def test_an_older_indented_file_and_an_empty_snapshot_still_load(tmp_path: Path) -> None:
    snap = _snapshot()
    (tmp_path / "old.json").write_text(json.dumps(snap.to_dict(), indent=1, sort_keys=True) + "\n")
    assert load(tmp_path / "old.json").cells == snap.cells
    save(snap, tmp_path / "new.json")
    keys = [c.key for c in snap.cells]
    assert cell_keys(tmp_path / "old.json") == keys == cell_keys(tmp_path / "new.json")  # a baseline: keys only
    empty = replace(snap, cells=[], objects=[], predicted_only=[])
    save(empty, tmp_path / "empty.json")
    assert json.loads((tmp_path / "empty.json").read_text())["cells"] == []
    assert load(tmp_path / "empty.json").cells == []


@pytest.mark.parametrize("cut", ["half", "no-end"])
def test_a_cut_file_is_one_line_of_error(tmp_path: Path, cut: str) -> None:
    save(_snapshot(), tmp_path / "s.json")
    text = (tmp_path / "s.json").read_text()
    (tmp_path / "s.json").write_text(text[: len(text) // 2] if cut == "half" else text.rsplit("]}", 1)[0])
    with pytest.raises(UsageError) as e:
        load(tmp_path / "s.json")
    assert "is not a readable snapshot" in str(e.value) and "\n" not in str(e.value)


def test_write_cost_is_measured_per_cell() -> None:
    snap = _snapshot()
    assert write_seconds_per_cell(snap.cells) > 0.0
    assert write_seconds_per_cell([]) == 0.0


def test_parallel_groups_and_the_cautious_cost() -> None:
    one = next(iter(plan(lb_objects(), ("npm", "cilium"), target="cilium").probes()))
    probes = [replace(one, id=f"p{i}", slow=i < 5, slow_after=i < 20) for i in range(40)]
    seq = CostModel(1.0, 0.01, 2.0, 4)
    par = CostModel(1.0, 0.01, 2.0, 4, parallel=16)
    assert seq.pod(probes) == pytest.approx(1.0 + 0.01 * 35 + 2.0 * 5)
    assert par.pod(probes) == pytest.approx(1.0 + 0.01 * 3 + 2.0 * 1)  # ceil(35/16) fast groups, 1 slow group
    cautious = replace(par, cautious=True)
    assert cautious.pod(probes) == pytest.approx(1.0 + 0.01 * 2 + 2.0 * 2)  # slow under either engine: 20
    # measured pods (probe counts) are refitted per group: a group of 16 timeouts costs one timeout
    fit = CostModel.prior(2, 4, parallel=16).fit([(32, 0, 1.2), (64, 0, 1.4), (0, 32, 1.2 + 2 * 0.1)])
    assert fit.fast_s == pytest.approx(0.1) and fit.pod_s == pytest.approx(1.0) and fit.slow_s == pytest.approx(0.2)


def test_in_every_pod_the_fast_probes_come_first() -> None:
    p = plan(lb_objects(), ("npm", "cilium"), target="cilium")
    one = p.sources[0].probes[0]
    p.sources[0].probes = [replace(one, id=f"p{i}", slow=i % 3 == 0, tier="predicted") for i in range(30)]
    pods = mandatory_batches(p, per_pod=8)
    assert [pr.id for pod in pods for pr in pod.probes if pod.source is p.sources[0].source] != []
    for pod in pods:
        flags = [pr.slow for pr in pod.probes]
        assert flags == sorted(flags) and len(flags) <= 8
    assert sum(pr.slow for pod in pods for pr in pod.probes) == 10


def test_plain_probe_progress_lines_every_5_percent_and_at_the_end(capsys: pytest.CaptureFixture[str]) -> None:
    from netmig import logs
    from netmig.stepkit.context import ProgressSink
    from netmig.verify.run import ProbeStatus

    logs.configure()
    sink = ProgressSink()
    for done in range(0, 101):
        sink.probes(ProbeStatus(done, 100, done * 10, 1000, float(done), 600.0, "predicted"))
    sink.probes(ProbeStatus(100, 100, 1000, 1000, 100.0, 600.0, "retry"))
    lines: list[dict[str, Any]] = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.startswith("{")]
    got = [(x["phase"], x["pods"]) for x in lines if x["event"] == "probe progress"]
    assert got[0] == ("predicted", "0/100") and got[-2:] == [("predicted", "100/100"), ("retry", "100/100")]
    assert len(got) == 22  # 0, 5, ..., 95, 100 (the end) and the retry phase
