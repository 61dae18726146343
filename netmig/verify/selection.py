"""Which probes to run: every (source class, destination class, port) cell at least once, from real pods.

Contract: pure. ``plan(objects, engines)`` takes the cluster's plain objects (live pods only: Running with an IP,
netmig probe pods excluded, see ``live_objects``) and partitions pods with the policy engine's
``compute_classes`` fine enough for *every* engine in ``engines`` (so one plan serves the before and the after
engine of a migration). Then:

- sources: one representative per non-hostNetwork class (the member whose workload identity sorts first;
  hostNetwork pods are node traffic, which a probe pod cannot impersonate, so they are not sources);
- pod destinations: for each destination class and each port it declares, its representative (another member when
  the source would otherwise probe itself). hostNetwork destination classes are probed twice: on the source's own
  node (``@same-node``: NPM's implicit own-node egress) and on another node (``@other-node``), when such members
  exist;
- service destinations: each ClusterIP (also of LoadBalancer/NodePort services) and port, from every source class;
- LoadBalancer paths are *predicted only*: a probe pod reaching the LB ingress IP is in-cluster traffic (kube-proxy
  / Cilium short-circuit it to the backends; the source address is the pod's), so it does not show what external
  clients get. They are recorded with the engine's verdict for an external client (``External``) arriving through
  the service, and reported as predicted only.
- ``baseline``: cell keys of an earlier snapshot; each is probed again when its source and destination identities
  still exist (so before/after compare cell for cell even when classes changed, e.g. pods moved out of an ipBlock).

The plan is keyed by workload identity (``identity``), never by pod name or IP.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netmig.policy import Classes, Cluster, Pod, Service, compute_classes, from_objects, get_engine
from netmig.verify.identity import PROBE_RUN_LABEL, identities, port_label, service_id

CellKey = tuple[str, str, int, str]  # (src identity, dst identity, port, protocol)
EXTERNAL_CLIENT_IP = "203.0.113.10"  # TEST-NET-3: an address outside every cluster range


@dataclass(frozen=True)
class Source:
    """A probe source: the representative pod whose namespace, labels and node the probe pod copies."""

    pod: str
    namespace: str
    labels: Mapping[str, str] = field(hash=False, compare=False)
    node: str | None
    identity: str
    klass: int


@dataclass(frozen=True)
class PlannedProbe:
    """One ``agnhost connect`` from ``src`` to ``host:port``. ``dst_pod`` is the destination pod (pod targets) or
    None (service targets, whose backends are ``backends``)."""

    id: str
    src: str
    dst: str
    port: int
    protocol: str
    kind: str  # pod | service
    host: str
    src_pod: str
    dst_pod: str | None = None
    port_name: str | None = None
    backends: tuple[str, ...] = ()

    @property
    def key(self) -> CellKey:
        return (self.src, self.dst, self.port, self.protocol)

    @property
    def port_text(self) -> str:
        return port_label(self.port, self.port_name)


@dataclass
class SourcePlan:
    source: Source
    probes: list[PlannedProbe]


@dataclass(frozen=True)
class PredictedPath:
    """A LoadBalancer path that is predicted, not probed (see the module docstring)."""

    service: str
    port: int
    protocol: str
    backend: str
    backend_identity: str


@dataclass
class Plan:
    sources: list[SourcePlan]
    predicted_only: list[PredictedPath]
    pods: int
    classes: int
    class_cells: int  # (source class, destination class, port) cells that exist
    covered_cells: int  # of those, how many some probe covers
    engines: tuple[str, ...]
    skipped: list[str] = field(default_factory=list)

    @property
    def n_probes(self) -> int:
        return sum(len(s.probes) for s in self.sources)

    def probes(self) -> Iterable[PlannedProbe]:
        for s in self.sources:
            yield from s.probes


def is_live_pod(obj: Mapping[str, Any]) -> bool:
    """A Running pod with an IP that is not a netmig probe pod."""
    md = obj.get("metadata") or {}
    status = obj.get("status") or {}
    return (status.get("phase") == "Running" and bool(status.get("podIP")) and not md.get("deletionTimestamp")
            and PROBE_RUN_LABEL not in (md.get("labels") or {}))


def live_objects(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``objects`` without the pods that are not live (see ``is_live_pod``)."""
    return [o for o in objects if o.get("kind") != "Pod" or is_live_pod(o)]


def _port_name(pod: Pod, port: int, protocol: str) -> str | None:
    return next((cp.name for cp in pod.ports if cp.port == port and cp.protocol == protocol and cp.name), None)


def _target_port(svc_port: Any, pod: Pod) -> int | None:
    tp = svc_port.target_port
    if isinstance(tp, int):
        return tp
    return next((cp.port for cp in pod.ports if cp.name == tp and cp.protocol == svc_port.protocol), None)


class _Ids:
    def __init__(self) -> None:
        self.n = 0

    def next(self) -> str:
        self.n += 1
        return f"p{self.n}"


def plan(
    objects: Iterable[Mapping[str, Any]], engines: Sequence[str] = ("npm", "cilium"), *,
    include_services: bool = True, baseline: Iterable[CellKey] = (),
) -> Plan:
    """The probe plan for a cluster's objects (see the module docstring)."""
    objs = live_objects(objects)
    ids = identities(objs)
    cluster = from_objects(objs)
    profiles = [get_engine(e) for e in engines]
    classes = compute_classes(cluster, profiles)
    return plan_for(cluster, classes, ids, tuple(engines), include_services=include_services, baseline=baseline)


