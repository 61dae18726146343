"""``aks-netmig plan``: read the cluster, run preflight and the policy analysis, write a reviewable plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from netmig.checks.unenforced import unenforced_banner
from netmig.cli.migrate_common import budget_flag, cluster_options, configure_logging
from netmig.commands.plans import PlanRequest
from netmig.connection import Address
from netmig.errors import CheckFailed
from netmig.model.checks import render_mark, unacceptable


def render_plan(plan: Any) -> str:
    lines = [f"Plan {plan.migration_id}: {plan.title}",
             f"  cluster  {plan.cluster}",
             f"  network  {plan.source_profile().describe()} -> {plan.target_profile().describe()}"]
    for ch in plan.arm_changes:
        lines.append(f"  ARM      {ch.method} {ch.network_profile} (If-Match {ch.if_match})")
    lines.append("  pools    " + ", ".join(f"{p.name} {p.nodes} nodes (surge {p.surge_nodes})" for p in plan.pools))
    lines.append(f"  expected {plan.expected_minutes[0]}-{plan.expected_minutes[1]} min on Azure")
    if plan.irreversible:
        lines.append(f"  ONE-WAY  {plan.irreversible_reason or 'irreversible'}")
    banner = unenforced_banner(plan)
    if banner:
        lines.append(f"  {banner}")
    lines += [f"  note     {n}" for n in plan.notes]
    for v in plan.variants:
        if v.default:
            continue
        state = "ALLOWED by this plan" if v.allowed else f"NOT allowed (plan again with {v.allow_flag} to allow it)"
        lines.append(f"  {v.name}: {v.title} -- {state}; used only if ARM refuses the direct change")
        for ch in v.arm_changes:
            lines.append(f"    ARM    {ch.method} {ch.network_profile}")
        lines.append(f"    {v.reimages} reimages, expected {v.expected_minutes[0]}-{v.expected_minutes[1]} min")
        lines += [f"    note   {n}" for n in v.notes]
    lines.append("  preflight:")
    for r in plan.preflight:
        lines.append(f"    {render_mark(r)}")
    errs = [f for f in plan.findings if f["severity"] == "error"]
    lines.append(f"  findings: {len(plan.findings)} ({len(errs)} error-severity)")
    for f in plan.findings[:12]:
        lines.append(f"    [{f['severity']}] {f['rule']} {f['kind']} {f.get('namespace') or ''}/{f.get('name') or ''}")
    lines.append("  steps    " + " -> ".join(s.id for s in plan.steps))
    return "\n".join(lines)


@click.command()
@cluster_options
@click.option("--migration", "kind", default="npm-to-cilium", show_default=True,
              help="Migration kind (plans/KIND.yaml).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True, help="Where to write the plan.")
@click.option("--accept", multiple=True, help="Accept a failing check id or analysis rule id (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="STEP.PARAM=VALUE",
              help="Set a step parameter in the plan (repeatable), e.g. install-operator.manifest=FILE_OR_URL.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: path, ok, blocking (check ids), plan (the plan as written).")
@click.option("--pod-cidr", default=None,
              help="Overlay pod CIDR for migrations to Azure CNI Overlay (default: keep the current one).")
@click.option("--allow-fallback", is_flag=True,
              help="Allow the plan's fallback path, used only if ARM refuses the direct change "
                   "(kubenet+Calico: policy none -> overlay -> calico, three reimages, policies unenforced between).")
@click.option("--budget", default=None, metavar="DURATION",
              help="Probing time budget of each connectivity step (the before-snapshot and verify), e.g. 10m: "
                   "every predicted-change cell always, the rest sampled to fit. Default: the template's (10m).")
@click.option("--no-budget", is_flag=True, help="Probe every cell in those steps, however long it takes.")
def plan(kind: str, out: Path, accept: tuple[str, ...], sets: tuple[str, ...], as_json: bool, pod_cidr: str | None,
         allow_fallback: bool, budget: str | None, no_budget: bool, **kwargs: Any) -> None:
    """Read the cluster, run preflight, and write a concrete, reviewable plan (what apply will execute)."""
    from netmig.commands import plan as plan_command
    from netmig.engine.planning import budget_text_sets

    configure_logging()
    # recorded in the plan as the --set values they stand for
    sets = (*sets, *budget_text_sets(kind, budget_flag(budget, no_budget), sets))
    result = plan_command(PlanRequest(kind, Address.of(kwargs), accept=accept, sets=sets, pod_cidr=pod_cidr,
                                      allow_fallback=allow_fallback, out=out))
    p = result.plan
    blocking = result.blocking
    if as_json:
        import json

        click.echo(json.dumps({"path": str(out), "ok": not blocking, "blocking": [r.check for r in blocking],
                               "plan": p.model_dump(mode="json")}, indent=2))
    else:
        click.echo(render_plan(p))
        click.echo(f"\nPlan written to {out}.")
    if blocking:
        refused = unacceptable(p.preflight, accept)
        if refused:
            raise CheckFailed(f"--accept {', '.join(r.check for r in refused)}: a check that could not run (or "
                              f"whose failure is not about the cluster) cannot be accepted: {refused[0].reason}",
                              (refused[0].fix or "fix the cause") + "; then plan again (apply would refuse "
                              "this plan)")
        raise CheckFailed(f"{len(blocking)} preflight check(s) fail: {', '.join(r.check for r in blocking)}",
                          "fix them (or accept them with --accept ID) and plan again; apply would refuse this plan")
    if not as_json:
        click.echo(f"Review it, then: aks-netmig apply {out}")
