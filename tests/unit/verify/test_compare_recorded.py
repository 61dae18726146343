"""compare and expected_vs_observed use the expectation a cell recorded when it was probed (same engine, same
objects) instead of evaluating it again; a cell that recorded none is evaluated."""

from __future__ import annotations

from dataclasses import replace

from netmig.verify.compare import compare, expected_vs_observed
from netmig.verify.snapshot import Snapshot, sanitize
from tests.unit.verify.test_verify_pure import OBJECTS, _cell


def test_recorded_expectations_are_used_and_missing_ones_evaluated() -> None:
    objs = sanitize(OBJECTS)
    b = _cell("web/fe-abc12-0", "10.224.0.50", "open")
    a = _cell("web/fe-abc12-0", "10.224.0.51", "timeout")
    fresh = compare(Snapshot("npm", [b], objs), Snapshot("cilium 1.17", [a], objs)).changes[0].explanation
    assert fresh is not None and "data/db-cidr" in fresh  # nothing recorded: evaluated
    marked = [replace(b, expected="open", policies=["data/recorded-marker"])]
    expl = compare(Snapshot("npm", marked, objs), Snapshot("cilium 1.17", [a], objs)).changes[0].explanation
    assert expl is not None and "data/recorded-marker" in expl  # the before cell's recorded policies are used
    # under its own engine a cell that recorded a met expectation is not re-judged; one recorded unmet is
    # (npm allows this cell: evaluated, "timeout" would be a mismatch)
    recorded_met = replace(b, expected="timeout", outcome="timeout")
    assert expected_vs_observed(Snapshot("npm", [recorded_met], objs)) == []
    recorded_unmet = replace(b, expected="open", outcome="timeout")
    assert [m.expected for m in expected_vs_observed(Snapshot("npm", [recorded_unmet], objs))] == ["open"]
    assert [m.expected for m in expected_vs_observed(Snapshot("npm", [recorded_met], objs), "cilium")] == []
