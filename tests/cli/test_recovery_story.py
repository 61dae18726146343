"""Issue 10, findings 5 and 13: one recovery story, told with CLI flag names.

- finding 5: a stall's message named the Prefect parameter (``stall_seconds >= 320 s``) and ``apply --abort``; now
  the flags of ``aks-netmig apply`` and the one abort command; ``status`` names the stuck nodes; once a later run
  succeeds, ``status`` no longer shows the old "last error / last stall".
- finding 13: ``status`` showed a lease left by a killed process as "held"; now it says the holder is dead (or the
  lease expired) and that the next apply takes it over.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.kube import lease
from netmig.kube.gateway import KubeGateway
from netmig_sandbox import scenarios
from netmig_sandbox.faults import Fault


def _run(*args: Any) -> Any:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_a_stall_names_cli_flags_and_the_abort_command_status_names_the_stuck_node_and_clears_after_success(
        sandbox_factory: Any, tmp_path: Path) -> None:
    scenario = scenarios.load("npm")
    scenario["arm_behaviour"] = {"node_ready_timeout_seconds": 1e7}  # ARM would give up much later than apply
    sb = sandbox_factory(scenario, time_scale=0.002)
    d = str(sb.directory)
    plan = tmp_path / "p.yaml"
    assert _run("plan", "--sandbox", d, "--out", plan, "--accept", "policy-analysis").exit_code == 0
    sb.run(lambda ctx: ctx.faults.add(Fault("node", kind="stuck-notready", params={"pool": "user"})))
    res = _run("apply", plan, "--sandbox", d, "--yes", "--no-prefect", "--stall-timeout", "3")
    assert res.exit_code == 3, res.output
    assert "stall_seconds" not in res.output and "--abort" not in res.output
    assert f"abort:        aks-netmig abort {plan} --sandbox {d} --yes" in res.output
    assert f"wait longer:  aks-netmig apply {plan} --sandbox {d} --yes --no-prefect --stall-timeout 303" in res.output
    assert "see the runbook's \"ARM operation failed\" section" in res.output

    res = _run("status", plan, "--sandbox", d, "--json")
    doc = json.loads(res.output)
    stuck = [n for n in doc["stuck_nodes"] if "NotReady" in n["state"]]
    assert stuck and stuck[0]["pool"] == "user", doc["stuck_nodes"]
    assert doc["last_stall"]["reason"].startswith("no reimage progress")
    text = _run("status", plan, "--sandbox", d).output
    assert f"Stuck nodes: {stuck[0]['name']} (pool user, NotReady" in text and "last stall:" in text

    res = _run("abort", plan, "--sandbox", d, "--yes")
    assert res.exit_code == 0, res.output
    sb.run(lambda ctx: ctx.faults.clear())
    res = _run("apply", plan, "--sandbox", d, "--yes", "--no-prefect")
    assert res.exit_code == 0, res.output
    doc = json.loads(_run("status", plan, "--sandbox", d, "--json").output)
    assert doc["done"] and doc["last_stall"] is None and doc["last_error"] is None and doc["stuck_nodes"] == []
    assert doc["aborts"]  # the history stays in the journal and in "aborted:" lines
    text = _run("status", plan, "--sandbox", d).output
    assert "last error" not in text and "last stall" not in text


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def test_status_says_a_lease_holder_is_dead_or_expired_and_that_the_next_apply_takes_it_over(
        sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    d = str(sb.directory)
    with KubeGateway(sb.directory / "kubeconfig") as kube:
        held = lease.acquire(kube, "killed-migration", "run-killed", 3600)
        doc = json.loads(_run("status", "--sandbox", d, "--json").output)
        assert doc["lock"]["held"] and doc["lock"]["holder_state"] == "live"  # this test process holds it
        assert "another apply is refused" in doc["lock"]["takeover"]

        # the holder was killed (kill -9): its pid no longer exists on this host
        pid = _dead_pid()
        kube.coordination.patch_namespaced_lease(  # type: ignore[attr-defined]
            "aks-netmig-lock", "kube-system", {"metadata": {"annotations": {lease.A_PID: str(pid)}}})
        text = _run("status", "--sandbox", d).output
        assert f"pid {pid} on {held.host}" in text
        assert (f"holder DEAD: its process (pid {pid} on {held.host}) no longer exists: the next apply takes the "
                "lock over") in text

        lease.release(kube, "run-killed")
        lease.acquire(kube, "old-migration", "run-old", 30, now=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
        kube.coordination.patch_namespaced_lease(  # type: ignore[attr-defined]
            "aks-netmig-lock", "kube-system", {"metadata": {"annotations": {lease.A_HOST: "another-host"}}})
        doc = json.loads(_run("status", "--sandbox", d, "--json").output)
        assert doc["lock"]["holder_state"] == "expired"
        assert doc["lock"]["takeover"].startswith("the lease expired without renewal: the next apply takes the lock")
