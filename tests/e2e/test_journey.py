"""Journeys to Azure CNI Overlay + Cilium on the sandbox, end to end (issue 17).

For each start scenario -- kubenet + Calico (``kubenet-calico``), Azure CNI node subnet + NPM (``npm``), AKS-managed
Calico (``managed-calico``), Azure CNI node subnet without an engine (``azure-cni``) -- ``aks-netmig journey plan``
writes the journey, and ``aks-netmig journey apply`` is SIGKILLed (NETMIG_TEST_KILL_AT, no sleeps) inside stage 1
(right after its PUT), between the stages (stage 1 ran, the journey has not recorded it) and inside stage 2 (before
its reimage watch); every rerun resumes. At the end: exactly one network-profile PUT per stage in the sandbox's ARM
log, the final profile overlay + cilium, each stage's verification PASSED with every connectivity change explained,
and one journey report covering every stage. ``kubenet-calico-blocked`` (ARM refuses the direct kubenet+Calico ->
overlay change) takes the journey's approved if-refused route instead. The sandbox is detached (it survives the
kills) and runs at the time scale the other e2e tests use.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.migrate_helpers import cli, profile_puts, start_detached, stop

KILLS = ["update-network:after", "journey:stage1-ran", "watch-reimage:before"]
SCENARIOS = {
    "kubenet-calico": ("kubenet-calico -> overlay-calico -> overlay-cilium", []),
    "npm": ("azure-cni-npm -> azure-cni-cilium -> overlay-cilium", ["--pod-cidr", "192.168.0.0/16"]),
    "managed-calico": ("azure-cni-calico -> azure-cni-cilium -> overlay-cilium", ["--pod-cidr", "192.168.0.0/16"]),
}


def _verify_events(run_dir: Path) -> list[dict[str, Any]]:
    events = [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines()]
    return [e for e in events if e.get("step") == "verify" and e.get("event") == "step-done"]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_journey_to_overlay_cilium_survives_sigkill_inside_and_between_stages(scenario: str, tmp_path: Path) -> None:
    route, extra = SCENARIOS[scenario]
    sb = tmp_path / "sb"
    start_detached(sb, scenario)
    try:
        journey = tmp_path / "j.yaml"
        res = cli("journey", "plan", "--sandbox", str(sb), "--to", "overlay-cilium", "--accept", "policy-analysis",
                  *extra, "--out", str(journey))
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert f"route: {route}" in res.stdout
        doc = yaml.safe_load(journey.read_text())
        assert [s["provisional"] for s in doc["stages"]] == [False, True]
        assert "token" not in journey.read_text().lower()
        for point in KILLS:
            res = cli("journey", "apply", str(journey), "--yes", env={"NETMIG_TEST_KILL_AT": point}, timeout=600)
            assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-3000:])
        res = cli("journey", "apply", str(journey), "--yes", timeout=600)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert "stage 1" in res.stdout and "already done" in res.stdout

        puts = profile_puts(sb)
        assert len(puts) == 2, [p.get("path") for p in puts]  # one PUT per change: two stages, two PUTs
        report = (tmp_path / "j.run" / "journey-report.md").read_text()
        assert "- final profile: overlay-cilium (azure-cni-overlay + cilium" in report
        for stage in doc["stages"]:
            run_dir = tmp_path / (Path(stage["plan_file"]).stem + ".run")
            stage_report = (run_dir / "report.md").read_text()
            assert "**PASSED**" in stage_report, stage["kind"]
            done = _verify_events(run_dir)
            assert done and all(e["result"]["unexplained"] == 0 for e in done), done
            assert done[-1]["result"]["changes"] == done[-1]["result"]["explained"]
            assert f"Stage {stage['index']}: {stage['kind']}" in report
    finally:
        stop(sb)


def test_journey_takes_its_if_refused_route_when_arm_refuses_the_direct_change(tmp_path: Path) -> None:
    """kubenet + Calico where ARM refuses kubenet+Calico -> overlay (scenario ``kubenet-calico-blocked``): the
    journey's one approval states the if-refused route; ``journey apply`` meets the refusal in stage 1 (nothing
    changed), switches to that route and runs it to overlay + Cilium -- SIGKILLed inside its first stage, between
    its stages and inside its second -- with every stage verified and one accepted PUT per change."""
    sb = tmp_path / "sb"
    start_detached(sb, "kubenet-calico-blocked")
    try:
        journey = tmp_path / "j.yaml"
        res = cli("journey", "plan", "--sandbox", str(sb), "--to", "overlay-cilium", "--accept", "policy-analysis",
                  "--accept", "policies-unenforced", "--out", str(journey))
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert "route: kubenet-calico -> overlay-calico -> overlay-cilium" in res.stdout
        fallback = "kubenet-calico -> kubenet -> overlay -> overlay-cilium"
        assert f"IF ARM REFUSES stage 1 (KubenetCalicoToOverlayMigrationNotSupported), this approval covers " \
               f"instead: {fallback}" in res.stdout
        doc = yaml.safe_load(journey.read_text())
        assert doc["if_refused"]["route"] == fallback
        assert [s["kind"] for s in doc["if_refused"]["stages"]] == ["uninstall", "kubenet-to-overlay", "npm-to-cilium"]
        assert all(s["provisional"] for s in doc["if_refused"]["stages"])

        # inside the route's stage 1 (uninstall: right after its PUT), between its stages, inside its stage 2
        for point in ["policy-none:after", "journey:stage1-ran", "watch-reimage:before"]:
            res = cli("journey", "apply", str(journey), "--yes", env={"NETMIG_TEST_KILL_AT": point}, timeout=600)
            assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-3000:])
        res = cli("journey", "apply", str(journey), "--yes", timeout=600)
        assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
        assert f"done ({fallback})" in res.stdout and "stage 1 uninstall: already done" in res.stdout

        state = json.loads((tmp_path / "j.run" / "state.json").read_text())
        assert state["route"] == "if_refused" and state["done_if_refused"] == [1, 2, 3] and state["done"] == []
        log = [json.loads(x) for x in (sb / "arm-requests.jsonl").read_text().splitlines()]
        refused = [e for e in log if e["method"] == "PUT" and e["status"] == 400 and "/agentpools" not in e["path"]]
        assert len(refused) == 1, refused  # the direct change, refused once; never sent again
        puts = profile_puts(sb)
        assert len(puts) == 3, [p.get("network_profile") for p in puts]  # one accepted PUT per change
        report = (tmp_path / "j.run" / "journey-report.md").read_text()
        assert "- final profile: overlay-cilium (azure-cni-overlay + cilium" in report
        assert "ARM refused stage 1 (kubenet-calico-to-overlay-calico: KubenetCalicoToOverlayMigrationNotSupported)" \
            in report
        for stage in doc["if_refused"]["stages"]:
            run_dir = tmp_path / (Path(stage["plan_file"]).stem + ".run")
            assert "**PASSED**" in (run_dir / "report.md").read_text(), stage["kind"]
            done = _verify_events(run_dir)
            assert done and all(e["result"]["unexplained"] == 0 for e in done), done
            assert f"Stage {stage['index']}: {stage['kind']}" in report
    finally:
        stop(sb)
