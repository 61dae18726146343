"""Typed model of the objects the policy engine reasons about, and ``from_objects`` to build it from plain dicts.

Contract: ``from_objects`` never raises on malformed input. A NetworkPolicy the API server would reject is left out
of ``Cluster.policies`` (it would not exist in a real cluster) and reported in ``Cluster.problems`` with a one-line
reason; malformed Pods/Services/Nodes are reported the same way and skipped. Objects of other kinds are ignored.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from netmig.gcpause import paused_gc
from netmig.policy.identity import bare_identity, workload_id
from netmig.policy.selectors import LabelSelector, SelectorError, parse_selector

PROTOCOLS = ("TCP", "UDP", "SCTP")
NS_NAME_LABEL = "kubernetes.io/metadata.name"
_PORT_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


class PolicyError(ValueError):
    """A NetworkPolicy the API server would reject (message is one line)."""


# --- IP ranges -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IPBlock:
    """``ipBlock``: ``cidr`` minus every ``except`` CIDR. Ranges are (version, first, last) integer triples."""

    cidr: str
    excepts: tuple[str, ...] = ()

    @cached_property
    def _ranges(self) -> tuple[tuple[int, int, int], tuple[tuple[int, int, int], ...]]:
        net = ipaddress.ip_network(self.cidr, strict=False)
        exc = tuple(_net_range(ipaddress.ip_network(e, strict=False)) for e in self.excepts)
        return _net_range(net), exc

    @property
    def range(self) -> tuple[int, int, int]:
        return self._ranges[0]

    @property
    def except_ranges(self) -> tuple[tuple[int, int, int], ...]:
        return self._ranges[1]

    def contains(self, ip: str | None) -> bool:
        key = ip_key(ip)
        if key is None:
            return False
        return range_contains(self.range, key) and not any(range_contains(r, key) for r in self.except_ranges)

    def contains_key(self, key: tuple[int, int] | None) -> bool:
        if key is None:
            return False
        return range_contains(self.range, key) and not any(range_contains(r, key) for r in self.except_ranges)


def _net_range(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int, int]:
    return (net.version, int(net.network_address), int(net.broadcast_address))


def range_contains(r: tuple[int, int, int], key: tuple[int, int]) -> bool:
    return r[0] == key[0] and r[1] <= key[1] <= r[2]


_DOTTED_QUAD = re.compile(r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")


@functools.lru_cache(maxsize=1 << 17)
def ip_key(ip: str | None) -> tuple[int, int] | None:
    """(version, integer) for an IP string; None when absent or unparsable (as ``ipaddress`` reads it; plain
    dotted quads take a fast path, results are cached)."""
    if not ip:
        return None
    m = _DOTTED_QUAD.fullmatch(ip)
    if m is not None:
        a, b, c, d = (int(p) for p in m.groups())
        if a <= 255 and b <= 255 and c <= 255 and d <= 255:
            return (4, a << 24 | b << 16 | c << 8 | d)
        return None
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    return (addr.version, int(addr))


# --- objects ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ContainerPort:
    name: str | None
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Pod:
    """A pod. ``ip`` is status.podIP (may be None); ``node`` is spec.nodeName (may be None); ``workload`` its
    workload identity (``netmig.policy.identity``; empty for pods built by hand: ``identity`` then derives the
    bare-pod identity from the labels)."""

    namespace: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    ip: str | None = field(default=None, compare=False)
    node: str | None = field(default=None, compare=False)
    host_network: bool = field(default=False, compare=False)
    ports: tuple[ContainerPort, ...] = field(default=(), compare=False)
    workload: str = field(default="", compare=False)

    @cached_property
    def key(self) -> str:
        """``namespace/name`` (computed once: the engine looks pods up by key in its inner loops)."""
        return f"{self.namespace}/{self.name}"

    @property
    def identity(self) -> str:
        """The workload identity (owner workload, or the bare pod's labels)."""
        return self.workload or bare_identity(self.namespace, self.labels)

    def served_ports(self) -> tuple[tuple[int, str], ...]:
        """Distinct (port, protocol) the pod declares, sorted."""
        return tuple(sorted({(p.port, p.protocol) for p in self.ports}))


@dataclass(frozen=True)
class Node:
    name: str
    ip: str | None = field(default=None, compare=False)
    labels: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_windows(self) -> bool:
        return self.labels.get("kubernetes.io/os") == "windows" or self.labels.get("beta.kubernetes.io/os") == "windows"

    @property
    def key(self) -> str:
        return f"node/{self.name}"


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str
    protocol: str = "TCP"
    node_port: int | None = None


@dataclass(frozen=True)
class Service:
    namespace: str
    name: str
    type: str = "ClusterIP"
    selector: Mapping[str, str] | None = field(default=None, hash=False, compare=False)
    ports: tuple[ServicePort, ...] = field(default=(), compare=False)
    external_traffic_policy: str | None = field(default=None, compare=False)
    cluster_ip: str | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def is_external(self) -> bool:
        return self.type in ("LoadBalancer", "NodePort")

    @property
    def cluster_etp(self) -> bool:
        """LoadBalancer/NodePort whose externalTrafficPolicy is not Local ("" defaults to Cluster)."""
        return self.is_external and self.external_traffic_policy != "Local"

    def selects(self, pod: Pod) -> bool:
        if not self.selector or pod.namespace != self.namespace:
            return False
        return all(pod.labels.get(k) == v for k, v in self.selector.items())


# --- NetworkPolicy ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyPort:
    """One ``ports`` entry. ``port`` None = every port of ``protocol``; str = named port."""

    protocol: str = "TCP"
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True)
class Peer:
    """One ``from``/``to`` entry: either ``ip_block`` alone, or selectors (missing namespace selector = own ns)."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True)
class Rule:
    """One ingress/egress rule. ``peers`` None = every peer (missing or empty from/to); ``ports`` None = every port."""

    peers: tuple[Peer, ...] | None = None
    ports: tuple[PolicyPort, ...] | None = None


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    pod_selector: LabelSelector = field(default_factory=LabelSelector)
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    affects_ingress: bool = True
    affects_egress: bool = False
    explicit_policy_types: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self) -> Iterable[tuple[str, Rule]]:
        for r in self.ingress:
            yield "ingress", r
        for r in self.egress:
            yield "egress", r

    def all_ports(self) -> Iterable[tuple[str, PolicyPort]]:
        for d, r in self.rules():
            for p in r.ports or ():
                yield d, p

    def all_peers(self) -> Iterable[tuple[str, Peer]]:
        for d, r in self.rules():
            for p in r.peers or ():
                yield d, p

    def selectors(self) -> Iterable[LabelSelector]:
        yield self.pod_selector
        for _, p in self.all_peers():
            if p.pod_selector is not None:
                yield p.pod_selector
            if p.namespace_selector is not None:
                yield p.namespace_selector


@dataclass(frozen=True)
class Problem:
    """An object that could not be used as given (reported as the ``invalid-policy`` finding for policies)."""

    kind: str
    namespace: str | None
    name: str | None
    message: str


@dataclass
class Cluster:
    """Everything the engine needs. Build with ``from_objects``; treat as immutable afterwards (indices are cached)."""

    namespaces: dict[str, Namespace] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def ns_labels(self, ns: str) -> Mapping[str, str]:
        n = self.namespaces.get(ns)
        return n.labels if n else {NS_NAME_LABEL: ns}

    @cached_property
    def policies_by_ns(self) -> dict[str, list[Policy]]:
        out: dict[str, list[Policy]] = {}
        for p in self.policies:
            out.setdefault(p.namespace, []).append(p)
        return out

    @cached_property
    def pods_by_ns(self) -> dict[str, list[Pod]]:
        out: dict[str, list[Pod]] = {}
        for p in self.pods:
            out.setdefault(p.namespace, []).append(p)
        return out

    @cached_property
    def pod_by_key(self) -> dict[str, Pod]:
        return {p.key: p for p in self.pods}

    def node_ip(self, node: str | None) -> str | None:
        n = self.nodes.get(node) if node else None
        return n.ip if n else None


# --- parsing ---------------------------------------------------------------------------------------------------


def _meta(obj: Mapping[str, Any]) -> tuple[str | None, str | None]:
    md = obj.get("metadata")
    if not isinstance(md, Mapping):
        return None, None
    name, ns = md.get("name"), md.get("namespace")
    return (str(ns) if ns else None), (str(name) if name else None)


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    """``metadata.labels``; ``PolicyError`` for a value that is not a string, as the API server rejects it (an
    unquoted ``yes``/``no``/``on``/``off`` or number in YAML reaches it as a boolean or number)."""
    md = obj.get("metadata")
    raw = md.get("labels") if type(md) is dict or isinstance(md, Mapping) else None
    if raw is None:
        return {}
    if type(raw) is not dict and not isinstance(raw, Mapping):
        raise PolicyError("metadata.labels must be a mapping")
    if all(type(v) is str for v in raw.values()):
        return {k if type(k) is str else str(k): v for k, v in raw.items()}
    for k, v in raw.items():
        if not isinstance(v, str):
            what = "a boolean" if isinstance(v, bool) else f"a {type(v).__name__}"
            raise PolicyError(f"metadata.labels.{k} is {what} ({json_text(v)}), not a string; the API server "
                              f"rejects it (unquoted yes/no/on/off/numbers in YAML): quote the value")
    return {str(k): v for k, v in raw.items()}


def json_text(v: Any) -> str:
    """``v`` as JSON would spell it (true, 12, null)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    return "null" if v is None else str(v)


