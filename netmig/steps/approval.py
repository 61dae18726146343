"""approval-gate: the approver callback decides (a prompt, --yes, a Prefect form); it may raise ``Paused``."""

from __future__ import annotations

from typing import Any

from netmig.engine.context import StepContext
from netmig.engine.planning import PlanStep
from netmig.engine.registry import register_step
from netmig.errors import CheckFailed


@register_step("approval-gate")
def approval_gate(ctx: StepContext, step: PlanStep) -> dict[str, Any]:
    answer: Any = ctx.approver(ctx.plan)
    record = answer if isinstance(answer, dict) else {"approved": bool(answer)}
    if not record.get("approved"):
        raise CheckFailed("the migration was not approved" + (f" ({record['comment']})" if record.get("comment")
                                                               else ""), "nothing was changed; apply again to retry")
    return {k: v for k, v in record.items() if isinstance(v, (str, bool, int, float)) or v is None}
