"""Per-pair evaluation: is traffic ``src -> dst`` on ``port/protocol`` allowed under an engine, and why.

Contract: pure. ``Evaluator(cluster, engine).allowed(src, dst, port, protocol)`` returns a ``Verdict`` naming the
policies that isolated / allowed each direction. Endpoints are ``Pod``, ``Node`` (the node's own address) or
``External(ip)``. ``port=None`` asks about *every* port of ``protocol`` (only rules without a port restriction, or
protocol-only ports, grant that). ``via`` names a Service the traffic arrives through (LoadBalancer/NodePort).
This is the reference ("naive") evaluator; ``classes`` must agree with it cell for cell.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netmig.policy.engines import EngineProfile
from netmig.policy.model import Cluster, ContainerPort, Node, Peer, Pod, Policy, PolicyPort, Rule, Service


@dataclass(frozen=True)
class External:
    """An address outside the cluster (for ipBlock rules)."""

    ip: str

    @property
    def key(self) -> str:
        return f"external/{self.ip}"


Endpoint = Pod | Node | External


@dataclass(frozen=True)
class DirectionVerdict:
    """One direction. ``note``: ``not-isolated``, ``allowed-by-policy``, ``denied``, ``not-policed`` (host/external),
    ``own-node``, ``service-bypass``, ``self``, ``node-local``."""

    allowed: bool
    note: str
    selecting: tuple[str, ...] = ()
    allowing: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "note": self.note, "selecting": list(self.selecting),
                "allowing": list(self.allowing)}


@dataclass(frozen=True)
class Verdict:
    """egress(src) AND ingress(dst). ``responsible`` lists the policies that decided the outcome."""

    allowed: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict
    engine: str = ""

    @property
    def responsible(self) -> tuple[str, ...]:
        out: list[str] = []
        for d in (self.egress, self.ingress):
            if self.allowed:
                out.extend(d.allowing)
            elif not d.allowed:
                out.extend(d.selecting)
        return tuple(dict.fromkeys(out))

    def to_dict(self) -> dict[str, Any]:
        return {"allowed": self.allowed, "engine": self.engine, "egress": self.egress.to_dict(),
                "ingress": self.ingress.to_dict(), "responsible": list(self.responsible)}


_FREE = DirectionVerdict(True, "not-isolated")

# --- shared primitives (also used by the class computation) ----------------------------------------------------

NamedPortTable = Mapping[tuple[str, str, str, str], int]  # (policy key, direction, name, protocol) -> number


def resolve_named_ports(cluster: Cluster, engine: EngineProfile) -> dict[tuple[str, str, str, str], int]:
    """For ``lowest-per-policy`` engines: the single number each policy's named port resolves to (see engines).
    Computed once per cluster and engine (the cluster is immutable once built); callers must not modify it."""
    if engine.named_port_model != "lowest-per-policy":
        return {}
    cache = cluster.__dict__.setdefault("_named_ports", {})
    got = cache.get(engine)
    if got is None:
        got = cache[engine] = _resolve_named_ports(cluster)
    return got


def _resolve_named_ports(cluster: Cluster) -> dict[tuple[str, str, str, str], int]:
    cluster_wide: dict[tuple[str, str], int] = {}
    for pod in cluster.pods:
        if pod.host_network:
            continue
        for cp in pod.ports:
            if cp.name:
                k = (cp.name, cp.protocol)
                cluster_wide[k] = min(cp.port, cluster_wide.get(k, cp.port))
    out: dict[tuple[str, str, str, str], int] = {}
    for pol in cluster.policies:
        named = {(d, p.port, p.protocol) for d, p in pol.all_ports() if isinstance(p.port, str)}
        if not named:
            continue
        selected = [p for p in cluster.pods_by_ns.get(pol.namespace, ()) if selects(cluster, pol, p)]
        for d, name, proto in named:
            assert isinstance(name, str)
            if d == "egress":
                num = cluster_wide.get((name, proto))
            else:
                nums = [cp.port for p in selected for cp in p.ports if cp.name == name and cp.protocol == proto]
                num = min(nums) if nums else None
            if num is not None:
                out[(pol.key, d, name, proto)] = num
    return out


def selects(cluster: Cluster, policy: Policy, pod: Pod) -> bool:
    """Whether ``policy`` selects ``pod`` (same namespace, podSelector matches; hostNetwork pods never)."""
    return not pod.host_network and pod.namespace == policy.namespace and policy.pod_selector.matches(pod.labels)


def port_matches(
    pp: PolicyPort, port: int | None, protocol: str, dst_ports: Sequence[ContainerPort], engine: EngineProfile,
    named: NamedPortTable, policy_key: str, direction: str,
) -> bool:
    """Whether one ``ports`` entry admits ``port/protocol`` at a destination declaring ``dst_ports``."""
    if pp.protocol != protocol:
        return False
    if pp.port is None:
        return True
    if port is None:
        return False
    if isinstance(pp.port, str):
        if engine.named_port_model == "lowest-per-policy":
            return named.get((policy_key, direction, pp.port, protocol)) == port
        return any(cp.name == pp.port and cp.protocol == protocol and cp.port == port for cp in dst_ports)
    if pp.end_port is not None and engine.endport_supported:
        return pp.port <= port <= pp.end_port
    return pp.port == port


def rule_ports_match(
    rule: Rule, port: int | None, protocol: str, dst_ports: Sequence[ContainerPort], engine: EngineProfile,
    named: NamedPortTable, policy_key: str, direction: str,
) -> bool:
    if rule.ports is None:
        return True
    return any(port_matches(pp, port, protocol, dst_ports, engine, named, policy_key, direction) for pp in rule.ports)


def is_host(ep: Endpoint) -> bool:
    """Node-like endpoints: nodes and hostNetwork pods."""
    return isinstance(ep, Node) or (isinstance(ep, Pod) and ep.host_network)


def endpoint_ip(cluster: Cluster, ep: Endpoint) -> str | None:
    """The address policy sees: pod IP, node IP for nodes and hostNetwork pods (pod IP if the node is unknown)."""
    if isinstance(ep, External):
        return ep.ip
    if isinstance(ep, Node):
        return ep.ip
    if ep.host_network:
        return cluster.node_ip(ep.node) or ep.ip
    return ep.ip


def endpoint_node(ep: Endpoint) -> str | None:
    if isinstance(ep, Node):
        return ep.name
    if isinstance(ep, Pod):
        return ep.node
    return None


# --- the evaluator ---------------------------------------------------------------------------------------------


@dataclass
class Evaluator:
    """Per-pair evaluator bound to one cluster and engine (builds the named-port table once)."""

    cluster: Cluster
    engine: EngineProfile
    named: dict[tuple[str, str, str, str], int] = field(init=False)

    def __post_init__(self) -> None:
        self.named = resolve_named_ports(self.cluster, self.engine)

    def peer_matches(self, policy: Policy, peer: Peer, ep: Endpoint) -> bool:
        if peer.ip_block is not None:
            if not isinstance(ep, External) and not self.engine.ipblock_matches_cluster_ips:
                return False
            return peer.ip_block.contains(endpoint_ip(self.cluster, ep))
        if not isinstance(ep, Pod) or ep.host_network:
            return False
        if peer.namespace_selector is None:
            if ep.namespace != policy.namespace:
                return False
        elif not peer.namespace_selector.matches(self.cluster.ns_labels(ep.namespace)):
            return False
        return peer.pod_selector is None or peer.pod_selector.matches(ep.labels)

    def _rule_matches(
        self, policy: Policy, rule: Rule, direction: str, peer: Endpoint, port: int | None, protocol: str,
        dst_ports: Sequence[ContainerPort],
    ) -> bool:
        if rule.peers is not None and not any(self.peer_matches(policy, p, peer) for p in rule.peers):
            return False
        return rule_ports_match(rule, port, protocol, dst_ports, self.engine, self.named, policy.key, direction)

    def _direction(
        self, direction: str, subject: Pod, peer: Endpoint, port: int | None, protocol: str,
        dst_ports: Sequence[ContainerPort],
    ) -> DirectionVerdict:
        if not self.engine.enforces:
            return _FREE
        selecting: list[str] = []
        allowing: list[str] = []
        for pol in self.cluster.policies_by_ns.get(subject.namespace, ()):
            applies = pol.affects_ingress if direction == "ingress" else pol.affects_egress
            if not applies or not selects(self.cluster, pol, subject):
                continue
            selecting.append(pol.key)
            rules = pol.ingress if direction == "ingress" else pol.egress
            if any(self._rule_matches(pol, r, direction, peer, port, protocol, dst_ports) for r in rules):
                allowing.append(pol.key)
        if not selecting:
            return _FREE
        return DirectionVerdict(bool(allowing), "allowed-by-policy" if allowing else "denied",
                                tuple(selecting), tuple(allowing))

    def egress(self, src: Endpoint, dst: Endpoint, port: int | None, protocol: str,
               pair_overrides: bool = True) -> DirectionVerdict:
        if not isinstance(src, Pod) or src.host_network:
            return DirectionVerdict(True, "not-policed")
        if (pair_overrides and self.engine.own_node_egress_allowed and is_host(dst)
                and src.node is not None and endpoint_node(dst) == src.node):
            return DirectionVerdict(True, "own-node")
        dst_ports = dst.ports if isinstance(dst, Pod) else ()
        return self._direction("egress", src, dst, port, protocol, dst_ports)

    def ingress(self, src: Endpoint, dst: Endpoint, port: int | None, protocol: str,
                via: Service | None = None) -> DirectionVerdict:
        if not isinstance(dst, Pod) or dst.host_network:
            return DirectionVerdict(True, "not-policed")
        v = self._direction("ingress", dst, src, port, protocol, dst.ports)
        if (not v.allowed and via is not None and via.cluster_etp and self.engine.lb_cluster_etp_bypasses_ingress
                and via.selects(dst)):
            return DirectionVerdict(True, "service-bypass", v.selecting, ())
        return v

    def allowed(
        self, src: Endpoint, dst: Endpoint, port: int | None, protocol: str = "TCP", via: Service | None = None,
        pair_overrides: bool = True,
    ) -> Verdict:
        """The verdict for one cell. ``pair_overrides=False`` skips self / node-local / own-node allowances (the
        part that depends on the particular pair rather than on its equivalence classes)."""
        if pair_overrides:
            note = pair_override(src, dst, self.engine)
            if note:
                d = DirectionVerdict(True, note)
                return Verdict(True, d, d, self.engine.label)
        e = self.egress(src, dst, port, protocol, pair_overrides)
        i = self.ingress(src, dst, port, protocol, via)
        return Verdict(e.allowed and i.allowed, e, i, self.engine.label)


def pair_override(src: Endpoint, dst: Endpoint, engine: EngineProfile) -> str | None:
    """Allowances that depend on the pair itself: self traffic, node-local traffic, own-node egress (npm)."""
    if isinstance(src, Pod) and isinstance(dst, Pod) and src.key == dst.key and engine.self_traffic_allowed:
        return "self"
    dnode = endpoint_node(dst)
    if is_host(src) and isinstance(dst, Pod) and dnode is not None and endpoint_node(src) == dnode:
        return "node-local"
    if (engine.own_node_egress_allowed and isinstance(src, Pod) and not src.host_network and is_host(dst)
            and src.node is not None and dnode == src.node):
        return "own-node"
    return None


def allowed(
    cluster: Cluster, src: Endpoint, dst: Endpoint, port: int | None, protocol: str, engine: EngineProfile,
    via: Service | None = None,
) -> Verdict:
    """Convenience: one-off ``Evaluator(cluster, engine).allowed(...)``."""
    return Evaluator(cluster, engine).allowed(src, dst, port, protocol, via)


def naive_matrix(
    cluster: Cluster, engine: EngineProfile, ports: Iterable[tuple[int, str]] | None = None,
) -> dict[tuple[str, str, int, str], bool]:
    """Every (src pod, dst pod, port, protocol) -> allowed, pair by pair (the reference for tests and the bench).
    Without ``ports``: each destination's declared ports."""
    ev = Evaluator(cluster, engine)
    fixed = sorted(set(ports)) if ports is not None else None
    out: dict[tuple[str, str, int, str], bool] = {}
    for dst in cluster.pods:
        for port, proto in fixed if fixed is not None else dst.served_ports():
            for src in cluster.pods:
                out[(src.key, dst.key, port, proto)] = ev.allowed(src, dst, port, proto).allowed
    return out


def open_to_all(ev: Evaluator, dst: Pod, port: int | None, protocol: str) -> DirectionVerdict:
    """Whether ``dst`` accepts ``port/protocol`` from *every* client (no ingress isolation, or a selecting policy
    has a rule without peers that admits the port). ``allowing`` names the policies that open it."""
    if dst.host_network:
        return DirectionVerdict(True, "not-policed")
    if not ev.engine.enforces:
        return _FREE
    selecting, allowing = [], []
    for pol in ev.cluster.policies_by_ns.get(dst.namespace, ()):
        if not pol.affects_ingress or not selects(ev.cluster, pol, dst):
            continue
        selecting.append(pol.key)
        if any(r.peers is None and rule_ports_match(r, port, protocol, dst.ports, ev.engine, ev.named, pol.key,
                                                    "ingress") for r in pol.ingress):
            allowing.append(pol.key)
    if not selecting:
        return _FREE
    return DirectionVerdict(bool(allowing), "allowed-by-policy" if allowing else "denied", tuple(selecting),
                            tuple(allowing))
