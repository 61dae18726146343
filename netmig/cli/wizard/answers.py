"""The wizard's answers and the command lines they stand for (each answer is a flag of ``aks-netmig wizard``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig.commands.argv import argv, plan_argv
from netmig.errors import NetmigError

THEN = ("run", "schedule", "print")


class WizardStopped(Exception):
    """The user chose to stop (e.g. nothing accepted at the checklist): nothing was written; exit 0."""


class WizardInterrupted(NetmigError):
    """Ctrl-C in the wizard. Exit code 130."""

    exit_code = 130


@dataclass
class Answers:
    """What the wizard settled on; each field is a flag of ``aks-netmig wizard``."""

    address: dict[str, Any] = field(default_factory=dict)  # --sandbox, or --cluster [--arm-endpoint --ca-bundle]
    kind: str | None = None  # --migration
    pod_cidr: str | None = None  # --pod-cidr ("" keeps the current one; None: not asked)
    allow_fallback: bool | None = None  # --allow-fallback / --no-fallback (templates with a fallback path)
    accept: list[str] = field(default_factory=list)  # --accept (repeatable)
    sets: list[str] = field(default_factory=list)  # --set STEP.PARAM=VALUE (repeatable), e.g. the operator manifest
    budget: str | None = None  # --budget DURATION / --no-budget ("none"); becomes --set STEP.budget_s=... values
    then: str | None = None  # --then run|schedule|print
    start_at: dt.datetime | None = None  # --start-at
    approve: bool | None = None  # --yes / --approve-at-gate
    out: Path | None = None  # --out (or --plans-dir)
    saved: bool = False  # the plan file was written
    fallbacks: list[Any] = field(default_factory=list)  # the template's fallback paths that fit the cluster


# ---------------------------------------------------------------------------------------------- command lines
def plan_command(a: Answers) -> list[str]:
    """The ``aks-netmig plan`` line that makes the same plan (the one rendering, so the line recorded in the plan is
    the same either way)."""
    return plan_argv(str(a.kind), str(a.out), a.address, accept=a.accept, sets=a.sets, pod_cidr=a.pod_cidr or None,
                     allow_fallback=bool(a.allow_fallback))


def preflight_command(a: Answers) -> list[str]:
    return argv("preflight", address=a.address, flags=[
        ("--migration", str(a.kind)), ("--accept", tuple(a.accept)), ("--set", tuple(a.sets)),
        ("--pod-cidr", a.pod_cidr or None), ("--allow-fallback", bool(a.allow_fallback))])


def apply_command(a: Answers, *extra: str) -> list[str]:
    return [*argv("apply", a.out, address=a.address), *extra]


def wizard_command(a: Answers) -> list[str]:
    fallback = None
    if a.allow_fallback is not None and a.fallbacks:
        fallback = "--allow-fallback" if a.allow_fallback else "--no-fallback"
    return argv("wizard", address=a.address, flags=[  # every answer: running it asks nothing
        ("--migration", str(a.kind)), ("--pod-cidr", a.pod_cidr), (fallback or "", fallback is not None),
        ("--accept", tuple(a.accept)), ("--set", tuple(a.sets)), ("--out", str(a.out)), ("--then", str(a.then)),
        ("--start-at", a.start_at.isoformat(timespec="minutes") if a.then == "schedule" and a.start_at else None),
        ("--yes" if a.approve else "--approve-at-gate", True)])


def runbook_commands(a: Answers) -> list[tuple[str, list[str]]]:
    return [("check the cluster has not changed since the plan", apply_command(a, "--dry-run")),
            ("run it (resumable: rerun the same command after any interruption)",
             apply_command(a, *(["--yes"] if a.approve else []))),
            ("progress, lock, last error and the resume command, from any shell",
             argv("status", a.out, address=a.address)),
            ("after a stall only: abort the ARM operation", argv("abort", a.out, address=a.address,
                                                                 flags=[("--yes", True)]))]


def runbook_for(kind: str) -> str:
    """The on-call runbook of a migration kind (docs/runbooks/), or a note that there is none yet."""
    books = Path(__file__).resolve().parents[3] / "docs" / "runbooks"
    for name in (kind, "uninstall" if kind == "calico-crd-cleanup" else kind):
        if (books / f"{name}.md").is_file():
            return f"docs/runbooks/{name}.md"
    return f"no runbook for {kind} yet; these commands are the core of every runbook"
