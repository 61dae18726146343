"""The simulated dataplane: decides what one connection attempt in the sandbox cluster does.

This is an INDEPENDENT, deliberately straightforward per-packet evaluator of Kubernetes NetworkPolicy with the
quirks of the AKS policy engines. It must never import ``netmig.policy``: it is the "real cluster" against which
the product's predictions are checked.

Public API (call on the sandbox loop thread):
- ``decide(ctx, src_pod, dst_ip, port, protocol) -> "open" | "refused" | "timeout" | "error"``
- ``decide_from_node(ctx, node_name, dst_ip, port, protocol)``: traffic from a node itself (host network).
- ``decide_external(ctx, dst_service, port, protocol="TCP", client_ip="203.0.113.10")``: traffic from outside the
  cluster to a LoadBalancer (service port) or NodePort (node port) Service; ``dst_service`` is a Service dict,
  ``"ns/name"`` or ``(ns, name)``.

Routing (modelling choices):
- A destination that is a Service virtual IP (clusterIP or a load-balancer ingress IP, which kube-proxy
  short-circuits in-cluster) with a matching port/protocol is DNAT'd to the ready endpoint pod that sorts first by
  pod name (deterministic), at the endpoint's resolved target port; policies are evaluated against that pod and
  port. Matching Service but no ready endpoint -> ``refused`` (kube-proxy REJECT). VIP without that port ->
  ``timeout``. ``node IP:nodePort`` behaves like the Service's VIP.
- A node IP (not a node port) is the node's host network: only host-network pods on that node listen there and
  ingress is never policed there (hostNetwork is unpoliced).
- A pod IP reaches that pod while it is Running; unknown IPs (external, deleted pods) -> ``timeout`` (no route).
- ``error``: the source has no IP yet, or the protocol is not TCP/UDP/SCTP.

Policy (per packet, both directions must allow):
- Egress is enforced by the engine on the SOURCE pod's node, ingress by the engine on the DESTINATION pod's node,
  read from the node label ``kubernetes.azure.com/network-policy``: ``azure`` (NPM), ``calico``, ``cilium``;
  anything else/absent = ``none``, UNLESS a self-managed Calico runs there: a Ready, Running ``calico-node`` pod
  (namespace ``calico-system``, label ``k8s-app=calico-node``) on the node makes it enforce Calico semantics even
  though AKS (and so the label) says ``none`` -- the state after Tigera's migration to self-managed Calico.
  Otherwise no enforcement on that side.
- Standard semantics: a pod is isolated for a direction iff some policy in its namespace selects it
  (``podSelector``, ``{}`` = all) and has that policy type; ``policyTypes`` absent -> Ingress, plus Egress iff
  ``egress`` is a non-empty list (the API server's defaulting). Rules are ORed, peers in a rule ORed,
  ``namespaceSelector`` + ``podSelector`` in one peer ANDed; missing ``from``/``to`` or empty list -> every peer
  (including external); missing/empty ``ports`` -> every port; ``protocol`` defaults to TCP and SCTP/UDP/TCP are
  distinct; a port entry with only ``protocol`` -> every port of it; ``endPort`` is an inclusive range; a named
  port resolves on the destination pod by name AND protocol; namespaces match by their labels
  (``kubernetes.io/metadata.name`` always set); ``NotIn``/``DoesNotExist`` match objects lacking the key;
  ``ipBlock`` with ``except``. A peer with no selector and no ipBlock (invalid in the API) matches nothing.
- Always allowed: traffic from a pod to itself, traffic from a node (or its host-network pods) to pods on that
  same node; host-network pods are never policed (their egress is not checked, ingress to them is not checked).
- Engine differences:
  - azure (NPM): ipBlock matches any IP incl. pod and node IPs; egress from a pod to its own node's IP is
    implicitly allowed; traffic arriving through a LoadBalancer/NodePort with externalTrafficPolicy Cluster
    bypasses ingress policy.
  - cilium: ipBlock never matches a pod IP or a node IP (even 0.0.0.0/0); no implicit own-node egress; LB
    eTP=Cluster traffic is subject to ingress policy with the client IP; ``endPort`` honoured only when the
    scenario's ``cilium_version`` is >= 1.17 (default 1.17; with "1.16" only ``port`` itself is allowed);
    a named port in an INGRESS rule resolves to the LOWEST number among the pods selected by that policy that
    define the name (cilium issue #30003), so selected pods using another number are denied. Named ports in
    egress rules resolve per destination pod.
  - calico: the spec; external LB/NodePort traffic is evaluated with the client IP (simplification: real
    kube-proxy may SNAT eTP=Cluster traffic to a node IP).
  - externalTrafficPolicy Local: ingress applies with the client IP preserved on every engine.
- Outcome: denied -> ``timeout`` (every engine drops); allowed and something listens on the destination
  port/protocol -> ``open``; allowed and nothing listens -> ``refused`` for TCP and SCTP (RST / ABORT),
  ``timeout`` for UDP (no reply).
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from netmig_sandbox.sim import agnhost, topology
from netmig_sandbox.sim.index import ClusterIndex, is_host_network, meta_key, node_ip, pod_ready

if TYPE_CHECKING:
    from netmig_sandbox.context import SandboxContext

Obj = dict[str, Any]
Outcome = Literal["open", "refused", "timeout", "error"]
PROTOCOLS = ("TCP", "UDP", "SCTP")
EXTERNAL_CLIENT_IP = "203.0.113.10"
ENGINES = ("azure", "calico", "cilium")


@dataclass(frozen=True)
class End:
    """One end of a connection as the policy engines see it."""

    ip: str
    pod: Obj | None  # a policed (non host-network) pod, else None
    node: str | None  # the node it sits on; None for external addresses


# ------------------------------------------------------------------ context helpers
def view(ctx: SandboxContext) -> ClusterIndex:
    """The kubelet simulator's live index, or a fresh one built from the store when it is not installed."""
    k = ctx.services.get("kubelet")
    idx = getattr(k, "index", None)
    if isinstance(idx, ClusterIndex):
        return idx
    return ClusterIndex.from_store(ctx.store)


