"""Workload identity: what a pod *is* (namespace + owning workload, or its labels), stable across re-creation.

Contract: pure. ``workload_id(pod)`` for a Pod dict returns ``NS/KIND/NAME`` for pods owned by a Deployment
(through a ReplicaSet, the pod-template-hash suffix removed), DaemonSet, StatefulSet, Job or other controller, and
``NS/pod/LABELS`` (sorted ``k=v`` joined by ``,``, controller labels removed; ``-`` when none) for bare pods.
Pod names and IPs never enter an identity, so the same workload gets the same identity before and after a
migration that re-creates every pod with new IPs (kubenet -> overlay).

``qualified(workloads, projections)`` splits a workload whose pods carry different *policy-relevant* labels (e.g. a
label patched on one pod of a Deployment): the most common label projection keeps the bare identity and the others
become ``ID[k=v,!k2]`` (the keys whose value differs from the most common one; ``!k``: the label is absent). Labels
are stable across re-creation where pod names and IPs are not; splits that only IPs or nodes cause are not
qualified (the verifier aggregates them, see ``netmig.verify.selection``).
"""

from __future__ import annotations

from collections import Counter
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


def workload_id(pod: Mapping[str, Any]) -> str:
    """The identity of one Pod dict (see the module docstring)."""
    md = pod.get("metadata") or {}
    ns = md.get("namespace") or "default"
    labels = {str(k): str(v) for k, v in (md.get("labels") or {}).items()}
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
    return f"{ns}/pod/{_labels_text(labels)}"


def identities(objects: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``namespace/name`` -> workload identity for every Pod dict in ``objects``."""
    out: dict[str, str] = {}
    for o in objects:
        if o.get("kind") != "Pod":
            continue
        md = o.get("metadata") or {}
        out[f"{md.get('namespace') or 'default'}/{md.get('name')}"] = workload_id(o)
    return out


LabelProjection = Mapping[str, str | None]  # policy-relevant label key -> value (None: absent)


def _projection_text(proj: LabelProjection) -> str:
    return ",".join(f"{k}={v}" if v is not None else f"!{k}" for k, v in sorted(proj.items()))


def qualifier(proj: LabelProjection, base: LabelProjection) -> str:
    """``[k=v,!k2]`` naming the keys where ``proj`` differs from ``base``; ``""`` when they agree."""
    keys = sorted(set(proj) | set(base))
    diff = {k: proj.get(k) for k in keys if proj.get(k) != base.get(k)}
    return f"[{_projection_text(diff)}]" if diff else ""


def qualified(workloads: Mapping[str, str], projections: Mapping[str, LabelProjection]) -> dict[str, str]:
    """Pod key -> identity, qualified where one workload's pods differ in policy-relevant labels.

    ``workloads``: pod key -> ``workload_id``; ``projections``: pod key -> its policy-relevant labels (missing:
    none). Per workload, the projection shared by the most pods keeps the bare identity (ties: the projection whose
    text sorts first, so the choice is deterministic); every other pod gets ``qualifier(its, most common)``.
    """
    members: dict[str, list[str]] = {}
    for pod, wid in workloads.items():
        members.setdefault(wid, []).append(pod)
    out: dict[str, str] = {}
    for wid, pods in members.items():
        projs = {p: dict(projections.get(p) or {}) for p in pods}
        counts = Counter(_projection_text(v) for v in projs.values())
        base_text = min(counts, key=lambda t: (-counts[t], t))
        base = next(v for v in projs.values() if _projection_text(v) == base_text)
        for p, proj in projs.items():
            out[p] = wid + qualifier(proj, base)
    return out


def service_id(namespace: str, name: str) -> str:
    """The identity of a Service destination."""
    return f"{namespace}/service/{name}"


def port_label(port: int, name: str | None) -> str:
    """``8080`` or ``http:8080`` (named container ports keep their name; the number is what is probed)."""
    return f"{name}:{port}" if name else str(port)
