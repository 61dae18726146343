"""calico-to-self-managed (Tigera's procedure, automated) on the sandbox scenario managed-calico: plan -> apply ->
AKS at azure/none, the operator's own Calico Running and every TigeraStatus Available, the exported policies back,
connectivity unchanged; SIGKILL at step boundaries and mid-reimage, then one rerun, with exactly one PUT; the
preflight fails on managed-calico-addon (AKS's addon manager reconciles Calico); plan and apply refuse a plan with
a CRD cleanup between the policy-none change and the operator install."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli as netmig_cli
from tests.e2e.calico_helpers import MANIFEST, assert_self_managed, journal_value, state
from tests.e2e.migrate_helpers import ROOT, cli, profile_puts, start_detached, stop

KIND = "calico-to-self-managed"
SET_MANIFEST = f"install-operator.manifest={MANIFEST}"


def _run(*args: Any) -> Any:
    return CliRunner().invoke(netmig_cli, [str(a) for a in args], catch_exceptions=False)


def test_plan_apply_self_managed_calico_with_policies_back_and_connectivity_unchanged(sandbox_factory: Any,
                                                                                       tmp_path: Path) -> None:
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    plan = tmp_path / "c.yaml"
    res = _run("plan", "--sandbox", sb.directory, "--migration", KIND, "--out", plan, "--set", SET_MANIFEST)
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load(plan.read_text())
    assert doc["arm_changes"][0]["network_profile"] == {"networkPolicy": "none"}
    steps = {s["id"]: s for s in doc["steps"]}
    assert steps["install-operator"]["params"]["manifest"] == str(MANIFEST)
    assert [o["kind"] for o in steps["installation"]["params"]["objects"]] == [
        "Installation", "APIServer", "Goldmane", "Whisker"]
    assert steps["installation"]["params"]["objects"][0]["spec"] == {"kubernetesProvider": "AKS",
                                                                     "cni": {"type": "AzureVNET"}}

    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1
    assert_self_managed(state(sb.directory))
    run_dir = tmp_path / "c.run"
    exported = yaml.safe_load((run_dir / "policies-export" / "networkpolicies.yaml").read_text())["items"]
    assert len(exported) == 6
    assert all(k not in p["metadata"] for p in exported for k in ("uid", "resourceVersion", "managedFields"))
    assert all("status" not in p for p in exported)
    result = journal_value(run_dir, "verify-result")
    assert result["engine"] == "calico" and result["changes"] == 0 and result["unexplained"] == 0
    assert result["mismatches"] == 0 and result["probes"] > 50
    report = (run_dir / "report.md").read_text()
    assert "**PASSED**" in report and "Network policies re-applied" in report
    assert "apiserver, calico, goldmane, ippools, whisker Available" in report and "sha256 " in report
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")  # done: a no-op
    assert res.exit_code == 0 and len(profile_puts(sb.directory)) == 1


# each kill resumes the previous run: mid-reimage (the run that sent the PUT), between the operator install and
# the Installation, before the TigeraStatus wait, before the policies are re-applied
CHAIN = ["watch-reimage:event=4", "install-operator:after", "tigerastatus:before", "restore-policies:before"]


def test_sigkill_at_boundaries_and_mid_reimage_then_rerun_completes_with_one_put(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb, "managed-calico")
    try:
        plan = tmp_path / "p.yaml"
        res = cli("plan", "--sandbox", str(sb), "--migration", KIND, "--out", str(plan), "--set", SET_MANIFEST)
        assert res.returncode == 0, res.stdout + res.stderr
        for point in CHAIN:
            res = cli("apply", str(plan), "--sandbox", str(sb), "--yes", env={"NETMIG_TEST_KILL_AT": point})
            assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-2000:])
        res = cli("apply", str(plan), "--sandbox", str(sb), "--yes")
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(profile_puts(sb)) == 1
        assert_self_managed(state(sb))
        run_dir = tmp_path / "p.run"
        events = [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines()]
        assert sum(e["event"] == "run-start" for e in events) == len(CHAIN) + 1
        assert sum(e["event"] == "arm-put" for e in events) == 1
        assert "**PASSED**" in (run_dir / "report.md").read_text()
        assert "Lock: free" in cli("status", str(plan), "--sandbox", str(sb)).stdout
    finally:
        stop(sb)


def _early_cleanup(doc: dict[str, Any]) -> dict[str, Any]:
    at = next(i for i, s in enumerate(doc["steps"]) if s["id"] == "policy-none")
    doc["steps"].insert(at + 1, {"id": "early-cleanup", "kind": "crd-cleanup", "irreversible": False, "params": {}})
    return doc


def test_preflight_fails_on_addon_managed_calico_and_unsafe_orders_are_refused(sandbox_factory: Any,
                                                                                tmp_path: Path) -> None:
    sb = sandbox_factory("managed-calico-addon", time_scale=0.002)
    plan = tmp_path / "a.yaml"
    res = _run("plan", "--sandbox", sb.directory, "--migration", KIND, "--out", plan, "--set", SET_MANIFEST)
    assert res.exit_code == 1, res.output
    assert "[FAIL] calico-addon-annotations: AKS reconciles Calico here: Deployment tigera-operator/tigera-operator " \
           "(annotation addonmanager.kubernetes.io/mode=Reconcile); DaemonSet calico-system/calico-node" in res.output
    assert "error: 1 preflight check(s) fail: calico-addon-annotations" in res.output
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")  # apply re-runs preflight
    assert res.exit_code == 1 and "calico-addon-annotations: AKS reconciles Calico here" in res.output
    assert profile_puts(sb.directory) == []

    # a hand-edited template: plan refuses it before reading the cluster
    template = tmp_path / "edited-template.yaml"
    template.write_text(yaml.safe_dump(_early_cleanup(yaml.safe_load((ROOT / "plans" / f"{KIND}.yaml").read_text()))))
    res = _run("plan", "--sandbox", sb.directory, "--migration", template, "--out", tmp_path / "x.yaml")
    assert res.exit_code == 2
    [line] = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert "unsafely ordered" in line and "'early-cleanup' cleans up Calico CRDs between the network-policy none " \
                                          "change and the operator install" in line
    # a hand-edited concrete plan: apply refuses it before running anything
    edited = tmp_path / "edited-plan.yaml"
    edited.write_text(yaml.safe_dump(_early_cleanup(yaml.safe_load(plan.read_text()))))
    res = _run("apply", edited, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 2
    [line] = [x for x in res.output.splitlines() if x.startswith("error:")]
    assert "unsafely ordered" in line and "early-cleanup" in line
    assert not (tmp_path / "edited-plan.run").exists() and profile_puts(sb.directory) == []


def test_demo_runs_the_self_managed_migration_on_its_scenario(tmp_path: Path) -> None:
    res = _run("demo", "--migration", KIND, "--no-prefect", "--yes", "--keep-dir", tmp_path / "demo")
    assert res.exit_code == 0, res.output
    assert "Starting the sandbox (scenario managed-calico)" in res.output
    assert "install-operator -> installation -> tigerastatus" in res.output
    assert "**PASSED**: " in res.output and "re-run under calico; 0 connectivity changes" in res.output
    plan = yaml.safe_load((tmp_path / "demo" / f"{KIND}.yaml").read_text())
    assert next(s for s in plan["steps"] if s["id"] == "install-operator")["params"]["manifest"] == str(MANIFEST)
