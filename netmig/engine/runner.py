"""Run a concrete plan's steps in order; resumable.

Contract:
- ``run_step(ctx, step)`` skips a step the journal already records as done (returning its recorded result);
  otherwise it records ``step-start``, runs the registered step function, records ``step-done`` with its result
  (or ``step-failed`` / ``step-paused``, or ``step-interrupted`` on Ctrl-C or SIGTERM) and emits ONE canonical
  structlog line ``step`` with ``outcome`` and ``duration_s``, with cluster / migration / step bound as context
  (scalar result fields are added to the done line, except names the line itself uses). Exceptions propagate unchanged.
- ``start_run(ctx)`` claims the run folder (one process per plan run: ``netmig.engine.runlock``, released by
  ``ctx.close()``) and runs the resume hooks; ``run_plan(ctx)`` calls it, then runs every step (``until``: stop
  after that step id) and returns the per-step results.
- The test hooks ``NETMIG_TEST_KILL_AT`` / ``NETMIG_TEST_PAUSE_AT`` (``netmig.stepkit.testhooks``) are honoured at
  each step boundary (``STEP:before``, ``STEP:after``).
- Variants (``netmig.stepkit.variants``): a step of a path that is not the active one is recorded done with
  ``{"skipped": ...}`` when reached (nothing runs); a step that raises ``SwitchVariant`` is recorded done with the
  switch (``variants.switch``), or failed when the plan does not allow that path.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from netmig.engine import catalog, runlock
from netmig.errors import NetmigError, Paused
from netmig.journal import Event, EventKind, as_events
from netmig.logs import get_logger
from netmig.model.plan import PlanStep
from netmig.stepkit import registry, variants
from netmig.stepkit.context import RUN_LOCK, StepContext
from netmig.stepkit.testhooks import checkpoint

log = get_logger("netmig.engine")
RESERVED = frozenset({"event", "outcome", "duration_s", "step", "level", "timestamp", "cluster", "migration",
                      "reason", "error"})


def recorded_result(ctx: StepContext, step_id: str) -> dict[str, Any] | None:
    found = None
    for e in ctx.journal.read():
        if e.is_(EventKind.STEP_DONE) and e.step == step_id:
            found = e.result
    return found


def run_step(ctx: StepContext, step: PlanStep) -> dict[str, Any]:
    with structlog.contextvars.bound_contextvars(step=step.id):
        done = recorded_result(ctx, step.id)
        if done is not None:
            log.info("step", outcome="skipped", reason="already done (journal)", duration_s=0.0)
            return done
        if not variants.step_active(ctx, step):
            result = {"skipped": variants.skip_reason(step, variants.active(ctx))}
            ctx.journal.record("step-done", step=step.id, result=result, run_id=ctx.run_id, duration_s=0.0)
            log.info("step", outcome="skipped", reason=result["skipped"], duration_s=0.0)
            return result
        fn = catalog.step_fn(step.kind)
        checkpoint(f"{step.id}:before")
        ctx.journal.record("step-start", step=step.id, kind=step.kind, run_id=ctx.run_id)
        t0 = time.monotonic()
        try:
            try:
                result = fn(ctx, step) or {}
            except variants.SwitchVariant as e:
                result = variants.switch(ctx, step, e)
        except Paused as e:
            ctx.journal.record("step-paused", step=step.id, reason=str(e), run_id=ctx.run_id)
            log.warning("step", outcome="paused", reason=str(e), duration_s=round(time.monotonic() - t0, 3))
            raise
        except KeyboardInterrupt as e:  # Ctrl-C / SIGTERM: where the run stopped, not a failure
            signame = getattr(e, "signame", None) or str(e) or "SIGINT"
            ctx.journal.record("step-interrupted", step=step.id, signal=signame, run_id=ctx.run_id)
            log.warning("step", outcome="interrupted", reason=signame, duration_s=round(time.monotonic() - t0, 3))
            raise
        except BaseException as e:
            reason = str(e) if isinstance(e, NetmigError) else f"{e.__class__.__name__}: {e}"
            ctx.journal.record("step-failed", step=step.id, error=reason[:500], run_id=ctx.run_id)
            log.error("step", outcome="failed", error=reason[:300], duration_s=round(time.monotonic() - t0, 3))
            raise
        ctx.journal.record("step-done", step=step.id, result=result, run_id=ctx.run_id,
                           duration_s=round(time.monotonic() - t0, 3))
        log.info("step", outcome="done", duration_s=round(time.monotonic() - t0, 3),
                 **{k: v for k, v in result.items() if isinstance(v, (str, int, float, bool)) and k not in RESERVED})
        checkpoint(f"{step.id}:after")
        return result


def claim_run_dir(ctx: StepContext) -> None:
    """Hold the run folder for this context (``CheckFailed`` when another process runs the same plan)."""
    if RUN_LOCK not in ctx.scratch:
        ctx.scratch[RUN_LOCK] = runlock.hold(ctx.run_dir)


def start_run(ctx: StepContext) -> None:
    """Claim the run folder, then the resume hooks (e.g. re-acquire the lock a crashed run held); idempotent."""
    claim_run_dir(ctx)
    catalog.load_builtins()
    for hook in registry.RESUME_HOOKS:
        hook(ctx)


def run_plan(ctx: StepContext, until: str | None = None) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with structlog.contextvars.bound_contextvars(cluster=ctx.plan.cluster.rsplit("/", 1)[-1],
                                                 migration=ctx.plan.migration_id):
        claim_run_dir(ctx)
        ctx.journal.record("run-start", run_id=ctx.run_id, migration=ctx.plan.migration_id)
        start_run(ctx)
        for step in ctx.plan.steps:
            results[step.id] = run_step(ctx, step)
            if until is not None and step.id == until:
                break
        else:
            ctx.journal.record("run-done", run_id=ctx.run_id)
    return results


def status(records: Sequence[Event | Mapping[str, Any]], step_ids: list[str]) -> list[tuple[str, str, str]]:
    """(step id, state, detail) per step from journal events: done / skipped (recorded done with ``{"skipped":
    reason}``: a step of a path not taken; the detail is the reason) / failed / paused / interrupted / started /
    pending."""
    state = {s: ("pending", "") for s in step_ids}
    for e in as_events(records):
        s = e.step
        if s not in state:
            continue
        if e.is_(EventKind.STEP_START):
            state[s] = ("started", e.time)
        elif e.is_(EventKind.STEP_DONE):
            skipped = e.result.get("skipped")
            state[s] = ("skipped", str(skipped)) if skipped else (
                "done", f"{e.time} ({e.get('duration_s', 0):.1f} s)")
        elif e.is_(EventKind.STEP_FAILED):
            state[s] = ("failed", e.error)
        elif e.is_(EventKind.STEP_PAUSED):
            state[s] = ("paused", e.get("reason", ""))
        elif e.is_(EventKind.STEP_INTERRUPTED):
            state[s] = ("interrupted", e.get("signal", ""))
    return [(s, *state[s]) for s in step_ids]
