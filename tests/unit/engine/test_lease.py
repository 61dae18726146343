"""The migration lock (a coordination.k8s.io Lease) against the sandbox's Kubernetes API: acquire, renew, refuse
naming the holder, take over an expired lease or one of a dead local process, release; two racing acquirers;
a run that lost its lease sends no PUT."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmig.errors import CheckFailed
from netmig.kube import lease
from netmig.kube.gateway import KubeGateway
from netmig.steps import lock as lock_step
from tests.unit.engine.values import context

T0 = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def kubeconfig(sandbox_factory: Any) -> Path:
    return Path(sandbox_factory("empty").directory) / "kubeconfig"


@pytest.fixture
def kube(kubeconfig: Path) -> Iterator[KubeGateway]:
    with KubeGateway(kubeconfig) as gw:
        yield gw


def test_acquire_creates_the_lease_with_holder_run_and_times(kube: KubeGateway) -> None:
    h = lease.acquire(kube, "mig-1", "run-a", 60, now=T0)
    assert h.run_id == "run-a" and h.migration_id == "mig-1" and h.identity.endswith("/run-a")
    assert h.renew_time == T0 and h.duration_s == 60 and h.expires_at() == T0 + dt.timedelta(seconds=60)
    obj, read = lease.read(kube)
    assert read == h and obj is not None
    assert obj["metadata"]["name"] == "aks-netmig-lock" and obj["metadata"]["namespace"] == "kube-system"
    assert obj["spec"]["leaseTransitions"] == 0
    again = lease.acquire(kube, "mig-1", "run-a", 60, now=T0 + dt.timedelta(seconds=5))  # the same run: re-taken
    assert again.renew_time == T0 + dt.timedelta(seconds=5)


def test_a_live_holder_is_refused_with_who_holds_it(kube: KubeGateway) -> None:
    lease.acquire(kube, "mig-1", "run-a", 60, now=T0)
    with pytest.raises(lease.LockHeld) as e:
        lease.acquire(kube, "mig-2", "run-b", 60, now=T0 + dt.timedelta(seconds=59))
    msg = str(e.value)
    assert e.value.holder.run_id == "run-a" and "\n" not in msg
    assert msg.startswith(f"the cluster is locked by {e.value.holder.identity} (run run-a, migration mig-1, pid ")
    assert "renewed 2025-03-01T12:00:00Z, expires 2025-03-01T12:01:00Z" in msg
    assert lease.read(kube)[1].run_id == "run-a"  # type: ignore[union-attr]


def test_renew_moves_the_expiry_and_only_for_the_holder(kube: KubeGateway) -> None:
    lease.acquire(kube, "mig-1", "run-a", 60, now=T0)
    assert lease.renew(kube, "run-a", now=T0 + dt.timedelta(seconds=50))
    _, h = lease.read(kube)
    assert h is not None and h.expires_at() == T0 + dt.timedelta(seconds=110)
    assert not lease.renew(kube, "run-b", now=T0 + dt.timedelta(seconds=55))
    with pytest.raises(lease.LockHeld):  # renewed: still held 100 s after the start
        lease.acquire(kube, "mig-2", "run-b", 60, now=T0 + dt.timedelta(seconds=100))


def test_an_expired_lease_is_taken_over(kube: KubeGateway) -> None:
    lease.acquire(kube, "mig-1", "run-a", 30, now=T0)
    h = lease.acquire(kube, "mig-2", "run-b", 60, now=T0 + dt.timedelta(seconds=31))
    assert h.run_id == "run-b" and h.migration_id == "mig-2"
    obj, _ = lease.read(kube)
    assert obj is not None and obj["spec"]["leaseTransitions"] == 1
    assert not lease.renew(kube, "run-a")  # the old holder notices it lost the lease


def test_the_lease_of_a_dead_local_process_is_taken_over(kube: KubeGateway) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    lease.acquire(kube, "mig-1", "run-a", 600)  # far from expiry ...
    obj, _ = lease.read(kube)
    assert obj is not None
    obj["metadata"]["annotations"][lease.A_PID] = dead.stdout.strip()  # ... but held by a process now gone
    kube.coordination.replace_namespaced_lease(lease.NAME, lease.NAMESPACE, obj)  # type: ignore[arg-type]
    assert lease.read(kube)[1].dead_local_process()  # type: ignore[union-attr]
    assert lease.acquire(kube, "mig-2", "run-b", 600).run_id == "run-b"


def test_release_only_by_the_holder(kube: KubeGateway) -> None:
    lease.acquire(kube, "mig-1", "run-a", 60)
    assert not lease.release(kube, "run-b")
    assert lease.read(kube)[1] is not None
    assert lease.release(kube, "run-a")
    assert lease.read(kube) == (None, None)
    assert not lease.release(kube, "run-a")  # idempotent


def test_two_racing_acquirers_one_wins(kube: KubeGateway, kubeconfig: Path) -> None:
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def race(run: str) -> None:
        with KubeGateway(kubeconfig) as gw:
            barrier.wait(timeout=10)
            try:
                results[run] = lease.acquire(gw, "mig", run, 60)
            except lease.LockHeld as e:
                results[run] = e

    threads = [threading.Thread(target=race, args=(r,)) for r in ("run-a", "run-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    won = [r for r, v in results.items() if isinstance(v, lease.Holder)]
    lost = [v for v in results.values() if isinstance(v, lease.LockHeld)]
    assert len(won) == 1 and len(lost) == 1 and lost[0].holder.run_id == won[0]
    assert lease.read(kube)[1].run_id == won[0]  # type: ignore[union-attr]


def test_a_run_that_lost_its_lease_sends_nothing(kube: KubeGateway, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    ctx._kube = kube
    ctx.run_id = "run-a"
    assert lock_step.take(ctx)["holder"].endswith("/run-a")
    lock_step.ensure_held(ctx)  # still ours: renewed on the spot
    ctx.scratch[lock_step.KEEPER].stop()
    lease.release(kube, "run-a")
    taken = lease.acquire(kube, "other-mig", "run-z", 60)
    with pytest.raises(CheckFailed) as e:
        lock_step.ensure_held(ctx)
    assert f"this run lost the cluster lock to {taken.identity} (run run-z" in str(e.value)
    assert "nothing was sent" in str(e.value)
    with pytest.raises(CheckFailed, match=r"locked by .*run run-z"):  # and taking it again is refused, naming z
        lock_step.take(ctx)