def dns_service_ip(ctx: SandboxContext) -> str:
    profile = (ctx.scenario.get("cluster") or {}).get("network_profile") or {}
    return str(profile.get("dnsServiceIP") or "10.0.0.10")


def cilium_version(ctx: SandboxContext) -> tuple[int, int]:
    raw = str(ctx.scenario.get("cilium_version") or "1.17")
    parts = raw.lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        return (1, 17)


def engine_of_node(idx: ClusterIndex, node_name: str | None) -> str:
    node = idx.nodes.get(node_name or "")
    if node is None:
        return "none"
    label = ((node.get("metadata") or {}).get("labels") or {}).get(topology.LABEL_POLICY, "none")
    if label in ENGINES:
        return label
    return "calico" if self_managed_calico(idx, node_name or "") else "none"


def self_managed_calico(idx: ClusterIndex, node_name: str) -> bool:
    """A Ready, Running calico-node pod (calico-system, k8s-app=calico-node) on the node."""
    for k in idx.pods_by_node.get(node_name, ()):
        if k[0] != "calico-system":
            continue
        pod = idx.pods.get(k)
        if pod is None:
            continue
        meta = pod.get("metadata") or {}
        if ((meta.get("labels") or {}).get("k8s-app") == "calico-node" and not meta.get("deletionTimestamp")
                and (pod.get("status") or {}).get("phase") == "Running" and pod_ready(pod)):
            return True
    return False


