"""report: the Markdown report to RUN_DIR/report.md and to the progress sink (a Prefect artifact in a flow)."""

from __future__ import annotations

from typing import Any

from netmig.engine.context import StepContext
from netmig.engine.planning import PlanStep
from netmig.engine.registry import register_step


@register_step("report")
def report_step(ctx: StepContext, step: PlanStep) -> dict[str, Any]:
    from netmig.engine.report import render

    md = render(ctx.plan, ctx.journal.events())
    path = ctx.run_dir / "report.md"
    path.write_text(md)
    ctx.progress.artifact("migration-report", md)
    return {"file": str(path)}
