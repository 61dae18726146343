"""The fleet report (pure): a wave plan's rollout as Markdown, for ``WAVEPLAN.run/fleet-report.md`` and its artifact.

Contract: ``fleet_report(plan, state, picture, cluster_reports)`` returns Markdown with: the outcome (running,
halted and why, waiting for approval of wave N, done), the approvals (wave, approved or rejected, approver, time,
comment, how), the dashboard (one row per cluster: wave, state, step, reimage progress, verification, message, its
migration report when it exists), the progress picture (``picture``: a file name relative to the report, or None:
"not drawn") and the clusters left out of the plan with why. ``cluster_reports`` maps cluster names to the
relative path of their ``report.md`` (only those that exist). Deterministic: same inputs, same text.
"""

from __future__ import annotations

from netmig.fleet.rollout import RolloutState, dashboard
from netmig.fleet.waves import WavePlan

PICTURE_TITLE = "Fleet progress: clusters per wave and state"


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def outcome(plan: WavePlan, state: RolloutState) -> str:
    if state.halted:
        return f"**HALTED**: {state.halted}"
    if state.waiting_approval is not None:
        return f"**Waiting** for the approval of wave {state.waiting_approval}"
    runs = list(state.clusters.values())
    if runs and all(r.state in ("completed", "excluded") for r in runs):
        done = sum(r.state == "completed" for r in runs)
        return f"**Done**: {done} clusters migrated, {len(runs) - done} excluded"
    return "**Running**" if any(r.flow_run_id for r in runs) else "**Not started**"


def fleet_report(plan: WavePlan, state: RolloutState, picture: str | None,
                 cluster_reports: dict[str, str]) -> str:
    """See the module contract."""
    lines = ["# Fleet rollout report", "", outcome(plan, state), "",
             f"- waves: {len(plan.waves)}; clusters: {len(plan.clusters())}; failure budget: {plan.failure_budget}; "
             f"approval: {plan.approval}", "", "## Approvals", ""]
    if state.approvals:
        lines += ["| wave | decision | approver | time (UTC) | comment | via |", "|---|---|---|---|---|---|"]
        for a in sorted(state.approvals.values(), key=lambda a: a.wave):
            lines.append(f"| {a.wave} | {'approved' if a.approved else 'REJECTED'} | {_cell(a.approver)} | "
                         f"{a.time[:19].replace('T', ' ')} | {_cell(a.comment)} | {a.via} |")
    else:
        lines.append("none given yet")
    lines += ["", "## Clusters", "",
              "| wave | cluster | kind | state | step | reimage | verification | message | report |",
              "|---|---|---|---|---|---|---|---|---|"]
    for row in dashboard(plan, state):
        rep = cluster_reports.get(row["cluster"])
        lines.append("| " + " | ".join(_cell(row[k]) for k in ("wave", "cluster", "kind", "state", "step", "reimage",
                                                                  "verification", "message"))
                     + f" | {f'[report.md]({rep})' if rep else '-'} |")
    lines += ["", "## Picture", "", f"![{PICTURE_TITLE}]({picture})" if picture else f"- {PICTURE_TITLE}: not drawn"]
    if plan.skipped:
        lines += ["", "## Not in the plan", ""]
        lines += [f"- {s['name']}: {_cell(s['reason'])}" for s in plan.skipped]
    return "\n".join(lines) + "\n"