# ------------------------------------------------------------------ selectors
def selector_matches(sel: Obj | None, labels: dict[str, str]) -> bool:
    """A metav1.LabelSelector against labels (None or {} matches everything)."""
    if not sel:
        return True
    for k, v in (sel.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in sel.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In":
            ok = present and labels[key] in values
        elif op == "NotIn":
            ok = not present or labels[key] not in values
        elif op == "Exists":
            ok = present
        elif op == "DoesNotExist":
            ok = not present
        else:
            ok = False
        if not ok:
            return False
    return True


@functools.lru_cache(maxsize=4096)
def _net(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return None


def _in_cidr(ip: str, cidr: str) -> bool:
    net = _net(cidr)
    if net is None:
        return False
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return addr.version == net.version and addr in net


# ------------------------------------------------------------------ policy evaluation
def policy_types(policy: Obj) -> list[str]:
    spec = policy.get("spec") or {}
    types = spec.get("policyTypes")
    if types:
        return list(types)
    out = ["Ingress"]
    if spec.get("egress"):
        out.append("Egress")
    return out


def _labels(obj: Obj) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _policies_selecting(idx: ClusterIndex, pod: Obj, ptype: str) -> list[Obj]:
    ns = (pod.get("metadata") or {}).get("namespace") or ""
    labels = _labels(pod)
    return [
        p for _, p in sorted(idx.policies_by_ns.get(ns, {}).items())
        if ptype in policy_types(p) and selector_matches((p.get("spec") or {}).get("podSelector"), labels)
    ]


def _peer_matches(idx: ClusterIndex, engine: str, policy_ns: str, peer: Obj, remote: End) -> bool:
    block = peer.get("ipBlock")
    if block is not None:
        if engine == "cilium" and (remote.pod is not None or remote.ip in idx.pod_by_ip
                                   or remote.ip in idx.node_by_ip):
            return False
        if not _in_cidr(remote.ip, str(block.get("cidr", ""))):
            return False
        return not any(_in_cidr(remote.ip, str(e)) for e in block.get("except") or [])
    ns_sel, pod_sel = peer.get("namespaceSelector"), peer.get("podSelector")
    if ns_sel is None and pod_sel is None:
        return False
    if remote.pod is None:
        return False
    rns = (remote.pod.get("metadata") or {}).get("namespace") or ""
    if ns_sel is not None:
        if not selector_matches(ns_sel, idx.ns_labels(rns)):
            return False
    elif rns != policy_ns:
        return False
    return pod_sel is None or selector_matches(pod_sel, _labels(remote.pod))


def named_port(pod: Obj | None, name: str, protocol: str) -> int | None:
    """The containerPort named ``name`` with ``protocol`` on ``pod`` (first container declaring it)."""
    if pod is None:
        return None
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == name and (p.get("protocol") or "TCP").upper() == protocol:
                return int(p["containerPort"])
    return None


def _cilium_named_port(idx: ClusterIndex, policy: Obj, name: str, protocol: str) -> int | None:
    ns = (policy.get("metadata") or {}).get("namespace") or ""
    sel = (policy.get("spec") or {}).get("podSelector")
    nums = []
    for k in idx.pods_by_ns.get(ns, ()):
        pod = idx.pods[k]
        if selector_matches(sel, _labels(pod)):
            n = named_port(pod, name, protocol)
            if n is not None:
                nums.append(n)
    return min(nums) if nums else None


def _ports_match(ctx: SandboxContext, idx: ClusterIndex, engine: str, policy: Obj, direction: str,
                 ports: list[Obj] | None, dst_pod: Obj | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for p in ports:
        if (p.get("protocol") or "TCP").upper() != protocol:
            continue
        value = p.get("port")
        if value is None:
            return True
        if isinstance(value, str) and not value.isdigit():
            if engine == "cilium" and direction == "ingress":
                num = _cilium_named_port(idx, policy, value, protocol)
            else:
                num = named_port(dst_pod, value, protocol)
            if num is not None and num == port:
                return True
            continue
        num = int(value)
        end = p.get("endPort")
        if end is not None and not (engine == "cilium" and cilium_version(ctx) < (1, 17)):
            if num <= port <= int(end):
                return True
        elif port == num:
            return True
    return False


def _direction_allows(ctx: SandboxContext, idx: ClusterIndex, engine: str, local: Obj, direction: str,
                      remote: End, dst_pod: Obj | None, port: int, protocol: str) -> bool:
    ptype = "Ingress" if direction == "ingress" else "Egress"
    policies = _policies_selecting(idx, local, ptype)
    if not policies:
        return True
    peers_key = "from" if direction == "ingress" else "to"
    for pol in policies:
        pns = (pol.get("metadata") or {}).get("namespace") or ""
        for rule in (pol.get("spec") or {}).get(direction) or []:
            rule = rule or {}
            peers = rule.get(peers_key)
            if peers and not any(_peer_matches(idx, engine, pns, peer or {}, remote) for peer in peers):
                continue
            if _ports_match(ctx, idx, engine, pol, direction, rule.get("ports"), dst_pod, port, protocol):
                return True
    return False


# ------------------------------------------------------------------ delivery
def _pod_listens(pod: Obj, port: int, protocol: str) -> bool:
    if (pod.get("status") or {}).get("phase") != "Running":
        return False
    running = {
        cs.get("name") for cs in (pod.get("status") or {}).get("containerStatuses") or []
        if "running" in (cs.get("state") or {})
    }
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") in running and (port, protocol) in agnhost.listening(c):
            return True
    return False


def _node_listens(idx: ClusterIndex, node: str, port: int, protocol: str) -> bool:
    for k in idx.pods_by_node.get(node, ()):
        pod = idx.pods[k]
        if is_host_network(pod) and _pod_listens(pod, port, protocol):
            return True
    return False


def _deliver(ctx: SandboxContext, idx: ClusterIndex, src: End, dst: End, port: int, protocol: str,
             *, bypass_ingress: bool = False) -> Outcome:
    same_pod = (src.pod is not None and dst.pod is not None
                and (src.pod.get("metadata") or {}).get("uid") == (dst.pod.get("metadata") or {}).get("uid"))
    if not same_pod:
        if src.pod is not None:
            engine = engine_of_node(idx, src.node)
            own_node = engine == "azure" and dst.ip == idx.node_ip_of(src.node)
            if engine != "none" and not own_node and not _direction_allows(
                    ctx, idx, engine, src.pod, "egress", dst, dst.pod, port, protocol):
                return "timeout"
        if dst.pod is not None and not bypass_ingress:
            node_local = src.pod is None and src.node is not None and src.node == dst.node
            engine = engine_of_node(idx, dst.node)
            if not node_local and engine != "none" and not _direction_allows(
                    ctx, idx, engine, dst.pod, "ingress", src, dst.pod, port, protocol):
                return "timeout"
    if dst.pod is not None:
        listens = _pod_listens(dst.pod, port, protocol)
    elif dst.node is not None:
        listens = _node_listens(idx, dst.node, port, protocol)
    else:
        return "timeout"
    if listens:
        return "open"
    return "timeout" if protocol == "UDP" else "refused"


def _pod_end(idx: ClusterIndex, pod: Obj) -> End:
    node = (pod.get("spec") or {}).get("nodeName")
    if is_host_network(pod):
        return End(idx.node_ip_of(node) or "", None, node)
    return End((pod.get("status") or {}).get("podIP") or "", pod, node)


def _service_port(svc: Obj, port: int, protocol: str, *, node_port: bool) -> Obj | None:
    for sp in (svc.get("spec") or {}).get("ports") or []:
        if (sp.get("protocol") or "TCP").upper() != protocol:
            continue
        if (int(sp.get("nodePort") or 0) if node_port else int(sp.get("port") or 0)) == port:
            return dict(sp)
    return None


def _endpoint(idx: ClusterIndex, svc: Obj, sp: Obj) -> tuple[Obj, int] | None:
    """The ready endpoint pod sorting first by name, and its port for service port ``sp``."""
    ep = idx.endpoints.get(meta_key(svc))
    best: tuple[str, Obj, int] | None = None
    for subset in (ep or {}).get("subsets") or []:
        ports = subset.get("ports") or []
        number = None
        for p in ports:
            if (p.get("name") or "") == (sp.get("name") or "") or len(ports) == 1:
                number = int(p["port"])
                break
        if number is None:
            continue
        for addr in subset.get("addresses") or []:
            ref = addr.get("targetRef") or {}
            pod = idx.pods.get((ref.get("namespace") or "", ref.get("name") or ""))
            if pod is None or not pod_ready(pod):
                continue
            name = ref.get("name") or ""
            if best is None or name < best[0]:
                best = (name, pod, number)
    return (best[1], best[2]) if best else None


def _via_service(ctx: SandboxContext, idx: ClusterIndex, src: End, svc: Obj, sp: Obj | None,
                 protocol: str) -> Outcome:
    if sp is None:
        return "timeout"
    target = _endpoint(idx, svc, sp)
    if target is None:
        return "refused"
    pod, number = target
    return _deliver(ctx, idx, src, _pod_end(idx, pod), number, protocol)


def _route(ctx: SandboxContext, idx: ClusterIndex, src: End, dst_ip: str, port: int, protocol: str) -> Outcome:
    svc_key = idx.service_by_ip.get(dst_ip)
    if svc_key is not None and svc_key in idx.services:
        svc = idx.services[svc_key]
        return _via_service(ctx, idx, src, svc, _service_port(svc, port, protocol, node_port=False), protocol)
    node_name = idx.node_by_ip.get(dst_ip)
    if node_name is not None:
        np_key = idx.service_by_nodeport.get((port, protocol))
        if np_key is not None and np_key in idx.services:
            svc = idx.services[np_key]
            return _via_service(ctx, idx, src, svc, _service_port(svc, port, protocol, node_port=True), protocol)
        return _deliver(ctx, idx, src, End(dst_ip, None, node_name), port, protocol)
    pod_key = idx.pod_by_ip.get(dst_ip)
    if pod_key is not None:
        pod = idx.pods.get(pod_key)
        if pod is None or (pod.get("status") or {}).get("phase") != "Running":
            return "timeout"
        return _deliver(ctx, idx, src, _pod_end(idx, pod), port, protocol)
    if src.pod is not None:  # external or unknown: nothing answers in the sandbox
        return "timeout"
    return "timeout"


# ------------------------------------------------------------------ public API
def decide(ctx: SandboxContext, src_pod: Obj, dst_ip: str, port: int, protocol: str) -> Outcome:
    """The outcome of a connection from ``src_pod`` to ``dst_ip:port`` now; see the module docstring."""
    protocol = protocol.upper()
    if protocol not in PROTOCOLS:
        return "error"
    idx = view(ctx)
    current = idx.pods.get(meta_key(src_pod), src_pod)
    src = _pod_end(idx, current)
    if not src.ip:
        return "error"
    return _route(ctx, idx, src, dst_ip, int(port), protocol)


def decide_from_node(ctx: SandboxContext, node_name: str, dst_ip: str, port: int, protocol: str) -> Outcome:
    """A connection from node ``node_name``'s host network (kubelet, host-network pods)."""
    protocol = protocol.upper()
    if protocol not in PROTOCOLS:
        return "error"
    idx = view(ctx)
    node = idx.nodes.get(node_name)
    ip = node_ip(node) if node is not None else None
    if not ip:
        return "error"
    return _route(ctx, idx, End(ip, None, node_name), dst_ip, int(port), protocol)


def decide_external(ctx: SandboxContext, dst_service: Obj | str | tuple[str, str], port: int,
                    protocol: str = "TCP", client_ip: str = EXTERNAL_CLIENT_IP) -> Outcome:
    """A connection from ``client_ip`` outside the cluster to a LoadBalancer (``port`` = service port) or
    NodePort (``port`` = node port) Service."""
    protocol = protocol.upper()
    if protocol not in PROTOCOLS:
        return "error"
    idx = view(ctx)
    if isinstance(dst_service, dict):
        key = meta_key(dst_service)
    elif isinstance(dst_service, str):
        ns, _, name = dst_service.partition("/")
        key = (ns, name)
    else:
        key = (dst_service[0], dst_service[1])
    svc = idx.services.get(key)
    if svc is None:
        return "timeout"
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    sp = None
    if stype == "LoadBalancer":
        sp = _service_port(svc, port, protocol, node_port=False) or _service_port(svc, port, protocol,
                                                                                 node_port=True)
    elif stype == "NodePort":
        sp = _service_port(svc, port, protocol, node_port=True)
    if sp is None:
        return "timeout"
    target = _endpoint(idx, svc, sp)
    local = (spec.get("externalTrafficPolicy") or "Cluster") == "Local"
    if target is None:
        return "timeout" if local else "refused"
    pod, number = target
    dst = _pod_end(idx, pod)
    engine = engine_of_node(idx, dst.node)
    bypass = not local and engine == "azure"
    return _deliver(ctx, idx, End(client_ip, None, None), dst, number, protocol, bypass_ingress=bypass)