def plan_for(
    cluster: Cluster, classes: Classes, ids: Mapping[str, str], engines: tuple[str, ...] = (), *,
    include_services: bool = True, baseline: Iterable[CellKey] = (),
) -> Plan:
    """``plan`` on an already built cluster and classes (the bench uses this)."""
    def ident(p: Pod) -> str:
        return ids.get(p.key) or f"{p.namespace}/pod/{p.name}"

    ordered = {c.index: sorted(c.members, key=lambda p: (ident(p), p.name)) for c in classes.classes}
    src_classes = [c for c in classes.classes if not c.host_network]
    dst_classes = [c for c in classes.classes if c.served]
    counter = _Ids()
    sources: list[SourcePlan] = []
    skipped: list[str] = []
    class_cells = sum(len(c.served) for c in dst_classes) * len(src_classes)
    covered = 0
    # hostNetwork members by node, per class
    host_by_node: dict[int, dict[str, Pod]] = {}
    for c in dst_classes:
        if c.host_network:
            by_node: dict[str, Pod] = {}
            for m in ordered[c.index]:
                if m.node and m.node not in by_node:
                    by_node[m.node] = m
            host_by_node[c.index] = by_node
    services = _services(cluster) if include_services else []
    for sc in src_classes:
        rep = ordered[sc.index][0]
        src = Source(rep.key, rep.namespace, dict(rep.labels), rep.node, ident(rep), sc.index)
        probes: list[PlannedProbe] = []
        for dc in dst_classes:
            targets: list[tuple[Pod, str]] = []
            if dc.host_network:
                by_node = host_by_node[dc.index]
                same = by_node.get(rep.node or "")
                other = next((p for n, p in by_node.items() if n != rep.node), None)
                if same is not None:
                    targets.append((same, ident(same) + "@same-node"))
                if other is not None:
                    targets.append((other, ident(other) + "@other-node"))
            else:
                members = ordered[dc.index]
                dst = members[0]
                if dst.key == rep.key and len(members) > 1:
                    dst = members[1]
                targets.append((dst, ident(dst)))
            for port, proto in dc.served:
                for dst, dst_id in targets:
                    host = cluster.node_ip(dst.node) if dst.host_network else dst.ip
                    if not host:
                        continue
                    probes.append(PlannedProbe(counter.next(), src.identity, dst_id, port, proto, "pod", host,
                                               rep.key, dst.key, _port_name(dst, port, proto)))
                covered += 1 if targets else 0
        for svc, sp, backends in services:
            probes.append(PlannedProbe(counter.next(), src.identity, service_id(svc.namespace, svc.name), sp.port,
                                       sp.protocol, "service", str(svc.cluster_ip), rep.key, None, None,
                                       tuple(b.key for b in backends)))
        sources.append(SourcePlan(src, probes))
    _add_baseline(cluster, baseline, sources, ident, counter, skipped)
    predicted = _lb_paths(cluster, ident) if include_services else []
    return Plan(sources, predicted, len(cluster.pods), len(classes), class_cells, covered, engines, skipped)


def _services(cluster: Cluster) -> list[tuple[Service, Any, list[Pod]]]:
    out = []
    for svc in sorted(cluster.services, key=lambda s: s.key):
        if not svc.cluster_ip or svc.cluster_ip == "None" or not svc.selector:
            continue
        backends = [p for p in cluster.pods if svc.selects(p)]
        for sp in svc.ports:
            out.append((svc, sp, backends))
    return out


def _lb_paths(cluster: Cluster, ident: Any) -> list[PredictedPath]:
    out = []
    for svc in sorted(cluster.services, key=lambda s: s.key):
        if svc.type != "LoadBalancer":
            continue
        seen: set[str] = set()
        for p in sorted((p for p in cluster.pods if svc.selects(p)), key=lambda p: (ident(p), p.name)):
            if ident(p) in seen:
                continue
            seen.add(ident(p))
            for sp in svc.ports:
                tp = _target_port(sp, p)
                if tp is not None:
                    out.append(PredictedPath(svc.key, tp, sp.protocol, p.key, ident(p)))
    return out


def _add_baseline(cluster: Cluster, baseline: Iterable[CellKey], sources: list[SourcePlan], ident: Any,
                  counter: _Ids, skipped: list[str]) -> None:
    have = {p.key for s in sources for p in s.probes}
    by_src = {s.source.identity: s for s in sources}
    pods_by_id: dict[str, list[Pod]] = {}
    for p in sorted(cluster.pods, key=lambda p: p.name):
        pods_by_id.setdefault(ident(p), []).append(p)
    svcs = {service_id(s.namespace, s.name): s for s in cluster.services}
    for key in baseline:
        src_id, dst_id, port, proto = key
        if key in have:
            continue
        sp = by_src.get(src_id)
        if sp is None:
            skipped.append(f"baseline cell {src_id} -> {dst_id} {port}/{proto}: no live source pod")
            continue
        src_node = sp.source.node
        host: str | None = None
        dst_pod: str | None = None
        kind = "pod"
        name: str | None = None
        backends: tuple[str, ...] = ()
        if dst_id in svcs:
            svc = svcs[dst_id]
            host, kind = svc.cluster_ip, "service"
            backends = tuple(p.key for p in cluster.pods if svc.selects(p))
        else:
            base, _, where = dst_id.partition("@")
            cands = pods_by_id.get(base, [])
            if where == "same-node":
                cands = [p for p in cands if p.node == src_node]
            elif where == "other-node":
                cands = [p for p in cands if p.node != src_node]
            if cands:
                d = cands[0]
                host = cluster.node_ip(d.node) if d.host_network else d.ip
                dst_pod, name = d.key, _port_name(d, port, proto)
        if not host:
            skipped.append(f"baseline cell {src_id} -> {dst_id} {port}/{proto}: no live destination")
            continue
        sp.probes.append(PlannedProbe(counter.next(), src_id, dst_id, port, proto, kind, host, sp.source.pod,
                                      dst_pod, name, backends))
        have.add(key)
