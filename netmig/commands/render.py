"""Markdown and table renderings of a plan and its run: what the Prefect artifacts (and any other report) show.

Contract: pure functions of a plan, its preflight results, and the files of its run folder (the baseline and after
snapshots); they never talk to a cluster and never raise for a missing file (a placeholder line instead).
Tables hold at most ``MAX_ROWS`` rows (then "... and N more").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netmig.checks.unenforced import unenforced_banner
from netmig.model.checks import CheckResult

MAX_ROWS = 200


def _cell(x: Any) -> str:
    return str(x if x is not None else "").replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(v) for v in r) + " |" for r in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        out.append(f"\n… and {len(rows) - MAX_ROWS} more")
    return out


def plan_markdown(plan: Any) -> str:
    """The plan as reviewed: what changes, where, how long; preflight and findings counts; the steps."""
    lines = [f"# Plan {plan.migration_id}", "", f"**{plan.title}**", "",
             f"- cluster: `{plan.cluster}`",
             f"- network: {plan.source_profile().describe()} → **{plan.target_profile().describe()}**",
             f"- nodes reimaged: {plan.nodes_to_reimage} in {len(plan.pools)} pools (expected "
             f"{plan.expected_minutes[0]}-{plan.expected_minutes[1]} min on Azure)"]
    if plan.irreversible:
        lines.append(f"- **irreversible**: {plan.irreversible_reason or 'yes'}")
    banner = unenforced_banner(plan)
    if banner:
        lines.append(f"- **{banner.split(':', 1)[0]}**:{banner.split(':', 1)[1]}")
    for ch in plan.arm_changes:
        lines.append(f"- ARM change: {ch.method} networkProfile `{ch.network_profile}` (If-Match `{ch.if_match}`)")
    if plan.accepted:
        lines.append(f"- accepted: {', '.join(plan.accepted)}")
    for v in getattr(plan, "variants", []):
        if v.default:
            continue
        allowed = "**allowed** by this plan" if v.allowed else f"not allowed (plan again with `{v.allow_flag}`)"
        lines.append(f"- **{v.name} path**, used only if ARM refuses the direct change, {allowed}: {v.title}")
        lines += [f"  - ARM change: {ch.method} networkProfile `{ch.network_profile}`" for ch in v.arm_changes]
        lines += [f"  - {n}" for n in v.notes]
    lines += ["", "## Pools", ""]
    lines += _table(["pool", "mode", "os", "nodes", "max surge", "surge nodes"],
                    [[p.name, p.mode, p.os_type, p.nodes, p.max_surge or "", p.surge_nodes] for p in plan.pools])
    lines += ["", "## Steps", "", " → ".join(s.id + (" ⚠" if s.irreversible else "") for s in plan.steps)]
    from netmig.summary import summarize

    lines += ["", "## Predicted connectivity changes", "", summarize(plan).markdown()]
    blocking = plan.blocking()
    errors = [f for f in plan.findings if f["severity"] == "error"]
    lines += ["", f"Preflight at plan time: {len(plan.preflight)} checks, {len(blocking)} blocking. "
                  f"Policy analysis: {len(plan.findings)} findings ({len(errors)} error-severity)."]
    return "\n".join(lines) + "\n"


def preflight_rows(results: list[Any]) -> list[dict[str, Any]]:
    return [{"check": r.check, "outcome": r.outcome.value + (" (accepted)" if r.accepted else ""),
             "reason": r.reason, "fix": r.fix or ""} for r in map(CheckResult.of, results)]


def findings_rows(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"severity": f["severity"], "rule": f["rule"],
             "object": "/".join(x for x in (f.get("kind"), f.get("namespace"), f.get("name")) if x),
             "message": f.get("message", ""), "fix": f.get("fix", "")} for f in findings[:MAX_ROWS]]


def predicted_changes_markdown(plan: Any, run_dir: Path) -> str:
    """The connectivity changes the policy engine predicts for the target engine: the probed cells of the baseline
    snapshot whose prediction under the target differs from what was observed, and the LoadBalancer paths whose
    verdict differs between the engines."""
    from netmig.policy import from_objects
    from netmig.steps.snapshot import BEFORE
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import engine_from_label

    path = run_dir / BEFORE
    if not path.is_file():
        return "_No baseline snapshot yet: see the policy-analysis findings._\n"
    snap = snapmod.load(path)
    cluster = from_objects(snap.objects)
    engine = engine_from_label(plan.target_profile().engine)
    rows = []
    for c in snap.cells:
        after, policies, note = snapmod.expect(cluster, c, engine)
        if after is not None and after != c.outcome:
            rows.append([c.src, c.dst, f"{c.port}/{c.protocol}", c.outcome, after, ", ".join(policies) or note])
    lines = [f"{len(rows)} of {len(snap.cells)} probed cells are predicted to change under {engine.label}.", ""]
    if rows:
        lines += _table(["source", "destination", "port", "now", f"under {engine.label}", "policies"], rows)
    lb = [p for p in snap.predicted_only if p.differs_between_engines]
    if lb:
        lines += ["", f"{len(lb)} LoadBalancer paths (external clients, predicted only) change between engines:", ""]
        lines += _table(["service", "backend", "port", "verdicts"], [
            [f"{p.service}:{p.service_port or '?'}", p.backend, f"{p.port}/{p.protocol}",
             "; ".join(f"{v.engine}: {'allowed' if v.allowed else 'denied'}" for v in p.by_engine)] for p in lb])
    return "\n".join(lines) + "\n"


FULL_CHANGES_KEY = "predicted-changes"  # the artifact holding the full predicted-changes table


MODAL_LINES = 4  # change lines in the approval modal (its description box has a fixed height of about 360 px)


def _preflight_line(plan: Any, preflight: list[dict[str, Any]] | None) -> str:
    """One short line: ``Preflight: 8 of 10 pass; warn kubernetes-version; fail (accepted) policy-analysis.``"""
    rows = preflight_rows(preflight or plan.preflight)
    others = [f"{_cell(r['outcome'])} `{_cell(r['check'])}`" for r in rows if r["outcome"] != "pass"]
    passed = len(rows) - len(others)
    return f"Preflight: {passed} of {len(rows)} pass" + ("; " + "; ".join(others) if others else "") + "."


def approval_markdown(plan: Any, run_dir: Path, preflight: list[dict[str, Any]] | None,
                      full_table_link: str | None = None, *, limit: int | None = None,
                      review_link: str | None = None) -> str:
    """What the approver sees, decision first, laid out for the narrow (444 px) modal: short lines and lists, no
    wide table. In this order: the headline (kind, cluster, from -> to, reimages, irreversible), the UNENFORCED
    banner when there is one, the ONE change summary (``netmig.summary``: the same count and lines as the CLI and
    the wizard; at most ``limit`` lines, then "... and N more"), the preflight as one line, the policy analysis, the
    irreversibility reason, the links and what to do.

    ``limit`` None: every line of the summary (the ``approval-request`` artifact); ``MODAL_LINES``: the modal's
    description, whose box has a fixed height -- there the headline, the count and the first change lines are
    visible without scrolling, and ``review_link`` (the ``approval-request`` artifact) has the rest.
    ``full_table_link``: the ``predicted-changes`` artifact (``predicted_changes_markdown``)."""
    from netmig.summary import MAX_LINES, summarize

    summary = summarize(plan)
    name = plan.cluster.rsplit("/", 1)[-1]
    lines = [f"**Approve {plan.kind} on `{name}`?** {plan.source_profile().describe()} → "
             f"**{plan.target_profile().describe()}**; {plan.nodes_to_reimage} nodes in {len(plan.pools)} pools "
             "reimaged" + ("; **irreversible**." if plan.irreversible else ".")]
    banner = unenforced_banner(plan)
    if banner:
        lines += ["", f"**{banner}**"]
    lines += ["", summary.markdown(limit if limit is not None else MAX_LINES).rstrip()]
    more = [f"[every line and check]({review_link})" if review_link else "",
            f"[every probed cell]({full_table_link})" if full_table_link else ""]
    if any(more):
        lines.append("\nThe full review: " + ", ".join(x for x in more if x) + ".")
    lines += ["", _preflight_line(plan, preflight)]
    errors = [f for f in plan.findings if f["severity"] == "error"]
    if plan.findings:
        lines[-1] += (f" Policy analysis: {len(plan.findings)} findings, {len(errors)} errors"
                      + (f" (accepted: {', '.join(plan.accepted)})" if plan.accepted else "") + ".")
    if plan.irreversible:
        lines += ["", f"Irreversible: {plan.irreversible_reason or 'no way back'}"]
    lines += ["", f"Plan `{plan.migration_id}`. Set **approve**, your name as **approver** and a **comment**, then "
                  "submit. Completed steps are not run again."]
    return "\n".join(lines) + "\n"


def verification_markdown(run_dir: Path) -> str | None:
    """The verification matrix: the comparison with the baseline, then the after-snapshot's cells."""
    from netmig.steps.snapshot import BEFORE
    from netmig.steps.verify import AFTER
    from netmig.verify import report
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import compare

    before, after = run_dir / BEFORE, run_dir / AFTER
    if not after.is_file():
        return None
    snap = snapmod.load(after)
    parts = []
    if before.is_file():
        parts.append(report.comparison_markdown(compare(snapmod.load(before), snap)))
    parts.append(report.snapshot_markdown(snap))
    return "\n".join(parts)
