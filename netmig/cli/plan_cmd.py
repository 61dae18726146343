"""``aks-netmig plan``: read the cluster, run preflight and the policy analysis, write a reviewable plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import cluster_options, configure_logging, polling_for, target_from
from netmig.errors import CheckFailed


def render_plan(plan: Any) -> str:
    lines = [f"Plan {plan.migration_id}: {plan.title}",
             f"  cluster  {plan.cluster}",
             f"  network  {plan.source_profile().describe()} -> {plan.target_profile().describe()}"]
    for ch in plan.arm_changes:
        lines.append(f"  ARM      {ch.method} {ch.network_profile} (If-Match {ch.if_match})")
    lines.append("  pools    " + ", ".join(f"{p.name} {p.nodes} nodes (surge {p.surge_nodes})" for p in plan.pools))
    lines.append(f"  expected {plan.expected_minutes[0]}-{plan.expected_minutes[1]} min on Azure")
    lines.append("  preflight:")
    for r in plan.preflight:
        mark = {"pass": "ok  ", "warn": "warn", "fail": "FAIL"}[r["outcome"]]
        lines.append(f"    [{mark}] {r['check']}: {r['reason']}" + (" (accepted)" if r.get("accepted") else ""))
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
def plan(kind: str, out: Path, accept: tuple[str, ...], sets: tuple[str, ...], as_json: bool, **kwargs: Any) -> None:
    """Read the cluster, run preflight, and write a concrete, reviewable plan (what apply will execute)."""
    from netmig.azure import errors as arm
    from netmig.engine.plan_build import make_plan
    from netmig.engine.planning import parse_set

    configure_logging()
    step_params = parse_set(sets)
    target = target_from(kwargs)
    try:
        p = make_plan(kind, target, accepted=list(accept), polling_interval=polling_for(target),
                      step_params=step_params)
    except arm.ArmError as e:
        raise CheckFailed(f"cannot read {target.describe()}: {e}", "check the address and the credentials") from e
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(p.to_yaml())
    blocking = [r for r in p.preflight if r["outcome"] == "fail" and not r.get("accepted")]
    if as_json:
        import json

        click.echo(json.dumps({"path": str(out), "ok": not blocking, "blocking": [r["check"] for r in blocking],
                               "plan": p.model_dump(mode="json")}, indent=2))
    else:
        click.echo(render_plan(p))
        click.echo(f"\nPlan written to {out}.")
    if blocking:
        raise CheckFailed(f"{len(blocking)} preflight check(s) fail: {', '.join(r['check'] for r in blocking)}",
                          "fix them (or accept them with --accept ID) and plan again; apply would refuse this plan")
    if not as_json:
        click.echo(f"Review it, then: aks-netmig apply {out}")
