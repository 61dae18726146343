"""policy-analysis: error-severity findings of the NetworkPolicy analysis fail unless the plan accepts them
(``accepted:`` lists ``policy-analysis`` or the rule ids)."""

from __future__ import annotations

from typing import Any

from netmig.model import permissions as perm
from netmig.model.checks import CheckResult, Outcome
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check


def findings(ctx: StepContext) -> list[dict[str, Any]]:
    if "findings" not in ctx.scratch:
        from netmig.kube.probes import raw_inventory
        from netmig.policy import analyze

        source = ctx.plan.source_profile().engine
        target = ctx.plan.target_profile().engine
        ctx.scratch["findings"] = [f.to_dict() for f in analyze(raw_inventory(ctx.kube), source, target)]
    return list(ctx.scratch["findings"])


@check("policy-analysis", permissions=perm.INVENTORY)
def policy_analysis(ctx: StepContext) -> CheckResult:
    found = findings(ctx)
    errors = [f for f in found if f["severity"] == "error"]
    warnings = [f for f in found if f["severity"] == "warning"]
    if not errors:
        outcome = Outcome.WARN if warnings else Outcome.PASS
        return CheckResult("policy-analysis", outcome,
                           f"{len(found)} findings, none error-severity ({len(warnings)} warnings)",
                           "review the findings in the plan" if warnings else None)
    rules = sorted({f["rule"] for f in errors})
    accepted = "policy-analysis" in ctx.plan.accepted or all(r in ctx.plan.accepted for r in rules)
    return CheckResult("policy-analysis", Outcome.FAIL,
                       f"{len(errors)} error-severity findings ({', '.join(rules)}): connectivity changes under "
                       f"{ctx.plan.target_profile().engine}",
                       "fix the policies, or accept the predicted changes (plan --accept RULE or "
                       "'accepted:' in the plan)", accepted=accepted)
