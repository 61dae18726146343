"""Prefect states that don't lie (issue 10, finding 3): the flow run of a migration ends Paused for a pause (the
approval cannot be asked, a stall), Cancelled for a rejection (and a CLI run left Paused is Cancelled as superseded
when the migration is applied again), Failed only for a failure; the CLI gets the same outcome as its exception
(exit 3 / 1). In this process, against the session's Prefect server, on a real sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def _structlog_restored() -> Iterator[None]:
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


def _runs(migration_id: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        return list(client.read_flow_runs(flow_run_filter=FlowRunFilter(
            tags=FlowRunFilterTags(all_=[f"migration:{migration_id}"])), sort=FlowRunSort.START_TIME_ASC))


@pytest.mark.e2e
def test_pause_ends_paused_rejection_cancelled_stall_paused_never_failed(
        prefect_server: None, sandbox_factory: Any, tmp_path: Path, _structlog_restored: None) -> None:
    from click.testing import CliRunner

    from flows.migrate import run_flow
    from netmig.cli.main import cli
    from netmig.engine.planning import load_plan
    from netmig.errors import Paused
    from netmig.stepkit.context import Options
    from netmig.stepkit.monitor import Stalled
    from netmig.steps.approval import NotApproved

    sb = sandbox_factory("npm", time_scale=0.02)
    plan = tmp_path / "p.yaml"
    res = CliRunner().invoke(cli, ["plan", "--sandbox", str(sb.directory), "--out", str(plan), "--accept",
                                   "policy-analysis"])
    assert res.exit_code == 0, res.output
    mid = load_plan(plan).migration_id
    run_dir = tmp_path / "p.run"
    address = {"sandbox": str(sb.directory)}

    def no_terminal(_: Any) -> Any:  # what `apply` without --yes does off a terminal (migrate_common.approver)
        raise Paused("paused awaiting approval (no terminal to ask on)", "review the plan, then rerun apply with --yes")

    with pytest.raises(Paused, match="awaiting approval"):
        run_flow(plan_path=str(plan), address=address, run_dir=run_dir, yes=False, options=Options(),
                 approver=no_terminal)
    [paused] = _runs(mid)
    assert paused.state_type.value == "PAUSED" and paused.state_name == "Paused", paused.state
    assert "awaiting approval" in (paused.state.message or "")

    def reject(_: Any) -> Any:
        return {"approved": False, "approver": "alice", "comment": "not in this window"}

    with pytest.raises(NotApproved, match="not approved by alice"):
        run_flow(plan_path=str(plan), address=address, run_dir=run_dir, yes=False, options=Options(),
                 approver=reject)
    first, rejected = _runs(mid)
    assert rejected.state_type.value == "CANCELLED", rejected.state
    assert "not approved by alice (not in this window)" in (rejected.state.message or "")
    assert first.id == paused.id and first.state_type.value == "CANCELLED", first.state  # superseded, no alert
    assert "superseded" in (first.state.message or "")

    with pytest.raises(Stalled):  # a stall: the ARM operation goes on, the run pauses
        run_flow(plan_path=str(plan), address=address, run_dir=run_dir, yes=True,
                 options=Options(stall_seconds=0.001, poll_seconds=0.2), approver=None)
    stalled = _runs(mid)[-1]
    assert stalled.state_type.value == "PAUSED", stalled.state
    assert not any(r.state_type.value in ("FAILED", "CRASHED") for r in _runs(mid))


@pytest.mark.e2e
def test_a_real_failure_ends_failed_with_its_one_line_and_no_traceback_in_the_state(
        prefect_server: None, tmp_path: Path, _structlog_restored: None) -> None:
    from flows.migrate import migrate

    state = migrate(plan_path=str(tmp_path / "missing.yaml"), return_state=True)
    assert state.is_failed(), state
    assert "does not exist" in (state.message or "") and "Traceback" not in (state.message or "")
