"""uninstall and calico-crd-cleanup on the sandbox scenario managed-calico: plan -> apply -> network policy none,
no Calico left (CRDs, custom resources with never-clearing finalizers, RBAC, the dangling APIService, namespaces),
NetworkPolicies still there and reported as no longer enforced, connectivity changes all predicted; the backup ->
delete -> restore round trip (objects identical apart from server-set fields); SIGKILL mid-reimage and mid-cleanup,
then one rerun, with exactly one PUT; the cleanup alone refused while Calico runs, then run on a cluster uninstalled
by hand; the uninstall preflight failing on Kubernetes 1.26."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli as netmig_cli
from tests.e2e.calico_helpers import POLICIES, assert_uninstalled, journal_value, state, uninstall_by_hand
from tests.e2e.migrate_helpers import cli, profile_puts, start_detached, stop


def _run(*args: Any) -> Any:
    return CliRunner().invoke(netmig_cli, [str(a) for a in args], catch_exceptions=False)


def _backed_up_objects(backup: Path) -> list[dict[str, Any]]:
    from netmig import backups

    return backups.read(backup).objects()


def test_uninstall_cleans_up_reports_unenforced_policies_and_restore_puts_everything_back(sandbox_factory: Any,
                                                                                           tmp_path: Path) -> None:
    from netmig.backups import key, normalized
    from netmig.kube import calico
    from netmig.kube.gateway import KubeGateway
    from netmig.kube.resources import Rest

    sb = sandbox_factory("managed-calico", time_scale=0.002)
    plan = tmp_path / "u.yaml"
    res = _run("plan", "--sandbox", sb.directory, "--migration", "uninstall", "--out", plan)
    assert res.exit_code == 1, res.output  # issue 10, finding 6: turning enforcement off must be accepted explicitly
    assert "[FAIL] policies-unenforced: turns off enforcement of 6 NetworkPolicies in 4 namespaces" in res.output
    assert "UNENFORCED: turns off enforcement of 6 NetworkPolicies in 4 namespaces" in res.output
    res = _run("plan", "--sandbox", sb.directory, "--migration", "uninstall", "--out", plan,
               "--accept", "policies-unenforced")
    assert res.exit_code == 0, res.output
    assert "policies-unenforced: turns off enforcement of 6 NetworkPolicies in 4 namespaces" in res.output
    assert "(accepted)" in res.output
    assert yaml.safe_load(plan.read_text())["arm_changes"][0]["network_profile"] == {"networkPolicy": "none"}
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1
    assert_uninstalled(state(sb.directory))

    run_dir = tmp_path / "u.run"
    result = journal_value(run_dir, "verify-result")
    assert result["engine"] == "none" and result["changes"] > 0  # what the policies used to block is open now
    assert result["unexplained"] == 0 and result["mismatches"] == 0  # ... and every change was predicted
    report = (run_dir / "report.md").read_text()
    assert "**PASSED**" in report
    assert "UNENFORCED: turns off enforcement of 6 NetworkPolicies in 4 namespaces" in report
    gate = next(json.loads(x)["result"]["statement"] for x in (run_dir / "journal.jsonl").read_text().splitlines()
                if json.loads(x).get("event") == "step-done" and json.loads(x).get("step") == "approval")
    assert "UNENFORCED: turns off enforcement of 6 NetworkPolicies in 4 namespaces" in gate  # what was approved
    assert "6 NetworkPolicies still exist and are NO LONGER ENFORCED" in report
    assert all(f"`{p}`" in report for p in POLICIES)
    assert "tigera.io/operator-cleanup" in report and "operator.tigera.io/apiserver-controller" in report

    backup = Path(journal_value(run_dir, "calico-backup.dir"))
    backed = _backed_up_objects(backup)
    assert {o["kind"] for o in backed} >= {"CustomResourceDefinition", "Installation", "APIServer", "TigeraStatus",
                                           "IPPool", "APIService", "Namespace", "ServiceAccount", "ClusterRole",
                                           "ClusterRoleBinding"}
    # issue 10, finding 12: the dry run reports what would be created, at once, without false FAILED lines (before:
    # 10 FAILED lines and --wait seconds per custom resource whose CRD was not served yet)
    res = _run("restore", backup, "--sandbox", sb.directory, "--dry-run", "--wait", "600")  # waiting: a hang
    assert res.exit_code == 0, res.output
    assert "FAILED" not in res.output and "dry run: nothing was changed" in res.output
    assert f"would create {len(backed) - 1}, already present 0 (0 differ from the backup), skipped 1" in res.output
    with KubeGateway(sb.directory / "kubeconfig") as gw:
        assert calico.inventory(Rest(gw)).empty()  # the dry run changed nothing
    # the real restore never re-creates the dangling APIService (its Service calico-apiserver/calico-api is gone)
    dangling = "apiregistration.k8s.io/v1 APIService /v3.projectcalico.org"
    res = _run("restore", backup, "--sandbox", sb.directory)
    assert res.exit_code == 0, res.output
    assert f"created {len(backed) - 1}, already present 0 (0 differ from the backup), skipped 1" in res.output
    assert f"skipped: {dangling}: not re-created: its Service calico-apiserver/calico-api does not exist" in res.output
    with KubeGateway(sb.directory / "kubeconfig") as gw:
        live = {key(i.obj): i for i in calico.inventory(Rest(gw)).items()}
    assert set(live) == {key(o) for o in backed} - {dangling}
    for o in backed:  # identical apart from server-set fields
        if key(o) == dangling:
            continue
        item = live[key(o)]
        assert normalized(item.obj, not item.res.has_status) == normalized(o, not item.res.has_status), key(o)
    res = _run("restore", backup, "--sandbox", sb.directory)  # everything is there: nothing to do
    assert res.exit_code == 0 and f"created 0, already present {len(backed) - 1} (0 differ" in res.output


UNINSTALL_CHAIN = ["watch-reimage:event=4", "calico-backup:after", "crd-cleanup:deleted=3", "crd-cleanup:deleted=20"]


def test_uninstall_sigkill_mid_reimage_and_mid_cleanup_then_rerun_completes_with_one_put(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb, "managed-calico")
    try:
        plan = tmp_path / "p.yaml"
        res = cli("plan", "--sandbox", str(sb), "--migration", "uninstall", "--out", str(plan),
                  "--accept", "policies-unenforced")
        assert res.returncode == 0, res.stdout + res.stderr
        for point in UNINSTALL_CHAIN:
            res = cli("apply", str(plan), "--sandbox", str(sb), "--yes", env={"NETMIG_TEST_KILL_AT": point})
            assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-2000:])
        res = cli("apply", str(plan), "--sandbox", str(sb), "--yes")
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(profile_puts(sb)) == 1
        assert_uninstalled(state(sb))
        run_dir = tmp_path / "p.run"
        events = [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines()]
        assert sum(e["event"] == "run-start" for e in events) == len(UNINSTALL_CHAIN) + 1
        assert sum(e["event"] == "arm-put" for e in events) == 1
        # the one backup taken before the first delete covers everything the three runs deleted
        assert len(list(run_dir.glob("calico-backup-*"))) == 1
        backed = _backed_up_objects(Path(journal_value(run_dir, "calico-backup.dir")))
        assert sum(o["kind"] == "CustomResourceDefinition" for o in backed) == 25
        assert "**PASSED**" in (run_dir / "report.md").read_text()
        assert "Lock: free" in cli("status", str(plan), "--sandbox", str(sb)).stdout
    finally:
        stop(sb)


def test_crd_cleanup_alone_is_refused_while_calico_runs_then_cleans_a_cluster_uninstalled_by_hand(
        sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    plan = tmp_path / "c.yaml"
    res = _run("plan", "--sandbox", sb.directory, "--migration", "calico-crd-cleanup", "--out", plan)
    assert res.exit_code == 1
    assert "[FAIL] policy-none: the network policy is calico" in res.output
    assert "[FAIL] policy-engine-stopped: policy-engine pods still run: calico-system/" in res.output
    assert "calico-system/calico-node-" in res.output

    uninstall_by_hand(sb.directory)  # az aks update --network-policy none: the leftovers stay behind
    res = _run("plan", "--sandbox", sb.directory, "--migration", "calico-crd-cleanup", "--out", plan)
    assert res.exit_code == 0, res.output
    assert "to back up and delete: 25 CRDs, 9 custom resources" in res.output
    doc = yaml.safe_load(plan.read_text())
    assert doc["arm_changes"] == []
    res = _run("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output
    assert len(profile_puts(sb.directory)) == 1  # the hand-made one: the cleanup sends none
    assert_uninstalled(state(sb.directory))
    run_dir = tmp_path / "c.run"
    result = journal_value(run_dir, "verify-result")
    assert result["engine"] == "none" and result["changes"] == 0 and result["unexplained"] == 0
    assert result["mismatches"] == 0
    report = (run_dir / "report.md").read_text()
    assert "**PASSED**" in report and "NO LONGER ENFORCED" in report
    assert "Calico cleanup (apiservice-cleanup)" in report and "Calico cleanup (crd-cleanup)" in report


CLEANUP_CHAIN = ["apiservice-cleanup:after", "crd-cleanup:deleted=2"]


def test_crd_cleanup_sigkill_then_rerun_completes_without_any_put(tmp_path: Path) -> None:
    sb = tmp_path / "sb"
    start_detached(sb, "managed-calico")
    try:
        uninstall_by_hand(sb)
        plan = tmp_path / "p.yaml"
        res = cli("plan", "--sandbox", str(sb), "--migration", "calico-crd-cleanup", "--out", str(plan))
        assert res.returncode == 0, res.stdout + res.stderr
        for point in CLEANUP_CHAIN:
            res = cli("apply", str(plan), "--sandbox", str(sb), "--yes", env={"NETMIG_TEST_KILL_AT": point})
            assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-2000:])
        res = cli("apply", str(plan), "--sandbox", str(sb), "--yes")
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(profile_puts(sb)) == 1  # the hand-made uninstall only
        assert_uninstalled(state(sb))
        assert "**PASSED**" in (tmp_path / "p.run" / "report.md").read_text()
    finally:
        stop(sb)


def test_uninstall_preflight_fails_on_kubernetes_1_26(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("kubenet-calico-k126", time_scale=0.002)
    res = _run("plan", "--sandbox", sb.directory, "--migration", "uninstall", "--out", tmp_path / "k.yaml",
               "--accept", "policies-unenforced")
    assert res.exit_code == 1
    assert "[FAIL] policy-change-kubernetes-version: Kubernetes 1.26" in res.output
    assert "error: 1 preflight check(s) fail: policy-change-kubernetes-version" in res.output
