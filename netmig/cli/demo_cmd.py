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

import click

from netmig.cli.migrate_common import SCALE
from netmig.errors import UsageError


@dataclass(frozen=True)
class Demo:
    scenario: str
    accept: tuple[str, ...] = ("policy-analysis",)
    sets: Callable[[], tuple[str, ...]] = field(default=lambda: ())  # plan --set STEP.PARAM=VALUE
    prepare: Callable[[Path], None] | None = None  # run on the started sandbox before planning
    allow_variants: tuple[str, ...] = ()  # plan --allow-fallback


def _tigera_manifest() -> tuple[str, ...]:
    from netmig_sandbox import manifest_path

    return (f"install-operator.manifest={manifest_path('tigera-operator.yaml')}",)


def _uninstall_by_hand(sandbox: Path) -> None:
    """``az aks update --network-policy none``: what leaves a cluster with Calico's leftovers."""
    from dataclasses import replace

    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir

    aks = AksGateway(from_sandbox_dir(sandbox))
    info = aks.cluster()
    click.echo("Setting the network policy to none by hand first (az aks update --network-policy none): AKS removes "
               "Calico and leaves its CRDs, custom resources, finalizers and APIService behind ...")
    aks.wait(aks.begin_network_update(replace(info.network, policy="none"), etag=info.etag))


DEMOS: dict[str, Demo] = {
    "npm-to-cilium": Demo("npm"),
    "calico-to-self-managed": Demo("managed-calico", sets=_tigera_manifest),
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
    from netmig.cli.migrate_common import approver, configure_logging, progress_sink
    from netmig.cli.plan_cmd import render_plan
    from netmig.commands import ApplyRequest, PlanRequest, prepare_apply, run_local
    from netmig.commands import plan as plan_command
    from netmig.commands.applying import failures
    from netmig.connection import Address

    configure_logging()
    address = Address(sandbox=directory / "sandbox")
    plan_path = directory / f"{kind}.yaml"
    plan = plan_command(PlanRequest(kind, address, accept=spec.accept, sets=spec.sets(),
                                    allow_fallback=bool(spec.allow_variants), fallbacks=spec.allow_variants,
                                    out=plan_path, check_access=False)).plan
    click.echo(render_plan(plan))
    click.echo(f"\nPlan written to {plan_path}; applying it{' as the Prefect flow' if prefect else ''} ...\n")
    run = prepare_apply(ApplyRequest(plan_path, yes=True, prefect=prefect, check_access=False))
    from netmig.logs import run_log

    verbose = bool((click.get_current_context().find_root().obj or {}).get("verbose"))
    if prefect:
        from netmig.cli.migrate_common import prepare_prefect_env

        prepare_prefect_env()
        from flows.migrate import run_flow
    # an ARM / Kubernetes fault: one line, the state, the next command
    with failures(run), run_log(run.run_dir / "apply.log", verbose):
        if prefect:
            run_flow(plan_path=str(plan_path), address=run.address.as_dict(), run_dir=run.run_dir, yes=yes,
                     options=run.options, approver=approver(yes))
        else:
            run_local(run, approver=approver(yes), progress=progress_sink())
    click.echo("\n" + (run.run_dir / "report.md").read_text())
