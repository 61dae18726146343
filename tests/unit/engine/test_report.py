"""The Markdown report from a plan and journal events: timeline, preflight, reimage summary, verification."""

from __future__ import annotations

from typing import Any

from netmig.engine.report import render
from tests.unit.engine.values import plan


def ev(event: str, time: str = "2025-03-01T12:00:00.000+00:00", **fields: Any) -> dict[str, Any]:
    return {"time": time, "event": event, **fields}


PREFLIGHT = [{"check": "cluster-succeeded", "outcome": "pass", "reason": "cluster provisioningState is Succeeded",
              "fix": None, "accepted": False},
             {"check": "policy-analysis", "outcome": "fail", "reason": "3 error-severity findings (ip-block|x)",
              "fix": "accept", "accepted": True}]
REIMAGE = {"nodes": 7, "watch_s": 312.5, "node_events": 88,
           "pools": {"system": "system 3/3 done, surge 0, cordoned 0, NotReady 0 [cilium=3]",
                     "user": "user 4/4 done, surge 0, cordoned 0, NotReady 0 [cilium=4]"}}
CHANGE = {"src": "web", "dst": "db", "port": 5432, "protocol": "TCP", "before": "allowed", "after": "denied",
          "explanation": "ipBlock matches pod IPs under NPM only"}
VERIFY = {"probes": 40, "engine": "cilium", "changes": 1, "explained": 1, "unexplained": 0, "mismatches": 0,
          "changes_detail": [CHANGE]}


def _sections(md: str) -> list[str]:
    return [line for line in md.splitlines() if line.startswith("#")]


def test_a_finished_migration_report_has_every_section_filled() -> None:
    events = [
        ev("run-start", run_id="r1"),
        ev("step-done", "2025-03-01T12:00:05.000+00:00", step="preflight", duration_s=4.25),
        ev("set", key="preflight", value=PREFLIGHT),
        ev("arm-put", "2025-03-01T12:01:00.000+00:00", step="update-network", attempt=1),
        ev("stall", "2025-03-01T12:03:00.000+00:00", step="watch-reimage", reason="no reimage progress for 1800 s"),
        ev("run-start", "2025-03-01T13:00:00.000+00:00", run_id="r2"),
        ev("set", key="reimage-summary", value=REIMAGE),
        ev("step-done", "2025-03-01T13:05:00.000+00:00", step="watch-reimage", duration_s=300.0),
        ev("set", key="verify-result", value=VERIFY),
        ev("step-start", step="verify"),  # not a timeline event
    ]
    md = render(plan(), events)
    assert _sections(md) == ["# Migration report: Azure Network Policy Manager -> Azure CNI Powered by Cilium",
                             "## Timeline", "## Preflight", "## Reimage", "## Verification"]
    assert "- migration: `npm-to-cilium-aks-prod-20250301-123000`" in md
    assert "- network: azure-cni + npm -> azure-cni + cilium" in md
    assert "- nodes reimaged: 7 in 2 pools (expected 21-64 min on Azure)" in md
    assert "| 2025-03-01 12:00:00 |  | run-start | run r1 |" in md
    assert "| 2025-03-01 12:00:05 | preflight | step-done | 4.2 s |" in md
    assert "| 2025-03-01 12:03:00 | watch-reimage | stall | no reimage progress for 1800 s |" in md
    assert "| 2025-03-01 13:05:00 | watch-reimage | step-done | 300.0 s |" in md
    assert sum(1 for line in md.splitlines() if line.startswith("| 2025-")) == 6
    assert "| policy-analysis | fail (accepted) | 3 error-severity findings (ip-block/x) |" in md  # pipes escaped
    assert "7 nodes on the target engine after 312.5 s of watching (88 node events)." in md
    assert "- user 4/4 done, surge 0, cordoned 0, NotReady 0 [cilium=4]" in md
    assert "**PASSED**: 40 probes re-run under cilium; 1 connectivity changes, 1 predicted by the policy analysis, " \
           "0 unexplained; 0 observations differ from the prediction." in md
    assert "| web | db | 5432/TCP | allowed | denied | ipBlock matches pod IPs under NPM only |" in md


def test_an_unfinished_migration_says_so_and_falls_back_to_the_plans_preflight() -> None:
    p = plan()
    p.preflight = PREFLIGHT[:1]
    md = render(p, [ev("run-start", run_id="r1"),
                    ev("step-failed", step="watch-reimage", error="the ARM operation failed: ReconcileFailed")])
    assert "| watch-reimage | step-failed | the ARM operation failed: ReconcileFailed |" in md
    assert "| cluster-succeeded | pass | cluster provisioningState is Succeeded |" in md
    reimage = md.split("## Reimage", 1)[1].split("##", 1)[0]
    assert reimage.strip() == "not finished"
    assert md.rstrip().endswith("## Verification\n\nnot run")


def test_unexplained_changes_fail_the_verification_section() -> None:
    bad = {**VERIFY, "explained": 0, "unexplained": 1, "changes_detail": [{**CHANGE, "explanation": None}]}
    md = render(plan(), [ev("set", key="verify-result", value=bad)])
    assert "**FAILED**: 40 probes" in md and "| allowed | denied | UNEXPLAINED |" in md
