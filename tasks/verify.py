"""Prefect tasks for connectivity verification: thin wrappers over ``netmig.verify`` / ``netmig.kube``.

Each task is idempotent in effect: a snapshot run creates and always removes its own probe pods and namespace.
Transient Kubernetes/ARM errors are retried (``retry_condition_fn``); failed expectations are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact


def _transient(task: Any, task_run: Any, state: Any) -> bool:
    from netmig.kube.errors import KubeError

    try:
        state.result()
    except KubeError as e:
        return e.temporary
    except Exception:
        return False
    return False


def _gateway(sandbox: str | None, kubeconfig: str | None) -> Any:
    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir
    from netmig.kube.gateway import KubeGateway

    if kubeconfig:
        return KubeGateway(Path(kubeconfig))
    assert sandbox, "pass sandbox or kubeconfig"
    return KubeGateway(AksGateway(from_sandbox_dir(sandbox)).user_kubeconfig())


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=_transient)
def take_snapshot(out: str, *, sandbox: str | None = None, kubeconfig: str | None = None,
                  engine: str | None = None, baseline: str | None = None, timeout_s: int = 2) -> dict[str, Any]:
    """Probe the cluster, write the snapshot to ``out``, publish a Markdown artifact; returns the stats."""
    from netmig.verify import report
    from netmig.verify import snapshot as snapmod
    from netmig.verify.run import cluster_engine
    from netmig.verify.run import take_snapshot as take

    gw = _gateway(sandbox, kubeconfig)
    try:
        base = [c.key for c in snapmod.load(baseline).cells] if baseline else []
        snap = take(gw, engine or cluster_engine(gw), baseline=base, timeout_s=timeout_s)
    finally:
        gw.close()
    snapmod.save(snap, out)
    create_markdown_artifact(report.snapshot_markdown(snap), key="verify-snapshot")
    return dict(snap.stats)


@task
def compare_snapshots(before: str, after: str) -> dict[str, Any]:
    """Compare two snapshot files; publishes a Markdown artifact; returns the ``compare --json`` document (observed
    ``changes``, ``probes``, ``only_before``/``only_after`` and ``predicted_only_changes``)."""
    from netmig.verify import report
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import compare

    cmp = compare(snapmod.load(before), snapmod.load(after))
    create_markdown_artifact(report.comparison_markdown(cmp), key="verify-compare")
    return cmp.to_dict()


@task(retries=1, retry_delay_seconds=5, retry_condition_fn=_transient)
def seed_demo(*, sandbox: str | None = None, kubeconfig: str | None = None) -> dict[str, Any]:
    """Run the seed article's demo; returns ``{"passed": bool, "expectations": [...]}``."""
    from netmig.kube.seed_demo import run_seed_demo

    gw = _gateway(sandbox, kubeconfig)
    try:
        return run_seed_demo(gw).to_dict()
    finally:
        gw.close()