def _int_port(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise PolicyError(f"{what} must be an integer, got {v!r}")
    if not 1 <= v <= 65535:
        raise PolicyError(f"{what} {v} is outside 1-65535")
    return v


def _protocol(v: Any, where: str) -> str:
    if v is None:
        return "TCP"
    if v not in PROTOCOLS:
        raise PolicyError(f"{where}.protocol {v!r} is not one of TCP, UDP, SCTP")
    return str(v)


def _parse_port(raw: Any, where: str) -> PolicyPort:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be a mapping")
    proto = _protocol(raw.get("protocol"), where)
    port_raw, end_raw = raw.get("port"), raw.get("endPort")
    port: int | str | None
    if port_raw is None:
        port = None
    elif isinstance(port_raw, str) and not port_raw.isdigit():
        if len(port_raw) > 15 or not _PORT_NAME_RE.match(port_raw) or not re.search("[a-z]", port_raw):
            raise PolicyError(f"{where}.port {port_raw!r} is not a valid port name (IANA_SVC_NAME)")
        port = port_raw
    else:
        port = _int_port(int(port_raw) if isinstance(port_raw, str) else port_raw, f"{where}.port")
    end: int | None = None
    if end_raw is not None:
        if port is None:
            raise PolicyError(f"{where}.endPort requires port")
        if isinstance(port, str):
            raise PolicyError(f"{where}.endPort may not be used with a named port ({port!r})")
        end = _int_port(end_raw, f"{where}.endPort")
        if end < port:
            raise PolicyError(f"{where}.endPort {end} is lower than port {port}")
    return PolicyPort(proto, port, end)


def _parse_cidr(v: Any, what: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if not isinstance(v, str) or "/" not in v:
        raise PolicyError(f"{what} {v!r} is not a CIDR")
    try:
        return ipaddress.ip_network(v, strict=False)
    except ValueError:
        raise PolicyError(f"{what} {v!r} is not a valid CIDR") from None


def _parse_peer(raw: Any, where: str) -> Peer:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be a mapping")
    has_pod, has_ns, has_ip = (raw.get(k) is not None for k in ("podSelector", "namespaceSelector", "ipBlock"))
    if not (has_pod or has_ns or has_ip):
        raise PolicyError(f"{where} must specify podSelector, namespaceSelector or ipBlock")
    if has_ip:
        if has_pod or has_ns:
            raise PolicyError(f"{where} may not combine ipBlock with podSelector/namespaceSelector")
        ib = raw["ipBlock"]
        if not isinstance(ib, Mapping) or not ib.get("cidr"):
            raise PolicyError(f"{where}.ipBlock.cidr is required")
        net = _parse_cidr(ib["cidr"], f"{where}.ipBlock.cidr")
        excepts = ib.get("except") or []
        if not isinstance(excepts, list):
            raise PolicyError(f"{where}.ipBlock.except must be a list")
        for e in excepts:
            en = _parse_cidr(e, f"{where}.ipBlock.except")
            if en.version != net.version or not en.subnet_of(net):  # type: ignore[arg-type]
                raise PolicyError(f"{where}.ipBlock.except {e} is not inside cidr {ib['cidr']}")
            if en == net:
                raise PolicyError(f"{where}.ipBlock.except {e} must be strictly within cidr {ib['cidr']}")
        return Peer(ip_block=IPBlock(str(ib["cidr"]), tuple(str(e) for e in excepts)))
    try:
        ps = parse_selector(raw.get("podSelector"), f"{where}.podSelector") if has_pod else None
        ns = parse_selector(raw.get("namespaceSelector"), f"{where}.namespaceSelector") if has_ns else None
    except SelectorError as e:
        raise PolicyError(str(e)) from None
    return Peer(pod_selector=ps, namespace_selector=ns)


def _parse_rule(raw: Any, where: str, peer_key: str) -> Rule:
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be a mapping")
    peers_raw, ports_raw = raw.get(peer_key), raw.get("ports")
    if peers_raw is not None and not isinstance(peers_raw, list):
        raise PolicyError(f"{where}.{peer_key} must be a list")
    if ports_raw is not None and not isinstance(ports_raw, list):
        raise PolicyError(f"{where}.ports must be a list")
    peers = tuple(_parse_peer(p, f"{where}.{peer_key}[{i}]") for i, p in enumerate(peers_raw or [])) or None
    ports = tuple(_parse_port(p, f"{where}.ports[{i}]") for i, p in enumerate(ports_raw or [])) or None
    return Rule(peers, ports)


def parse_policy(obj: Mapping[str, Any]) -> Policy:
    """Parse one NetworkPolicy dict; raises ``PolicyError`` with a one-line reason when the API would reject it."""
    ns, name = _meta(obj)
    if not name:
        raise PolicyError("metadata.name is required")
    spec = obj.get("spec")
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise PolicyError("spec must be a mapping")
    try:
        sel = parse_selector(spec.get("podSelector"), "spec.podSelector")
    except SelectorError as e:
        raise PolicyError(str(e)) from None
    ing_raw, eg_raw = spec.get("ingress"), spec.get("egress")
    for key, val in (("ingress", ing_raw), ("egress", eg_raw)):
        if val is not None and not isinstance(val, list):
            raise PolicyError(f"spec.{key} must be a list")
    ingress = tuple(_parse_rule(r, f"spec.ingress[{i}]", "from") for i, r in enumerate(ing_raw or []))
    egress = tuple(_parse_rule(r, f"spec.egress[{i}]", "to") for i, r in enumerate(eg_raw or []))
    types_raw = spec.get("policyTypes")
    explicit: tuple[str, ...] | None = None
    if types_raw:  # omitted or empty -> API server defaulting
        if not isinstance(types_raw, list) or any(t not in ("Ingress", "Egress") for t in types_raw):
            raise PolicyError(f"spec.policyTypes {types_raw!r} may only contain Ingress and Egress")
        explicit = tuple(str(t) for t in types_raw)
        affects_in, affects_eg = "Ingress" in explicit, "Egress" in explicit
    else:
        affects_in, affects_eg = True, bool(egress)
    return Policy(ns or "default", name, sel, ingress, egress, affects_in, affects_eg, explicit)


def _parse_pod(obj: Mapping[str, Any], shared: dict[Any, Any] | None = None) -> Pod:
    """One Pod. ``shared`` (one dict per model build): equal label sets and port lists become one object each, so
    the pods of a workload share them (less memory; the class computation looks each set at once)."""
    ns, name = _meta(obj)
    if not name:
        raise PolicyError("metadata.name is required")
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    if not isinstance(spec, Mapping) or not isinstance(status, Mapping):
        raise PolicyError("spec and status must be mappings")
    raw_ports: list[tuple[str | None, int, str]] = []
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    for c in containers:
        if not isinstance(c, Mapping):
            raise PolicyError("containers entries must be mappings")
        for p in c.get("ports") or []:
            if not isinstance(p, Mapping) or p.get("containerPort") is None:
                raise PolicyError(f"container {c.get('name')!r} has a port without containerPort")
            num = _int_port(p["containerPort"], "containerPort")
            proto = p.get("protocol") or "TCP"
            if proto not in PROTOCOLS:
                raise PolicyError(f"container port protocol {proto!r} is not one of TCP, UDP, SCTP")
            raw_ports.append((p.get("name") or None, num, str(proto)))
    ports_key = ("ports", *raw_ports)
    ports = shared.get(ports_key) if shared is not None else None
    if ports is None:
        ports = tuple(ContainerPort(*rp) for rp in raw_ports)
        if shared is not None:
            shared[ports_key] = ports
    ip = status.get("podIP")
    if ip is not None and ip_key(str(ip)) is None:
        raise PolicyError(f"status.podIP {ip!r} is not an IP address")
    labels = _labels(obj)
    if shared is not None:
        labels = shared.setdefault(("labels", *labels.items()), labels)
    owners = (obj.get("metadata") or {}).get("ownerReferences")
    if owners is not None and (not isinstance(owners, list) or not all(isinstance(o, Mapping) for o in owners)):
        raise PolicyError("metadata.ownerReferences must be a list of mappings")
    return Pod(
        ns or "default", name, labels, str(ip) if ip else None,
        str(spec["nodeName"]) if spec.get("nodeName") else None, bool(spec.get("hostNetwork")), ports,
        workload_id(obj),
    )


def _parse_node(obj: Mapping[str, Any]) -> Node:
    _, name = _meta(obj)
    if not name:
        raise PolicyError("metadata.name is required")
    ip = None
    status = obj.get("status") or {}
    addrs = status.get("addresses") if isinstance(status, Mapping) else None
    for a in addrs or []:
        if isinstance(a, Mapping) and a.get("type") == "InternalIP" and ip_key(str(a.get("address"))):
            ip = str(a["address"])
            break
    return Node(name, ip, _labels(obj))


def _parse_service(obj: Mapping[str, Any]) -> Service:
    ns, name = _meta(obj)
    if not name:
        raise PolicyError("metadata.name is required")
    spec = obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        raise PolicyError("spec must be a mapping")
    ports = []
    for p in spec.get("ports") or []:
        if not isinstance(p, Mapping):
            raise PolicyError("spec.ports entries must be mappings")
        port = _int_port(p.get("port"), "spec.ports[].port")
        tp_raw = p.get("targetPort", port)
        tp: int | str = int(tp_raw) if isinstance(tp_raw, str) and tp_raw.isdigit() else tp_raw
        if isinstance(tp, bool) or not isinstance(tp, int | str):
            raise PolicyError(f"spec.ports[].targetPort {tp_raw!r} must be a number or a name")
        ports.append(ServicePort(port, tp, str(p.get("protocol") or "TCP"), p.get("nodePort")))
    sel = spec.get("selector")
    return Service(
        ns or "default", name, str(spec.get("type") or "ClusterIP"),
        {str(k): str(v) for k, v in sel.items()} if isinstance(sel, Mapping) else None,
        tuple(ports), spec.get("externalTrafficPolicy"), spec.get("clusterIP"),
    )


def flatten(objects: Iterable[Any]) -> list[Mapping[str, Any]]:
    """Expand ``kind: List`` (and ``*List``) items recursively; drop empty documents."""
    return list(iter_flat(objects))


def iter_flat(objects: Iterable[Any]) -> Iterator[Mapping[str, Any]]:
    """``flatten``, one object at a time (``objects`` may be a stream: nothing is kept)."""
    for o in objects:
        if not isinstance(o, Mapping):
            continue
        kind = str(o.get("kind") or "")
        if kind.endswith("List") and isinstance(o.get("items"), list):
            yield from iter_flat(o["items"])
        else:
            yield o


def from_objects(objects: Iterable[Any]) -> Cluster:
    """Build a ``Cluster`` from plain Kubernetes dicts (Namespaces, Pods, Nodes, Services, NetworkPolicies).
    ``objects`` is read once, in order, and not kept: it may be a stream (``netmig.manifests.iter_manifests``)."""
    with paused_gc():  # the model is built of acyclic objects; collecting while building it is wasted work
        return _build(objects)


def _build(objects: Iterable[Any]) -> Cluster:
    c = Cluster()
    declared_ns: dict[str, dict[str, str]] = {}
    shared: dict[Any, Any] = {}
    parsers: dict[str, Callable[[Mapping[str, Any]], Pod | Node | Service | Policy]] = {
        "Pod": functools.partial(_parse_pod, shared=shared), "Node": _parse_node, "Service": _parse_service,
        "NetworkPolicy": parse_policy,
    }
    for obj in iter_flat(objects):
        kind = obj.get("kind")
        if kind == "Namespace":
            _, name = _meta(obj)
            if not name:
                c.problems.append(Problem("Namespace", None, None, "metadata.name is required"))
                continue
            try:
                declared_ns[name] = _labels(obj)
            except PolicyError as e:  # the namespace exists in the dump; its bad labels are reported, not used
                c.problems.append(Problem("Namespace", None, name, str(e)))
                declared_ns[name] = {}
            continue
        parser = parsers.get(str(kind))
        if parser is None:
            continue
        try:
            parsed = parser(obj)
        except (PolicyError, ValueError, TypeError, AttributeError, KeyError) as e:
            ns, name = _meta(obj)
            c.problems.append(Problem(str(kind), ns or ("default" if kind != "Node" else None), name, str(e)))
            continue
        if isinstance(parsed, Pod):
            c.pods.append(parsed)
        elif isinstance(parsed, Node):
            c.nodes[parsed.name] = parsed
        elif isinstance(parsed, Service):
            c.services.append(parsed)
        elif isinstance(parsed, Policy):
            c.policies.append(parsed)
    names = set(declared_ns) | {p.namespace for p in c.pods} | {p.namespace for p in c.policies}
    names |= {s.namespace for s in c.services}
    for n in sorted(names):
        labels = dict(declared_ns.get(n, {}))
        labels[NS_NAME_LABEL] = n  # set by the API server on every namespace
        c.namespaces[n] = Namespace(n, labels)
    return c


def build_cluster(
    namespaces: Iterable[Namespace] = (), pods: Iterable[Pod] = (), nodes: Iterable[Node] = (),
    services: Iterable[Service] = (), policies: Iterable[Policy] = (),
) -> Cluster:
    """Assemble a ``Cluster`` from already-typed objects (tests, generators); adds implied namespaces."""
    c = Cluster(pods=list(pods), nodes={n.name: n for n in nodes}, services=list(services), policies=list(policies))
    declared = {n.name: n for n in namespaces}
    names = set(declared) | {p.namespace for p in c.pods} | {p.namespace for p in c.policies}
    for n in sorted(names):
        labels = dict(declared[n].labels) if n in declared else {}
        labels[NS_NAME_LABEL] = n
        c.namespaces[n] = Namespace(n, labels)
    return c
