"""The migration lock: a coordination.k8s.io/v1 Lease in the cluster.

Contract:
- ``acquire(gw, migration_id, run_id, duration_s)`` creates or takes over the Lease ``kube-system/aks-netmig-lock``
  and returns the ``Holder``. It raises ``LockHeld(holder)`` when another run holds an unexpired lease — unless
  that holder is a process on this host that no longer exists (a run killed with ``kill -9``), which is taken over
  like an expired lease. Optimistic concurrency (resourceVersion) makes two racing acquirers safe: one gets
  ``LockHeld``.
- ``renew`` / ``release`` only touch a lease this run holds. ``LeaseKeeper`` renews in a background thread.
- ``Holder.describe()`` is the one-line "who holds it" used in refusals: identity, run id, migration, pid/host,
  renew time and expiry (UTC).
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from netmig.kube import errors
from netmig.kube.client import translated
from netmig.kube.gateway import KubeGateway
from netmig.processes import pid_alive

NAMESPACE = "kube-system"
NAME = "aks-netmig-lock"
A_MIGRATION, A_RUN, A_HOST, A_PID = ("aks-netmig/migration", "aks-netmig/run", "aks-netmig/host", "aks-netmig/pid")


def _fmt(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(v: Any) -> dt.datetime | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=dt.UTC)
    return dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))


@dataclass(frozen=True)
class Holder:
    identity: str
    migration_id: str
    run_id: str
    host: str
    pid: int
    renew_time: dt.datetime | None
    duration_s: int
    resource_version: str | None = None

    def expired(self, now: dt.datetime) -> bool:
        return self.renew_time is None or now > self.renew_time + dt.timedelta(seconds=self.duration_s)

    def dead_local_process(self) -> bool:
        if self.host != socket.gethostname() or self.pid <= 0:
            return False
        return not pid_alive(self.pid)

    def expires_at(self) -> dt.datetime | None:
        return None if self.renew_time is None else self.renew_time + dt.timedelta(seconds=self.duration_s)

    def describe(self) -> str:
        """One line: identity, run id, migration, process, renew time and expiry."""
        def at(t: dt.datetime | None) -> str:
            return t.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else "never"
        return (f"{self.identity} (run {self.run_id}, migration {self.migration_id}, pid {self.pid} on {self.host}; "
                f"renewed {at(self.renew_time)}, expires {at(self.expires_at())} unless renewed, "
                f"lease {self.duration_s} s)")


class LockHeld(Exception):
    def __init__(self, holder: Holder) -> None:
        super().__init__(f"the cluster is locked by {holder.describe()}")
        self.holder = holder


def _holder(obj: dict[str, Any]) -> Holder | None:
    spec = obj.get("spec") or {}
    ann = (obj.get("metadata") or {}).get("annotations") or {}
    if not spec.get("holderIdentity"):
        return None
    return Holder(spec["holderIdentity"], ann.get(A_MIGRATION, "?"), ann.get(A_RUN, "?"), ann.get(A_HOST, "?"),
                  int(ann.get(A_PID, "0") or 0), _parse(spec.get("renewTime")),
                  int(spec.get("leaseDurationSeconds") or 0), (obj.get("metadata") or {}).get("resourceVersion"))


def read(gw: KubeGateway) -> tuple[dict[str, Any] | None, Holder | None]:
    try:
        with translated("reading the migration lease"):
            obj = gw.api.sanitize_for_serialization(gw.coordination.read_namespaced_lease(NAME, NAMESPACE))
    except errors.NotFound:
        return None, None
    return obj, _holder(obj)


def _body(migration_id: str, run_id: str, duration_s: int, now: dt.datetime, transitions: int,
          resource_version: str | None, acquire_time: str | None = None) -> dict[str, Any]:
    identity = f"{getpass.getuser()}@{socket.gethostname()}/{run_id}"
    meta: dict[str, Any] = {"name": NAME, "namespace": NAMESPACE, "annotations": {
        A_MIGRATION: migration_id, A_RUN: run_id, A_HOST: socket.gethostname(), A_PID: str(os.getpid())},
        "labels": {"app.kubernetes.io/managed-by": "aks-netmig"}}
    if resource_version:
        meta["resourceVersion"] = resource_version
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta, "spec": {
        "holderIdentity": identity, "leaseDurationSeconds": duration_s, "acquireTime": acquire_time or _fmt(now),
        "renewTime": _fmt(now), "leaseTransitions": transitions}}


def acquire(gw: KubeGateway, migration_id: str, run_id: str, duration_s: int = 60,
            now: dt.datetime | None = None) -> Holder:
    now = now or dt.datetime.now(dt.UTC)
    obj, holder = read(gw)
    if obj is None:
        try:
            with translated("creating the migration lease"):
                gw.coordination.create_namespaced_lease(
                    NAMESPACE, _body(migration_id, run_id, duration_s, now, 0, None))  # type: ignore[arg-type]
        except errors.Conflict:
            _, h = read(gw)
            if h is not None:
                raise LockHeld(h) from None
            raise
    else:
        if holder is not None and holder.run_id != run_id and not holder.expired(now) \
                and not holder.dead_local_process():
            raise LockHeld(holder)
        spec = obj.get("spec") or {}
        same = holder is not None and holder.run_id == run_id
        transitions = int(spec.get("leaseTransitions") or 0) + (0 if same else 1)
        body = _body(migration_id, run_id, duration_s, now, transitions, obj["metadata"].get("resourceVersion"),
                     spec.get("acquireTime") if same else None)
        try:
            with translated("taking over the migration lease"):
                gw.coordination.replace_namespaced_lease(NAME, NAMESPACE, body)  # type: ignore[arg-type]
        except errors.Conflict:
            _, h = read(gw)
            if h is not None:
                raise LockHeld(h) from None
            raise
    _, mine = read(gw)
    assert mine is not None
    return mine


def renew(gw: KubeGateway, run_id: str, now: dt.datetime | None = None) -> bool:
    """Refresh renewTime; False when the lease is no longer ours (taken over or released)."""
    now = now or dt.datetime.now(dt.UTC)
    obj, holder = read(gw)
    if obj is None or holder is None or holder.run_id != run_id:
        return False
    obj["spec"]["renewTime"] = _fmt(now)
    try:
        with translated("renewing the migration lease"):
            gw.coordination.replace_namespaced_lease(NAME, NAMESPACE, obj)  # type: ignore[arg-type]
    except errors.Conflict:
        return False
    return True


def release(gw: KubeGateway, run_id: str | None = None) -> bool:
    """Delete the lease if ``run_id`` holds it (any holder when None); True when deleted."""
    obj, holder = read(gw)
    if obj is None or (run_id is not None and (holder is None or holder.run_id != run_id)):
        return False
    try:
        with translated("releasing the migration lease"):
            gw.coordination.delete_namespaced_lease(NAME, NAMESPACE)
    except errors.NotFound:
        return False
    return True


class LeaseKeeper:
    """Renews the lease every ``duration/3`` seconds in a daemon thread until ``stop()``."""

    def __init__(self, gw: KubeGateway, run_id: str, duration_s: int) -> None:
        self.gw, self.run_id, self.period = gw, run_id, max(1.0, duration_s / 3)
        self._stop = threading.Event()
        self.lost = False
        self._thread = threading.Thread(target=self._loop, name="netmig-lease", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                if not renew(self.gw, self.run_id):
                    self.lost = True
                    return
            except errors.KubeError:
                continue

    def stop(self) -> None:
        self._stop.set()
