"""Kubernetes versions AKS offers: ``locations/{l}/kubernetesVersions`` and ``managedClusters/{n}/upgradeProfiles``.

Contract:
- ``PATCHES``: the patch versions the sandbox's AKS offers per minor (the minors of the scenarios included).
- ``kubernetes_versions() -> dict``: the ``KubernetesVersionListResult`` body (``values``: one entry per minor
  with ``capabilities.supportPlan``, ``isDefault``, ``isPreview`` and ``patchVersions`` -> ``upgrades``).
- ``upgrades(version) -> list[str]``: what a cluster at ``version`` may upgrade to, like AKS: later patches of its
  minor and every patch of the next minor (no minor skipping).
- ``upgrade_profile(cluster, pools) -> dict``: the ``ManagedClusterUpgradeProfile`` body of a cluster (control
  plane and each pool, with ``upgrades: [{kubernetesVersion, isPreview}]``).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
PATCHES: dict[str, list[str]] = {
    "1.26": ["1.26.10", "1.26.12"],
    "1.29": ["1.29.9", "1.29.11"],
    "1.30": ["1.30.4", "1.30.9"],
    "1.31": ["1.31.2", "1.31.5"],
    "1.32": ["1.32.3", "1.32.4"],
    "1.33": ["1.33.0"],
}
DEFAULT_MINOR = "1.31"
PREVIEW_MINORS = {"1.33"}
LTS_MINORS = {"1.26", "1.29", "1.30", "1.31", "1.32"}


def _key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".") if p.isdigit())


def _minor(v: str) -> str:
    return ".".join(v.split(".")[:2])


def upgrades(version: str) -> list[str]:
    minor = _minor(version)
    out = [p for p in PATCHES.get(minor, []) if _key(p) > _key(version)]
    major, mnr = (int(x) for x in minor.split("."))
    out += PATCHES.get(f"{major}.{mnr + 1}", [])
    return out


def kubernetes_versions() -> Obj:
    values = []
    for minor, patches in sorted(PATCHES.items(), key=lambda kv: _key(kv[0])):
        entry: Obj = {
            "version": minor,
            "capabilities": {"supportPlan": ["KubernetesOfficial", *(["AKSLongTermSupport"]
                                                                    if minor in LTS_MINORS else [])]},
            "patchVersions": {p: {"upgrades": upgrades(p)} for p in patches},
        }
        if minor == DEFAULT_MINOR:
            entry["isDefault"] = True
        if minor in PREVIEW_MINORS:
            entry["isPreview"] = True
        values.append(entry)
    return {"values": values}


def _offer(version: str) -> list[Obj]:
    return [{"kubernetesVersion": v, **({"isPreview": True} if _minor(v) in PREVIEW_MINORS else {})}
            for v in upgrades(version)]


def upgrade_profile(cluster: Obj, pools: dict[str, Obj]) -> Obj:
    version = str(cluster["properties"].get("currentKubernetesVersion") or "")
    return {
        "id": f"{cluster['id']}/upgradeProfiles/default",
        "name": "default",
        "type": "Microsoft.ContainerService/managedClusters/upgradeProfiles",
        "properties": {
            "controlPlaneProfile": {"kubernetesVersion": version, "name": None, "osType": "Linux",
                                    "upgrades": _offer(version)},
            "agentPoolProfiles": [
                {"name": name, "osType": p["properties"].get("osType", "Linux"),
                 "kubernetesVersion": str(p["properties"].get("currentOrchestratorVersion") or version),
                 "upgrades": _offer(str(p["properties"].get("currentOrchestratorVersion") or version))}
                for name, p in pools.items()
            ],
        },
    }
