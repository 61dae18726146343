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
- risk tiers (``PlannedProbe.tier``): with ``target`` (the engine the cluster is about to move to), a cell whose
  class verdict differs between the source engine (``engines[0]``) and ``target`` (``netmig.policy.diff_classes``)
  is ``predicted`` (a Service cell is when any backend's cell is); Service/DNS cells and cross-namespace cells
  that a policy names (allowed under the source engine to an isolated destination) are ``path``; the rest are
  ``sampled``; baseline cells are ``baseline``. ``PlannedProbe.slow`` says whether the source engine predicts a
  timeout (the probe's cost), ``slow_after`` whether ``target`` does (its cost when re-probed after the
  migration). ``netmig.verify.budget`` selects among them to fit a time budget.
- ``baseline``: cell keys of an earlier snapshot; each is probed again when its source and destination identities
  still exist (so before/after compare cell for cell even when classes changed, e.g. pods moved out of an ipBlock);
  the others are listed in ``Plan.skipped`` (never dropped silently).

The plan is keyed by workload identity (``identity``), never by pod name or IP. When the pods of one workload fall
into several classes:
- if policy-relevant labels tell them apart (a label patched on one pod), the identity is qualified with them
  (``identity.qualified``: ``web/deployment/fe[track=canary]``), which is stable across a migration;
- otherwise (addresses inside/outside an ipBlock ``except``, hostNetwork pods on nodes whose IPs an ipBlock splits,
  pods declaring different ports mid-rollout) the classes share one cell key, which then holds several probes:
  an *aggregated* cell (``Plan.aggregated_cells``). Every probe is kept; ``netmig.verify.compare`` compares the
  set of outcomes of an aggregated cell.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from netmig.policy import (
    Classes,
    ClassMatrix,
    Cluster,
    Pod,
    PodClass,
    Service,
    ServicePort,
    class_reachability,
    compute_classes,
    diff_classes,
    from_objects,
    get_engine,
)
from netmig.verify.identity import PROBE_RUN_LABEL, identities, port_label, qualified, service_id

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


@dataclass(frozen=True, slots=True)
class PlannedProbe:
    """One ``agnhost connect`` from ``src`` to ``host:port``. ``dst_pod`` is the destination pod (pod targets) or
    None (service targets, whose backends are ``backends``). Slotted: a plan on a large cluster holds a million."""

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
    tier: str = "sampled"  # predicted | baseline | path | sampled (see the module docstring)
    slow: bool = False  # the source engine predicts a timeout (the probe lasts its full timeout)
    slow_after: bool = False  # the target engine predicts a timeout (what re-probing it after a migration costs)

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
    """A LoadBalancer path that is predicted, not probed (see the module docstring): external client ->
    ``service`` (``service_port``) -> backend pod ``backend`` (one per backend class) on target ``port``."""

    service: str
    port: int
    protocol: str
    backend: str
    backend_identity: str
    service_port: int = 0


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
    target: str | None = None
    predicted_unprobeable: int = 0  # predicted-change class cells from hostNetwork sources (not probe sources)

    @property
    def n_probes(self) -> int:
        return sum(len(s.probes) for s in self.sources)

    def probes(self) -> Iterable[PlannedProbe]:
        for s in self.sources:
            yield from s.probes

    def predicted_keys(self) -> set[CellKey]:
        """The cell keys a budget never drops: ``predicted`` and ``baseline`` probes."""
        return {p.key for p in self.probes() if p.tier in ("predicted", "baseline")}

    def by_source_identity(self) -> Iterator[list[PlannedProbe]]:
        """The probes grouped by source identity (a cell key's first part, so no key spans two groups): what
        counts cells one group at a time needs, instead of an index of every key at once."""
        groups: dict[str, list[SourcePlan]] = {}
        for s in self.sources:
            groups.setdefault(s.source.identity, []).append(s)
        for plans in groups.values():
            yield [p for s in plans for p in s.probes]

    @property
    def aggregated_cells(self) -> int:
        """Cell keys that hold more than one probe (see the module docstring)."""
        return sum(sum(1 for n in Counter((p.dst, p.port, p.protocol) for p in group).values() if n > 1)
                   for group in self.by_source_identity())


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


Ident = Callable[[Pod], str]


def plan(
    objects: Iterable[Mapping[str, Any]], engines: Sequence[str] = ("npm", "cilium"), *,
    include_services: bool = True, baseline: Iterable[CellKey] = (), target: str | None = None,
) -> Plan:
    """The probe plan for a cluster's objects (see the module docstring); ``target`` joins ``engines``."""
    objs = live_objects(objects)
    return plan_objects(objs, from_objects(objs), engines, include_services=include_services, baseline=baseline,
                        target=target)


def plan_objects(
    objs: Sequence[Mapping[str, Any]], cluster: Cluster, engines: Sequence[str] = ("npm", "cilium"), *,
    include_services: bool = True, baseline: Iterable[CellKey] = (), target: str | None = None,
) -> Plan:
    """``plan`` on live objects (``live_objects``) and the ``Cluster`` already built from them."""
    ids = identities(objs)
    names = tuple(dict.fromkeys([*engines, *([target] if target else [])]))
    profiles = [get_engine(e) for e in names]
    classes = compute_classes(cluster, profiles)
    return plan_for(cluster, classes, ids, names, include_services=include_services, baseline=baseline,
                    target=target)


def pod_identities(cluster: Cluster, classes: Classes, ids: Mapping[str, str]) -> dict[str, str]:
    """Pod key -> identity: ``ids`` (workload identities) qualified by the policy-relevant labels of each pod's
    class where one workload's pods differ in them (``identity.qualified``)."""
    workloads = {p.key: ids.get(p.key) or f"{p.namespace}/pod/{p.name}" for p in cluster.pods}
    projections = {p.key: classes.classes[classes.of_pod[p.key]].pod_labels
                   for p in cluster.pods if p.key in classes.of_pod}
    return qualified(workloads, projections)


def plan_for(
    cluster: Cluster, classes: Classes, ids: Mapping[str, str], engines: tuple[str, ...] = (), *,
    include_services: bool = True, baseline: Iterable[CellKey] = (), target: str | None = None,
) -> Plan:
    """``plan`` on an already built cluster and classes (the bench uses this). ``classes`` must be fine enough
    for ``engines[0]`` and ``target``."""
    qualified_ids = pod_identities(cluster, classes, ids)

    def ident(p: Pod) -> str:
        return qualified_ids.get(p.key) or f"{p.namespace}/pod/{p.name}"

    ordered = {c.index: sorted(c.members, key=lambda p: (ident(p), p.name)) for c in classes.classes}
    src_classes = [c for c in classes.classes if not c.host_network]
    dst_classes = [c for c in classes.classes if c.served]
    host_by_node = {c.index: _first_per_node(ordered[c.index]) for c in dst_classes if c.host_network}
    services = _services(cluster) if include_services else []
    risk = _Risk(cluster, classes, engines[0] if engines else None, target)
    counter = _Ids()
    sources: list[SourcePlan] = []
    covered = 0
    for sc in src_classes:
        rep = ordered[sc.index][0]
        src = Source(rep.key, rep.namespace, dict(rep.labels), rep.node, ident(rep), sc.index)
        probes: list[PlannedProbe] = []
        for dc in dst_classes:
            targets = _targets(dc, rep, ordered[dc.index], host_by_node.get(dc.index, {}), ident)
            made, ports_covered = _pod_probes(cluster, src, dc, targets, counter, risk)
            probes += made
            covered += ports_covered
        probes += _service_probes(src, services, counter, risk)
        sources.append(SourcePlan(src, probes))
    skipped = _add_baseline(cluster, baseline, sources, ident, counter)
    predicted = _lb_paths(cluster, classes, ident) if include_services else []
    class_cells = sum(len(c.served) for c in dst_classes) * len(src_classes)
    return Plan(sources, predicted, len(cluster.pods), len(classes), class_cells, covered, engines, skipped,
                target, risk.unprobeable)


class _Risk:
    """Per-cell risk tier and cost from the class matrices of the source engine and ``target``."""

    def __init__(self, cluster: Cluster, classes: Classes, source: str | None, target: str | None) -> None:
        self.classes = classes
        self.cluster = cluster
        self.before: ClassMatrix | None = None
        self.after: ClassMatrix | None = None
        self.changed: set[tuple[int, int, int, str]] = set()
        self.unprobeable = 0
        if source is None:
            return
        self.before = class_reachability(cluster, get_engine(source), classes)
        self.full = (1 << len(classes.classes)) - 1
        if target is None or target == source:
            return
        after = self.after = class_reachability(cluster, get_engine(target), classes)
        for d in diff_classes(self.before, after):
            if classes.classes[d.src].host_network:
                self.unprobeable += 1
            else:
                self.changed.add((d.src, d.dst, d.port, d.protocol))

    def pod_cell(self, src: Source, dst: Pod, port: int, proto: str) -> tuple[str, bool, bool]:
        """(tier, slow, slow_after) of one pod cell."""
        d = self.classes.of_pod.get(dst.key)
        if d is None or self.before is None:
            return "sampled", False, False
        allowed = self.before.class_allowed(src.klass, d, port, proto)
        after = allowed if self.after is None else self.after.class_allowed(src.klass, d, port, proto)
        if (src.klass, d, port, proto) in self.changed:
            return "predicted", not allowed, not after
        rep = self.cluster.pod_by_key.get(src.pod)
        if dst.host_network and rep is not None:  # pair-specific allowances (own-node egress) of the probed pair
            allowed = self.before.allowed(rep, dst, port, proto)
            after = allowed if self.after is None else self.after.allowed(rep, dst, port, proto)
            if allowed != after:
                return "predicted", not allowed, not after
        bits = self.before.cells.get((d, port, proto), 0)
        named = allowed and bits != self.full and dst.namespace != src.namespace
        return ("path" if named else "sampled"), not allowed, not after

    def service_cell(self, src: Source, backends: Sequence[Pod], sp: ServicePort) -> tuple[str, bool, bool]:
        """(tier, slow, slow_after) of one Service cell: ``predicted`` when any backend's cell is, else ``path``;
        slow when no backend is allowed under the engine."""
        tier, slow, slow_after = "path", True, True
        for b in backends:
            tp = _target_port(sp, b)
            if tp is None:
                continue
            t, s, sa = self.pod_cell(src, b, tp, sp.protocol)
            slow, slow_after = slow and s, slow_after and sa
            if t == "predicted":
                tier = "predicted"
        known = bool(backends) and self.before is not None
        return tier, slow and known, slow_after and known


def _first_per_node(members: Sequence[Pod]) -> dict[str, Pod]:
    """The first member on each node (hostNetwork destination classes)."""
    by_node: dict[str, Pod] = {}
    for m in members:
        if m.node and m.node not in by_node:
            by_node[m.node] = m
    return by_node


def _targets(dc: PodClass, rep: Pod, members: Sequence[Pod], host_by_node: Mapping[str, Pod],
             ident: Ident) -> list[tuple[Pod, str]]:
    """(destination pod, destination identity) for one source representative and one destination class:
    hostNetwork classes on the source's node (``@same-node``) and on another node (``@other-node``), others their
    representative (another member when it would be the source itself)."""
    if dc.host_network:
        out: list[tuple[Pod, str]] = []
        same = host_by_node.get(rep.node or "")
        other = next((p for n, p in host_by_node.items() if n != rep.node), None)
        if same is not None:
            out.append((same, ident(same) + "@same-node"))
        if other is not None:
            out.append((other, ident(other) + "@other-node"))
        return out
    dst = members[0]
    if dst.key == rep.key and len(members) > 1:
        dst = members[1]
    return [(dst, ident(dst))]


def _pod_probes(cluster: Cluster, src: Source, dc: PodClass, targets: Sequence[tuple[Pod, str]],
                counter: _Ids, risk: _Risk) -> tuple[list[PlannedProbe], int]:
    """The probes from ``src`` to every target on every port ``dc`` serves, and how many of those ports got at
    least one probe (a target without an address cannot be probed)."""
    probes: list[PlannedProbe] = []
    covered = 0
    for port, proto in dc.served:
        made = 0
        for dst, dst_id in targets:
            host = cluster.node_ip(dst.node) if dst.host_network else dst.ip
            if not host:
                continue
            probes.append(PlannedProbe(counter.next(), src.identity, dst_id, port, proto, "pod", host, src.pod,
                                       dst.key, _port_name(dst, port, proto), (),
                                       *risk.pod_cell(src, dst, port, proto)))
            made += 1
        covered += 1 if made else 0
    return probes, covered


def _service_probes(src: Source, services: Sequence[Svc], counter: _Ids, risk: _Risk) -> list[PlannedProbe]:
    """One probe per Service ClusterIP and port from ``src``."""
    return [PlannedProbe(counter.next(), src.identity, sid, sp.port, sp.protocol, "service", ip, src.pod, None,
                         None, keys, *risk.service_cell(src, backends, sp))
            for svc, sp, backends, sid, ip, keys in services]


Svc = tuple[Service, ServicePort, list[Pod], str, str, tuple[str, ...]]


def _services(cluster: Cluster) -> list[Svc]:
    """(service, port, backends, its identity, its ClusterIP, the backends' keys) for every Service with a
    ClusterIP and a selector (the strings and the tuple shared by every source's probe of it)."""
    out = []
    for svc in sorted(cluster.services, key=lambda s: s.key):
        if not svc.cluster_ip or svc.cluster_ip == "None" or not svc.selector:
            continue
        backends = [p for p in cluster.pods if svc.selects(p)]
        sid, keys = service_id(svc.namespace, svc.name), tuple(b.key for b in backends)
        for sp in svc.ports:
            out.append((svc, sp, backends, sid, str(svc.cluster_ip), keys))
    return out


def _lb_paths(cluster: Cluster, classes: Classes, ident: Ident) -> list[PredictedPath]:
    """One path per LoadBalancer service port and backend class (its representative: the member whose identity
    sorts first). Backend classes of one identity give paths with the same key (aggregated, as cells are)."""
    out = []
    for svc in sorted(cluster.services, key=lambda s: s.key):
        if svc.type != "LoadBalancer":
            continue
        reps: dict[int, Pod] = {}
        for p in sorted((p for p in cluster.pods if svc.selects(p)), key=lambda p: (ident(p), p.name)):
            reps.setdefault(classes.of_pod.get(p.key, -1), p)
        for p in reps.values():
            for sp in svc.ports:
                tp = _target_port(sp, p)
                if tp is not None:
                    out.append(PredictedPath(svc.key, tp, sp.protocol, p.key, ident(p), sp.port))
    return out


def _add_baseline(cluster: Cluster, baseline: Iterable[CellKey], sources: list[SourcePlan], ident: Ident,
                  counter: _Ids) -> list[str]:
    """Probe every baseline cell not already planned (from the first source plan of its source identity); returns
    the reasons for the cells that cannot be probed."""
    by_src: dict[str, SourcePlan] = {}
    for s in sources:
        by_src.setdefault(s.source.identity, s)
    pods_by_id: dict[str, list[Pod]] = {}
    for p in sorted(cluster.pods, key=lambda p: p.name):
        pods_by_id.setdefault(ident(p), []).append(p)
    svcs = {service_id(s.namespace, s.name): s for s in cluster.services}
    skipped: list[str] = []
    wanted = dict.fromkeys(baseline)
    missing = set(wanted)  # the baseline cells no planned probe covers (no index of every planned key is built)
    if wanted:  # the baseline's cells are all probed again: tier ``baseline`` (predicted cells stay predicted)
        for s in sources:
            kept: list[PlannedProbe] = []
            for pr in s.probes:
                k = pr.key
                if k in wanted:
                    missing.discard(k)
                    if pr.tier != "predicted":
                        pr = replace(pr, tier="baseline")
                kept.append(pr)
            s.probes = kept
    for key in wanted:
        if key not in missing:
            continue
        sp = by_src.get(key[0])
        got = "no live source pod" if sp is None else _baseline_probe(cluster, key, sp, pods_by_id, svcs, counter)
        if isinstance(got, str):
            skipped.append(f"baseline cell {key[0]} -> {key[1]} {key[2]}/{key[3]}: {got}")
            continue
        assert sp is not None
        sp.probes.append(got)
    return skipped


def _baseline_probe(cluster: Cluster, key: CellKey, sp: SourcePlan, pods_by_id: Mapping[str, list[Pod]],
                    svcs: Mapping[str, Service], counter: _Ids) -> PlannedProbe | str:
    """The probe re-testing one baseline cell from ``sp``'s source, or why there is none."""
    src_id, dst_id, port, proto = key
    if dst_id in svcs:
        svc = svcs[dst_id]
        if not svc.cluster_ip or svc.cluster_ip == "None":
            return "the service has no ClusterIP"
        backends = tuple(p.key for p in cluster.pods if svc.selects(p))
        return PlannedProbe(counter.next(), src_id, dst_id, port, proto, "service", svc.cluster_ip, sp.source.pod,
                            None, None, backends, "baseline")
    base, _, where = dst_id.partition("@")
    cands = pods_by_id.get(base, [])
    if where == "same-node":
        cands = [p for p in cands if p.node == sp.source.node]
    elif where == "other-node":
        cands = [p for p in cands if p.node != sp.source.node]
    for d in cands:
        host = cluster.node_ip(d.node) if d.host_network else d.ip
        if host:
            return PlannedProbe(counter.next(), src_id, dst_id, port, proto, "pod", host, sp.source.pod, d.key,
                                _port_name(d, port, proto), (), "baseline")
    return "no live destination"
