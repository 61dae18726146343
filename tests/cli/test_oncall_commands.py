"""On-call commands without a terminal: ``--json`` outputs parse with their documented keys, logs are JSON lines on
stderr, ``preflight`` writes nothing, ``abort`` needs --yes (exit 3) and is recorded in the plan's journal,
``status`` shows the current step, reimage progress, lock, last error and the resume command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from netmig_sandbox import scenarios
from netmig_sandbox.faults import Fault

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMIG_ORCHESTRATOR": "local"}
    return subprocess.run([sys.executable, "-m", "netmig.cli.main", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=180, check=False)


def json_out(res: subprocess.CompletedProcess[str]) -> Any:
    for line in res.stderr.splitlines():
        if not line.startswith("error: "):
            json.loads(line)  # every log line is a JSON object (stderr is not a terminal)
    return json.loads(res.stdout)


def puts(sandbox_dir: Path) -> list[dict[str, Any]]:
    lines = (sandbox_dir / "arm-requests.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["method"] == "PUT"]


def test_json_outputs_of_preflight_plan_status_verify_and_abort(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    d = str(sb.directory)

    res = run("preflight", "--sandbox", d, "--migration", "npm-to-cilium", "--json")
    assert res.returncode == 1  # policy-analysis fails unaccepted
    doc = json_out(res)
    assert set(doc) >= {"cluster", "migration", "source", "target", "checks", "findings", "predicted_changes",
                        "blocking", "accepted", "ok", "nodes_to_reimage", "expected_minutes"}
    assert doc["blocking"] == ["policy-analysis"] and doc["ok"] is False
    assert {"check", "outcome", "reason", "fix", "accepted"} <= set(doc["checks"][0])
    change = doc["predicted_changes"][0]
    assert set(change) >= {"policy", "src", "dst", "port", "protocol", "before", "after"}
    assert (change["source_engine"], change["target_engine"]) == ("npm", "cilium")
    assert res.stderr.splitlines()[-1].startswith("error: 1 preflight check(s) fail: policy-analysis")
    res = run("preflight", "--sandbox", d, "--accept", "policy-analysis", "--json")
    assert res.returncode == 0 and json_out(res)["ok"] is True
    assert list(tmp_path.iterdir()) == [] and puts(sb.directory) == []  # nothing written, nothing changed

    plan = tmp_path / "p.yaml"
    res = run("plan", "--sandbox", d, "--out", str(plan), "--accept", "policy-analysis", "--json")
    assert res.returncode == 0, res.stderr
    doc = json_out(res)
    assert set(doc) == {"path", "ok", "blocking", "plan"} and doc["ok"] is True and doc["path"] == str(plan)
    assert doc["plan"]["migration_id"] in plan.read_text()

    res = run("status", str(plan), "--sandbox", d, "--json")
    assert res.returncode == 0, res.stderr
    doc = json_out(res)
    assert set(doc) >= {"plan", "migration_id", "kind", "run_dir", "steps", "current_step", "done", "last_error",
                        "last_stall", "aborts", "cluster", "reimage", "target_engine", "lock", "resume_command"}
    assert doc["current_step"]["id"] == "preflight" and doc["done"] is False and doc["lock"]["held"] is False
    assert doc["resume_command"] == f"aks-netmig apply {plan} --sandbox {d} --yes"
    assert {p["pool"]: (p["done"], p["total"]) for p in doc["reimage"]} == {"system": (0, 3), "user": (0, 3)}
    res = run("status", "--sandbox", d, "--json")  # the cluster alone
    assert res.returncode == 0 and json_out(res)["cluster"]["provisioning_state"] == "Succeeded"

    snap = tmp_path / "snap.json"
    res = run("verify", "snapshot", "--sandbox", d, "--out", str(snap), "--json")
    assert res.returncode == 0, res.stderr
    doc = json_out(res)
    assert set(doc) == {"out", "engine", "differ", "stats", "coverage"}
    assert doc["out"] == str(snap) and doc["stats"]["probes"]
    res = run("verify", "compare", str(snap), str(snap), "--json")
    assert res.returncode == 0 and json_out(res)["changes"] == []
    res = run("verify", "cleanup", "--sandbox", d, "--dry-run", "--json")
    assert res.returncode == 0 and json_out(res) == {"dry_run": True, "pods": [], "namespaces": []}

    res = run("abort", str(plan), "--sandbox", d, "--json")
    assert res.returncode == 0, res.stderr
    doc = json_out(res)
    assert doc["in_flight"] is False and doc["aborted"] is False  # nothing to abort: nothing sent
    assert set(doc) == {"cluster", "in_flight", "aborted", "provisioning_state_before", "provisioning_state_after",
                        "journal", "resume_command"}


def test_stall_then_status_then_abort_then_resume(sandbox_factory: Any, tmp_path: Path) -> None:
    """A node stuck NotReady (ARM would give up much later): apply pauses (exit 3); status names the stall and the
    resume command; abort without --yes and no terminal sends nothing (exit 3); with --yes ARM cancels the
    operation and the journal records it; the next apply resumes and completes."""
    scenario = scenarios.load("npm")
    scenario["arm_behaviour"] = {"node_ready_timeout_seconds": 1e7}
    sb = sandbox_factory(scenario, time_scale=0.002)
    d = str(sb.directory)
    plan = tmp_path / "p.yaml"
    assert run("plan", "--sandbox", d, "--out", str(plan), "--accept", "policy-analysis").returncode == 0
    sb.run(lambda ctx: ctx.faults.add(Fault("node", kind="stuck-notready", params={"pool": "user"})))
    res = run("apply", str(plan), "--sandbox", d, "--yes", "--stall-timeout", "3")
    assert res.returncode == 3, res.stderr
    assert "reimage stalled" in res.stderr

    status = json_out(run("status", str(plan), "--sandbox", d, "--json"))
    assert status["current_step"] == {"id": "watch-reimage", "kind": "watch-reimage", "state": "paused",
                                      "detail": status["current_step"]["detail"]}
    assert "no reimage progress" in status["last_stall"]["reason"]
    assert status["cluster"]["provisioning_state"] == "Updating"
    user = next(p for p in status["reimage"] if p["pool"] == "user")
    assert user["not_ready"] >= 1 and user["done"] < user["total"]
    assert status["resume_command"] == f"aks-netmig apply {plan} --sandbox {d}"
    text = run("status", str(plan), "--sandbox", d)
    assert "current step: watch-reimage (paused)" in text.stdout and "Lock: free" in text.stdout

    res = run("abort", str(plan), "--sandbox", d)
    assert res.returncode == 3 and "rerun with --yes" in res.stderr
    res = run("abort", str(plan), "--sandbox", d, "--yes", "--json")
    assert res.returncode == 0, res.stderr
    doc = json_out(res)
    assert doc["aborted"] is True and doc["provisioning_state_after"] == "Canceled"
    journal = [json.loads(x) for x in (tmp_path / "p.run" / "journal.jsonl").read_text().splitlines()]
    assert any(e["event"] == "abort" and e["step"] == "watch-reimage" for e in journal)
    aborts = [r for r in map(json.loads, (sb.directory / "arm-requests.jsonl").read_text().splitlines())
              if r["method"] == "POST" and r["path"].endswith("/abort")]
    assert len(aborts) == 1

    res = run("apply", str(plan), "--sandbox", d, "--yes")
    assert res.returncode == 0, res.stderr
    status = json_out(run("status", str(plan), "--sandbox", d, "--json"))
    assert status["done"] is True and status["resume_command"] is None and status["aborts"]
    assert all(p["done"] == p["total"] for p in status["reimage"])
