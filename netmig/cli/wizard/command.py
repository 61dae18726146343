"""``aks-netmig wizard``: the click command (flags -> ``Answers``, then ``run_wizard``)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import budget_flag, cluster_options, configure_logging
from netmig.cli.wizard.answers import THEN, Answers, WizardInterrupted, apply_command
from netmig.cli.wizard.run import run_wizard
from netmig.cli.wizard.when import DEFAULT_TZ, parse_when
from netmig.cli.wizard_prompts import Questions
from netmig.connection import ADDRESS_KEYS


def _interactive(ctx: click.Context) -> bool:
    forced = (ctx.obj or {}).get("interactive")
    if forced is not None:  # set by tests that drive the prompts through prompt_toolkit's pipe input
        return bool(forced)
    return sys.stdin.isatty() and sys.stdout.isatty()


@click.command()
@cluster_options
@click.option("--migration", "kind", help="Migration kind (plans/KIND.yaml); asked when not given.")
@click.option("--pod-cidr", help="Overlay pod CIDR for migrations to overlay (default: keep the current one).")
@click.option("--allow-fallback/--no-fallback", "allow_fallback", default=None,
              help="Allow the migration's fallback path (kubenet+Calico -> overlay), used only if ARM refuses.")
@click.option("--accept", multiple=True, help="Accept a failing check id or analysis rule id (repeatable).")
@click.option("--set", "sets", multiple=True, metavar="STEP.PARAM=VALUE",
              help="Set a step parameter in the plan (repeatable), e.g. install-operator.manifest=FILE_OR_URL.")
@click.option("--budget", default=None, metavar="DURATION",
              help="Probing time budget of each connectivity step (before-snapshot, verify), e.g. 15m; asked on "
                   "clusters of more than 50 nodes, else the plan's 10m.")
@click.option("--no-budget", is_flag=True, help="Probe every cell in those steps, however long it takes.")
@click.option("--then", "then", type=click.Choice(THEN), help="After saving: run now, schedule in Prefect, or print "
              "the runbook commands.")
@click.option("--start-at", help="With --then schedule: when (ISO 8601, e.g. 2026-12-05T02:00+01:00).")
@click.option("--yes/--approve-at-gate", "approve", default=None,
              help="Approve now, or leave it to the approval gate (a prompt, or the Prefect UI form).")
@click.option("--plans-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"),
              show_default=True, help="Where plans are saved (file CLUSTER-KIND.yaml unless --out); not plans/, "
              "which holds the migration templates.")
@click.option("--tz", default=DEFAULT_TZ, show_default=True,
              help="Time zone of the maintenance window (--start-at without an offset, the suggested default); "
              "prefect.yaml's schedules use Europe/Amsterdam.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="The plan file to write.")
@click.pass_context
def wizard(ctx: click.Context, kind: str | None, pod_cidr: str | None, allow_fallback: bool | None,
           accept: tuple[str, ...], sets: tuple[str, ...], then: str | None, start_at: str | None,
           approve: bool | None, plans_dir: Path, out: Path | None, tz: str, budget: str | None, no_budget: bool,
           **kwargs: Any) -> None:
    """Guided migration: cluster, migration, preflight and predicted changes, options, plan, then run/schedule."""
    configure_logging()
    if pod_cidr:
        from netmig.inputs import cidr

        pod_cidr = cidr(pod_cidr)  # refused before any question is asked or anything read
    if sets:
        from netmig.engine.planning import parse_set

        parse_set(sets)
    budget = budget_flag(budget, no_budget)  # refused before any question is asked or anything read
    opts = {k: kwargs.get(k) for k in ADDRESS_KEYS}
    answers = Answers(kind=kind, pod_cidr=pod_cidr, allow_fallback=allow_fallback, accept=list(accept),
                      sets=list(sets), then=then, budget=budget,
                      start_at=parse_when(start_at, tz=tz) if start_at else None, approve=approve, out=out)
    q = Questions(interactive=_interactive(ctx))

    def invoke_apply(a: Answers) -> None:
        from netmig.cli.apply_cmd import apply

        ctx.invoke(apply, plan_path=a.out, yes=bool(a.approve), **{k: a.address.get(k) for k in ADDRESS_KEYS})

    try:
        run_wizard(q, answers, opts, plans_dir, invoke_apply=invoke_apply, tz=tz)
    except KeyboardInterrupt:
        if answers.saved:
            resume = shlex.join(apply_command(answers, *(["--yes"] if answers.approve else [])))
            what = "while applying" if answers.then == "run" else "after saving the plan"
            raise WizardInterrupted(f"interrupted {what}; the plan is saved at {answers.out}",
                                    f"resume or start it with: {resume}") from None
        raise WizardInterrupted("interrupted: nothing was written and the cluster was not changed",
                                "run the wizard again") from None
