"""``aks-netmig demo``: the full NPM -> Cilium migration on the embedded sandbox, no Azure account needed.

It starts a sandbox cluster (scenario ``npm``) in this process, makes the plan (accepting the connectivity changes
the policy analysis predicts: showing them is the point), applies it as the Prefect flow (``--no-prefect``: the
library runner) — approval asked on a terminal, given (``--yes`` semantics) without one — and prints the
verification report. The sandbox is stopped at the end, always.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from netmig.errors import UsageError


@click.command()
@click.option("--scenario", default="npm", show_default=True, help="Sandbox scenario to start.")
@click.option("--time-scale", type=float, default=0.002, show_default=True,
              help="Real seconds per simulated second (the reimage is simulated).")
@click.option("--keep-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Put the sandbox, plan and run files here (default: a temporary folder removed at the end).")
@click.option("--prefect/--no-prefect", default=True, show_default=True, help="Run the migration as the Prefect flow.")
@click.option("--yes", is_flag=True, help="Approve without asking even on a terminal.")
def demo(scenario: str, time_scale: float, keep_dir: Path | None, prefect: bool, yes: bool) -> None:
    """Migrate the sandbox cluster from Azure NPM to Cilium end to end and print the verification report."""
    from netmig.sandbox import scenarios
    from netmig.sandbox.runtime import Sandbox

    try:
        scenarios.load(scenario)
    except scenarios.ScenarioError as e:
        raise UsageError(str(e)) from e
    yes = yes or not (sys.stdin.isatty() and sys.stdout.isatty())
    with tempfile.TemporaryDirectory(prefix="netmig-demo-") as tmp:
        directory = keep_dir or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        click.echo(f"Starting the sandbox (scenario {scenario}) in {directory / 'sandbox'} ...")
        with Sandbox(scenario, directory / "sandbox", time_scale=time_scale):
            _migrate(directory, prefect=prefect, yes=yes)
    click.echo("Sandbox stopped.")


def _migrate(directory: Path, *, prefect: bool, yes: bool) -> None:
    from netmig.cli.apply_cmd import run_local
    from netmig.cli.migrate_common import approver, configure_logging
    from netmig.cli.plan_cmd import render_plan
    from netmig.connection import from_sandbox_dir
    from netmig.engine.context import Options
    from netmig.engine.plan_build import make_plan
    from netmig.engine.session import run_dir_for

    configure_logging()
    sandbox = directory / "sandbox"
    target = from_sandbox_dir(sandbox)
    plan = make_plan("npm-to-cilium", target, accepted=["policy-analysis"], polling_interval=0.2)
    plan_path = directory / "npm-to-cilium.yaml"
    plan_path.write_text(plan.to_yaml())
    click.echo(render_plan(plan))
    click.echo(f"\nPlan written to {plan_path}; applying it{' as the Prefect flow' if prefect else ''} ...\n")
    run_dir = run_dir_for(plan_path)
    options = Options(poll_seconds=1.0)
    if prefect:
        from netmig.cli.migrate_common import prepare_prefect_env

        prepare_prefect_env()
        from flows.migrate import run_flow

        run_flow(plan_path=str(plan_path), address={"sandbox": str(sandbox)}, run_dir=run_dir, yes=yes,
                 options=options, approver=approver(yes))
    else:
        run_local(plan, target, run_dir, yes=yes, options=options)
    click.echo("\n" + (run_dir / "report.md").read_text())
