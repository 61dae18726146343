"""``verify_*``: connectivity verification against a cluster (snapshot, expected vs observed, compare, cleanup).

Contract:
- ``Conn`` names the cluster: a kubeconfig (no ARM at all), a sandbox folder, or an ARM address.
  ``open_cluster(conn)`` yields (KubeGateway, the engine ARM reports or None, the network's description) and
  closes the gateway; ``UsageError`` (exit 2) when nothing is named or the kubeconfig is missing or unusable,
  ``CheckFailed`` when ARM cannot be read. Kubernetes API errors while verifying are ``CheckFailed`` naming
  ``aks-netmig verify cleanup`` (``kube_errors``).
- ``verify_snapshot(SnapshotRequest)`` probes the cluster and returns the ``Snapshot`` (not saved); after
  Ctrl-C / SIGTERM it raises ``Interrupted`` (exit 130) once the probe pods are removed, saying whether that was
  confirmed.
- ``verify_expect(ExpectRequest)``: the cells of a snapshot (given, or taken) whose observation differs from the
  engine's expectation. ``verify_compare(CompareRequest)``: two snapshot files compared.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig.commands.errors import translated
from netmig.connection import Address
from netmig.errors import CheckFailed, UsageError

NO_CLUSTER_FIX = ("pass --kubeconfig FILE, --sandbox DIR, --cluster RESOURCE_ID, or "
                  "--subscription/--resource-group/--name")


@dataclass(frozen=True)
class Conn(Address):
    """A cluster address, or a kubeconfig instead of one (verification needs no ARM)."""

    kubeconfig: Path | None = None

    @property
    def given(self) -> bool:
        return any(v is not None for v in self.__dict__.values())

    @property
    def addressed(self) -> bool:
        """A cluster is named: a kubeconfig, a sandbox, a resource id or all three of its parts."""
        return bool(self.kubeconfig or self.sandbox or self.cluster
                    or (self.subscription and self.resource_group and self.name))


class Interrupted(CheckFailed):
    """SIGTERM/SIGINT while probing, after the probe run was cleaned up. Exit code 130."""

    exit_code = 130


def kube_errors() -> Any:
    """Kubernetes API errors while verifying: one line naming the cleanup command."""
    return translated("Kubernetes API", "check the cluster and rerun; leftovers: aks-netmig verify cleanup")


@contextmanager
def open_cluster(conn: Conn) -> Iterator[tuple[Any, str | None, str]]:
    """See the module contract."""
    from netmig.kube.gateway import KubeGateway

    engine: str | None = None
    network = ""
    if not conn.addressed:
        raise UsageError("no cluster given", NO_CLUSTER_FIX)
    if conn.kubeconfig is not None:
        if not conn.kubeconfig.is_file():
            raise UsageError(f"kubeconfig {conn.kubeconfig} does not exist", "pass an existing file to --kubeconfig")
        kubeconfig: Any = conn.kubeconfig
    else:
        from netmig.azure.gateway import AksGateway
        from netmig.connection import resolve

        target = resolve(**conn.as_dict())
        with translated(f"cannot reach {target.describe()}", "check the address and credentials"):
            aks = AksGateway(target)
            info = aks.cluster()
            kubeconfig = aks.user_kubeconfig()
        engine = info.network.engine
        network = info.network.describe()
    try:
        gw = KubeGateway(kubeconfig)
    except Exception as e:  # the kubernetes client's config errors
        raise UsageError(f"unusable kubeconfig ({e.__class__.__name__})", "pass a valid kubeconfig") from None
    try:
        yield gw, engine, network
    finally:
        gw.close()


def _engine(explicit: str | None, from_arm: str | None, gw: Any) -> str:
    from netmig.verify.run import cluster_engine, engine_name

    if explicit:
        return explicit
    if from_arm and from_arm != "none":
        return engine_name("azure" if from_arm == "npm" else from_arm)
    return cluster_engine(gw)


def interrupted(e: KeyboardInterrupt, gw: Any = None) -> Interrupted:
    """The interrupt's one line, saying the probe pods and namespace were removed only once the cluster confirms it
    (a second Ctrl-C can cut the cleanup short: then it names what is left and the command that removes it)."""
    from netmig.kube.probes import cleanup_leftovers

    what = str(e) or "interrupt"
    left = None
    if gw is not None:
        with contextlib.suppress(Exception, KeyboardInterrupt):
            left = cleanup_leftovers(gw, dry_run=True)
    if left is None:
        return Interrupted(f"{what} received while probing; whether the probe pods and namespace are gone could not "
                           "be confirmed", "check and remove them with: aks-netmig verify cleanup")
    if left.pods or left.namespaces:
        return Interrupted(f"{what} received while probing: the cleanup did not finish ({len(left.pods)} probe pods, "
                           f"namespaces {', '.join(left.namespaces) or 'none'} still present)",
                           "remove them with: aks-netmig verify cleanup (same cluster flags)")
    return Interrupted(f"{what} received while probing: the probe pods and the probe namespace were removed "
                       "(confirmed)", "nothing else was changed; rerun the command")


@dataclass(frozen=True)
class SnapshotRequest:
    conn: Conn
    engine: str | None = None  # the expectation engine (default: the cluster's)
    image: str | None = None  # agnhost image (default: netmig.kube.probes.DEFAULT_IMAGE)
    timeout_s: int = 2
    concurrency: int = 32  # at most; bounded by the nodes' free pod capacity
    services: bool = True
    baseline: Path | None = None  # an earlier snapshot whose cells are probed again
    target: str | None = None  # the engine the cluster moves to: its predicted-change cells are all probed
    budget_s: float | None = 600.0  # the probing time budget (None: no budget, every cell)
    parallel: int | None = None  # connects at a time in one probe pod (None: netmig.kube.probes.DEFAULT_PARALLEL)
    started: float | None = None  # time.monotonic() when the command started: the budget counts from then
    on_progress: Callable[[int, int], None] | None = None
    progress: Any = field(default=None, repr=False)  # a context manager yielding on_progress (entered with the run)


def verify_snapshot(req: SnapshotRequest) -> Any:
    """Take a snapshot (``netmig.verify.run.take_snapshot``); see the module contract."""
    from netmig.kube.probes import DEFAULT_IMAGE, DEFAULT_PARALLEL
    from netmig.verify import snapshot as snapmod
    from netmig.verify.run import take_snapshot

    base = snapmod.cell_keys(req.baseline) if req.baseline else []
    with open_cluster(req.conn) as (gw, arm_engine, network), kube_errors(), \
            (req.progress or contextlib.nullcontext(req.on_progress)) as progress:
        eng = _engine(req.engine, arm_engine, gw)
        try:
            return take_snapshot(gw, eng, image=req.image or DEFAULT_IMAGE, timeout_s=req.timeout_s,
                                 concurrency=req.concurrency, on_progress=progress, baseline=base,
                                 include_services=req.services, network=network, target=req.target,
                                 budget_s=req.budget_s, on_status=getattr(progress, "on_status", None),
                                 parallel=req.parallel or DEFAULT_PARALLEL, started=req.started)
        except KeyboardInterrupt as e:
            raise interrupted(e, gw) from None


@dataclass(frozen=True)
class ExpectRequest:
    snapshot: Any = None  # a Snapshot already taken or loaded
    snapshot_file: Path | None = None  # else this file, else ``take``
    take: SnapshotRequest | None = None
    engine: str | None = None  # the expectation engine (default: the snapshot's)


@dataclass(frozen=True)
class ExpectResult:
    engine: str  # the engine's label
    mismatches: list[Any]  # netmig.verify.compare mismatches (``to_dict()``)
    snapshot: Any

    @property
    def probes(self) -> int:
        return len(self.snapshot.cells)


def verify_expect(req: ExpectRequest) -> ExpectResult:
    """See the module contract."""
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import engine_from_label, expected_vs_observed

    if req.snapshot is not None:
        snap = req.snapshot
    elif req.snapshot_file is not None:
        snap = snapmod.load(req.snapshot_file)
    elif req.take is not None:
        snap = verify_snapshot(req.take)
    else:
        raise UsageError("no snapshot to judge", "pass --snapshot FILE or a cluster")
    prof = engine_from_label(req.engine or snap.engine)
    return ExpectResult(prof.label, expected_vs_observed(snap, prof), snap)


@dataclass(frozen=True)
class CompareRequest:
    before: Path
    after: Path


def verify_compare(req: CompareRequest) -> Any:
    """The comparison of two snapshot files (``netmig.verify.compare.compare``)."""
    from netmig.verify import snapshot as snapmod
    from netmig.verify.compare import compare

    return compare(snapmod.load(req.before), snapmod.load(req.after))


@dataclass(frozen=True)
class CleanupRequest:
    conn: Conn
    dry_run: bool = False  # only list what would be removed


def verify_cleanup(req: CleanupRequest) -> Any:
    """Remove the probe pods and ``netmig-probe-*`` namespaces interrupted runs left (``pods``, ``namespaces``)."""
    from netmig.kube.probes import cleanup_leftovers

    with open_cluster(req.conn) as (gw, _, _), kube_errors():
        return cleanup_leftovers(gw, dry_run=req.dry_run)


@dataclass(frozen=True)
class SeedDemoRequest:
    conn: Conn
    image: str | None = None  # agnhost image (default: netmig.kube.probes.DEFAULT_IMAGE)
    timeout_s: int = 3
    on_step: Callable[[Any], None] | None = None  # each expectation as it is checked


def verify_seed_demo(req: SeedDemoRequest) -> Any:
    """The seed article's demo (server, client, demo-policy, TIMEOUT, label app=client, success, clean up) on the
    cluster; returns its result (``passed``, ``to_dict()``)."""
    from netmig.kube.probes import DEFAULT_IMAGE
    from netmig.kube.seed_demo import run_seed_demo

    with open_cluster(req.conn) as (gw, _, _), kube_errors():
        return run_seed_demo(gw, image=req.image or DEFAULT_IMAGE, timeout_s=req.timeout_s, on_step=req.on_step)
