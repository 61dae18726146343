"""Step kinds and preflight checks, registered by id.

Contract: ``@register_step("kind")`` registers ``fn(ctx, step) -> dict`` (a JSON-able result the journal keeps);
``@register_check("id")`` registers ``fn(ctx) -> CheckResult`` (a failed check is a result, never an exception).
``load_builtins()`` imports ``netmig.steps`` and ``netmig.checks`` (each module registers itself on import).
A new migration kind is a YAML template in ``plans/`` plus, at most, a few new step or check modules.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from netmig.model.checks import CheckResult

if TYPE_CHECKING:
    from netmig.engine.context import StepContext
    from netmig.engine.planning import PlanStep

StepFn = Callable[["StepContext", "PlanStep"], dict[str, Any]]
CheckFn = Callable[["StepContext"], CheckResult]

STEPS: dict[str, StepFn] = {}
CHECKS: dict[str, CheckFn] = {}
RESUME_HOOKS: list[Callable[[StepContext], None]] = []


def register_resume_hook(fn: Callable[[StepContext], None]) -> Callable[[StepContext], None]:
    """``fn(ctx)`` runs at the start of every run, before the first step (e.g. re-take a lock a crashed run held)."""
    if fn not in RESUME_HOOKS:
        RESUME_HOOKS.append(fn)
    return fn


def register_step(kind: str) -> Callable[[StepFn], StepFn]:
    def deco(fn: StepFn) -> StepFn:
        if kind in STEPS and STEPS[kind] is not fn:
            raise ValueError(f"step kind {kind!r} registered twice")
        STEPS[kind] = fn
        return fn
    return deco


def register_check(check_id: str) -> Callable[[CheckFn], CheckFn]:
    def deco(fn: CheckFn) -> CheckFn:
        if check_id in CHECKS and CHECKS[check_id] is not fn:
            raise ValueError(f"check {check_id!r} registered twice")
        CHECKS[check_id] = fn
        return fn
    return deco


def load_builtins() -> None:
    for pkg_name in ("netmig.checks", "netmig.steps"):
        pkg = importlib.import_module(pkg_name)
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg_name}.{mod.name}")


def step_fn(kind: str) -> StepFn:
    load_builtins()
    try:
        return STEPS[kind]
    except KeyError:
        raise KeyError(f"unknown step kind {kind!r} (known: {', '.join(sorted(STEPS))})") from None


def check_fn(check_id: str) -> CheckFn:
    load_builtins()
    try:
        return CHECKS[check_id]
    except KeyError:
        raise KeyError(f"unknown check {check_id!r} (known: {', '.join(sorted(CHECKS))})") from None
