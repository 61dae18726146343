"""report: the Markdown report to RUN_DIR/report.md and to the progress sink (a Prefect artifact in a flow).

The migration report (Markdown) from the plan and the journal: timeline, preflight, reimage, verification.

Contract: pure apart from reading the journal events it is given; ``render(plan, events)`` returns Markdown.
A migration that moves pods to another address range shows the old and new pod CIDR; a plan with variants shows
the path taken and every ARM change sent; steps add sections by journaling ``report-note`` events
(``title``, ``lines``; the latest per title wins).
Reimage: every watched reimage is kept (``reimage_summaries``: a plan may change the network profile several
times, e.g. the overlay fallback's three), each labelled with its watch step, the change it followed and that
change's target; a watch step of the path taken that has not finished is listed as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from netmig.checks.unenforced import unenforced_banner
from netmig.journal import Event, EventKind, as_events
from netmig.model.checks import CheckResult
from netmig.model.plan import Plan, PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, step
from netmig.steps.reimage import WatchReimageParams

TIMELINE = (EventKind.STEP_DONE, EventKind.STEP_FAILED, EventKind.STEP_PAUSED, EventKind.RUN_START,
            EventKind.OPERATION_FAILED, EventKind.STALL, EventKind.ARM_PUT)


def _latest(events: list[Event], key: str) -> Any:
    found = None
    for e in events:
        if e.is_(EventKind.SET) and e.key == key:
            found = e.get("value")
    return found


def reimage_summaries(plan: Plan, records: Sequence[Event | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every reimage watched to the end, in order, one per watch step (a rerun's later summary of the same step
    wins), each with ``step`` (the watch step; for journals written before summaries carried it: the watch step
    that finished next, else the plan's only one)."""
    events = as_events(records)
    watch_ids = [s.id for s in plan.steps if s.kind == "watch-reimage"]
    found: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(events):
        if not (e.is_(EventKind.SET) and e.key == "reimage-summary" and isinstance(e.value, dict)):
            continue
        value = dict(e.value)
        if not value.get("step"):
            nxt = next((x.step for x in events[i + 1:] if x.is_(EventKind.STEP_DONE)
                        and x.step in watch_ids), None)
            value["step"] = nxt or (watch_ids[0] if len(watch_ids) == 1 else "")
        found.pop(str(value["step"]), None)
        found[str(value["step"])] = value
    return list(found.values())


def approval_lines(plan: Plan, events: list[Event]) -> list[str]:
    """Who approved, when (UTC) and with what comment, one line per approval-gate step that finished (the latest
    record per step wins); "not yet approved" when the plan has a gate that has not finished, "no approval gate"
    when it has none."""
    gates = {s.id for s in plan.steps if s.kind == "approval-gate"}
    if not gates:
        return ["no approval gate in this plan"]
    found: dict[str, Event] = {}
    for e in events:
        if e.is_(EventKind.STEP_DONE) and e.step in gates:
            found[str(e.step)] = e
    if not found:
        return ["not yet approved"]
    out = []
    for sid, e in found.items():
        r = e.result
        who = r.get("approver") or "unnamed"
        via = f" via {r['via']}" if r.get("via") else ""
        comment = f": \"{r['comment']}\"" if r.get("comment") else " (no comment)"
        out.append(f"- **approved** by **{who}**{via} at {e.time[:19].replace('T', ' ')} UTC ({sid}){comment}")
    return out


def _reimage_section(plan: Plan, events: list[Event], chosen: str | None) -> list[str]:
    from netmig.stepkit import variants

    summaries = reimage_summaries(plan, events)
    watch = [s for s in variants.path_steps(plan, chosen) if s.kind == "watch-reimage"]
    if not watch and not summaries:
        return ["no reimage: this migration changes no network profile"]
    if len(watch) <= 1 and len(summaries) <= 1:
        if not summaries:
            return ["not finished"]
        one = summaries[0]
        return [f"{one['nodes']} nodes on the target engine after {one['watch_s']} s of watching "
                f"({one['node_events']} node events).", *[f"- {desc}" for desc in one["pools"].values()]]
    by_step = {str(x["step"]): x for x in summaries}
    order = [s.id for s in watch] + [k for k in by_step if k not in {s.id for s in watch}]
    lines = [f"{len(order)} reimages on this path, one per network-profile change:", ""]
    for sid in order:
        r = by_step.get(sid)
        watch_step = next((s for s in plan.steps if s.id == sid), None)
        asked = WatchReimageParams.model_validate(watch_step.params).operation_step if watch_step else None
        after = (r or {}).get("change_step") or asked
        label = f"**{sid}**" + (f" (after {after}" + (f": {r['target']}" if r and r.get("target") else "") + ")"
                                if after else "")
        if r is None:
            lines.append(f"- {label}: not finished")
            continue
        lines.append(f"- {label}: {r['nodes']} nodes on the target engine after {r['watch_s']} s of watching "
                     f"({r['node_events']} node events)")
        lines += [f"  - {desc}" for desc in r["pools"].values()]
    return lines


