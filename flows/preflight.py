"""Prefect flow ``netmig-preflight``: a migration kind's preflight checks and policy analysis against a cluster,
without changing it (thin orchestration over ``tasks.migrate.make_plan``, i.e. ``netmig.commands.plan``).

Publishes ``preflight`` (table), ``policy-findings`` (table) and ``plan`` artifacts; with ``options.plan_out`` it
also writes the concrete plan for review (then give that file to a migration deployment as ``plan_path``). Ends
Failed when a check fails unaccepted and ``options.fail_on_blocking`` (the default), so failure alerts fire for a
scheduled preflight.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows.bridge import structlog_to_prefect
from flows.naming import migrate_run_name
from flows.params import ClusterAddress, MigrationKind, PreflightOptions
from netmig.commands.render import findings_rows, plan_markdown, preflight_rows
from tasks.migrate import make_plan, publish


@flow(name="netmig-preflight", flow_run_name=migrate_run_name)
def preflight(migration: MigrationKind = "npm-to-cilium", cluster: ClusterAddress = ClusterAddress(),
              options: PreflightOptions = PreflightOptions()) -> dict[str, Any]:
    """Run a migration kind's preflight checks and policy analysis against a cluster; change nothing.

    Args:
        migration: The migration kind, a template in plans/ (npm-to-cilium, kubenet-to-overlay, ...).
        cluster: A sandbox folder or an AKS address.
        options: The options of aks-netmig plan (accepted check/rule ids, step parameters / operator manifest,
            pod CIDR, fallback), where to write the plan, whether blocking checks fail the run.
    """
    from netmig.errors import CheckFailed, UsageError
    from netmig.model.plan import Plan

    with structlog_to_prefect():
        if not migration:
            raise UsageError("no migration kind given", "choose one in the migration field (a template in plans/)")
        if not cluster.given():
            raise UsageError("no cluster given", "set cluster.sandbox, cluster.cluster or subscription/"
                                                 "resource_group/name")
        plan = Plan.model_validate(make_plan(migration, cluster.model_dump(), out=options.plan_out or None,
                                             **options.plan_args(migration)))
        publish("table", "preflight", preflight_rows(plan.preflight), f"Preflight of {migration} on {plan.cluster}")
        if plan.findings:
            publish("table", "policy-findings", findings_rows(plan.findings),
                    f"Policy analysis {plan.source_profile().engine} -> {plan.target_profile().engine}")
        publish("markdown", "plan", plan_markdown(plan), "The plan a migration would apply"
                + (f" (written to {options.plan_out})" if options.plan_out else " (not written)"))
        blocking = plan.blocking()
        summary = {"migration": migration, "cluster": plan.cluster, "plan": options.plan_out or None,
                   "checks": {r.check: r.outcome.value for r in plan.preflight},
                   "blocking": [r.check for r in blocking],
                   "findings": len(plan.findings),
                   "error_findings": sum(1 for f in plan.findings if f["severity"] == "error")}
        if blocking and options.fail_on_blocking:
            raise CheckFailed(f"{len(blocking)} preflight check(s) fail: "
                              + "; ".join(f"{r.check}: {r.reason}" for r in blocking),
                              blocking[0].fix or "fix them, or accept them, and run preflight again")
        return summary
