"""What every step and check gets: the plan, the gateways, the journal, the run folder, callbacks, a clock.

Contract: ``StepContext`` is plain wiring; the CLI and the Prefect tasks build one. Waiting loops use
``ctx.sleep(seconds)`` (returns True when ``ctx.stop`` was set) and ``ctx.clock()``, never ``time.sleep``.
``ctx.kube`` is created on first use from ``listClusterUserCredential``; ``ctx.cluster(fresh=True)`` re-reads ARM.
``approver(plan) -> bool`` is the approval gate's callback (it may raise ``Paused``); ``progress`` receives
progress updates and Markdown artifacts (``ProgressSink``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netmig.journal import Journal
from netmig.logs import get_logger
from netmig.model.plan import Plan

RUN_LOCK = "run-lock"  # ctx.scratch key of the run folder's RunLock

if TYPE_CHECKING:
    from netmig.azure.gateway import AksGateway
    from netmig.kube.gateway import KubeGateway
    from netmig.model.cluster import ClusterInfo
    from netmig.stepkit.monitor import PoolProgress


class ProgressSink:
    """Receives progress; the default logs one line per change. Subclasses render rich bars / Prefect artifacts."""

    def __init__(self) -> None:
        self.log = get_logger("netmig.progress")
        self._last: str | None = None
        self._probe_key: str | None = None

    def pools(self, pools: list[PoolProgress]) -> None:
        line = "; ".join(p.describe() for p in pools)
        if line != self._last:
            self._last = line
            self.log.info("reimage progress", pools=line)

    def message(self, text: str) -> None:
        self.log.info(text)

    def probes(self, status: Any) -> None:
        """A probe run's progress (``netmig.verify.run.ProbeStatus``, from the snapshot/verify steps): one line
        ``probe progress`` when the phase changes, every 5 % of the planned probe pods, and at the end."""
        total = max(1, status.pods_total)
        step = int(20 * status.pods_done / total)
        key = f"{status.phase}:{step}:{status.pods_done == status.pods_total}"
        if key == self._probe_key:
            return
        self._probe_key = key
        self.log.info("probe progress", phase=status.phase, pods=f"{status.pods_done}/{status.pods_total}",
                      probes=f"{status.probes_done}/{status.probes_total}", elapsed_s=round(status.elapsed_s),
                      budget_s=status.budget_s)

    def artifact(self, key: str, markdown: str) -> None:
        """A Markdown document (the report); the Prefect sink publishes it as an artifact."""

    def close(self) -> None:
        """Called once at the end of the run."""


def never_approve(plan: Plan) -> bool:
    return False


@dataclass
class Options:
    dry_run: bool = False
    stall_seconds: float | None = None  # overrides the watch-reimage step's params
    notready_seconds: float | None = None
    pdb_block_seconds: float | None = None
    poll_seconds: float | None = None


@dataclass
class StepContext:
    plan: Plan
    aks: AksGateway
    journal: Journal
    run_dir: Path
    approver: Callable[[Plan], Any] = never_approve
    progress: ProgressSink = field(default_factory=ProgressSink)
    options: Options = field(default_factory=Options)
    clock: Callable[[], float] = time.monotonic
    stop: threading.Event = field(default_factory=threading.Event)
    run_id: str = ""
    kubeconfig: bytes | str | Path | None = None
    scratch: dict[str, Any] = field(default_factory=dict)
    _kube: KubeGateway | None = None
    _cluster: ClusterInfo | None = None

    def sleep(self, seconds: float) -> bool:
        """Wait ``seconds`` or until ``stop`` is set; True when stopped."""
        return self.stop.wait(max(0.0, seconds))

    @property
    def kube(self) -> KubeGateway:
        if self._kube is None:
            from netmig.kube.gateway import KubeGateway

            self._kube = KubeGateway(self.kubeconfig if self.kubeconfig is not None else self.aks.user_kubeconfig())
        return self._kube

    def cluster(self, fresh: bool = False) -> ClusterInfo:
        if self._cluster is None or fresh:
            self._cluster = self.aks.cluster()
        return self._cluster

    def close(self) -> None:
        """Release the run folder (``runner.claim_run_dir``) and close the Kubernetes client; idempotent."""
        run_lock = self.scratch.pop(RUN_LOCK, None)
        if run_lock is not None:
            run_lock.release()
        if self._kube is not None:
            self._kube.close()
            self._kube = None