def _answer(events: list[Event], i: int) -> str:
    """What became of the PUT journaled at ``events[i]`` (read from the events up to the next PUT)."""
    step = events[i].get("step")
    for e in events[i + 1:]:
        if e.is_(EventKind.ARM_PUT):
            break
        if e.is_(EventKind.VARIANT_SWITCH) and e.step == step:
            return f"refused ({e.get('code')}), cluster unchanged"
        if e.is_(EventKind.SET) and str(e.get("key", "")).endswith(".continuation_token"):
            return "accepted" + (" (resume)" if events[i].get("resume") else "")
        if e.is_(EventKind.ARM_REATTACH):
            return "accepted (re-attached after a crash)"
        if e.is_(EventKind.STEP_FAILED) and e.step == step:
            return "failed: " + str(e.get("error", ""))[:80].replace("|", "/")
    return "sent, no answer recorded"


def render(plan: Plan, records: Sequence[Event | Mapping[str, Any]]) -> str:
    events = as_events(records)
    taken = plan.variant(str(_latest(events, "variant") or plan.default_variant)) if plan.variants else None
    times, minutes = ((f", {taken.reimages} times ({taken.name} path; ", taken.expected_minutes)
                      if taken is not None and taken.reimages > 1 else (" (", plan.expected_minutes))
    lines = [f"# Migration report: {plan.title}", "",
             f"- migration: `{plan.migration_id}`", f"- cluster: `{plan.cluster}`",
             f"- network: {plan.source_profile().describe()} -> {plan.target_profile().describe()}",
             f"- nodes reimaged: {plan.nodes_to_reimage} in {len(plan.pools)} pools{times}"
             f"expected {minutes[0]}-{minutes[1]} min on Azure)"]
    src, dst = plan.source_profile(), plan.target_profile()
    if (src.pod_cidr or dst.pod_cidr) and (src.pod_cidr != dst.pod_cidr or src.ipam != dst.ipam):
        lines.append(f"- pod CIDR: {src.pod_cidr or 'node subnet'} ({src.ipam}) -> {dst.pod_cidr or 'node subnet'} "
                     f"({dst.ipam}); pods get new IPs, so verification compares workloads by identity, not by IP")
    if plan.irreversible:
        lines.append(f"- ONE-WAY: {plan.irreversible_reason or 'irreversible'}")
    banner = unenforced_banner(plan)
    if banner:
        lines.append(f"- {banner}")
    lines.append("")
    if plan.variants:
        chosen = _latest(events, "variant") or plan.default_variant
        v = plan.variant(str(chosen))
        lines += ["## Path", "", f"**{chosen}**: {v.title if v else ''}"]
        for e in events:
            if e.is_(EventKind.VARIANT_SWITCH):
                lines.append(f"- {e.time[:19].replace('T', ' ')}: ARM refused step {e.get('step')} "
                             f"({e.get('code')}); the cluster was unchanged; switched to the {e.get('variant')} path")
        if v and v.notes:
            lines += [f"- {n}" for n in v.notes]
        lines.append("")
    puts = [e for e in events if e.is_(EventKind.ARM_PUT)]
    if puts and (plan.variants or sum(s.kind == "update-network-profile" for s in plan.steps) > 1):
        lines += ["## ARM changes sent", "", "| time (UTC) | step | target | answer |", "|---|---|---|---|"]
        for e in puts:
            t = e.get("target") or {}
            desc = ", ".join(f"{k}={x}" for k, x in t.items() if k in ("plugin", "plugin_mode", "policy",
                                                                           "dataplane", "pod_cidr") and x)
            lines.append(f"| {e.time[:19].replace('T', ' ')} | {(e.step or '')} | {desc} | "
                         f"{_answer(events, events.index(e))} |")
        lines.append("")
    lines += ["## Timeline", "", "| time (UTC) | step | event | detail |", "|---|---|---|---|"]
    for e in events:
        if e.kind in TIMELINE:
            detail = e.get("error") or e.get("reason") or ""
            if e.is_(EventKind.STEP_DONE):
                detail = f"{e.get('duration_s', 0):.1f} s"
                if e.result.get("skipped"):
                    detail = f"skipped: {e.result['skipped']}"
            if e.is_(EventKind.RUN_START):
                detail = f"run {e.get('run_id', '')}"
            lines.append(f"| {e.time[:19].replace('T', ' ')} | {(e.step or '')} | {e.kind} | "
                         f"{str(detail).replace('|', '/')[:160]} |")
    lines += ["", "## Approval", "", *approval_lines(plan, events)]
    from netmig.summary import summarize

    lines += ["", "## Predicted connectivity changes", "", summarize(plan).markdown()]
    pre = _latest(events, "preflight") or plan.preflight
    lines += ["", "## Preflight", "", "| check | outcome | reason |", "|---|---|---|"]
    for r in map(CheckResult.of, pre):
        outcome = r.outcome.value + (" (accepted)" if r.accepted else "")
        lines.append(f"| {r.check} | {outcome} | {r.reason.replace('|', '/')} |")
    chosen_path = (_latest(events, "variant") or plan.default_variant) if plan.variants else None
    lines += ["", "## Reimage", "", *_reimage_section(plan, events, chosen_path)]
    v = _latest(events, "verify-result")
    lines += ["", "## Verification", ""]
    if v:
        ok = not v["unexplained"] and not v["mismatches"]
        lines.append(f"**{'PASSED' if ok else 'FAILED'}**: {v['probes']} probes re-run under {v['engine']}; "
                     f"{v['changes']} connectivity changes, {v['explained']} predicted by the policy analysis, "
                     f"{v['unexplained']} unexplained; {v['mismatches']} observations differ from the prediction.")
        if v.get("changes_detail"):
            if len(v["changes_detail"]) < v["changes"]:
                lines += ["", f"The first {len(v['changes_detail'])} of {v['changes']} changes, unexplained first; "
                              f"all of them are in {v.get('changes_file', 'the run folder')}."]
            lines += ["", "| from | to | port | before | after | why |", "|---|---|---|---|---|---|"]
            for c in v["changes_detail"]:
                lines.append(f"| {c['src']} | {c['dst']} | {c['port']}/{c['protocol']} | {c['before']} | "
                             f"{c['after']} | {(c['explanation'] or 'UNEXPLAINED').replace('|', '/')} |")
    else:
        lines.append("not run")
    notes: dict[str, list[str]] = {}
    for e in events:
        if e.is_(EventKind.REPORT_NOTE):
            notes[str(e.get("title"))] = [str(x) for x in e.get("lines") or []]
    for title, body in notes.items():
        lines += ["", f"## {title}", "", *body]
    return "\n".join(lines) + "\n"


