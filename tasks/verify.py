"""Prefect tasks for connectivity verification: thin wrappers over the verify commands (``netmig.commands``).

Each task is idempotent in effect: a snapshot run creates and always removes its own probe pods and namespace.
Transient Kubernetes/ARM errors are retried (``tasks.retries.transient``); failed expectations are not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact

from netmig.commands.verifying import Conn
from tasks.retries import transient


def _conn(sandbox: str | None, kubeconfig: str | None) -> Conn:
    return Conn(kubeconfig=Path(kubeconfig) if kubeconfig else None, sandbox=Path(sandbox) if sandbox else None)


class ProbeArtifact:
    """A Prefect progress artifact for a probe run (``create_progress_artifact``, then updated with the share of
    planned probe pods done, at most every 2 % so the API is not flooded). ``describe`` (optional) gives the
    description for the current call (pods, probes, ETA against the budget); it is sent with each update."""

    def __init__(self, key: str = "verify-probing",
                 description: str = "probe pods done of those planned (verify snapshot)") -> None:
        self.id: Any = None
        self.last = -1.0
        self.key = key
        self.description = description

    def __call__(self, done: int, total: int, describe: str | None = None) -> None:
        from prefect.artifacts import create_progress_artifact, update_progress_artifact

        pct = 100.0 * done / total if total else 100.0
        text = f"{self.description}: {describe}" if describe else self.description
        if self.id is None:
            self.id = create_progress_artifact(pct, key=self.key, description=text)
            self.last = pct
        elif pct - self.last >= 2.0 or done == total:
            update_progress_artifact(self.id, pct, description=text)
            self.last = pct


def probe_status_text(status: Any) -> str:
    """One line for a ``netmig.verify.run.ProbeStatus``: phase, pods, probes, elapsed and ETA against the budget."""
    eta = status.eta_s
    budget = f" of a {round(status.budget_s)} s budget" if status.budget_s else ""
    done = status.pods_total and status.pods_done >= status.pods_total
    return (f"{status.phase}: probe pods {status.pods_done}/{status.pods_total}, probes "
            f"{status.probes_done}/{status.probes_total}, {round(status.elapsed_s)} s elapsed{budget}"
            + (", done" if done else f", about {round(eta)} s to go" if eta is not None else ""))


@task(retries=2, retry_delay_seconds=5, retry_condition_fn=transient)
def take_snapshot(out: str, *, sandbox: str | None = None, kubeconfig: str | None = None,
                  engine: str | None = None, baseline: str | None = None, timeout_s: int = 2,
                  target: str | None = None, budget_s: float | None = 600.0) -> dict[str, Any]:
    """Probe the cluster (every cell predicted to change towards ``target``, the rest sampled to fit ``budget_s``;
    None: no budget), write the snapshot to ``out``, publish a progress artifact while probing and a Markdown
    artifact at the end; returns the stats (``stats.coverage``: what was probed)."""
    from netmig.commands import SnapshotRequest, verify_snapshot
    from netmig.verify import report
    from netmig.verify import snapshot as snapmod

    snap = verify_snapshot(SnapshotRequest(_conn(sandbox, kubeconfig), engine=engine, timeout_s=timeout_s,
                                           baseline=Path(baseline) if baseline else None, target=target,
                                           budget_s=budget_s, on_progress=ProbeArtifact()))
    snapmod.save(snap, out)
    create_markdown_artifact(report.snapshot_markdown(snap), key="verify-snapshot",
                              description="Every probed cell of the snapshot: observed vs expected")
    return dict(snap.stats)


@task
def compare_snapshots(before: str, after: str) -> dict[str, Any]:
    """Compare two snapshot files; publishes a Markdown artifact; returns the ``compare --json`` document (observed
    ``changes``, ``probes``, ``only_before``/``only_after`` and ``predicted_only_changes``)."""
    from netmig.commands import CompareRequest, verify_compare
    from netmig.verify import report

    cmp = verify_compare(CompareRequest(Path(before), Path(after)))
    create_markdown_artifact(report.comparison_markdown(cmp), key="verify-compare",
                              description="Connectivity before -> after: the cells whose outcome changed")
    return dict(cmp.to_dict())


@task(retries=1, retry_delay_seconds=5, retry_condition_fn=transient)
def seed_demo(*, sandbox: str | None = None, kubeconfig: str | None = None) -> dict[str, Any]:
    """Run the seed article's demo; returns ``{"passed": bool, "expectations": [...]}``."""
    from netmig.commands.verifying import SeedDemoRequest, verify_seed_demo

    return dict(verify_seed_demo(SeedDemoRequest(_conn(sandbox, kubeconfig))).to_dict())
