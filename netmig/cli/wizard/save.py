"""Wizard phase 6: review the plan and save it (atomically, only once every question was answered)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from netmig.cli.wizard.answers import Answers, plan_command
from netmig.cli.wizard_prompts import Questions
from netmig.errors import UsageError


def check_out(path: Path) -> str | None:
    from netmig.engine.session import run_dir_for

    if path.is_dir():
        return f"{path} is a folder"
    if (run_dir_for(path) / "journal.jsonl").exists():
        return f"a migration already ran from {path} ({run_dir_for(path)} exists); choose another file"
    if path.suffix not in (".yaml", ".yml"):
        return "the plan file name ends in .yaml"
    return None


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def review_and_save(q: Questions, a: Answers, plan: Any, info: Any, plans_dir: Path, echo: Any) -> bool:
    """Phase 6: show the plan, settle ``a.out``, write it; False when the user declined (nothing written)."""
    from netmig.cli.plan_cmd import render_plan

    echo("\n" + render_plan(plan))
    if a.out is None:
        suggested = plans_dir / f"{info.ref.name}-{a.kind}.yaml"
        if check_out(suggested):
            suggested = plans_dir / f"{info.ref.name}-{a.kind}-{dt.datetime.now():%Y%m%d-%H%M}.yaml"
        a.out = Path(q.text("Save the plan as", flag="--out FILE (or --plans-dir DIR)", default=str(suggested),
                            validate=lambda s: check_out(Path(s)) if s else "a file name"))
        action = {"run": "run it now", "schedule": "schedule it", "print": "print the runbook commands"}[str(a.then)]
        if not q.confirm(f"Write {a.out} and {action}?", flag="--out FILE", default=True):
            echo("Nothing was written.")
            a.out = None
            return False
    else:
        problem = check_out(a.out)
        if problem:
            raise UsageError(problem, "pass another --out")
    if "plan_command" in type(plan).model_fields:  # the plan records the command line that makes it
        plan.plan_command = plan_command(a)
    write_atomically(a.out, plan.to_yaml())
    a.saved = True
    echo(f"\nPlan written to {a.out}.")
    return True