@step("report", params=NoParams)
def report_step(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    """Render the report from the plan and the journal; write it and publish it (rerunning rewrites it)."""
    from netmig import pictures
    from netmig.steps.snapshot import BEFORE
    from netmig.steps.verify import AFTER

    drawn = pictures.draw_all(ctx.run_dir, BEFORE, AFTER, ctx.plan.target_profile().engine)
    md = render(ctx.plan, ctx.journal.read()) + pictures_section(drawn)
    path = ctx.run_dir / "report.md"
    path.write_text(md)
    ctx.progress.artifact("migration-report", md)
    for p in drawn:
        ctx.progress.artifact(p.stem, pictures.embedded_markdown(p, PICTURE_TITLES.get(p.name, p.stem)))
    return {"file": str(path), "pictures": [p.name for p in drawn]}


PICTURE_TITLES = {"connectivity-heatmap.png": "Connectivity by namespace, before and after",
                  "reimage-timeline.png": "Reimage timeline per pool"}


def pictures_section(drawn: Sequence[Any]) -> str:
    """The report's ``## Pictures`` section: each PNG (in the run folder, next to report.md) by relative link;
    the pictures that could not be drawn are named as missing."""
    lines = ["", "## Pictures", ""]
    names = {p.name for p in drawn}
    for name, title in PICTURE_TITLES.items():
        lines.append(f"![{title}]({name})" if name in names
                     else f"- {title}: not drawn (no data in this run, or drawing failed: the log says why)")
        lines.append("")
    return "\n".join(lines)
