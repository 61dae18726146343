"""The runner: steps run in order and are recorded; a rerun skips journal-completed steps; failures and pauses are
recorded and propagate; one canonical structlog line per step with outcome and duration (captured here); one
process per run folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from netmig.engine import runlock
from netmig.engine.runner import run_plan, run_step, status
from netmig.errors import CheckFailed, Paused
from netmig.model.plan import Plan, PlanStep
from netmig.stepkit.registry import register_step
from tests.unit.engine.values import context, plan

CALLS: list[str] = []
FAIL: set[str] = set()


@register_step("test-ok")
def _ok(ctx: Any, step: PlanStep) -> dict[str, Any]:
    CALLS.append(step.id)
    if step.id in FAIL:
        raise CheckFailed(f"{step.id} broke", "fix it")
    return {"n": len(CALLS), "outcome": "not-the-line's", "nested": {"kept": "in the journal only"}}


@register_step("test-pause")
def _pause(ctx: Any, step: PlanStep) -> dict[str, Any]:
    raise Paused("waiting for a human", "rerun later")


def three_steps(kinds: tuple[str, str, str] = ("test-ok", "test-ok", "test-ok")) -> Plan:
    p = plan()
    p.steps = [PlanStep(id=sid, kind=k) for sid, k in zip(("one", "two", "three"), kinds, strict=True)]
    return p


@pytest.fixture
def logs() -> Iterator[LogCapture]:
    saved = structlog.get_config()
    cap = LogCapture()
    structlog.configure(processors=[structlog.contextvars.merge_contextvars, cap])
    CALLS.clear()
    FAIL.clear()
    try:
        yield cap
    finally:
        structlog.configure(**saved)


def _step_lines(cap: LogCapture) -> list[dict[str, Any]]:
    return [e for e in cap.entries if e["event"] == "step"]


def test_steps_run_in_order_with_one_canonical_line_each(tmp_path: Path, logs: LogCapture) -> None:
    ctx = context(tmp_path, three_steps(), run_id="run-1")
    results = run_plan(ctx)
    assert CALLS == ["one", "two", "three"] and results["three"]["n"] == 3
    lines = _step_lines(logs)
    assert [(x["step"], x["outcome"], x["log_level"]) for x in lines] == [
        ("one", "done", "info"), ("two", "done", "info"), ("three", "done", "info")]
    for x in lines:
        assert isinstance(x["duration_s"], float) and x["duration_s"] >= 0
        assert x["cluster"] == "aks-prod" and x["migration"] == ctx.plan.migration_id
        assert "nested" not in x and x["n"] >= 1  # scalar results on the line; the line's own keys win
    kinds = [e["event"] for e in ctx.journal.events()]
    assert kinds == ["run-start", *["step-start", "step-done"] * 3, "run-done"]
    assert ctx.journal.events()[2]["result"]["nested"] == {"kept": "in the journal only"}
    ctx.close()


def test_a_rerun_skips_what_the_journal_records_as_done(tmp_path: Path, logs: LogCapture) -> None:
    ctx = context(tmp_path, three_steps())
    first = run_plan(ctx)
    ctx.close()
    logs.entries.clear()
    ctx = context(tmp_path, three_steps())
    assert run_plan(ctx) == first and CALLS == ["one", "two", "three"]  # nothing ran again
    assert [(x["step"], x["outcome"], x["duration_s"]) for x in _step_lines(logs)] == [
        ("one", "skipped", 0.0), ("two", "skipped", 0.0), ("three", "skipped", 0.0)]
    ctx.close()


def test_a_failure_is_recorded_logged_and_raised_and_the_rerun_resumes_there(tmp_path: Path,
                                                                            logs: LogCapture) -> None:
    FAIL.add("two")
    ctx = context(tmp_path, three_steps(), run_id="run-1")
    with pytest.raises(CheckFailed, match="two broke"):
        run_plan(ctx)
    failed = [e for e in ctx.journal.events() if e["event"] == "step-failed"]
    assert failed == [{**failed[0], "step": "two", "error": "two broke; fix it", "run_id": "run-1"}]
    line = _step_lines(logs)[-1]
    assert (line["step"], line["outcome"], line["log_level"], line["error"]) == ("two", "failed", "error",
                                                                                 "two broke; fix it")
    assert "duration_s" in line
    assert status(ctx.journal.events(), ["one", "two", "three"]) == [
        ("one", "done", status(ctx.journal.events(), ["one"])[0][2]), ("two", "failed", "two broke; fix it"),
        ("three", "pending", "")]
    assert ctx.journal.last_error() is not None and ctx.journal.last_error()["step"] == "two"  # type: ignore[index]
    ctx.close()
    FAIL.clear()
    CALLS.clear()
    ctx = context(tmp_path, three_steps(), run_id="run-2")
    run_plan(ctx)
    assert CALLS == ["two", "three"]
    ctx.close()


def test_a_pause_is_recorded_and_propagates(tmp_path: Path, logs: LogCapture) -> None:
    ctx = context(tmp_path, three_steps(("test-ok", "test-pause", "test-ok")))
    with pytest.raises(Paused) as e:
        run_plan(ctx)
    assert e.value.exit_code == 3
    assert [e["event"] for e in ctx.journal.events()][-1] == "step-paused"
    assert _step_lines(logs)[-1]["outcome"] == "paused"
    assert status(ctx.journal.events(), ["two"]) == [("two", "paused", "waiting for a human; rerun later")]
    ctx.close()


def test_until_stops_after_that_step(tmp_path: Path, logs: LogCapture) -> None:
    ctx = context(tmp_path, three_steps())
    assert list(run_plan(ctx, until="two")) == ["one", "two"]
    assert "run-done" not in [e["event"] for e in ctx.journal.events()]
    assert run_step(ctx, ctx.plan.step("one"))["n"] == 1  # recorded result, not run again
    ctx.close()


def test_one_process_per_run_folder(tmp_path: Path, logs: LogCapture) -> None:
    first = context(tmp_path, three_steps())
    run_plan(first, until="one")
    assert runlock.holder(tmp_path) is not None  # held while the context lives
    second = context(tmp_path, three_steps())
    with pytest.raises(CheckFailed, match=r"another aks-netmig run of this plan is in progress \(pid \d+"):
        run_plan(second)
    assert [e["event"] for e in second.journal.events()].count("run-start") == 1  # refused before recording
    first.close()
    assert runlock.holder(tmp_path) is None
    run_plan(second)
    second.close()
