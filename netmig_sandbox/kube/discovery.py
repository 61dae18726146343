"""Legacy (unaggregated) discovery documents, computed from the store's registered types.

Contract:
- ``version_info()``: the ``/version`` body.
- ``core_versions(server_address)``: ``/api`` (``APIVersions`` with ``["v1"]``).
- ``group_list(store)``: ``/apis`` (``APIGroupList``), groups in registration order, each with its served
  versions (preferred first); ``group(store, name)`` one ``APIGroup`` or None.
- ``resource_list(store, group, version)``: ``APIResourceList`` for ``/api/v1`` or ``/apis/{g}/{v}`` with
  ``name, singularName, namespaced, kind, verbs, shortNames, categories`` and subresource entries
  (``pods/status``, ``pods/log``, ``pods/eviction``, ``deployments/scale``...), or None if the group-version is not
  served.
Group-versions served through a service-backed APIService (``crds.aggregated_group_versions``) are listed in
``/apis`` and ``/apis/{g}`` whether or not they are Available; ``/apis/{g}/{v}`` of an unavailable one is a 503 (the
server handles that before calling here), of an available one the resources the store knows for it (often none: the
sandbox does not proxy to extension API servers).
Aggregated discovery (``apidiscovery.k8s.io/v2``) is deliberately not served: clients that ask for it also accept
plain ``application/json`` and fall back to these documents.
"""

from __future__ import annotations

from typing import Any

from netmig_sandbox.kube.crds import aggregated_group_versions, version_priority
from netmig_sandbox.kube.store import Obj, ResourceType, Store
from netmig_sandbox.kube.types import SUBRESOURCE_KINDS

KUBE_VERSION = {"major": "1", "minor": "31", "gitVersion": "v1.31.2", "gitCommit": "sandbox",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.22.8",
                "compiler": "gc", "platform": "linux/amd64"}


def cluster_version(ctx: Any) -> str:
    """The cluster's Kubernetes version (``1.31.2``): ARM's ``currentKubernetesVersion``, which the nodes'
    kubelets also report, so ``kubectl version``, ARM and the nodes agree."""
    arm = getattr(ctx, "arm", None)
    cluster = getattr(arm, "cluster", None) if arm is not None else None
    if cluster:
        v = (cluster.get("properties") or {}).get("currentKubernetesVersion")
        if v:
            return str(v)
    return str(((getattr(ctx, "scenario", None) or {}).get("cluster") or {}).get("kubernetes_version") or "1.31.2")


def version_info(version: str | None = None) -> Obj:
    """The ``/version`` body for ``version`` (``1.31.2``; default the sandbox's default version)."""
    info = dict(KUBE_VERSION)
    if version:
        parts = version.lstrip("v").split(".")
        info.update(major=parts[0], minor=parts[1] if len(parts) > 1 else "0", gitVersion=f"v{version.lstrip('v')}")
    return info


def core_versions(server_address: str = "") -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _served_versions(rt: ResourceType) -> list[str]:
    return [rt.version, *rt.other_versions]


def _groups(store: Store) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for rt in store.types.values():
        if not rt.group:
            continue
        versions = groups.setdefault(rt.group, [])
        for v in _served_versions(rt):
            if v not in versions:
                versions.append(v)
    for (g, v) in aggregated_group_versions(store):
        versions = groups.setdefault(g, [])
        if v not in versions:
            versions.append(v)
    for name, versions in groups.items():
        groups[name] = sorted(versions, key=version_priority, reverse=True)
    return groups


def _group_doc(name: str, versions: list[str]) -> Obj:
    gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": gvs, "preferredVersion": gvs[0]}


def group_list(store: Store) -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_doc(n, vs) for n, vs in _groups(store).items()]}


def group(store: Store, name: str) -> Obj | None:
    versions = _groups(store).get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(name, versions)}


def _resource_entry(rt: ResourceType) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        entry["shortNames"] = list(rt.short_names)
    if rt.categories:
        entry["categories"] = list(rt.categories)
    return entry


def resource_list(store: Store, group_name: str, version: str) -> Obj | None:
    resources: list[dict[str, Any]] = []
    found = False
    for rt in store.types.values():
        if rt.group != group_name or version not in _served_versions(rt):
            continue
        found = True
        resources.append(_resource_entry(rt))
        for sub in rt.subresources:
            extra = SUBRESOURCE_KINDS.get((rt.key, sub))
            entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "",
                                     "namespaced": rt.namespaced, "kind": rt.kind,
                                     "verbs": ["get", "patch", "update"]}
            if extra is not None:
                g, v, kind, verbs = extra
                entry["kind"] = kind
                entry["verbs"] = list(verbs)
                if g != group_name:
                    entry["group"] = g
                    entry["version"] = v
            resources.append(entry)
    if not found and (group_name, version) not in aggregated_group_versions(store):
        return None
    gv = f"{group_name}/{version}" if group_name else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources}
