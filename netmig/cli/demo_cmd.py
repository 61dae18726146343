"""``aks-netmig demo``: a first look at aks-netmig on the embedded sandbox, no Azure account needed.

It starts a sandbox cluster in this process, then uses the product's own code paths (the real Azure SDK against the
sandbox's ARM endpoint, the kubeconfig from listClusterUserCredential, the real Kubernetes client) to show the
cluster, and predicts what an NPM -> Cilium migration would change. The sandbox is stopped at the end, always.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import click

from netmig.errors import UsageError


@click.command()
@click.option("--scenario", default="npm", show_default=True, help="Sandbox scenario to start.")
@click.option("--time-scale", type=float, default=0.02, show_default=True)
@click.option("--keep-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Put the sandbox files here (default: a temporary folder removed at the end).")
def demo(scenario: str, time_scale: float, keep_dir: Path | None) -> None:
    """Start the sandbox, look at the cluster through ARM and Kubernetes, and analyse its policies."""
    from netmig.sandbox import scenarios
    from netmig.sandbox.runtime import Sandbox

    try:
        scenarios.load(scenario)
    except scenarios.ScenarioError as e:
        raise UsageError(str(e)) from e
    with tempfile.TemporaryDirectory(prefix="netmig-demo-") as tmp:
        directory = keep_dir or Path(tmp)
        click.echo(f"Starting the sandbox (scenario {scenario}) in {directory} ...")
        with Sandbox(scenario, directory, time_scale=time_scale):
            _tour(directory)
    click.echo("Sandbox stopped.")


def _tour(directory: Path) -> None:
    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir
    from netmig.kube.gateway import KubeGateway

    target = from_sandbox_dir(directory)
    aks = AksGateway(target, polling_interval=0.2)
    info = aks.cluster()
    click.echo(f"\nCluster {info.ref} ({info.location}), Kubernetes {info.kubernetes_version}, "
               f"{info.provisioning_state}")
    click.echo(f"  network: {info.network.describe()}")
    for pool in info.pools:
        click.echo(f"  pool {pool.name:<10} {pool.mode:<6} {pool.os_type:<7} {pool.count} nodes  "
                   f"maxSurge {pool.max_surge}")
    kube = KubeGateway(aks.user_kubeconfig())
    try:
        nodes = kube.nodes()
        engines = Counter(n["metadata"]["labels"].get("kubernetes.azure.com/network-policy", "?") for n in nodes)
        pods = kube.pods()
        policies = kube.network_policies()
        click.echo(f"\nKubernetes {kube.version()}: {len(nodes)} nodes (policy engine per node: "
                   f"{dict(engines)}), {len(pods)} pods, {len(policies)} NetworkPolicies")
        objects = kube.inventory()
    finally:
        kube.close()
    _predict(objects, info.network.engine)


def _predict(objects: list[dict[str, object]], source: str) -> None:
    try:
        from netmig.policy import analyze
    except ImportError:
        return
    if source == "none":
        return
    findings = analyze(objects, source, "cilium")
    click.echo(f"\nWhat an {source} -> cilium migration would change ({len(findings)} findings):")
    for f in findings:
        where = f"{f.namespace}/{f.name}" if f.namespace else f.name
        click.echo(f"  [{f.severity:<7}] {f.rule:<24} {f.kind} {where}: {f.message}")
