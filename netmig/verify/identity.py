"""Workload identity for the verifier: the pod identity itself lives in ``netmig.policy.identity`` (pure, shared
with the policy engine's ``--by workload`` answers) and is re-exported here.

``qualified(workloads, projections)`` splits a workload whose pods carry different *policy-relevant* labels (e.g. a
label patched on one pod of a Deployment): the most common label projection keeps the bare identity and the others
become ``ID[k=v,!k2]`` (the keys whose value differs from the most common one; ``!k``: the label is absent). Labels
are stable across re-creation where pod names and IPs are not; splits that only IPs or nodes cause are not
qualified (the verifier aggregates them, see ``netmig.verify.selection``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from netmig.policy.identity import (
    CONTROLLER_LABELS,
    PROBE_RUN_LABEL,
    identities,
    workload_id,
    workload_labels,
)

__all__ = ["CONTROLLER_LABELS", "PROBE_RUN_LABEL", "identities", "port_label", "qualified", "qualifier",
           "service_id", "workload_id", "workload_labels"]

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
