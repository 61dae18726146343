"""preflight: the plan still matches the cluster (etag / profile / pools), then every check of the plan; a check
that could not run (``Outcome.ERROR``) always blocks, whatever the plan accepts. Then everything the steps after
the point of no return need is pinned in the run folder (``netmig.engine.noreturn``)."""

from __future__ import annotations

from typing import Any

from netmig.errors import CheckFailed
from netmig.model.checks import CheckResult, Outcome
from netmig.model.plan import PlanStep, drift
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, check_kind, step


def run_checks(ctx: StepContext, check_ids: list[str]) -> list[CheckResult]:
    out = []
    for cid in check_ids:
        try:
            out.append(check_kind(cid)(ctx))
        except KeyError:
            raise
        except Exception as e:  # a check that cannot run: an ERROR, never acceptable
            out.append(CheckResult(cid, Outcome.ERROR, f"the check could not run ({e.__class__.__name__}: {e})"[:300],
                                   "fix the cause (access, network, API) and plan again; this cannot be accepted"))
    accepted = set(ctx.plan.accepted)
    return [CheckResult(r.check, r.outcome, r.reason, r.fix,
                        r.accepted or (r.check in accepted and r.outcome is Outcome.FAIL), r.acceptable)
            for r in out]


@step("preflight", params=NoParams)
def preflight(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    problems = drift(ctx.plan, ctx.cluster(fresh=True))
    if problems:
        raise CheckFailed(f"the cluster changed since the plan was made: {'; '.join(problems)}",
                          "review the change and make a new plan (aks-netmig plan ...)")
    results = run_checks(ctx, ctx.plan.checks)
    ctx.journal.set("preflight", [r.to_dict() for r in results])
    blocking = [r for r in results if r.blocking]
    if blocking:
        raise CheckFailed("preflight failed: " + "; ".join(
            f"{r.check}: {r.reason}" + (" (could not run: cannot be accepted)" if r.outcome is Outcome.ERROR else "")
            for r in blocking), (blocking[0].fix or "fix the cause and rerun") + "; nothing was changed")
    from netmig.steps.noreturn import pin_for_later_steps

    pinned = pin_for_later_steps(ctx)
    return {"passed": sum(r.outcome is Outcome.PASS for r in results),
            "warnings": sum(r.outcome is Outcome.WARN for r in results),
            "accepted": sum(r.accepted for r in results), "pinned": len(pinned)}
