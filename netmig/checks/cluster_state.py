"""cluster-succeeded, pools-succeeded: no other operation in progress (else ARM answers OperationNotAllowed)."""

from __future__ import annotations

from netmig.model.checks import CheckResult, Outcome
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check


@check("cluster-succeeded")
def cluster_succeeded(ctx: StepContext) -> CheckResult:
    state = ctx.cluster().provisioning_state
    if state == "Succeeded":
        return CheckResult("cluster-succeeded", Outcome.PASS, "cluster provisioningState is Succeeded")
    return CheckResult("cluster-succeeded", Outcome.FAIL, f"cluster provisioningState is {state}",
                       "wait for the running operation to finish (or fix the Failed state with a reconcile) first")


@check("pools-succeeded")
def pools_succeeded(ctx: StepContext) -> CheckResult:
    bad = [f"{p.name}={p.provisioning_state}" for p in ctx.cluster().pools if p.provisioning_state != "Succeeded"]
    if not bad:
        return CheckResult("pools-succeeded", Outcome.PASS, "every node pool is Succeeded")
    return CheckResult("pools-succeeded", Outcome.FAIL, f"node pools not Succeeded: {', '.join(bad)}",
                       "wait for the pool operations to finish first")
