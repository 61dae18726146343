"""Plan variants at apply time: which path is active, skipping the steps of the others, switching paths.

Contract (see ``netmig.model.plan`` for the template side):
- ``active(ctx)`` is the active variant: the one the journal records (``set variant``), else the plan's default
  (None for a plan without variants).
- ``step_active(ctx, step)``: a step without ``variant`` always runs; one with a variant runs only on that path.
  The runner records a step of another path as done with ``{"skipped": ...}`` when it reaches it.
- A step raises ``SwitchVariant(name, code, message)`` when ARM refused its change with a code the step's
  ``switch_variant`` params map to ``name`` (nothing was changed). ``switch(ctx, step, e)`` then journals the
  switch and returns the step's result, if the plan allows that variant; otherwise it raises ``CheckFailed`` with
  a one-line reason and the exact command to re-plan with the variant allowed (the cluster is unchanged).
- ``path_steps(plan, name)``: the steps a path runs, in order; ``previous_change(ctx, step)``: the last
  network-profile change before ``step`` on the active path (None: ``step`` is the path's first change).
- For readers of a journal (status, report): ``path_of(plan, events)`` is (active variant, settled): settled once a
  switch is journaled or every step that could switch the path is done (the steps of the other paths will then be
  skipped); ``not_taken_reason(plan, events, step)`` says why a step of another path does not run (None: it is on
  the active path, or the path is not settled yet); ``switch_steps(plan)`` are the steps that can switch the path.
  A refusal the plan does not allow is journaled as ``variant-refused`` (``step``, ``variant``, ``code``,
  ``replan``: the command to plan again with that path allowed).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netmig.errors import CheckFailed
from netmig.journal import Event, EventKind, as_events

if TYPE_CHECKING:
    from netmig.model.plan import Plan, PlanStep
    from netmig.stepkit.context import StepContext

KEY = "variant"


class SwitchVariant(Exception):
    """ARM refused a change that has a declared alternative path; the cluster is unchanged."""

    def __init__(self, name: str, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.name = name
        self.code = code
        self.message = message

    def __reduce__(self) -> Any:
        return (SwitchVariant, (self.name, self.code, self.message))


def active(ctx: StepContext) -> str | None:
    chosen = ctx.journal.value(KEY)
    return str(chosen) if chosen else ctx.plan.default_variant


def step_active(ctx: StepContext, step: PlanStep) -> bool:
    return step.variant is None or step.variant == active(ctx)


def path_steps(plan: Plan, name: str | None) -> list[PlanStep]:
    if name is None or not plan.variants:
        return list(plan.steps)
    v = plan.variant(name)
    if v is None or not v.steps:
        return [s for s in plan.steps if s.variant in (None, name)]
    by_id = {s.id: s for s in plan.steps}
    return [by_id[i] for i in v.steps if i in by_id]


def previous_change(ctx: StepContext, step: PlanStep) -> PlanStep | None:
    path = path_steps(ctx.plan, active(ctx))
    ids = [s.id for s in path]
    before = path[: ids.index(step.id)] if step.id in ids else []
    ups = [s for s in before if s.kind == "update-network-profile" and not _switched(ctx, s)]
    return ups[-1] if ups else None


def switch_steps(plan: Plan) -> list[PlanStep]:
    return [s for s in plan.steps if s.params.get("switch_variant")]


def path_of(plan: Plan, records: Sequence[Event | Mapping[str, Any]]) -> tuple[str | None, bool]:
    events = as_events(records)
    """(active variant, settled) as a journal's events tell it (see the module docstring)."""
    chosen = None
    for e in events:
        if e.is_(EventKind.SET) and e.key == KEY:
            chosen = e.value
    if chosen:
        return str(chosen), True
    done = {e.step for e in events if e.is_(EventKind.STEP_DONE)}
    return plan.default_variant, all(s.id in done for s in switch_steps(plan))


def skip_reason(step: PlanStep, active_name: str | None) -> str:
    """The reason the runner records for a step of a path that is not the active one."""
    return f"on the {step.variant} path; this run takes the {active_name} path"


def not_taken_reason(plan: Plan, events: Sequence[Event | Mapping[str, Any]], step: PlanStep) -> str | None:
    name, settled = path_of(plan, events)
    if step.variant is None or step.variant == name or not settled:
        return None
    return skip_reason(step, name)


def _switched(ctx: StepContext, step: PlanStep) -> bool:
    """True when ``step`` ended by switching the path (its change was refused: it changed nothing)."""
    return any(e.is_(EventKind.VARIANT_SWITCH) and e.step == step.id for e in ctx.journal.read())


def replan_command(plan: Plan, flag: str, name: str) -> str:
    """The command that made ``plan`` with ``flag`` added, writing to a new file (``X-NAME.yaml``: the old plan's run
    folder holds the old plan's steps and approval)."""
    cmd = list(plan.plan_command) or ["aks-netmig", "plan", "--cluster", plan.cluster, "--migration", plan.kind,
                                      "--out", f"{plan.kind}.yaml"]
    if "--out" in cmd[:-1]:
        i = cmd.index("--out") + 1
        out = Path(cmd[i])
        cmd[i] = str(out.with_name(f"{out.stem}-{name}{out.suffix or '.yaml'}"))
    if flag not in cmd:
        cmd.append(flag)
    return shlex.join(cmd)


def switch(ctx: StepContext, step: PlanStep, e: SwitchVariant) -> dict[str, Any]:
    v = ctx.plan.variant(e.name)
    refused = f"ARM refused {step.id} ({e.code}); the cluster is unchanged"
    if v is None:
        raise CheckFailed(f"{refused}: {e.message}", "make a new plan")
    if not v.allowed:
        flag = v.allow_flag or f"--allow-variant {v.name}"
        replan = replan_command(ctx.plan, flag, v.name)
        ctx.journal.record("variant-refused", step=step.id, variant=v.name, code=e.code, replan=replan,
                           run_id=ctx.run_id)
        raise CheckFailed(f"{refused}, and this plan does not allow its {v.name} path ({v.title})",
                          f"review that path in the plan, then re-plan with it allowed: {replan}")
    ctx.journal.record("variant-switch", step=step.id, variant=v.name, code=e.code, message=e.message[:500],
                       run_id=ctx.run_id)
    ctx.journal.set(KEY, v.name)
    ctx.progress.message(f"{refused}; taking the plan's {v.name} path: {v.title}")
    return {"sent": False, "refused": e.code, "variant": v.name}
