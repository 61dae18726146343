"""``aks-netmig journey plan|apply``: the safest sequence of migrations to a goal network profile, run as one.

``journey plan (--sandbox DIR | --cluster ID ...) --to overlay-cilium [--accept ID] [--pod-cidr X]
[--allow-fallback] --out FILE`` prints the planner's explanation and writes the journey file (stage 1's plan made
as ``aks-netmig plan`` makes it; later stages' plans re-made with a full preflight when they start).
``journey apply FILE [--yes]`` runs the stages in order with one approval for the whole journey; rerun it after any
interruption to resume. Exit codes are those of ``aks-netmig apply`` (a stage's failure keeps its code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import budget_flag, cluster_options, configure_logging, progress_sink
from netmig.connection import Address
from netmig.errors import CheckFailed, Paused


@click.group()
def journey() -> None:
    """Plan and run the whole path to a network profile (e.g. Azure CNI Overlay + Cilium)."""


@journey.command("plan")
@cluster_options
@click.option("--to", "goal", default="overlay-cilium", show_default=True,
              help="The goal profile (kubenet, azure-cni-npm, overlay, overlay-cilium, ...).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the journey file (stage plans go next to it).")
@click.option("--accept", multiple=True, help="Accept a failing check id or analysis rule id (every stage).")
@click.option("--pod-cidr", default=None, help="Overlay pod CIDR for the stage that moves to Azure CNI Overlay "
              "(required from Azure CNI node subnet).")
@click.option("--allow-fallback", is_flag=True, help="Allow a stage's fallback path if ARM refuses its direct change.")
@click.option("--budget", default=None, metavar="DURATION",
              help="Probing time budget of every stage's connectivity steps, e.g. 15m (default: 10m each).")
@click.option("--no-budget", is_flag=True, help="Every stage probes every cell, however long it takes.")
def plan_cmd(goal: str, out: Path, accept: tuple[str, ...], pod_cidr: str | None, allow_fallback: bool,
             budget: str | None, no_budget: bool, **kwargs: Any) -> None:
    """Read the cluster's profile, choose the safest route to --to, write the journey with each stage's plan."""
    from netmig.commands.journey import JourneyPlanRequest, journey_plan

    configure_logging()
    result = journey_plan(JourneyPlanRequest(goal, out, Address.of(kwargs), accept=accept, pod_cidr=pod_cidr,
                                             allow_fallback=allow_fallback, budget=budget_flag(budget, no_budget)))
    for line in result.explain:
        click.echo(line)
    j = result.journey
    click.echo("")
    for line in j.approval_text():
        click.echo(line)
    for s in j.stages:
        when = "preflight re-run when the stage starts" if s.provisional else "preflight run now"
        click.echo(f"  stage {s.index}: {s.kind} {s.source} -> {s.target} ({s.plan_file}; {when})")
    click.echo(f"\nJourney written to {out}.")
    if result.blocking:
        raise CheckFailed(f"stage 1's preflight fails: {', '.join(r.check for r in result.blocking)}",
                          "fix them (or accept them with --accept ID) and plan the journey again")
    click.echo(f"Review it, then: aks-netmig journey apply {out}")


@journey.command("apply")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@cluster_options
@click.option("--yes", is_flag=True, help="Approve the whole journey without asking.")
def apply_cmd(path: Path, yes: bool, **kwargs: Any) -> None:
    """Run the journey's stages in order (resumable: rerun after any interruption)."""
    import sys

    from netmig.commands.journey import JourneyApplyRequest, journey_apply
    from netmig.logs import run_log
    from netmig.model.journey_file import JourneyFile

    configure_logging()

    def approve(j: JourneyFile) -> bool:
        for line in j.approval_text():
            click.echo(line)
        if not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise Paused("paused awaiting approval of the journey (no terminal to ask on)",
                         f"review it, then rerun: aks-netmig journey apply {path} --yes")
        import questionary

        return bool(questionary.confirm("Approve the whole journey?", default=False).unsafe_ask())

    from netmig.commands.journey import run_dir_of

    with run_log(run_dir_of(path) / "journey.log", False):
        result = journey_apply(JourneyApplyRequest(path, Address.of(kwargs), yes=yes), approve=approve,
                               progress=progress_sink())
    for o in result.stages:
        click.echo(f"stage {o.index} {o.kind}: {'already done' if o.skipped else 'done'} ({o.run_dir})")
    click.echo(f"Journey {result.journey.journey_id} done ({result.route}). Report: {result.report}")
