"""The migration report (Markdown) from the plan and the journal: timeline, preflight, reimage, verification.

Contract: pure apart from reading the journal events it is given; ``render(plan, events)`` returns Markdown.
A migration that moves pods to another address range shows the old and new pod CIDR; a plan with variants shows
the path taken and every ARM change sent; steps add sections by journaling ``report-note`` events
(``title``, ``lines``; the latest per title wins).
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


def _answer(events: list[dict[str, Any]], i: int) -> str:
    """What became of the PUT journaled at ``events[i]`` (read from the events up to the next PUT)."""
    step = events[i].get("step")
    for e in events[i + 1:]:
        if e["event"] == "arm-put":
            break
        if e["event"] == "variant-switch" and e.get("step") == step:
            return f"refused ({e.get('code')}), cluster unchanged"
        if e["event"] == "set" and str(e.get("key", "")).endswith(".continuation_token"):
            return "accepted" + (" (resume)" if events[i].get("resume") else "")
        if e["event"] == "arm-reattach":
            return "accepted (re-attached after a crash)"
        if e["event"] == "step-failed" and e.get("step") == step:
            return "failed: " + str(e.get("error", ""))[:80].replace("|", "/")
    return "sent, no answer recorded"


def render(plan: Plan, events: list[dict[str, Any]]) -> str:
    lines = [f"# Migration report: {plan.title}", "",
             f"- migration: `{plan.migration_id}`", f"- cluster: `{plan.cluster}`",
             f"- network: {plan.source_profile().describe()} -> {plan.target_profile().describe()}",
             f"- nodes reimaged: {plan.nodes_to_reimage} in {len(plan.pools)} pools "
             f"(expected {plan.expected_minutes[0]}-{plan.expected_minutes[1]} min on Azure)"]
    src, dst = plan.source_profile(), plan.target_profile()
    if (src.pod_cidr or dst.pod_cidr) and (src.pod_cidr != dst.pod_cidr or src.ipam != dst.ipam):
        lines.append(f"- pod CIDR: {src.pod_cidr or 'node subnet'} ({src.ipam}) -> {dst.pod_cidr or 'node subnet'} "
                     f"({dst.ipam}); pods get new IPs, so verification compares workloads by identity, not by IP")
    if plan.irreversible:
        lines.append(f"- ONE-WAY: {plan.irreversible_reason or 'irreversible'}")
    lines.append("")
    if plan.variants:
        chosen = _latest(events, "variant") or plan.default_variant
        v = plan.variant(str(chosen))
        lines += ["## Path", "", f"**{chosen}**: {v.title if v else ''}"]
        for e in events:
            if e["event"] == "variant-switch":
                lines.append(f"- {e['time'][:19].replace('T', ' ')}: ARM refused step {e.get('step')} "
                             f"({e.get('code')}); the cluster was unchanged; switched to the {e.get('variant')} path")
        if v and v.notes:
            lines += [f"- {n}" for n in v.notes]
        lines.append("")
    puts = [e for e in events if e["event"] == "arm-put"]
    if puts and (plan.variants or sum(s.kind == "update-network-profile" for s in plan.steps) > 1):
        lines += ["## ARM changes sent", "", "| time (UTC) | step | target | answer |", "|---|---|---|---|"]
        for e in puts:
            t = e.get("target") or {}
            desc = ", ".join(f"{k}={x}" for k, x in t.items() if k in ("plugin", "plugin_mode", "policy",
                                                                           "dataplane", "pod_cidr") and x)
            lines.append(f"| {e['time'][:19].replace('T', ' ')} | {e.get('step', '')} | {desc} | "
                         f"{_answer(events, events.index(e))} |")
        lines.append("")
    lines += ["## Timeline", "", "| time (UTC) | step | event | detail |", "|---|---|---|---|"]
    for e in events:
        if e["event"] in ("step-done", "step-failed", "step-paused", "run-start", "operation-failed", "stall",
                          "arm-put"):
            detail = e.get("error") or e.get("reason") or ""
            if e["event"] == "step-done":
                detail = f"{e.get('duration_s', 0):.1f} s"
                if (e.get("result") or {}).get("skipped"):
                    detail = f"skipped: {e['result']['skipped']}"
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
    notes: dict[str, list[str]] = {}
    for e in events:
        if e["event"] == "report-note":
            notes[str(e.get("title"))] = [str(x) for x in e.get("lines") or []]
    for title, body in notes.items():
        lines += ["", f"## {title}", "", *body]
    return "\n".join(lines) + "\n"
