"""The lock (a second apply is refused naming the holder — also with two real `aks-netmig apply` processes racing
for it; a stale lease is taken over) and faults (ARM 429/503, a failed LRO, a PDB-blocked drain detected as a stall
naming the PDB, through the CLI with its three choices). Library runner; subprocesses where processes matter.

Synchronisation without sleeps: the NETMIG_TEST_PAUSE_AT hook stops an apply (SIGSTOP) at a step boundary and the
test waits for that with ``os.waitpid(pid, WUNTRACED)``; a watchdog kills a process that never gets there."""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.connection import from_sandbox_dir
from netmig.engine.planning import load_plan
from netmig.engine.runner import run_plan
from netmig.engine.session import open_context
from netmig.errors import CheckFailed, Paused
from netmig.kube import lease
from netmig.kube.gateway import KubeGateway
from netmig.stepkit.context import Options
from netmig_sandbox import scenarios
from netmig_sandbox.faults import Fault
from tests.e2e.migrate_helpers import EXE, ROOT, profile_puts, start_detached, stop
from tests.e2e.migrate_helpers import cli as run_cli


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


def test_a_failed_operation_stops_with_exit_4_and_a_rerun_resumes_it(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = _plan(sb, tmp_path)
    sb.run(lambda ctx: ctx.faults.add(Fault("lro", kind="fail", code="ReconcileFailed",
                                            message="injected LRO failure")))
    res = _apply(sb, plan)
    assert res.exit_code == 4, res.output  # the PUT went out: "failed after the cluster was changed"
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


# --- two concurrent `aks-netmig apply` processes -----------------------------------------------------------------


def _spawn(args: list[str], out: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {**os.environ, "NETMIG_ORCHESTRATOR": "local", **env}
    full.pop("NETMIG_TEST_KILL_AT", None)
    with (out.with_suffix(".out")).open("wb") as o, (out.with_suffix(".err")).open("wb") as e:
        return subprocess.Popen([*EXE, *args], stdout=o, stderr=e, env=full, cwd=ROOT)


def _wait(proc: subprocess.Popen[bytes], timeout: float = 120) -> str:
    """Block until ``proc`` stops (SIGSTOP: "stopped") or exits ("exit N"); a watchdog SIGKILLs it after
    ``timeout`` seconds, so a process that never reaches its pause point fails the test instead of hanging it."""
    watchdog = threading.Timer(timeout, lambda: proc.poll() is None and proc.send_signal(signal.SIGKILL))
    watchdog.start()
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
    finally:
        watchdog.cancel()
    if os.WIFSTOPPED(status):
        return "stopped"
    proc.returncode = os.waitstatus_to_exitcode(status)
    return f"exit {proc.returncode}"


def _puts(sb: Path) -> list[str]:
    import json

    return [json.loads(x)["path"] for x in (sb / "arm-requests.jsonl").read_text().splitlines()
            if json.loads(x)["method"] == "PUT"]


def test_two_concurrent_applies_one_proceeds_the_other_is_refused_naming_the_holder(tmp_path: Path) -> None:
    from netmig.engine.plan_build import make_plan as build_plan

    sb = tmp_path / "sb"
    start_detached(sb)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        plans = [tmp_path / "alice.yaml", tmp_path / "bob.yaml"]  # two engineers, two plans (run folders), one cluster
        text = build_plan("npm-to-cilium", from_sandbox_dir(sb), accepted=["policy-analysis"],
                          polling_interval=0.1).to_yaml()
        for p in plans:
            p.write_text(text)
        # both run preflight, snapshot, backup and approval at the same time and stop right before the lock; the
        # winner of the race stops again once its network-profile PUT is answered
        env = {"NETMIG_TEST_PAUSE_AT": "lock:before,update-network:after"}
        procs = [_spawn(["apply", str(p), "--sandbox", str(sb), "--yes"], p, env) for p in plans]
        assert [_wait(proc) for proc in procs] == ["stopped", "stopped"]
        assert _puts(sb) == []
        for proc in procs:  # released together: a real race for the Lease
            proc.send_signal(signal.SIGCONT)
        outcomes = [_wait(proc) for proc in procs]
        assert sorted(outcomes) == ["exit 1", "stopped"], outcomes
        winner, loser = (0, 1) if outcomes[0] == "stopped" else (1, 0)
        assert len(_puts(sb)) == 1 and len(profile_puts(sb)) == 1  # the winner's; the loser sent no PUT at all

        kube = KubeGateway(sb / "kubeconfig")
        _, holder = lease.read(kube)
        kube.close()
        assert holder is not None and holder.pid == procs[winner].pid
        errors = [x for x in plans[loser].with_suffix(".err").read_text().splitlines() if x.startswith("error:")]
        assert len(errors) == 1, errors
        line = errors[0]
        assert line.startswith(f"error: the cluster is locked by {holder.identity} (run {holder.run_id}, "
                               f"migration {holder.migration_id}, pid {holder.pid} on ")
        m = re.search(r"; renewed (\S+)Z, expires (\S+)Z unless renewed, lease (\d+) s\)", line)
        assert m is not None, line
        renewed, expires = (dt.datetime.fromisoformat(x).replace(tzinfo=dt.UTC) for x in m.groups()[:2])
        assert expires - renewed == dt.timedelta(seconds=int(m.group(3))) == dt.timedelta(seconds=holder.duration_s)
        assert holder.renew_time is not None and renewed <= holder.renew_time  # renewed since (before its PUT)
        assert "nothing was changed" in line
        loser_journal = (tmp_path / f"{plans[loser].stem}.run" / "journal.jsonl").read_text()
        assert '"event": "arm-put"' not in loser_journal and '"step": "lock"' in loser_journal
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        stop(sb)


# --- a PDB-blocked drain through the CLI: exit 3, the PDB named, three exact choices that work -----------------


def test_cli_pdb_blocked_drain_exits_3_naming_the_pdb_with_three_choices_that_work(sandbox_factory: Any,
                                                                                   tmp_path: Path) -> None:
    scenario = scenarios.load("npm")
    scenario["arm_behaviour"] = {"drain_timeout_seconds": 1e7}  # ARM would give up much later than we notice
    sb = sandbox_factory(scenario, time_scale=0.002)
    kube = KubeGateway(Path(sb.directory) / "kubeconfig")
    kube.policy.create_namespaced_pod_disruption_budget("data", {  # type: ignore[arg-type]
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "db-strict"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "db"}}}})
    plan = tmp_path / "p.yaml"
    res = CliRunner().invoke(cli, ["plan", "--sandbox", str(sb.directory), "--out", str(plan),
                                        "--accept", "policy-analysis", "--accept", "pdb-drain"])
    assert res.exit_code == 0, res.output

    res = run_cli("apply", str(plan), "--sandbox", str(sb.directory), "--yes", "--no-prefect", "--pdb-timeout", "1")
    assert res.returncode == 3, res.stderr[-3000:]
    err = res.stderr.splitlines()
    i = next(n for n, x in enumerate(err) if x.startswith("error:"))
    reason = err[i]
    assert reason.startswith("error: reimage stalled: the drain of node ")
    assert "is blocked by PodDisruptionBudget data/db-strict (needs 2 healthy pods, has 2; pod data/db-" in reason
    assert reason.endswith("; the ARM operation goes on; choose one:")
    choices = dict(re.fullmatch(r"\s+(wait longer|abort|resume later):\s+(.+)", x).groups()  # type: ignore[union-attr]
                   for x in err[i + 1:i + 4])
    base = ["aks-netmig", "apply", str(plan), "--sandbox", str(sb.directory)]
    assert shlex.split(choices["wait longer"]) == [*base, "--yes", "--no-prefect", "--pdb-timeout", "301"]
    assert shlex.split(choices["abort"].split("  (")[0]) == ["aks-netmig", "abort", *base[2:], "--yes"]
    assert shlex.split(choices["resume later"].strip()) == [*base, "--yes", "--no-prefect", "--pdb-timeout", "1"]
    assert len(profile_puts(sb.directory)) == 1

    # the printed commands work (run in-process: same CLI, no second interpreter start-up)
    res = CliRunner().invoke(cli, shlex.split(choices["abort"].split("  (")[0])[1:])
    assert res.exit_code == 0, res.output
    assert sb.run(lambda ctx: ctx.arm.cluster_json()["properties"]["provisioningState"]) == "Canceled"
    kube.policy.delete_namespaced_pod_disruption_budget("db-strict", "data")  # the owner relaxed it
    kube.close()
    res = CliRunner().invoke(cli, shlex.split(choices["resume later"])[1:])
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1  # the resume PUT re-sends the same profile: no profile change
    assert "**PASSED**" in (tmp_path / "p.run" / "report.md").read_text()
