"""``aks-netmig preflight``: a migration kind's preflight checks and policy analysis against a cluster; writes nothing.

It reads the cluster and runs exactly what ``aks-netmig plan`` runs (``netmig.commands.preflight``), then
shows the results instead of writing a plan. Exit codes: 0 every check passes (or its failure is accepted),
1 a check fails unaccepted, 2 bad input.

``--json`` prints one object (keys documented in ``report_dict``); logs go to stderr (JSON lines when stderr is not a
terminal), so stdout stays parseable.
"""

from __future__ import annotations

import json
from typing import Any

import click

from netmig.cli.migrate_common import cluster_options, configure_logging
from netmig.commands.plans import PlanRequest
from netmig.connection import Address
from netmig.errors import CheckFailed
from netmig.model.checks import CheckResult, render_mark
from netmig.summary import summarize


def predicted_changes(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The connectivity changes the policy analysis predicts (``connectivity-change`` findings' cells), one dict per
    cell: ``policy`` (namespace/name), ``src``, ``dst``, ``port`` (None: any), ``protocol``, ``before``, ``after``
    (True / False / "partial"), ``source_engine`` and ``target_engine``."""
    out = []
    for f in findings:
        if f.get("rule") != "connectivity-change":
            continue
        for cell in (f.get("details") or {}).get("cells") or []:
            engines = [k for k in cell if k not in ("src_class", "dst_class", "port", "protocol", "src_pods",
                                                    "dst_pods", "example")]
            before, after = [*engines, None, None][:2]
            out.append({"policy": f"{f.get('namespace') or ''}/{f.get('name') or ''}",
                        "src": cell.get("src_class"), "dst": cell.get("dst_class"), "port": cell.get("port"),
                        "protocol": cell.get("protocol"), "source_engine": before, "target_engine": after,
                        "before": cell.get(before) if before else None, "after": cell.get(after) if after else None,
                        "example": cell.get("example")})
    return out


def blocking_checks(plan: Any) -> list[CheckResult]:
    return plan.blocking()


def report_dict(plan: Any, kind: str) -> dict[str, Any]:
    """The ``--json`` document: ``cluster`` (resource id), ``migration`` (kind), ``source`` / ``target`` (network
    profiles), ``checks`` (``check``, ``outcome`` pass|warn|fail|error -- error: the check could not run, never
    acceptable --, ``reason``, ``fix``, ``accepted``, ``acceptable``),
    ``findings`` (policy-analysis findings: ``rule``, ``severity``, ``kind``, ``namespace``, ``name``, ``message``,
    ``fix``, ``details``), ``predicted_changes`` (see ``predicted_changes``), ``change_summary``
    (``netmig.summary.ChangeSummary.to_dict``: the count and lines every front end shows), ``blocking`` (ids of
    checks failing unaccepted), ``accepted`` (the ids given with --accept), ``ok`` (no blocking check),
    ``nodes_to_reimage``, ``expected_minutes`` ([low, high])."""
    blocking = blocking_checks(plan)
    return {"cluster": plan.cluster, "migration": kind, "source": plan.source, "target": plan.target,
            "checks": [r.to_dict() for r in plan.preflight], "findings": plan.findings,
            "predicted_changes": predicted_changes(plan.findings), "change_summary": summarize(plan).to_dict(),
            "blocking": [r.check for r in blocking], "accepted": list(plan.accepted), "ok": not blocking,
            "nodes_to_reimage": plan.nodes_to_reimage, "expected_minutes": list(plan.expected_minutes)}


def render_report(plan: Any, max_findings: int = 20, max_changes: int = 20) -> str:
    lines = [f"Preflight of {plan.kind} on {plan.cluster}",
             f"  network  {plan.source_profile().describe()} -> {plan.target_profile().describe()}",
             (f"  reimage  {plan.nodes_to_reimage} nodes in {len(plan.pools)} pools; expected "
              f"{plan.expected_minutes[0]}-{plan.expected_minutes[1]} min on Azure" if plan.nodes_to_reimage else
              f"  reimage  none (no ARM change); expected {plan.expected_minutes[0]}-{plan.expected_minutes[1]} min"),
             "  checks:"]
    for r in plan.preflight:
        lines.append(f"    {render_mark(r)}")
        if r.outcome != "pass" and r.fix:
            lines.append(f"           fix: {r.fix}")
    errs = [f for f in plan.findings if f["severity"] == "error"]
    lines.append(f"  policy analysis: {len(plan.findings)} findings ({len(errs)} error-severity)")
    for f in plan.findings[:max_findings]:
        where = "/".join(x for x in (f.get("namespace"), f.get("name")) if x)
        lines.append(f"    [{f['severity']}] {f['rule']} {f['kind']} {where}: {f['message']}")
    if len(plan.findings) > max_findings:
        lines.append(f"    ... and {len(plan.findings) - max_findings} more (--json shows all)")
    lines.append("  " + summarize(plan).text(max_changes, indent="    "))
    return "\n".join(lines)


@click.command()
@cluster_options
@click.option("--migration", "kind", default="npm-to-cilium", show_default=True,
              help="Migration kind (plans/KIND.yaml).")
@click.option("--accept", multiple=True, help="Accept a failing check id or analysis rule id (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="STEP.PARAM=VALUE",
              help="A step parameter as the plan would have it (repeatable), e.g. install-operator.manifest=FILE.")
@click.option("--pod-cidr", default=None, help="Overlay pod CIDR, as for plan (migrations to overlay).")
@click.option("--allow-fallback", is_flag=True, help="As for plan: allow the migration's fallback path.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (see the module docs for its keys).")
def preflight(kind: str, accept: tuple[str, ...], sets: tuple[str, ...], pod_cidr: str | None, allow_fallback: bool,
              as_json: bool, **kwargs: Any) -> None:
    """Run a migration's preflight checks and policy analysis against a cluster; change and write nothing."""
    from netmig.commands import preflight as preflight_command

    configure_logging()
    plan = preflight_command(PlanRequest(kind, Address.of(kwargs), accept=accept, sets=sets, pod_cidr=pod_cidr,
                                         allow_fallback=allow_fallback)).plan
    blocking = blocking_checks(plan)
    if as_json:
        click.echo(json.dumps(report_dict(plan, kind), indent=2, default=str))
    else:
        click.echo(render_report(plan))
    if blocking:
        raise CheckFailed(f"{len(blocking)} preflight check(s) fail: {', '.join(r.check for r in blocking)}",
                          "fix them, or accept them with --accept ID, and run preflight again")
    if not as_json:
        click.echo("\nPreflight passed" + (" (with accepted failures)" if plan.accepted else "") + ".")
