"""AKS-managed Calico coming and going with the network policy (called by the reimage simulator).

Contract:
- ``ensure(ctx)``: network policy calico (a reimage to a calico profile starts): AKS (re)installs its Calico --
  the namespaces and every object of ``sim.aks_objects.calico_objects`` that is missing (CRDs, tigera-operator,
  calico-typha, calico-kube-controllers, Installation, CRs, RBAC, TigeraStatus; the calico-node DaemonSet comes
  from ``topology.system_daemonsets``). Objects that are still there (CRDs and CRs left by an earlier uninstall)
  are kept as they are.
- ``remove(ctx)``: the network policy left calico (end of the reimage): AKS removes the workloads it manages --
  Deployments, DaemonSets and Services labelled ``kubernetes.azure.com/managedby: aks`` in ``calico-system``,
  ``tigera-operator`` and ``calico-apiserver`` (tigera-operator, typha, kube-controllers, calico-apiserver and its
  Service; calico-node goes with the networking DaemonSet swap). What the AKS docs say stays behind, stays:
  the namespaces, the crd.projectcalico.org / operator.tigera.io CRDs and CRs (Installation and APIServer with
  finalizers nobody clears any more), TigeraStatus objects (stale), the calico-node ServiceAccount / ClusterRole /
  ClusterRoleBinding with ``tigera.io/cni-protector``, and the APIService ``v3.projectcalico.org`` -- now pointing
  at a Service that no longer exists (Available False, discovery of projectcalico.org/v3 fails). Self-managed
  objects (no managedby label, e.g. from the tigera-operator manifest) are never touched.
"""

from __future__ import annotations

import contextlib
from typing import Any

from netmig_sandbox.kube.store import ApiError, Key
from netmig_sandbox.sim import topology

NAMESPACES: Key = ("", "namespaces")
REMOVED_KINDS: tuple[Key, ...] = (("apps", "deployments"), ("apps", "daemonsets"), ("", "services"))
CALICO_NAMESPACES = ("calico-system", "tigera-operator", "calico-apiserver")


def ensure(ctx: Any) -> list[str]:
    """Create what is missing of AKS-managed Calico; returns ``kind/name`` of what was created."""
    from netmig_sandbox.sim.aks_objects import calico_namespaces, calico_objects, key_for

    store = ctx.store
    created: list[str] = []
    for ns in calico_namespaces(ctx.scenario):
        if not store.exists(NAMESPACES, None, ns):
            store.create(NAMESPACES, {"metadata": {"name": ns}})
            created.append(f"Namespace/{ns}")
    for obj in calico_objects(ctx.scenario):
        meta = obj.get("metadata") or {}
        try:
            key = key_for(store, obj["apiVersion"], obj["kind"])
        except ApiError:
            continue  # its CRD could not be registered
        rt = store.types[key]
        obj_ns: str | None = meta.get("namespace") if rt.namespaced else None
        if store.exists(key, obj_ns, meta["name"]):
            continue
        with contextlib.suppress(ApiError):
            store.create(key, obj, obj_ns)
            created.append(f"{obj['kind']}/{meta['name']}")
    return created


def remove(ctx: Any) -> list[str]:
    """Delete the AKS-managed Calico workloads; returns ``kind/namespace/name`` of what was deleted."""
    store = ctx.store
    removed: list[str] = []
    for key in REMOVED_KINDS:
        for obj in store.list(key):
            meta = obj["metadata"]
            if meta.get("namespace") not in CALICO_NAMESPACES:
                continue
            if (meta.get("labels") or {}).get(topology.LABEL_MANAGED_BY) != "aks":
                continue
            with contextlib.suppress(ApiError):
                store.delete(key, meta["namespace"], meta["name"])
                removed.append(f"{obj['kind']}/{meta['namespace']}/{meta['name']}")
    return removed
