"""What the engine can run: the built-in step kinds and checks, plugin modules, and template validation.

Contract:
- ``load_builtins()`` imports every module of ``netmig.steps`` and ``netmig.checks`` (each registers itself with
  ``netmig.stepkit.registry`` on import) and the plugin modules named in ``NETMIG_STEP_MODULES`` (comma-separated
  importable module names: a step kind or check outside this package, see docs/adding-a-migration.md); a plugin
  module that cannot be imported is a ``UsageError``. Idempotent.
- ``step_fn(kind)`` / ``check_fn(id)``: the registered ``StepKind`` / ``CheckKind`` (``UsageError`` when unknown).
- ``usage_problem(steps, checks)``: the first problem (a ``UsageError``: unknown step kind, unknown check id,
  bad or unknown params, naming the step and the fix) of a template's or plan's steps and checks, or None. The plan
  loader raises it before anything contacts a cluster.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from collections.abc import Iterable
from typing import Any

import netmig.checks
import netmig.steps
from netmig.errors import UsageError
from netmig.model.plan import StepSpec
from netmig.stepkit import registry
from netmig.stepkit.registry import CheckKind, StepKind, changing_kinds

PLUGINS_ENV = "NETMIG_STEP_MODULES"
__all__ = ["PLUGINS_ENV", "changing_kinds", "check_fn", "known_kinds", "load_builtins", "step_fn",
           "usage_problem"]


def load_builtins() -> None:
    for pkg in (netmig.checks, netmig.steps):
        for mod in pkgutil.iter_modules(pkg.__path__):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    for name in (n.strip() for n in os.environ.get(PLUGINS_ENV, "").split(",")):
        if not name:
            continue
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise UsageError(f"cannot import the step module {name!r} named in {PLUGINS_ENV} ({e})",
                             f"put it on PYTHONPATH or drop it from {PLUGINS_ENV}") from None


def step_fn(kind: str) -> StepKind[Any]:
    load_builtins()
    return registry.step_kind(kind)


def check_fn(check_id: str) -> CheckKind:
    load_builtins()
    return registry.check_kind(check_id)


def known_kinds() -> list[str]:
    load_builtins()
    return sorted(registry.STEPS)


def usage_problem(steps: Iterable[StepSpec], checks: Iterable[str]) -> UsageError | None:
    load_builtins()
    for s in steps:
        bad = registry.step_problems(s)
        if bad is not None:
            return bad
    for c in checks:
        if c not in registry.CHECKS:
            return UsageError(f"unknown check {c!r}", f"use one of the checks aks-netmig has: "
                                                      f"{', '.join(sorted(registry.CHECKS))}")
    return None
