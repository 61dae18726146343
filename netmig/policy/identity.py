"""Workload identity: what a pod *is* (namespace + owning workload, or its labels), stable across re-creation.

Contract: pure. ``workload_id(pod)`` for a Pod dict returns ``NS/KIND/NAME`` for pods owned by a Deployment
(through a ReplicaSet, the pod-template-hash suffix removed), DaemonSet, StatefulSet, Job or other controller, and
``NS/pod/LABELS`` (sorted ``k=v`` joined by ``,``, controller labels removed; ``-`` when none) for bare pods.
Pod names and IPs never enter an identity, so the same workload gets the same identity before and after a
migration that re-creates every pod with new IPs (kubenet -> overlay). The policy engine keys ``--by workload``
answers on it and the verifier keys its probes on it (``netmig.verify.identity`` re-exports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

CONTROLLER_LABELS = frozenset({"pod-template-hash", "controller-revision-hash", "pod-template-generation",
                               "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
                               "batch.kubernetes.io/controller-uid", "controller-uid",
                               "batch.kubernetes.io/job-name", "job-name"})
PROBE_RUN_LABEL = "netmig.io/probe-run"


def workload_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels that describe the workload: controller bookkeeping labels and netmig's own removed."""
    return {k: v for k, v in labels.items() if k not in CONTROLLER_LABELS and k != PROBE_RUN_LABEL}


def _labels_text(labels: Mapping[str, str]) -> str:
    items = sorted(workload_labels(labels).items())
    return ",".join(f"{k}={v}" for k, v in items) or "-"


def bare_identity(namespace: str, labels: Mapping[str, str]) -> str:
    """The identity of a pod no controller owns: its namespace and workload labels."""
    return f"{namespace}/pod/{_labels_text(labels)}"


def workload_id(pod: Mapping[str, Any]) -> str:
    """The identity of one Pod dict (see the module docstring)."""
    md = pod.get("metadata") or {}
    ns = md.get("namespace") or "default"
    raw = md.get("labels") or {}
    labels = raw if all(type(v) is str for v in raw.values()) else {str(k): str(v) for k, v in raw.items()}
    owners = md.get("ownerReferences") or md.get("owner_references") or []
    owner = next((o for o in owners if o.get("controller")), owners[0] if owners else None)
    if owner:
        kind, name = str(owner.get("kind") or ""), str(owner.get("name") or "")
        if kind == "ReplicaSet":
            h = labels.get("pod-template-hash")
            if h and name.endswith("-" + h):
                return f"{ns}/deployment/{name[: -len(h) - 1]}"
            return f"{ns}/replicaset/{name}"
        if kind == "Job" and name:
            return f"{ns}/job/{name}"
        return f"{ns}/{kind.lower()}/{name}"
    h = labels.get("pod-template-hash")
    gen = str(md.get("generateName") or "")
    if h and gen.endswith(f"-{h}-"):
        return f"{ns}/deployment/{gen[: -len(h) - 2]}"
    return bare_identity(ns, labels)


def identities(objects: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``namespace/name`` -> workload identity for every Pod dict in ``objects``."""
    out: dict[str, str] = {}
    for o in objects:
        if o.get("kind") != "Pod":
            continue
        md = o.get("metadata") or {}
        out[f"{md.get('namespace') or 'default'}/{md.get('name')}"] = workload_id(o)
    return out
