"""A fleet scan: what each cluster runs, which migrations it needs, by when, and what blocks them (ARM data only).

Contract: pure (no I/O); deterministic for a given ``today``.
- ``ClusterRecord.from_arm(d)`` reads one managedCluster as ARM or Resource Graph serves it (camelCase JSON,
  ``properties.agentPoolProfiles``); missing fields get neutral defaults (an unreadable one never raises).
- ``RETIREMENTS``: the Azure retirements a migration answers: ``kubenet`` 2028-03-31, ``npm-windows`` 2026-09-30,
  ``npm-linux`` 2028-09-30.
- ``assess(record, today)`` -> ``ClusterScan``: the applicable migrations (``kubenet-to-overlay`` for kubenet,
  ``npm-to-cilium`` for Azure NPM, ``calico-to-self-managed`` for AKS-managed Calico on Azure CNI, which answers no
  retirement), each with its retirement, deadline, ``days_left`` (negative: already past) and blockers (ids that
  match the product's preflight check ids where one exists: ``cluster-succeeded``, ``cluster-running``,
  ``no-windows-pools``, ``overlay-windows-pools``, ``overlay-kubernetes-version``, ``overlay-identity``,
  ``kubernetes-version``); the recommended next migration: the journey planner's (``plan_journey`` from the
  cluster's profile to ``overlay-cilium``) first stage when its kind applies and is unblocked, else the applicable
  unblocked migration answering a retirement with the nearest deadline, else None; and the journey route.
- ``ClusterScan.to_json()`` is the ``fleet scan --json`` element: ``id, subscription, resource_group, name,
  location, network{plugin, mode, policy, dataplane}, kubernetes_version, power_state, provisioning_state, pools,
  node_count, tags, migrations[{kind, retirement, deadline, days_left, blockers[{id, message}]}], recommended,
  journey``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from netmig.journey.planner import plan_journey
from netmig.model.profiles import ProfileState

RETIREMENTS: dict[str, dt.date] = {
    "kubenet": dt.date(2028, 3, 31),
    "npm-windows": dt.date(2026, 9, 30),
    "npm-linux": dt.date(2028, 9, 30),
}
GOAL = "overlay-cilium"
MIN_OVERLAY = (1, 27)
MIN_CILIUM = (1, 29)


@dataclass(frozen=True)
class Pool:
    name: str
    os_type: str
    count: int
    mode: str
    availability_set: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "os": self.os_type, "count": self.count, "mode": self.mode}


@dataclass(frozen=True)
class ClusterRecord:
    id: str
    subscription: str
    resource_group: str
    name: str
    location: str
    plugin: str
    mode: str | None
    policy: str | None
    dataplane: str
    kubernetes_version: str
    power_state: str
    provisioning_state: str
    identity_type: str | None
    pools: tuple[Pool, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_arm(cls, d: dict[str, Any]) -> ClusterRecord:
        props = d.get("properties") or {}
        np = props.get("networkProfile") or {}
        parts = str(d.get("id") or "").split("/")
        sub = str(d.get("subscriptionId") or (parts[2] if len(parts) > 2 else ""))
        rg = str(d.get("resourceGroup") or (parts[4] if len(parts) > 4 else ""))
        pools = tuple(Pool(name=str(p.get("name") or ""), os_type=str(p.get("osType") or "Linux"),
                           count=int(p.get("count") or 0), mode=str(p.get("mode") or "User"),
                           availability_set=str(p.get("type") or "").lower() == "availabilityset")
                      for p in props.get("agentPoolProfiles") or [])
        return cls(
            id=str(d.get("id") or ""), subscription=sub, resource_group=rg, name=str(d.get("name") or ""),
            location=str(d.get("location") or ""),
            plugin=str(np.get("networkPlugin") or "kubenet"), mode=np.get("networkPluginMode") or None,
            policy=np.get("networkPolicy") or None, dataplane=str(np.get("networkDataplane") or "azure"),
            kubernetes_version=str(props.get("currentKubernetesVersion") or props.get("kubernetesVersion") or ""),
            power_state=str((props.get("powerState") or {}).get("code") or "Running"),
            provisioning_state=str(props.get("provisioningState") or "Unknown"),
            identity_type=str((d.get("identity") or {}).get("type") or "") or None,
            pools=pools, tags={str(k): str(v) for k, v in (d.get("tags") or {}).items()},
        )

    @property
    def profile(self) -> ProfileState:
        return ProfileState(plugin=self.plugin, plugin_mode="overlay" if self.mode == "overlay" else "none",
                            dataplane=self.dataplane, policy=self.policy or "none")

    @property
    def node_count(self) -> int:
        return sum(p.count for p in self.pools)

    @property
    def has_windows(self) -> bool:
        return any(p.os_type.lower() == "windows" for p in self.pools)

    def version(self) -> tuple[int, int]:
        try:
            major, minor = self.kubernetes_version.split(".")[:2]
            return int(major), int(minor)
        except ValueError:
            return (0, 0)


@dataclass(frozen=True)
class Blocker:
    id: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "message": self.message}


@dataclass(frozen=True)
class Migration:
    kind: str
    retirement: str | None
    deadline: dt.date | None
    days_left: int | None
    blockers: tuple[Blocker, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "retirement": self.retirement,
                "deadline": self.deadline.isoformat() if self.deadline else None, "days_left": self.days_left,
                "blockers": [b.to_json() for b in self.blockers]}


@dataclass(frozen=True)
class ClusterScan:
    cluster: ClusterRecord
    migrations: tuple[Migration, ...]
    recommended: str | None
    journey: str | None

    def to_json(self) -> dict[str, Any]:
        c = self.cluster
        return {
            "id": c.id, "subscription": c.subscription, "resource_group": c.resource_group, "name": c.name,
            "location": c.location,
            "network": {"plugin": c.plugin, "mode": c.mode, "policy": c.policy, "dataplane": c.dataplane},
            "kubernetes_version": c.kubernetes_version, "power_state": c.power_state,
            "provisioning_state": c.provisioning_state, "pools": [p.to_json() for p in c.pools],
            "node_count": c.node_count, "tags": dict(c.tags),
            "migrations": [m.to_json() for m in self.migrations], "recommended": self.recommended,
            "journey": self.journey,
        }


def _common_blockers(c: ClusterRecord) -> list[Blocker]:
    out = []
    if c.provisioning_state != "Succeeded":
        out.append(Blocker("cluster-succeeded", f"the cluster is {c.provisioning_state}, not Succeeded: wait for "
                                                "or fix its last operation"))
    if c.power_state != "Running":
        out.append(Blocker("cluster-running", f"the cluster is {c.power_state}: start it (az aks start) first"))
    return out


def _kubenet(c: ClusterRecord, today: dt.date) -> Migration:
    blockers = _common_blockers(c)
    if c.version() < MIN_OVERLAY:
        blockers.append(Blocker("overlay-kubernetes-version", f"Kubernetes {c.kubernetes_version}: Azure CNI Overlay "
                                                              "needs 1.27 or later; upgrade first"))
    if (c.identity_type or "").lower() == "systemassigned":
        blockers.append(Blocker("overlay-identity", "the control plane uses a system-assigned identity; the "
                                                    "migration needs a user-assigned one"))
    if c.has_windows:
        blockers.append(Blocker("overlay-windows-pools", "Windows node pools: move them off kubenet first"))
    if any(p.availability_set for p in c.pools):
        blockers.append(Blocker("overlay-availability-set", "an Availability Set pool: AKS migrates only VMSS"))
    return _migration("kubenet-to-overlay", "kubenet", today, blockers)


def _npm(c: ClusterRecord, today: dt.date) -> Migration:
    blockers = _common_blockers(c)
    if c.has_windows:
        blockers.append(Blocker("no-windows-pools", "Windows node pools: Cilium does not run on Windows; move the "
                                                    "Windows workloads off and delete the pools first"))
    if c.version() < MIN_CILIUM:
        blockers.append(Blocker("kubernetes-version", f"Kubernetes {c.kubernetes_version}: Azure CNI Powered by "
                                                      "Cilium needs 1.29 or later here; upgrade first"))
    return _migration("npm-to-cilium", "npm-windows" if c.has_windows else "npm-linux", today, blockers)


def _calico(c: ClusterRecord, today: dt.date) -> Migration:
    return _migration("calico-to-self-managed", None, today, _common_blockers(c))


def _migration(kind: str, retirement: str | None, today: dt.date, blockers: list[Blocker]) -> Migration:
    deadline = RETIREMENTS.get(retirement) if retirement else None
    days = (deadline - today).days if deadline else None
    return Migration(kind, retirement, deadline, days, tuple(blockers))


def assess(c: ClusterRecord, today: dt.date) -> ClusterScan:
    """See the module contract."""
    migrations: list[Migration] = []
    if c.plugin == "kubenet":
        migrations.append(_kubenet(c, today))
    elif c.policy == "azure":
        migrations.append(_npm(c, today))
    elif c.policy == "calico" and c.plugin == "azure":
        migrations.append(_calico(c, today))
    journey, first_kind = None, None
    try:
        goal = ProfileState.parse(GOAL)
        if c.profile != goal:
            plan = plan_journey(c.profile, goal)
            if plan.path is not None:
                journey = plan.path.route()
                first_kind = plan.stages[0].kind if plan.stages else None
    except ValueError:
        journey = None
    ready = [m for m in migrations if not m.blockers]
    recommended = None
    if first_kind and any(m.kind == first_kind for m in ready):
        recommended = first_kind
    elif any(m.deadline for m in ready):
        recommended = min((m for m in ready if m.deadline), key=lambda m: m.deadline or dt.date.max).kind
    return ClusterScan(c, tuple(migrations), recommended, journey)


def scan(clusters: list[dict[str, Any]], today: dt.date) -> list[ClusterScan]:
    """``assess`` for each ARM cluster dict, in the given order."""
    return [assess(ClusterRecord.from_arm(d), today) for d in clusters]
