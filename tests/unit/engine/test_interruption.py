"""Ctrl-C / SIGTERM in a run (issue 10, finding 2): the runner records ``step-interrupted`` (not a failure), and
``stop_run`` records where the run stopped and keeps the lease only while the network-profile change it sent may
still be running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netmig.engine.interruption import operation_in_flight, stop_run
from netmig.engine.runner import run_step, status
from netmig.model.plan import PlanStep
from netmig.stepkit.registry import register_step
from netmig.steps.lock import KEEPER
from netmig.steps.network import token_key
from tests.unit.engine.values import context


@register_step("test-interrupted")
def _interrupted(ctx: Any, step: PlanStep) -> dict[str, Any]:
    raise KeyboardInterrupt("SIGTERM")


class Keeper:
    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


def test_an_interrupted_step_is_recorded_as_interrupted_not_failed(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        run_step(ctx, PlanStep(id="s1", kind="test-interrupted"))
    events = [e["event"] for e in ctx.journal.events()]
    assert events == ["step-start", "step-interrupted"]
    assert status(list(ctx.journal.events()), ["s1"]) == [("s1", "interrupted", "SIGTERM")]


def test_no_put_sent_means_no_operation_and_the_lease_is_released(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = context(tmp_path)
    dropped: list[bool] = []
    monkeypatch.setattr("netmig.steps.lock.drop", lambda c: dropped.append(True) or True)
    ctx.scratch[KEEPER] = Keeper()
    ctx.journal.record("step-done", step="lock", result={})
    ctx.journal.record("step-start", step="update-network", kind="update-network-profile")
    assert operation_in_flight(ctx.plan, ctx.journal) is None
    info = stop_run(ctx, "SIGINT")
    assert (info.step, info.after, info.lease, info.operation) == ("update-network", "lock", "released", None)
    assert dropped == [True]
    assert "the cluster lock was released" in info.message()
    last = list(ctx.journal.events())[-1]
    assert last["event"] == "run-interrupted" and last["signal"] == "SIGINT" and last["lease"] == "released"


def test_a_sent_put_whose_reimage_is_not_watched_to_the_end_keeps_the_lease(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = context(tmp_path)
    monkeypatch.setattr("netmig.steps.lock.drop", lambda c: pytest.fail("the lease must be kept"))
    keeper = Keeper()
    ctx.scratch[KEEPER] = keeper
    ctx.journal.record("arm-put", step="update-network")
    ctx.journal.set(token_key("update-network"), "token")
    ctx.journal.record("step-done", step="update-network", result={"sent": True})
    ctx.journal.record("step-start", step="watch-reimage", kind="watch-reimage")
    info = stop_run(ctx, "SIGTERM")
    assert (info.step, info.lease, info.operation) == ("watch-reimage", "kept", "update-network")
    assert keeper.stopped and KEEPER not in ctx.scratch
    assert "may still be running in ARM" in info.message() and "is kept" in info.message()
    # once the watch step is done, nothing is in flight any more
    ctx.journal.record("step-done", step="watch-reimage", result={})
    assert operation_in_flight(ctx.plan, ctx.journal) is None


def test_an_operation_that_ended_failed_is_not_in_flight(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    ctx.journal.record("arm-put", step="update-network")
    ctx.journal.record("operation-failed", step="watch-reimage", error="aborted")
    assert operation_in_flight(ctx.plan, ctx.journal) is None
