"""approval-gate: the approver callback decides (a prompt, --yes, a Prefect form); it may raise ``Paused``.

Before asking, the gate states in words what is being approved: the change, and for an irreversible plan that it
is ONE-WAY (with the plan's reason), and the other paths the plan allows (e.g. a fallback with an unenforced
window). The statement is also kept in the step's result (``statement``) and so in the journal and the report.
A "no" raises ``NotApproved`` (a ``CheckFailed``, exit 1; the Prefect flow run ends Cancelled, not Failed).
"""

from __future__ import annotations

from typing import Any

from netmig.errors import CheckFailed
from netmig.model.plan import Plan, PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, step


class NotApproved(CheckFailed):
    """The approver said no: nothing was changed. A decision, not a failure."""


def statement(plan: Plan) -> str:
    text = (f"Approving {plan.title} on {plan.cluster}: {plan.source_profile().describe()} -> "
            f"{plan.target_profile().describe()}, {plan.nodes_to_reimage} nodes reimaged.")
    if plan.irreversible:
        text += f" ONE-WAY, there is no way back: {plan.irreversible_reason or 'the change is irreversible'}"
    from netmig.checks.unenforced import unenforced_banner

    banner = unenforced_banner(plan)
    if banner:
        text += f" {banner}."
    for v in plan.variants:
        if not v.default:
            text += (f" If ARM refuses the direct change, the {v.name} path is "
                     + ("ALLOWED" if v.allowed else "not allowed") + f": {v.title}"
                     + (f" ({' '.join(v.notes)})" if v.allowed and v.notes else ""))
    return text


@step("approval-gate", params=NoParams)
def approval_gate(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    said = statement(ctx.plan)
    ctx.progress.message(said)
    answer: Any = ctx.approver(ctx.plan)
    record = answer if isinstance(answer, dict) else {"approved": bool(answer)}
    if not record.get("approved"):
        who = f" by {record['approver']}" if record.get("approver") else ""
        why = f" ({record['comment']})" if record.get("comment") else ""
        raise NotApproved(f"the migration was not approved{who}{why}", "nothing was changed; apply again to retry")
    out = {k: v for k, v in record.items() if isinstance(v, (str, bool, int, float)) or v is None}
    return {**out, "statement": said}
