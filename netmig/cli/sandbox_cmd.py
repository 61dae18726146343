"""``aks-netmig sandbox``: start, stop and disturb the embedded simulated AKS.

Contract: ``netmig_sandbox`` is imported lazily, inside the commands. Every command that STARTS a sandbox (here,
``demo``, ``verify`` without a cluster) calls ``require_sandbox()`` first: without the ``[sandbox]`` extra it is one
line ``the embedded sandbox needs ...; install the sandbox extra: pip install 'aks-netmig[sandbox]'``, exit 2.
``sandbox stop`` and ``sandbox fault`` need no extra.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from netmig.cli.migrate_common import SCALE, FiniteNumber
from netmig.errors import UsageError

INSTALL_EXTRA = "pip install 'aks-netmig[sandbox]'"


def require_sandbox() -> None:
    """Return when the sandbox's optional dependencies are installed; else raise ``UsageError`` (one line, exit 2)
    naming the missing modules and ``INSTALL_EXTRA``. Only a missing extra is reported so: it looks the modules up
    without importing them, so any other failure of importing ``netmig_sandbox`` later surfaces as itself."""
    import netmig_sandbox

    missing = netmig_sandbox.missing_requirements()
    if missing:
        names = " and ".join(missing)
        raise UsageError(f"the embedded sandbox needs the Python package{'s' if len(missing) > 1 else ''} {names}, "
                         f"which {'are' if len(missing) > 1 else 'is'} not installed",
                         f"install the sandbox extra: {INSTALL_EXTRA}")


@click.group()
def sandbox() -> None:
    """The embedded simulated AKS (ARM endpoint + Kubernetes API) for demos and tests."""


@sandbox.command("start")
@click.option("--scenario", default="npm", show_default=True, help="Built-in scenario name or a scenario YAML file.")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder for sandbox.json, kubeconfig, ca.pem and arm-requests.jsonl.")
@click.option("--detach", is_flag=True, help="Return once both endpoints answer; stop with `sandbox stop`.")
@click.option("--time-scale", type=SCALE, default=0.05, show_default=True,
              help="Real seconds per simulated second (0.05: a 60 s node reimage takes 3 s).")
@click.option("--role", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Run as a restricted identity: the JSON of `aks-netmig permissions --migration KIND --json` "
                   "(ARM enforces its Azure role, Kubernetes its RBAC; --scenario fleet: every member and the "
                   "fleet's ARM endpoint, Resource Graph included, e.g. `permissions --fleet-scan --json`). "
                   "Default: an all-powerful identity.")
@click.option("--clusters", type=click.IntRange(1, 100_000), default=None,
              help="--scenario fleet only: a fleet of N light clusters (ARM data only, for scan benchmarks).")
def start(scenario: str, directory: Path, detach: bool, time_scale: float, role: Path | None,
          clusters: int | None) -> None:
    """Start a sandbox cluster from a scenario (``fleet``: many clusters behind one ARM endpoint)."""
    require_sandbox()
    from netmig_sandbox import control, scenarios

    if time_scale < 0:
        raise UsageError(f"--time-scale must be >= 0, got {time_scale}", "pass e.g. --time-scale 0.05")
    if clusters is not None and scenario != "fleet":
        raise UsageError(f"--clusters applies to --scenario fleet, not {scenario}",
                         "drop --clusters or pass --scenario fleet")
    if scenario != "fleet":
        try:
            scenarios.load(scenario)
        except scenarios.ScenarioError as e:
            raise UsageError(str(e)) from e
    if role is not None:
        from netmig_sandbox.kube.rbac import load_identity

        try:
            load_identity(role)
        except ValueError as e:
            raise UsageError(str(e), "write it with: aks-netmig permissions --migration KIND --json > FILE") from e
    if detach:
        try:
            info = control.start_detached(scenario, directory, time_scale, role=role, clusters=clusters)
        except control.SandboxControlError as e:
            raise UsageError(str(e)) from e
        if info.get("kind") == "fleet":
            click.echo(f"sandbox fleet running: {len(info['clusters'])} clusters in "
                       f"{len(info['subscriptions'])} subscriptions")
            click.echo(f"  ARM endpoint  {info['arm_endpoint']}  (CA {info['ca_bundle']})")
            click.echo(f"  one cluster   --sandbox {directory}/clusters/NAME")
        else:
            click.echo(f"sandbox '{info['scenario']}' running: cluster {info['cluster_name']}")
            click.echo(f"  ARM endpoint  {info['arm_endpoint']}  (CA {info['ca_bundle']})")
            click.echo(f"  Kubernetes    kubectl --kubeconfig {info['kubeconfig']} get nodes")
        click.echo(f"  stop with     aks-netmig sandbox stop --dir {directory}")
        return
    from netmig_sandbox import serve

    argv = ["--scenario", scenario, "--dir", str(directory), "--time-scale", str(time_scale),
            *(["--role", str(role)] if role else [])]
    raise SystemExit(serve.main(argv + (["--clusters", str(clusters)] if clusters is not None else [])))


@sandbox.command("stop")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path))
def stop(directory: Path) -> None:
    """Stop the sandbox running in DIR and remove its token-bearing files."""
    from netmig_sandbox import control

    if control.stop(directory):
        click.echo(f"sandbox in {directory} stopped")
    else:
        click.echo(f"no sandbox was running in {directory}")


@sandbox.command("fault")
@click.option("--dir", "directory", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--target", type=click.Choice(["arm", "kube", "lro", "node"]), required=True)
@click.option("--kind", default="status", show_default=True,
              help="status | cut-watch (kube) | fail | cancel (lro) | stuck-notready (node)")
@click.option("--status", type=click.IntRange(100, 599),
              default=500, show_default=True, help="HTTP status for kind=status.")
@click.option("--code", default="InternalServerError", show_default=True)
@click.option("--message", default="injected fault", show_default=True)
@click.option("--method", default=None, help="Only requests with this HTTP method.")
@click.option("--path", default=None, help="Only requests whose path matches this regular expression.")
@click.option("--times", type=click.IntRange(0, 1_000_000),
              default=1, show_default=True, help="How many requests it hits (0: forever).")
@click.option("--retry-after", type=FiniteNumber(0.0, open_min=False, maximum=3600.0),
              default=None, help="Retry-After seconds (for 429/503).")
@click.option("--param", "params", multiple=True, help="KEY=VALUE extra parameters (e.g. node=NAME, pool=NAME).")
def fault(directory: Path, target: str, kind: str, status: int, code: str, message: str, method: str | None,
          path: str | None, times: int, retry_after: float | None, params: tuple[str, ...]) -> None:
    """Inject a fault into a running sandbox."""
    import re

    from netmig_sandbox import control

    if path is not None:
        try:
            re.compile(path)
        except re.error as e:
            raise UsageError(f"--path {path!r} is not a valid regular expression ({e})",
                             "pass a Python regular expression, e.g. --path '/managedClusters/[^/]+$'") from None
    kinds = {"arm": ("status",), "kube": ("status", "cut-watch"), "lro": ("fail", "cancel"),
             "node": ("stuck-notready",)}[target]
    if kind not in kinds:
        raise UsageError(f"--kind {kind!r} does not apply to --target {target}", f"use one of: {', '.join(kinds)}")
    extra = {}
    for p in params:
        if "=" not in p:
            raise UsageError(f"--param {p!r} is not KEY=VALUE", "write e.g. --param node=aks-user-12345678-vmss000001")
        k, v = p.split("=", 1)
        extra[k] = v
    body = {"target": target, "kind": kind, "status": status, "code": code, "message": message, "method": method,
            "path": path, "times": times or None, "retry_after": retry_after, "params": extra}
    try:
        answer = control.post_fault(directory, body)
    except control.SandboxControlError as e:
        raise UsageError(str(e)) from e
    click.echo(json.dumps(answer or body))
