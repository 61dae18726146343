"""The wizard as a library function: its phases in order, then the chosen action."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import click

from netmig.cli.wizard.answers import (
    Answers,
    WizardStopped,
    apply_command,
    plan_command,
    runbook_commands,
    runbook_for,
    wizard_command,
)
from netmig.cli.wizard.cluster import describe_cluster, pick_cluster, read_cluster
from netmig.cli.wizard.migration import (
    choose_migration,
    first_stage,
    journey_commands,
    journey_options,
    plan_options,
)
from netmig.cli.wizard.preflight import preflight_and_accept
from netmig.cli.wizard.save import review_and_save
from netmig.cli.wizard.when import DEFAULT_TZ, schedule, when_and_approval
from netmig.cli.wizard_prompts import Questions


def run_wizard(q: Questions, a: Answers, opts: dict[str, Any], plans_dir: Path, *, invoke_apply: Any,
               echo: Any = click.echo, tz: str = DEFAULT_TZ) -> Answers:
    """The wizard as a library function (the command fills ``a`` and ``opts`` from its flags); ``tz``: the time
    zone of the maintenance window (an IANA name)."""
    target, a.address = pick_cluster(q, opts, echo)  # 1. the cluster
    info = read_cluster(target)
    echo("\n" + describe_cluster(info))
    template = choose_migration(q, a, target, info, echo)  # 2. the migration (or the journey)
    if template is None:  # the journey: its own commands plan every stage and run them with one approval
        journey_options(q, a, info)  # 3. its pod CIDR, when a stage needs one
        first = first_stage(a, info)  # 4. stage 1's preflight (journey plan runs it too) and acceptance
        echo(f"\nStage 1 of the journey: {first.kind}")
        try:
            preflight_and_accept(q, first, target, echo)
        except WizardStopped as e:
            echo(str(e))
            return a
        a.accept = first.accept
        echo("\nThe journey, non-interactive, from any shell:")
        for cmd in journey_commands(a):
            echo(f"  {shlex.join(cmd)}")
        return a
    plan_options(q, a, template, info, echo)  # 3. options that shape the plan
    try:
        plan = preflight_and_accept(q, a, target, echo)  # 4. preflight and analysis, acceptance
    except WizardStopped as e:
        echo(str(e))
        return a
    when_and_approval(q, a, tz)  # 5. when (in the time zone ``tz``), and approval
    if not review_and_save(q, a, plan, info, plans_dir, echo):  # 6. review and save
        return a
    # 7. act
    try:
        if a.then == "run":
            echo(f"Applying it: {shlex.join(apply_command(a, *(['--yes'] if a.approve else [])))}\n")
            invoke_apply(a)
        elif a.then == "schedule":
            schedule(a, echo)
        else:
            echo(f"\nRunbook ({runbook_for(str(a.kind))}) — non-interactive, from any shell:")
            for why_, cmd in runbook_commands(a):
                echo(f"  # {why_}\n  {shlex.join(cmd)}")
    finally:
        echo("\nThe same without the wizard:")
        echo(f"  {shlex.join(plan_command(a))}")
        if a.then == "run":
            echo(f"  {shlex.join(apply_command(a, *(['--yes'] if a.approve else [])))}")
        echo(f"  # or in one go: {shlex.join(wizard_command(a))}")
    return a
