"""The lock (a second apply is refused naming the holder; a stale lease is taken over) and faults (ARM 429/503,
a failed LRO, a PDB-blocked drain detected as a stall naming the PDB). Library runner, in-process sandboxes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.connection import from_sandbox_dir
from netmig.engine.context import Options
from netmig.engine.planning import load_plan
from netmig.engine.runner import run_plan
from netmig.engine.session import open_context
from netmig.errors import CheckFailed, Paused
from netmig.kube import lease
from netmig.kube.gateway import KubeGateway
from netmig.sandbox import scenarios
from netmig.sandbox.faults import Fault
from tests.e2e.migrate_helpers import profile_puts


def _plan(sb: Any, tmp_path: Path) -> Path:
    plan = tmp_path / "p.yaml"
    res = CliRunner().invoke(cli, ["plan", "--sandbox", str(sb.directory), "--out", str(plan), "--accept",
                                   "policy-analysis"])
    assert res.exit_code == 0, res.output
    return plan


def _apply(sb: Any, plan: Path) -> Any:
    return CliRunner().invoke(cli, ["apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes"])


def _ctx(sb: Any, plan: Path, **opts: Any) -> Any:
    p = load_plan(plan)
    return open_context(p, from_sandbox_dir(sb.directory), plan.with_name("p.run"),
                        approver=lambda _: True, options=Options(poll_seconds=0.3, **opts), polling_interval=0.1)


def test_a_second_apply_is_refused_naming_the_holder(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = _plan(sb, tmp_path)
    kube = KubeGateway(Path(sb.directory) / "kubeconfig")
    held = lease.acquire(kube, "other-migration", "run-other", 60)  # a live process (this one) holds it
    res = _apply(sb, plan)
    assert res.exit_code == 1, res.output
    assert "locked by" in res.output and "run-other" in res.output and held.identity in res.output
    assert profile_puts(sb.directory) == []
    kube.close()


def test_a_stale_lease_is_taken_over(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = _plan(sb, tmp_path)
    kube = KubeGateway(Path(sb.directory) / "kubeconfig")
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    lease.acquire(kube, "other-migration", "run-stale", 30, now=long_ago)
    res = _apply(sb, plan)
    assert res.exit_code == 0, res.output
    assert lease.read(kube) == (None, None)  # taken over, then released at the end
    assert len(profile_puts(sb.directory)) == 1
    kube.close()


def test_arm_throttling_and_5xx_are_retried_and_one_put_lands(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = _plan(sb, tmp_path)
    # more 429s than the SDK's own retries, then 503s on reads
    sb.run(lambda ctx: ctx.faults.add(Fault("arm", status=429, code="TooManyRequests", method="PUT", times=6,
                                            retry_after=0.05)))
    sb.run(lambda ctx: ctx.faults.add(Fault("arm", status=503, code="ServiceUnavailable", method="GET", times=2,
                                            path="managedClusters/[^/]+$", retry_after=0.05)))
    res = _apply(sb, plan)
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1
    assert "retrying" in res.output


def test_a_failed_operation_stops_with_exit_1_and_a_rerun_resumes_it(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = _plan(sb, tmp_path)
    sb.run(lambda ctx: ctx.faults.add(Fault("lro", kind="fail", code="ReconcileFailed",
                                            message="injected LRO failure")))
    res = _apply(sb, plan)
    assert res.exit_code == 1, res.output
    assert "the ARM operation failed" in res.output
    res = _apply(sb, plan)
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1  # the resume PUT carries no profile change


def test_a_pdb_blocked_drain_is_a_stall_naming_the_pdb(sandbox_factory: Any, tmp_path: Path) -> None:
    scenario = scenarios.load("npm")
    scenario["arm_behaviour"] = {"drain_timeout_seconds": 1e7}  # ARM would give up much later than we notice
    sb = sandbox_factory(scenario, time_scale=0.002)
    plan = _plan(sb, tmp_path)
    ctx = _ctx(sb, plan, pdb_block_seconds=1.0)
    try:
        run_plan(ctx, until="lock")
        ctx.kube.policy.create_namespaced_pod_disruption_budget("data", {  # type: ignore[arg-type]
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "db-strict"},
            "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}}})
        with pytest.raises(Paused) as e:
            run_plan(ctx)
        assert "data/db-strict" in str(e.value) and "wait longer" in str(e.value)
        assert e.value.exit_code == 3
        stall = [x for x in ctx.journal.events() if x["event"] == "stall"]
        assert stall and stall[-1]["pdb"] == "data/db-strict"
    finally:
        from netmig.steps.lock import drop
        drop(ctx)
        ctx.close()


def test_stop_conditions_raise_check_failed_not_crash(sandbox_factory: Any, tmp_path: Path) -> None:
    """The approval gate refuses when the approver says no: nothing is changed."""
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = _plan(sb, tmp_path)
    ctx = _ctx(sb, plan)
    ctx.approver = lambda _: {"approved": False, "comment": "not today"}
    try:
        with pytest.raises(CheckFailed, match="not today"):
            run_plan(ctx)
    finally:
        ctx.close()
    assert profile_puts(sb.directory) == []
