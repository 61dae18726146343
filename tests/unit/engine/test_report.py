"""The Markdown report from a plan and journal events: timeline, preflight, reimage summary, verification."""

from __future__ import annotations

from typing import Any

from netmig.steps.report import render
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
                             "## Timeline", "## Approval", "## Predicted connectivity changes", "## Preflight",
                             "## Reimage", "## Verification"]
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


# ------------------------------------------------------------------------- several ARM changes (plan variants)
def _fallback_plan() -> Any:
    from netmig.engine.planning import load_template, new_plan
    from netmig.model.cluster import NetworkProfile
    from tests.unit.engine.values import NOW, cluster

    info = cluster(network=NetworkProfile(plugin="kubenet", policy="calico", pod_cidr="10.244.0.0/16",
                                          service_cidr="10.0.0.0/16"))
    return new_plan(load_template("kubenet-to-overlay"), info, arm_endpoint="https://arm", now=NOW,
                    allow_variants=["fallback"])


def _summary(step: str, change: str, target: str, engine: str, watch_s: float) -> dict[str, Any]:
    return {"step": step, "change_step": change, "target": target, "nodes": 7, "watch_s": watch_s,
            "node_events": 40, "pools": {"system": f"system 3/3 done, surge 0, cordoned 0, NotReady 0 [{engine}=3]",
                                         "user": f"user 4/4 done, surge 0, cordoned 0, NotReady 0 [{engine}=4]"}}


FALLBACK_REIMAGES = [("watch-policy-none", "policy-none", "kubenet + none (pods 10.244.0.0/16)", "none", 300.0),
                     ("watch-overlay", "overlay", "azure-cni-overlay + none (pods 10.244.0.0/16)", "none", 410.5),
                     ("watch-policy-calico", "policy-calico", "azure-cni-overlay + calico (pods 10.244.0.0/16)",
                      "calico", 290.0)]


def _fallback_events(done: int, with_step: bool = True) -> list[dict[str, Any]]:
    events = [ev("set", key="variant", value="fallback"),
              ev("variant-switch", step="update-network", variant="fallback", code="Blocked"),
              ev("step-done", step="watch-reimage", result={"skipped": "on the direct path; ..."})]
    for step, change, target, engine, watch_s in FALLBACK_REIMAGES[:done]:
        value = _summary(step, change, target, engine, watch_s)
        if not with_step:  # a journal written before summaries carried their step
            value = {k: v for k, v in value.items() if k not in ("step", "change_step", "target")}
        events += [ev("arm-put", step=change, target={"policy": engine}),
                   ev("set", key="reimage-summary", value=value), ev("step-done", step=step, duration_s=watch_s)]
    return events


def _reimage_section(md: str) -> list[str]:
    return md.split("## Reimage\n\n", 1)[1].split("\n\n## ", 1)[0].splitlines()


def test_every_reimage_of_a_plan_with_several_arm_changes_is_kept_and_labelled_with_its_step() -> None:
    p = _fallback_plan()
    md = render(p, _fallback_events(3))
    assert _reimage_section(md) == [
        "3 reimages on this path, one per network-profile change:", "",
        "- **watch-policy-none** (after policy-none: kubenet + none (pods 10.244.0.0/16)): 7 nodes on the target "
        "engine after 300.0 s of watching (40 node events)",
        "  - system 3/3 done, surge 0, cordoned 0, NotReady 0 [none=3]",
        "  - user 4/4 done, surge 0, cordoned 0, NotReady 0 [none=4]",
        "- **watch-overlay** (after overlay: azure-cni-overlay + none (pods 10.244.0.0/16)): 7 nodes on the target "
        "engine after 410.5 s of watching (40 node events)",
        "  - system 3/3 done, surge 0, cordoned 0, NotReady 0 [none=3]",
        "  - user 4/4 done, surge 0, cordoned 0, NotReady 0 [none=4]",
        "- **watch-policy-calico** (after policy-calico: azure-cni-overlay + calico (pods 10.244.0.0/16)): 7 nodes "
        "on the target engine after 290.0 s of watching (40 node events)",
        "  - system 3/3 done, surge 0, cordoned 0, NotReady 0 [calico=3]",
        "  - user 4/4 done, surge 0, cordoned 0, NotReady 0 [calico=4]"]
    fallback = p.variant("fallback")
    assert (f"- nodes reimaged: 7 in 2 pools, 3 times (fallback path; expected {fallback.expected_minutes[0]}-"
            f"{fallback.expected_minutes[1]} min on Azure)") in md


def test_an_unfinished_reimage_of_the_path_is_listed_and_old_journals_are_labelled_by_the_step_that_followed() -> None:
    p = _fallback_plan()
    section = _reimage_section(render(p, _fallback_events(2, with_step=False)))
    assert section[0] == "3 reimages on this path, one per network-profile change:"
    assert [line.split(":")[0] for line in section if line.startswith("- ")] == [
        "- **watch-policy-none** (after policy-none)", "- **watch-overlay** (after overlay)",
        "- **watch-policy-calico** (after policy-calico)"]
    assert section[-1] == "- **watch-policy-calico** (after policy-calico): not finished"
    assert "  - system 3/3 done, surge 0, cordoned 0, NotReady 0 [none=3]" in section


def test_a_rerun_of_the_same_watch_step_keeps_one_summary_for_it() -> None:
    p = _fallback_plan()
    events = _fallback_events(1)
    events.insert(4, ev("set", key="reimage-summary", value=_summary(*FALLBACK_REIMAGES[0][:4], 12.0)))
    section = _reimage_section(render(p, events))
    assert sum("**watch-policy-none**" in line for line in section) == 1
    assert "after 300.0 s of watching" in section[2]


def test_the_direct_path_and_single_change_plans_keep_the_one_line_summary() -> None:
    p = _fallback_plan()
    one = _summary("watch-reimage", "update-network", "azure-cni-overlay + calico", "calico", 100.0)
    section = _reimage_section(render(p, [ev("set", key="reimage-summary", value=one)]))
    assert section[0] == "7 nodes on the target engine after 100.0 s of watching (40 node events)."
    assert "nodes reimaged: 7 in 2 pools (expected" in render(p, [])


def test_the_report_names_the_approver_the_time_and_the_comment() -> None:
    from netmig.model.plan import PlanStep

    p = plan()
    if not any(s.kind == "approval-gate" for s in p.steps):
        assert "no approval gate in this plan" in render(p, []).split("## Approval", 1)[1]
        p.steps.insert(1, PlanStep(id="approve", kind="approval-gate"))
    gate = next(s.id for s in p.steps if s.kind == "approval-gate")
    assert "not yet approved" in render(p, []).split("## Approval", 1)[1]
    md = render(p, [ev("step-done", "2025-03-01T12:10:00.000+00:00", step=gate, duration_s=1.0,
                       result={"approved": True, "approver": "alice", "comment": "CHG-42", "via": "prefect-ui"})])
    section = md.split("## Approval", 1)[1].split("\n## ", 1)[0]
    assert f'**approved** by **alice** via prefect-ui at 2025-03-01 12:10:00 UTC ({gate}): "CHG-42"' in section
