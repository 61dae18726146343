"""Plain values for the engine's unit tests: a cluster as ARM would describe it, its plan, a step context."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from netmig.engine.planning import load_template, new_plan
from netmig.journal import Journal
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile, PoolInfo
from netmig.model.plan import Plan
from netmig.stepkit.context import StepContext

REF = ClusterRef("0000-sub", "rg-app", "aks-prod")
NOW = dt.datetime(2025, 3, 1, 12, 30, 0, tzinfo=dt.UTC)
ENDPOINT = "https://management.azure.com"


def cluster(**changes: Any) -> ClusterInfo:
    """An NPM cluster: system pool of 3 (maxSurge 33%), user pool of 4 (maxSurge 1), Kubernetes 1.32."""
    base = ClusterInfo(
        ref=REF, location="westeurope", kubernetes_version="1.32.3", provisioning_state="Succeeded",
        network=NetworkProfile(plugin="azure", policy="azure", dataplane="azure", service_cidr="10.0.0.0/16"),
        etag='W/"etag-1"',
        pools=(PoolInfo("system", "System", "Linux", 3, "Succeeded", max_surge="33%", max_pods=30),
               PoolInfo("user", "User", "Linux", 4, "Succeeded", max_surge="1", max_pods=50)))
    return dataclasses.replace(base, **changes)


def pool(which: str, **changes: Any) -> PoolInfo:
    return dataclasses.replace(next(p for p in cluster().pools if p.name == which), **changes)


def plan(info: ClusterInfo | None = None, accepted: list[str] | None = None) -> Plan:
    return new_plan(load_template("npm-to-cilium"), info or cluster(), arm_endpoint=ENDPOINT, accepted=accepted,
                    now=NOW)


class StubAks:
    """Answers ``cluster()`` with the given value (a list: one per call, the last one repeated)."""

    def __init__(self, *infos: ClusterInfo) -> None:
        self.infos = list(infos)
        self.calls = 0

    def cluster(self) -> ClusterInfo:
        self.calls += 1
        return self.infos[min(self.calls, len(self.infos)) - 1]


class StubKube:
    def __init__(self, pods: list[dict[str, Any]] | None = None, pdbs: list[dict[str, Any]] | None = None) -> None:
        self._pods, self._pdbs = pods or [], pdbs or []

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        return [p for p in self._pods if namespace is None or p["metadata"]["namespace"] == namespace]

    def pdbs(self) -> list[dict[str, Any]]:
        return list(self._pdbs)

    def close(self) -> None:
        pass


def context(tmp: Path, the_plan: Plan | None = None, info: ClusterInfo | None = None,
            kube: StubKube | None = None, **kwargs: Any) -> StepContext:
    info = info or cluster()
    ctx = StepContext(plan=the_plan or plan(info), aks=StubAks(info), journal=Journal(tmp / "journal.jsonl"),  # type: ignore[arg-type]
                      run_dir=tmp, **kwargs)
    ctx._cluster = info
    if kube is not None:
        ctx._kube = kube  # type: ignore[assignment]
    return ctx
