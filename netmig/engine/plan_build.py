"""``make_plan``: read the cluster, run the template's preflight checks and the policy analysis, return the Plan.

``step_params`` (``{step id: {param: value}}``, ``aks-netmig plan --set STEP.PARAM=VALUE``: e.g. the tigera-operator
manifest) is applied before the checks run: they see the plan as it will run. Plan options
(``netmig.engine.planning.new_plan``): ``pod_cidr``, ``allow_variants`` (e.g. ``["fallback"]`` from ``aks-netmig plan
--allow-fallback``), ``plan_command`` (the command line, recorded in the plan)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from netmig.connection import ArmTarget
from netmig.engine.planning import load_template, new_plan, set_step_params
from netmig.model.plan import Plan, PlanConnection


def make_plan(kind: str, target: ArmTarget, *, accepted: list[str] | None = None,
              polling_interval: float = 5.0, step_params: dict[str, dict[str, Any]] | None = None,
              pod_cidr: str | None = None, allow_variants: list[str] | tuple[str, ...] = (),
              plan_command: list[str] | None = None) -> Plan:
    from netmig.azure.gateway import AksGateway
    from netmig.checks.policies import findings
    from netmig.journal import Journal
    from netmig.stepkit.context import StepContext
    from netmig.steps.preflight import run_checks

    template = load_template(kind)
    aks = AksGateway(target, polling_interval=polling_interval)
    cluster = aks.cluster()
    plan = new_plan(template, cluster, arm_endpoint=target.endpoint, accepted=accepted, pod_cidr=pod_cidr,
                    allow_variants=allow_variants, plan_command=plan_command)
    set_step_params(plan, step_params or {})  # before the checks: they see the plan as it will run
    plan.connection = PlanConnection(sandbox=target.sandbox,
                                     ca_bundle=None if target.sandbox else target.ca_bundle)  # never a token
    if kind.endswith((".yaml", ".yml")):
        plan.template = str(Path(kind).resolve())
    with tempfile.TemporaryDirectory(prefix="netmig-plan-") as tmp:
        ctx = StepContext(plan=plan, aks=aks, journal=Journal(Path(tmp) / "j.jsonl"), run_dir=Path(tmp))
        ctx._cluster = cluster
        try:
            results = run_checks(ctx, plan.checks)
            plan.findings = findings(ctx) if ctx.plan.source_profile().engine != "none" else []
        finally:
            ctx.close()
    plan.preflight = results
    return plan
