"""The probing budget inside a migration (npm scenario, plan -> apply --yes):

- the before-snapshot's predicted-change cells cannot fit the plan's budget: the step stops before any change
  (exit 2, one line naming the plan's ``--budget`` to set), no network-profile PUT, no probe pod left;
- the verify step's baseline cells cannot fit its budget: after the change the budget never stops verification --
  it says so (a ``Verification budget`` report note, ``over_budget`` in the result), probes every baseline cell
  anyway and the run ends PASSED."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.kube.gateway import KubeGateway
from netmig.verify.identity import PROBE_RUN_LABEL
from tests.e2e.migrate_helpers import profile_puts


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _plan_and_apply(sb: Any, plan: Path, *plan_flags: str) -> Any:
    """``plan --accept policy-analysis PLAN_FLAGS`` (must succeed), then ``apply --yes --no-prefect``: its result."""
    res = _run("plan", "--sandbox", str(sb.directory), "--out", str(plan), "--accept", "policy-analysis",
               *plan_flags)
    assert res.exit_code == 0, res.output
    return _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")


def _journal(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines() if x.strip()]


def test_a_before_snapshot_over_budget_stops_before_any_change(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    res = _plan_and_apply(sb, tmp_path / "tight.yaml", "--budget", "0.01s")
    assert res.exit_code == 2, res.output
    errors = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "predicted-change/baseline cells need about" in errors[0], res.output
    assert "make the plan again" in errors[0] and "aks-netmig plan --budget" in errors[0]
    assert "Traceback" not in res.output
    assert profile_puts(sb.directory) == []  # nothing changed
    with KubeGateway(sb.directory / "kubeconfig") as gw:
        assert gw.pods(label_selector=PROBE_RUN_LABEL) == []
    done = {e["step"] for e in _journal(tmp_path / "tight.run") if e.get("event") == "step-done"}
    assert "snapshot" not in done and "approval" not in done


def test_verification_over_budget_probes_every_baseline_cell_and_says_so(sandbox_factory: Any,
                                                                        tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    res = _plan_and_apply(sb, tmp_path / "npm.yaml", "--set", "verify.budget_s=0.01")
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1
    run_dir = tmp_path / "npm.run"
    events = _journal(run_dir)
    result = next(e["value"] for e in reversed(events) if e.get("key") == "verify-result")
    assert result["over_budget"] is True and result["unexplained"] == 0 and result["mismatches"] == 0
    before = next(e["result"] for e in events if e.get("event") == "step-done" and e["step"] == "snapshot")
    assert result["probes"] == before["cells"]  # every baseline cell compared, budget or not
    report = (run_dir / "report.md").read_text()
    assert "**PASSED**" in report and "## Verification budget" in report and "ran over its budget" in report


def test_a_journey_budget_reaches_every_stage_plan_made_at_its_start(tmp_path: Path) -> None:
    """``journey plan --budget 15m`` on npm (npm -> Cilium, then node subnet -> overlay): stage 1's plan (made at
    plan time) and stage 2's (made when the stage starts, against the cluster as stage 1 left it) both probe
    within 900 s."""
    import yaml

    from tests.e2e.migrate_helpers import cli, start_detached, stop

    sb, journey = tmp_path / "sb", tmp_path / "j.yaml"
    start_detached(sb)
    try:
        res = cli("journey", "plan", "--sandbox", str(sb), "--out", str(journey), "--accept", "policy-analysis",
                  "--pod-cidr", "192.168.0.0/16", "--budget", "15m")
        assert res.returncode == 0, res.stdout + res.stderr
        res = cli("journey", "apply", str(journey), "--sandbox", str(sb), "--yes", timeout=600)
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        stop(sb)
    plans = sorted(tmp_path.glob("j.stage*.plan.yaml"))
    assert [p.name for p in plans] == ["j.stage1-npm-to-cilium.plan.yaml", "j.stage2-azure-cni-to-overlay.plan.yaml"]
    for plan in plans:
        steps = yaml.safe_load(plan.read_text())["steps"]
        budgets = {s["id"]: s["params"].get("budget_s") for s in steps if s["kind"] in ("connectivity-snapshot",
                                                                                           "verify")}
        assert budgets == {"snapshot": 900, "verify": 900}, (plan.name, budgets)
