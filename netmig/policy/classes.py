"""Reachability by equivalence classes: pods no policy can tell apart share one row and one column.

Contract: pure. ``compute_classes(cluster, engines)`` partitions pods by a signature that covers everything any of
``engines`` looks at: hostNetwork, the namespace (only when it holds policies), namespace labels and pod labels
projected on the keys used by selectors, ipBlock membership of the address policy sees (when an engine lets ipBlocks
match cluster IPs), and the declared container ports (name, number, protocol). ``class_reachability`` computes, for
every destination class and port, the bitset of source classes allowed (bit i = class i), working on bitsets over
classes rather than on pods. Pair-specific allowances (self, node-local, own-node) are applied when expanding to
pods, so ``ClassMatrix.expand`` equals ``evaluate.naive_matrix`` exactly (the property tests check this).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from netmig.policy.engines import EngineProfile
from netmig.policy.evaluate import endpoint_ip, pair_override, resolve_named_ports, rule_ports_match
from netmig.policy.model import Cluster, IPBlock, Peer, Pod, Policy, Rule, ip_key
from netmig.policy.selectors import LabelSelector

PortKey = tuple[int, str]


def iter_bits(x: int) -> Iterator[int]:
    """Indices of the set bits of ``x``, ascending."""
    while x:
        low = x & -x
        yield low.bit_length() - 1
        x ^= low


@dataclass(frozen=True)
class PodClass:
    """Pods that every policy treats alike. ``namespace`` is set when the namespace itself matters."""

    index: int
    members: tuple[Pod, ...]
    host_network: bool
    namespace: str | None
    ns_labels: dict[str, str | None] = field(hash=False, compare=False)
    pod_labels: dict[str, str | None] = field(hash=False, compare=False)
    ipblocks: frozenset[int] = frozenset()
    served: tuple[PortKey, ...] = ()

    @property
    def rep(self) -> Pod:
        return self.members[0]

    def describe(self) -> str:
        if self.host_network:
            return f"C{self.index}[hostNetwork]"
        labels = ",".join(f"{k}={v}" for k, v in sorted(self.pod_labels.items()) if v is not None)
        ns = self.namespace or "*"
        return f"C{self.index}[{ns}:{labels or '-'}]"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.index, "pods": [p.key for p in self.members], "host_network": self.host_network,
                "namespace": self.namespace, "labels": {k: v for k, v in self.pod_labels.items() if v is not None},
                "ports": [{"port": p, "protocol": q} for p, q in self.served]}


@dataclass
class Classes:
    classes: list[PodClass]
    of_pod: dict[str, int]
    blocks: list[IPBlock]

    def __len__(self) -> int:
        return len(self.classes)


def _used_keys(policies: Sequence[Policy]) -> tuple[list[str], list[str]]:
    pod_keys: set[str] = set()
    ns_keys: set[str] = set()
    for pol in policies:
        pod_keys |= pol.pod_selector.keys
        for _, peer in pol.all_peers():
            if peer.pod_selector is not None:
                pod_keys |= peer.pod_selector.keys
            if peer.namespace_selector is not None:
                ns_keys |= peer.namespace_selector.keys
    return sorted(pod_keys), sorted(ns_keys)


class _IPPartition:
    """Partition of the address space by every ipBlock boundary; membership computed once per interval."""

    def __init__(self, blocks: Sequence[IPBlock]) -> None:
        self.blocks = list(blocks)
        bounds: dict[int, set[int]] = defaultdict(set)
        for b in self.blocks:
            for v, lo, hi in (b.range, *b.except_ranges):
                bounds[v].add(lo)
                bounds[v].add(hi + 1)
        self.bounds = {v: sorted(s) for v, s in bounds.items()}
        self.cache: dict[tuple[int, int], frozenset[int]] = {}

    def membership(self, ip: str | None) -> frozenset[int]:
        key = ip_key(ip)
        if key is None or not self.blocks:
            return frozenset()
        slot = (key[0], bisect.bisect_right(self.bounds.get(key[0], []), key[1]))
        got = self.cache.get(slot)
        if got is None:
            got = frozenset(i for i, b in enumerate(self.blocks) if b.contains_key(key))
            self.cache[slot] = got
        return got


def compute_classes(cluster: Cluster, engines: Sequence[EngineProfile]) -> Classes:
    """Partition ``cluster.pods`` into classes fine enough for every engine in ``engines``."""
    pod_keys, ns_keys = _used_keys(cluster.policies)
    policy_ns = set(cluster.policies_by_ns)
    blocks: list[IPBlock] = []
    if any(e.ipblock_matches_cluster_ips for e in engines):
        blocks = list(dict.fromkeys(p.ip_block for pol in cluster.policies for _, p in pol.all_peers()
                                    if p.ip_block is not None))
    part = _IPPartition(blocks)
    ns_proj: dict[str, tuple[str | None, ...]] = {}
    groups: dict[tuple[Any, ...], list[Pod]] = {}
    # pods of one workload share their label and port objects (model._parse_pod): project each object once
    # (keyed by id: every pod, hence every such object, is alive throughout)
    label_proj: dict[int, tuple[str | None, ...]] = {}
    port_sig: dict[int, tuple[tuple[str, int, str], ...]] = {}
    for pod in cluster.pods:
        ports = port_sig.get(id(pod.ports))
        if ports is None:
            ports = port_sig[id(pod.ports)] = tuple(sorted({(cp.name or "", cp.port, cp.protocol)
                                                            for cp in pod.ports}))
        ipm = part.membership(endpoint_ip(cluster, pod))
        if pod.host_network:
            sig: tuple[Any, ...] = (True, ipm, ports)
        else:
            nsp = ns_proj.get(pod.namespace)
            if nsp is None:
                labels = cluster.ns_labels(pod.namespace)
                nsp = ns_proj[pod.namespace] = tuple(labels.get(k) for k in ns_keys)
            proj = label_proj.get(id(pod.labels))
            if proj is None:
                proj = label_proj[id(pod.labels)] = tuple(pod.labels.get(k) for k in pod_keys)
            sig = (False, pod.namespace if pod.namespace in policy_ns else None, nsp, proj, ipm, ports)
        groups.setdefault(sig, []).append(pod)
    classes: list[PodClass] = []
    of_pod: dict[str, int] = {}
    for i, (sig, members) in enumerate(groups.items()):
        rep = members[0]
        if sig[0]:
            pc = PodClass(i, tuple(members), True, None, {}, {}, sig[1], rep.served_ports())
        else:
            pc = PodClass(i, tuple(members), False, sig[1], dict(zip(ns_keys, sig[2], strict=True)),
                          dict(zip(pod_keys, sig[3], strict=True)), sig[4], rep.served_ports())
        classes.append(pc)
        for m in members:
            of_pod[m.key] = i
    return Classes(classes, of_pod, blocks)


class _BitIndex:
    """Inverted label indices over classes, so a selector becomes a few bitset operations."""

    def __init__(self, classes: Classes) -> None:
        self.n = len(classes)
        self.all = (1 << self.n) - 1
        self.nonhost = 0
        self.pod: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.ns: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.pod_has: dict[str, int] = defaultdict(int)
        self.ns_has: dict[str, int] = defaultdict(int)
        self.ns_name: dict[str, int] = defaultdict(int)
        self.blocks: dict[int, int] = defaultdict(int)
        for c in classes.classes:
            bit = 1 << c.index
            for b in c.ipblocks:
                self.blocks[b] |= bit
            if c.host_network:
                continue
            self.nonhost |= bit
            if c.namespace is not None:
                self.ns_name[c.namespace] |= bit
            for k, v in c.pod_labels.items():
                if v is not None:
                    self.pod[k][v] |= bit
                    self.pod_has[k] |= bit
            for k, v in c.ns_labels.items():
                if v is not None:
                    self.ns[k][v] |= bit
                    self.ns_has[k] |= bit
        self._cache: dict[tuple[bool, LabelSelector], int] = {}

    def select(self, sel: LabelSelector, on_ns: bool) -> int:
        """Non-host classes whose (namespace if ``on_ns``, else pod) labels match ``sel``."""
        ck = (on_ns, sel)
        got = self._cache.get(ck)
        if got is not None:
            return got
        idx, has = (self.ns, self.ns_has) if on_ns else (self.pod, self.pod_has)
        acc = self.nonhost
        for r in sel.requirements:
            if r.op in ("In", "NotIn"):
                vals = idx.get(r.key, {})
                hit = 0
                for v in r.values:
                    hit |= vals.get(v, 0)
                acc &= hit if r.op == "In" else ~hit
            elif r.op == "Exists":
                acc &= has.get(r.key, 0)
            else:
                acc &= ~has.get(r.key, 0)
        acc &= self.nonhost
        self._cache[ck] = acc
        return acc


@dataclass
class ClassMatrix:
    """Allowed source classes per (destination class, port, protocol), policy part only (see module doc)."""

    engine: EngineProfile
    classes: Classes
    cells: dict[tuple[int, int, str], int]
    ingress: dict[tuple[int, int, str], int] = field(default_factory=dict, repr=False)
    egress: dict[tuple[int, int, str], int] = field(default_factory=dict, repr=False)

    def ports_of(self, dst: int) -> list[PortKey]:
        """The (port, protocol) cells of destination class ``dst``, sorted (indexed once, then O(1))."""
        index = self.__dict__.get("_ports_index")
        if index is None:
            index = defaultdict(list)
            for d, p, q in sorted(self.cells):
                index[d].append((p, q))
            self.__dict__["_ports_index"] = index
        return list(index.get(dst, ()))

    def class_allowed(self, src: int, dst: int, port: int, protocol: str) -> bool:
        return bool(self.cells.get((dst, port, protocol), 0) >> src & 1)

    def allowed(self, src: Pod, dst: Pod, port: int, protocol: str) -> bool:
        """One pod-level cell (class verdict plus pair-specific allowances)."""
        s, d = self.classes.of_pod[src.key], self.classes.of_pod[dst.key]
        return self.class_allowed(s, d, port, protocol) or pair_override(src, dst, self.engine) is not None

    def class_rows(self) -> Iterator[tuple[int, int, int, str, bool]]:
        """(src class, dst class, port, protocol, allowed) for every class cell."""
        n = len(self.classes)
        for (d, p, q), bits in sorted(self.cells.items()):
            for s in range(n):
                yield s, d, p, q, bool(bits >> s & 1)

    def expand(self, pods_src: Sequence[Pod] | None = None) -> Iterator[tuple[Pod, Pod, int, str, bool]]:
        """Pod-level cells (src, dst, port, protocol, allowed), destination-major, on demand."""
        classes = self.classes.classes
        srcs = list(pods_src) if pods_src is not None else [m for c in classes for m in c.members]
        src_cls = [(s, self.classes.of_pod[s.key]) for s in srcs]
        for (d, p, q), bits in sorted(self.cells.items()):
            for dst in classes[d].members:
                for src, sc in src_cls:
                    ok = bool(bits >> sc & 1) or pair_override(src, dst, self.engine) is not None
                    yield src, dst, p, q, ok

    def to_dict(self) -> dict[str, Any]:
        cells = []
        for (d, p, q), bits in sorted(self.cells.items()):
            cells.append({"dst_class": d, "port": p, "protocol": q, "allowed_src_classes": list(iter_bits(bits))})
        return {"engine": self.engine.label, "classes": [c.to_dict() for c in self.classes.classes], "cells": cells}


def class_reachability(
    cluster: Cluster, engine: EngineProfile, classes: Classes | None = None, ports: Sequence[PortKey] | None = None,
) -> ClassMatrix:
    """Class matrix for ``engine``. ``classes`` must come from ``compute_classes`` with ``engine`` among its engines.
    Without ``ports`` each destination class is evaluated on the ports it declares."""
    if classes is None:
        classes = compute_classes(cluster, [engine])
    ix = _BitIndex(classes)
    named = resolve_named_ports(cluster, engine)
    cls = classes.classes
    fixed = sorted(set(ports)) if ports is not None else None
    serving: dict[PortKey, int] = defaultdict(int)
    for c in cls:
        for pk in fixed if fixed is not None else c.served:
            serving[pk] |= 1 << c.index

    block_no = {b: i for i, b in enumerate(classes.blocks)}

    def peer_bits(pol: Policy, peer: Peer) -> int:
        if peer.ip_block is not None:
            if not engine.ipblock_matches_cluster_ips:
                return 0
            if peer.ip_block not in block_no:
                raise ValueError("classes were computed without this engine; pass it to compute_classes")
            return ix.blocks.get(block_no[peer.ip_block], 0)
        nsb = ix.ns_name.get(pol.namespace, 0) if peer.namespace_selector is None \
            else ix.select(peer.namespace_selector, True)
        if not nsb:
            return 0
        return nsb & (ix.nonhost if peer.pod_selector is None else ix.select(peer.pod_selector, False))

    rule_cache: dict[tuple[int, int], int] = {}

    def rule_bits(pi: int, pol: Policy, ri: int, rule: Rule) -> int:
        got = rule_cache.get((pi, ri))
        if got is None:
            if rule.peers is None:
                got = ix.all
            else:
                got = 0
                for peer in rule.peers:
                    got |= peer_bits(pol, peer)
            rule_cache[(pi, ri)] = got
        return got

    policies = cluster.policies if engine.enforces else []  # no engine: nothing isolates
    selected = [ix.select(p.pod_selector, False) & ix.ns_name.get(p.namespace, 0) for p in policies]

    # ingress: for each destination class, the ingress policies selecting it
    ing_sel: dict[int, list[int]] = defaultdict(list)
    for pi, pol in enumerate(policies):
        if pol.affects_ingress and selected[pi]:
            for d in iter_bits(selected[pi]):
                ing_sel[d].append(pi)

    # egress: accumulate, per (dst class, port), the source classes some rule lets out
    iso_eg = 0
    glob: dict[PortKey, int] = defaultdict(int)
    acc: dict[tuple[int, int, str], int] = defaultdict(int)
    static_named = engine.named_port_model == "lowest-per-policy"
    for pi, pol in enumerate(policies):
        sel = selected[pi]
        if not pol.affects_egress or not sel:
            continue
        iso_eg |= sel
        for ri, rule in enumerate(pol.egress):
            ri_bits = rule_bits(pi, pol, ri + 100000, rule)
            if not ri_bits:
                continue
            static = rule.ports is None or static_named or not any(isinstance(pp.port, str) for pp in rule.ports)
            for pk, serv in serving.items():
                cand = ri_bits & serv
                if not cand:
                    continue
                if static:
                    if not rule_ports_match(rule, pk[0], pk[1], (), engine, named, pol.key, "egress"):
                        continue
                    if cand == serv:
                        glob[pk] |= sel
                        continue
                    for d in iter_bits(cand):
                        acc[(d, pk[0], pk[1])] |= sel
                else:
                    for d in iter_bits(cand):
                        if rule_ports_match(rule, pk[0], pk[1], cls[d].rep.ports, engine, named, pol.key, "egress"):
                            acc[(d, pk[0], pk[1])] |= sel
    free_eg = ix.all & ~iso_eg

    cells: dict[tuple[int, int, str], int] = {}
    ing_cells: dict[tuple[int, int, str], int] = {}
    eg_cells: dict[tuple[int, int, str], int] = {}
    for c in cls:
        d = c.index
        pols = ing_sel.get(d)
        dst_ports = c.rep.ports
        for pk in fixed if fixed is not None else c.served:
            if not pols:
                ing = ix.all
            else:
                ing = 0
                for pi in pols:
                    pol = policies[pi]
                    for ri, rule in enumerate(pol.ingress):
                        if rule_ports_match(rule, pk[0], pk[1], dst_ports, engine, named, pol.key, "ingress"):
                            ing |= rule_bits(pi, pol, ri, rule)
                            if ing == ix.all:
                                break
            key = (d, pk[0], pk[1])
            eg = free_eg | glob.get(pk, 0) | acc.get(key, 0)
            cells[key] = ing & eg
            ing_cells[key] = ing
            eg_cells[key] = eg
    return ClassMatrix(engine, classes, cells, ing_cells, eg_cells)
