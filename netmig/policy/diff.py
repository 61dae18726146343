"""Connectivity cells whose verdict differs between two engine profiles.

Contract: pure. ``diff_classes`` works on class cells (cheap, scales); ``diff`` returns pod-level cells, expanding
only the class cells that differ plus the pairs whose pair-specific allowances differ (own-node egress). ``diff``
holds every changed cell at once: it is the reference; ``stream.pod_diff_text`` writes the same cells in bounded
memory (what ``policy diff --by pod`` uses). ``Explainer`` names the responsible policies of a changed pair.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from netmig.policy.classes import Classes, ClassMatrix, class_reachability, compute_classes, iter_bits
from netmig.policy.engines import EngineProfile
from netmig.policy.evaluate import Evaluator, is_host, pair_override
from netmig.policy.model import Cluster, Pod


@dataclass(frozen=True)
class ClassDiff:
    """A class cell that differs: allowed under ``a`` is ``before``, under ``b`` is ``after``."""

    src: int
    dst: int
    port: int
    protocol: str
    before: bool
    after: bool


@dataclass(frozen=True)
class DiffCell:
    src: str
    dst: str
    port: int
    protocol: str
    before: bool
    after: bool
    policies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "from": self.before, "to": self.after, "policies": list(self.policies)}


def _pair_allowed(m: ClassMatrix, s: Pod, d: Pod, port: int, proto: str) -> bool:
    return m.class_allowed(m.classes.of_pod[s.key], m.classes.of_pod[d.key], port, proto) or \
        pair_override(s, d, m.engine) is not None


def _pairs(classes: Classes, s: int, d: int) -> Iterator[tuple[Pod, Pod]]:
    for dp in classes.classes[d].members:
        for sp in classes.classes[s].members:
            yield sp, dp


def diff_classes(ma: ClassMatrix, mb: ClassMatrix, real_only: bool = True) -> list[ClassDiff]:
    """Class cells whose policy verdict differs (both matrices over the same ``Classes``). With ``real_only`` a cell
    is kept only if some actual pod pair in it differs once pair-specific allowances are applied."""
    out: list[ClassDiff] = []
    for key, bits_a in ma.cells.items():
        x = bits_a ^ mb.cells.get(key, 0)
        d, port, proto = key
        dcls = ma.classes.classes[d]
        for s in iter_bits(x):
            scls = ma.classes.classes[s]
            if real_only and not scls.host_network and not dcls.host_network:
                if s == d and len(dcls.members) == 1:  # only the self pair, always allowed
                    continue
            elif real_only and not any(
                _pair_allowed(ma, sp, dp, port, proto) != _pair_allowed(mb, sp, dp, port, proto)
                for sp, dp in _pairs(ma.classes, s, d)
            ):
                continue
            out.append(ClassDiff(s, d, port, proto, bool(bits_a >> s & 1), not bits_a >> s & 1))
    out.sort(key=lambda c: (c.src, c.dst, c.port, c.protocol))
    return out


def diff(
    cluster: Cluster, a: EngineProfile, b: EngineProfile, ports: Sequence[tuple[int, str]] | None = None,
    explain: bool = True,
) -> list[DiffCell]:
    """Pod-level cells that change from engine ``a`` to engine ``b``, with the policies responsible."""
    classes = compute_classes(cluster, [a, b])
    ma, mb = class_reachability(cluster, a, classes, ports), class_reachability(cluster, b, classes, ports)
    cand: set[tuple[str, str, int, str]] = set()
    for cd in diff_classes(ma, mb, real_only=False):
        for sp, dp in _pairs(classes, cd.src, cd.dst):
            cand.add((sp.key, dp.key, cd.port, cd.protocol))
    if a.own_node_egress_allowed != b.own_node_egress_allowed:  # pod -> hostNetwork pod on the same node
        by_node: dict[str, list[Pod]] = {}
        for p in cluster.pods:
            if p.node and not p.host_network:
                by_node.setdefault(p.node, []).append(p)
        for dp in cluster.pods:
            if is_host(dp) and dp.node:
                d = classes.of_pod[dp.key]
                for port, proto in ma.ports_of(d):
                    for sp in by_node.get(dp.node, ()):
                        cand.add((sp.key, dp.key, port, proto))
    ev_a, ev_b = (Evaluator(cluster, a), Evaluator(cluster, b)) if explain else (None, None)
    pods = cluster.pod_by_key
    out: list[DiffCell] = []
    for sk, dk, port, proto in sorted(cand):
        sp, dp = pods[sk], pods[dk]
        before, after = _pair_allowed(ma, sp, dp, port, proto), _pair_allowed(mb, sp, dp, port, proto)
        if before == after:
            continue
        policies: tuple[str, ...] = ()
        if ev_a is not None and ev_b is not None:
            va, vb = ev_a.allowed(sp, dp, port, proto), ev_b.allowed(sp, dp, port, proto)
            policies = tuple(dict.fromkeys(va.responsible + vb.responsible))
        out.append(DiffCell(sk, dk, port, proto, before, after, policies))
    return out


class Explainer:
    """The policies responsible for one changed pair (as ``diff`` names them), cached per class pair, port and
    pair-specific allowance: the verdicts' reasons depend on nothing else (see ``classes``)."""

    def __init__(self, cluster: Cluster, a: EngineProfile, b: EngineProfile, classes: Classes) -> None:
        self.ev_a, self.ev_b = Evaluator(cluster, a), Evaluator(cluster, b)
        self.of = classes.of_pod
        self.cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def __call__(self, s: Pod, d: Pod, port: int, proto: str,
                 overrides: tuple[str | None, str | None] | None = None) -> tuple[str, ...]:
        """``overrides``: the pair's ``pair_override`` under the two engines, when the caller has them."""
        oa, ob = overrides or (pair_override(s, d, self.ev_a.engine), pair_override(s, d, self.ev_b.engine))
        key = (self.of[s.key], self.of[d.key], port, proto, oa, ob)
        got = self.cache.get(key)
        if got is None:
            va, vb = self.ev_a.allowed(s, d, port, proto), self.ev_b.allowed(s, d, port, proto)
            got = self.cache[key] = tuple(dict.fromkeys(va.responsible + vb.responsible))
        return got
