"""Wave planning (pure): which clusters migrate, with which migration, in which wave, under which rules.

Contract: ``plan_waves(clusters, rules)`` takes ``fleet scan`` cluster dicts (``ClusterScan.to_json()``) and returns
a ``WavePlan``; deterministic (same inputs, same plan).
- Eligible: a cluster with a ``recommended`` migration (``rules.kinds``, when given, keeps only those kinds) not in
  ``rules.exclude`` (names or ids). Every other cluster is listed in ``skipped`` with why (blocked: its blocker ids;
  nothing to migrate; excluded; filtered out).
- Canary wave first (wave 0, ``canary: true``): the clusters named in ``rules.canary`` or tagged
  ``CANARY_TAG=true``; when none is, the smallest non-production eligible cluster. Its failure always halts the
  rollout.
- Then waves of at most ``rules.wave_size``: non-production before production (``rules.prod_tag`` ``KEY=VALUE``,
  default ``env=prod``: a cluster whose tag has that value is production), smaller (node count) before larger, then
  by name. A wave never mixes non-production and production clusters.
- Each cluster carries its ``maintenance_window``: ``rules.windows[name]`` or the ``WINDOW_TAG`` tag, else None.
- ``failure_budget``: the rollout halts once this many clusters failed (any failure in the canary wave halts it).
- ``approval``: ``per-wave`` (every wave after the canary waits for an approval), ``per-cluster`` or ``none``.
- ``WavePlan.to_json()`` / ``WavePlan.from_json()`` round-trip the reviewable file (YAML or JSON on disk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CANARY_TAG = "netmig-canary"
WINDOW_TAG = "netmig-maintenance-window"
APPROVALS = ("per-wave", "per-cluster", "none")
VERSION = 1


@dataclass(frozen=True)
class WaveRules:
    wave_size: int = 3
    canary: tuple[str, ...] = ()
    prod_tag: str = "env=prod"
    failure_budget: int = 1
    approval: str = "per-wave"
    exclude: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    windows: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.wave_size < 1:
            raise ValueError(f"wave size must be >= 1, got {self.wave_size}")
        if self.failure_budget < 1:
            raise ValueError(f"failure budget must be >= 1, got {self.failure_budget}")
        if self.approval not in APPROVALS:
            raise ValueError(f"approval must be one of {', '.join(APPROVALS)}, got {self.approval!r}")
        if "=" not in self.prod_tag:
            raise ValueError(f"production tag must be KEY=VALUE, got {self.prod_tag!r}")


@dataclass
class WaveCluster:
    id: str
    name: str
    subscription: str
    kind: str
    production: bool
    node_count: int
    maintenance_window: str | None = None
    plan_file: str | None = None  # the cluster's own plan (``aks-netmig plan``), filled by the fleet plan command
    connection: dict[str, Any] = field(default_factory=dict)  # how to reach it: {"sandbox": DIR} or {"cluster": ID}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "subscription": self.subscription, "kind": self.kind,
                "production": self.production, "node_count": self.node_count,
                "maintenance_window": self.maintenance_window, "plan_file": self.plan_file,
                "connection": dict(self.connection)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WaveCluster:
        return cls(id=str(d["id"]), name=str(d["name"]), subscription=str(d.get("subscription") or ""),
                   kind=str(d["kind"]), production=bool(d.get("production")), node_count=int(d.get("node_count") or 0),
                   maintenance_window=d.get("maintenance_window"), plan_file=d.get("plan_file"),
                   connection=dict(d.get("connection") or {}))


@dataclass
class Wave:
    index: int
    canary: bool
    approval_required: bool
    clusters: list[WaveCluster]

    @property
    def name(self) -> str:
        return "canary" if self.canary else f"wave-{self.index}"

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "name": self.name, "canary": self.canary,
                "approval_required": self.approval_required, "clusters": [c.to_json() for c in self.clusters]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Wave:
        return cls(int(d["index"]), bool(d.get("canary")), bool(d.get("approval_required")),
                   [WaveCluster.from_json(c) for c in d.get("clusters") or []])


@dataclass
class WavePlan:
    waves: list[Wave]
    skipped: list[dict[str, str]]
    failure_budget: int
    approval: str
    rules: dict[str, Any] = field(default_factory=dict)

    def clusters(self) -> list[WaveCluster]:
        return [c for w in self.waves for c in w.clusters]

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "failure_budget": self.failure_budget, "approval": self.approval,
                "rules": dict(self.rules), "waves": [w.to_json() for w in self.waves], "skipped": list(self.skipped)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> WavePlan:
        if d.get("version") != VERSION or not isinstance(d.get("waves"), list):
            raise ValueError("not a wave plan of this version (no version: 1 / waves list)")
        return cls([Wave.from_json(w) for w in d["waves"]], [dict(s) for s in d.get("skipped") or []],
                   int(d.get("failure_budget") or 1), str(d.get("approval") or "per-wave"), dict(d.get("rules") or {}))


def is_production(cluster: dict[str, Any], prod_tag: str) -> bool:
    key, value = prod_tag.split("=", 1)
    return str((cluster.get("tags") or {}).get(key, "")).lower() == value.lower()


def _skip_reason(c: dict[str, Any], rules: WaveRules) -> str | None:
    if c["name"] in rules.exclude or c["id"] in rules.exclude:
        return "excluded"
    if not c.get("recommended"):
        blockers = [b["id"] for m in c.get("migrations") or [] for b in m.get("blockers") or []]
        if blockers:
            return "blocked: " + ", ".join(blockers)
        return "nothing to migrate" if not c.get("migrations") else "no migration answering a retirement"
    if rules.kinds and c["recommended"] not in rules.kinds:
        return f"{c['recommended']} is not among --kind {', '.join(rules.kinds)}"
    return None


def plan_waves(clusters: list[dict[str, Any]], rules: WaveRules) -> WavePlan:
    """See the module contract."""
    eligible: list[WaveCluster] = []
    skipped: list[dict[str, str]] = []
    canary_names: set[str] = set()
    for c in clusters:
        why = _skip_reason(c, rules)
        if why:
            skipped.append({"id": c["id"], "name": c["name"], "reason": why})
            continue
        tags = c.get("tags") or {}
        wc = WaveCluster(id=c["id"], name=c["name"], subscription=c.get("subscription") or "",
                         kind=c["recommended"], production=is_production(c, rules.prod_tag),
                         node_count=int(c.get("node_count") or 0),
                         maintenance_window=rules.windows.get(c["name"]) or tags.get(WINDOW_TAG))
        eligible.append(wc)
        if c["name"] in rules.canary or c["id"] in rules.canary or str(tags.get(CANARY_TAG, "")).lower() == "true":
            canary_names.add(wc.id)

    def order(w: WaveCluster) -> tuple[bool, int, str]:
        return (w.production, w.node_count, w.name)

    eligible.sort(key=order)
    if not canary_names and eligible:
        canary_names.add(eligible[0].id)  # the smallest non-production one (production sorts last)
    canary = [w for w in eligible if w.id in canary_names]
    rest = [w for w in eligible if w.id not in canary_names]
    waves: list[Wave] = []
    if canary:
        waves.append(Wave(0, True, rules.approval == "per-cluster", canary))
    for group in (False, True):
        members = [w for w in rest if w.production is group]
        for i in range(0, len(members), rules.wave_size):
            waves.append(Wave(len(waves), False, rules.approval != "none", members[i:i + rules.wave_size]))
    return WavePlan(waves, skipped, rules.failure_budget, rules.approval,
                    {"wave_size": rules.wave_size, "prod_tag": rules.prod_tag, "canary": list(rules.canary),
                     "exclude": list(rules.exclude), "kinds": list(rules.kinds)})
