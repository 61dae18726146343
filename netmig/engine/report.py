"""The migration report (Markdown) from the plan and the journal: timeline, preflight, reimage, verification.

Contract: pure apart from reading the journal events it is given; ``render(plan, events)`` returns Markdown.
"""

from __future__ import annotations

from typing import Any

from netmig.engine.planning import Plan


def _latest(events: list[dict[str, Any]], key: str) -> Any:
    found = None
    for e in events:
        if e["event"] == "set" and e.get("key") == key:
            found = e.get("value")
    return found


def render(plan: Plan, events: list[dict[str, Any]]) -> str:
    lines = [f"# Migration report: {plan.title}", "",
             f"- migration: `{plan.migration_id}`", f"- cluster: `{plan.cluster}`",
             f"- network: {plan.source_profile().describe()} -> {plan.target_profile().describe()}",
             f"- nodes reimaged: {plan.nodes_to_reimage} in {len(plan.pools)} pools "
             f"(expected {plan.expected_minutes[0]}-{plan.expected_minutes[1]} min on Azure)", ""]
    lines += ["## Timeline", "", "| time (UTC) | step | event | detail |", "|---|---|---|---|"]
    for e in events:
        if e["event"] in ("step-done", "step-failed", "step-paused", "run-start", "operation-failed", "stall",
                          "arm-put"):
            detail = e.get("error") or e.get("reason") or ""
            if e["event"] == "step-done":
                detail = f"{e.get('duration_s', 0):.1f} s"
            if e["event"] == "run-start":
                detail = f"run {e.get('run_id', '')}"
            lines.append(f"| {e['time'][:19].replace('T', ' ')} | {e.get('step', '')} | {e['event']} | "
                         f"{str(detail).replace('|', '/')[:160]} |")
    pre = _latest(events, "preflight") or plan.preflight
    lines += ["", "## Preflight", "", "| check | outcome | reason |", "|---|---|---|"]
    for r in pre:
        outcome = r["outcome"] + (" (accepted)" if r.get("accepted") else "")
        lines.append(f"| {r['check']} | {outcome} | {r['reason'].replace('|', '/')} |")
    reimage = _latest(events, "reimage-summary")
    lines += ["", "## Reimage", ""]
    if reimage:
        lines.append(f"{reimage['nodes']} nodes on the target engine after {reimage['watch_s']} s of watching "
                     f"({reimage['node_events']} node events).")
        lines += [f"- {desc}" for desc in reimage["pools"].values()]
    else:
        lines.append("not finished")
    v = _latest(events, "verify-result")
    lines += ["", "## Verification", ""]
    if v:
        ok = not v["unexplained"] and not v["mismatches"]
        lines.append(f"**{'PASSED' if ok else 'FAILED'}**: {v['probes']} probes re-run under {v['engine']}; "
                     f"{v['changes']} connectivity changes, {v['explained']} predicted by the policy analysis, "
                     f"{v['unexplained']} unexplained; {v['mismatches']} observations differ from the prediction.")
        if v.get("changes_detail"):
            lines += ["", "| from | to | port | before | after | why |", "|---|---|---|---|---|---|"]
            for c in v["changes_detail"]:
                lines.append(f"| {c['src']} | {c['dst']} | {c['port']}/{c['protocol']} | {c['before']} | "
                             f"{c['after']} | {(c['explanation'] or 'UNEXPLAINED').replace('|', '/')} |")
    else:
        lines.append("not run")
    return "\n".join(lines) + "\n"
