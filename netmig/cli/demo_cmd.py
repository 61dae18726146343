"""``aks-netmig demo``: a full migration on the embedded sandbox, no Azure account needed.

``--migration KIND`` (default npm-to-cilium) picks the migration; each has its scenario (``DEMOS``; ``--scenario``
overrides it): npm-to-cilium on ``npm``; calico-to-self-managed, uninstall and calico-crd-cleanup on
``managed-calico`` (calico-to-self-managed gets the sandbox's tigera-operator manifest; calico-crd-cleanup first
sets the network policy to none by hand, the way the clusters it is for were uninstalled); kubenet-to-overlay on
``kubenet-calico``, its plan allowing the fallback path (``--scenario kubenet-calico-blocked`` shows it: ARM refuses
the direct change, then policy none -> overlay -> calico).
It starts the sandbox in this process, makes the plan (accepting the connectivity changes the policy analysis
predicts: showing them is the point), applies it as the Prefect flow (``--no-prefect``: the library runner) —
approval asked on a terminal, given (``--yes`` semantics) without one — and prints the report. The sandbox is
stopped at the end, always.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import SCALE
from netmig.errors import UsageError


@dataclass(frozen=True)
class Demo:
    scenario: str
    accept: tuple[str, ...] = ("policy-analysis",)
    step_params: Callable[[], dict[str, dict[str, Any]]] = field(default=lambda: {})
    prepare: Callable[[Path], None] | None = None  # run on the started sandbox before planning
    allow_variants: tuple[str, ...] = ()  # plan --allow-fallback


def _tigera_manifest() -> dict[str, dict[str, Any]]:
    from netmig_sandbox import manifest_path

    return {"install-operator": {"manifest": str(manifest_path("tigera-operator.yaml"))}}


def _uninstall_by_hand(sandbox: Path) -> None:
    """``az aks update --network-policy none``: what leaves a cluster with Calico's leftovers."""
    from dataclasses import replace

    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir

    aks = AksGateway(from_sandbox_dir(sandbox), polling_interval=0.2)
    info = aks.cluster()
    click.echo("Setting the network policy to none by hand first (az aks update --network-policy none): AKS removes "
               "Calico and leaves its CRDs, custom resources, finalizers and APIService behind ...")
    aks.wait(aks.begin_network_update(replace(info.network, policy="none"), etag=info.etag))


DEMOS: dict[str, Demo] = {
    "npm-to-cilium": Demo("npm"),
    "calico-to-self-managed": Demo("managed-calico", step_params=_tigera_manifest),
    "uninstall": Demo("managed-calico", accept=("policy-analysis", "policies-unenforced")),
    "calico-crd-cleanup": Demo("managed-calico", prepare=_uninstall_by_hand),
    "kubenet-to-overlay": Demo("kubenet-calico", accept=(), allow_variants=("fallback",)),
}


@click.command()
@click.option("--migration", "kind", default="npm-to-cilium", show_default=True,
              type=click.Choice(sorted(DEMOS)), help="The migration to run.")
@click.option("--scenario", default=None, help="Sandbox scenario to start (default: the migration's own).")
@click.option("--time-scale", type=SCALE, default=0.002, show_default=True,
              help="Real seconds per simulated second (the reimage is simulated).")
@click.option("--keep-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Put the sandbox, plan and run files here (default: a temporary folder removed at the end).")
@click.option("--prefect/--no-prefect", default=True, show_default=True, help="Run the migration as the Prefect flow.")
@click.option("--yes", is_flag=True, help="Approve without asking even on a terminal.")
def demo(kind: str, scenario: str | None, time_scale: float, keep_dir: Path | None, prefect: bool,
         yes: bool) -> None:
    """Run a migration on a sandbox cluster end to end (default: Azure NPM to Cilium) and print the report."""
    from netmig.cli.sandbox_cmd import require_sandbox

    require_sandbox()
    from netmig_sandbox import scenarios
    from netmig_sandbox.runtime import Sandbox

    spec = DEMOS[kind]
    scenario = scenario or spec.scenario
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
            if spec.prepare is not None:
                spec.prepare(directory / "sandbox")
            _migrate(directory, kind, spec, prefect=prefect, yes=yes)
    click.echo("Sandbox stopped.")


def _migrate(directory: Path, kind: str, spec: Demo, *, prefect: bool, yes: bool) -> None:
    from netmig.cli.apply_cmd import run_local
    from netmig.cli.migrate_common import approver, configure_logging
    from netmig.cli.plan_cmd import render_plan
    from netmig.connection import from_sandbox_dir
    from netmig.engine.context import Options
    from netmig.engine.failures import client_faults
    from netmig.engine.plan_build import make_plan
    from netmig.engine.session import run_dir_for

    configure_logging()
    sandbox = directory / "sandbox"
    target = from_sandbox_dir(sandbox)
    plan = make_plan(kind, target, accepted=list(spec.accept), polling_interval=0.2,
                     step_params=spec.step_params(), allow_variants=spec.allow_variants)
    plan_path = directory / f"{kind}.yaml"
    plan_path.write_text(plan.to_yaml())
    click.echo(render_plan(plan))
    click.echo(f"\nPlan written to {plan_path}; applying it{' as the Prefect flow' if prefect else ''} ...\n")
    run_dir = run_dir_for(plan_path)
    options = Options(poll_seconds=1.0)
    rerun = ["aks-netmig", "apply", str(plan_path), "--yes", "--prefect" if prefect else "--no-prefect"]
    from netmig.logs import run_log

    verbose = bool((click.get_current_context().find_root().obj or {}).get("verbose"))
    if prefect:
        from netmig.cli.migrate_common import prepare_prefect_env

        prepare_prefect_env()
        from flows.migrate import run_flow
    # an ARM / Kubernetes fault: one line, the state, the next command
    with client_faults(plan, run_dir, rerun), run_log(run_dir / "apply.log", verbose):
        if prefect:
            run_flow(plan_path=str(plan_path), address={"sandbox": str(sandbox)}, run_dir=run_dir, yes=yes,
                     options=options, approver=approver(yes))
        else:
            run_local(plan, target, run_dir, yes=yes, options=options, rerun=rerun)
    click.echo("\n" + (run_dir / "report.md").read_text())
