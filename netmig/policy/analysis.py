"""Migration compatibility analysis: what changes, breaks or is unsupported when moving between policy engines.

Contract: pure. ``analyze(objects, source_engine, target_engine)`` returns ``Finding``s sorted by severity then rule,
each with a stable ``rule`` id, the object concerned and a one-line fix. It never raises on malformed objects (they
become ``invalid-policy`` findings).

Rule ids
  Parity with azure-npm-to-cilium-validator (reported when the target engine is cilium, same meanings):
    end-port                a policy uses endPort (error when the target Cilium is older than 1.17)
    ip-block                a policy has an ipBlock peer with a cidr (error when it covers known pod/node IPs)
    named-port              a policy uses a named port (error when the name maps to several numbers, cilium #30003)
    egress-policy           policyTypes has Egress with no egress rules, or an egress rule has non-empty to/ports
    service-traffic-policy  in a namespace with an ingress policy, a LoadBalancer/NodePort service with
                            externalTrafficPolicy != Local that no same-namespace ingress rule (matchLabels subset of
                            the service selector, no from, no ports or ports covering every numeric targetPort)
                            keeps open; matchExpressions never clear it; named/0 targetPorts never do
  Beyond it:
    connectivity-change     class cells (and own-node / service paths) whose verdict differs between the engines
    windows-npm-unsupported named ports, SCTP, negative selectors, except CIDRs while Windows nodes run NPM
    npm-scale-limit         NPM beyond 250 nodes / 20,000 pods
    invalid-policy          an object the API server would reject (ignored for evaluation)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from netmig.policy.classes import ClassMatrix, class_reachability, compute_classes, iter_bits
from netmig.policy.engines import EngineProfile, get_engine
from netmig.policy.evaluate import Evaluator, open_to_all, pair_override, selects
from netmig.policy.model import Cluster, IPBlock, Node, Policy, PolicyPort, Service, from_objects, ip_key

RULE_IDS = (
    "end-port", "ip-block", "named-port", "egress-policy", "service-traffic-policy",
    "connectivity-change", "windows-npm-unsupported", "npm-scale-limit", "invalid-policy",
)
SEVERITIES = ("error", "warning", "info")
NPM_MAX_NODES = 250
NPM_MAX_PODS = 20_000
MAX_DETAIL_CELLS = 20


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str
    kind: str
    namespace: str | None
    name: str | None
    message: str
    fix: str = ""
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def object(self) -> str:
        return "/".join(x for x in (self.kind, self.namespace, self.name) if x)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "kind": self.kind, "namespace": self.namespace,
                               "name": self.name, "severity": self.severity, "message": self.message,
                               "fix": self.fix}
        if self.details:
            out["details"] = self.details
        return out


def _pf(rule: str, sev: str, pol: Policy, msg: str, fix: str, **details: Any) -> Finding:
    return Finding(rule, sev, "NetworkPolicy", pol.namespace, pol.name, msg, fix, details)


# --- validator parity ------------------------------------------------------------------------------------------


def _end_port(cluster: Cluster, target: EngineProfile) -> list[Finding]:
    out = []
    for pol in cluster.policies:
        dirs = sorted({d for d, p in pol.all_ports() if p.end_port is not None})
        if not dirs:
            continue
        if target.endport_supported:
            out.append(_pf("end-port", "info", pol,
                           f"uses endPort ({'/'.join(dirs)}); honoured only by Cilium >= 1.17",
                           "keep the cluster on AKS 1.32+ (Cilium 1.17+), or list the ports explicitly",
                           directions=dirs))
        else:
            out.append(_pf("end-port", "error", pol,
                           f"uses endPort ({'/'.join(dirs)}); Cilium {target.version} allows only the first port",
                           "upgrade to Cilium 1.17+ (AKS 1.32+) or list every port of the range explicitly",
                           directions=dirs))
    return out


def _cluster_ip_keys(cluster: Cluster) -> list[tuple[int, int]]:
    keys = [ip_key(p.ip) for p in cluster.pods] + [ip_key(n.ip) for n in cluster.nodes.values()]
    return [k for k in keys if k is not None]


def _covers(block: IPBlock, ips: list[tuple[int, int]], cache: dict[IPBlock, bool]) -> bool:
    got = cache.get(block)
    if got is None:
        got = cache[block] = any(block.contains_key(k) for k in ips)
    return got


def _ip_block(cluster: Cluster, target: EngineProfile) -> list[Finding]:
    out = []
    ips = None
    cache: dict[IPBlock, bool] = {}
    for pol in cluster.policies:
        peers = [(d, p) for d, p in pol.all_peers() if p.ip_block is not None and p.ip_block.cidr]
        if not peers:
            continue
        if ips is None:
            ips = _cluster_ip_keys(cluster)
        covered = sorted({p.ip_block.cidr for _, p in peers if p.ip_block and _covers(p.ip_block, ips, cache)})
        dirs = sorted({d for d, _ in peers})
        if covered and not target.ipblock_matches_cluster_ips:
            out.append(_pf("ip-block", "error", pol,
                           f"ipBlock {', '.join(covered)} covers pod/node IPs, which {target.name} never matches",
                           "select pods with podSelector/namespaceSelector (nodes: CiliumNetworkPolicy toEntities)",
                           directions=dirs, covering=covered))
        else:
            out.append(_pf("ip-block", "warning", pol,
                           f"uses ipBlock ({'/'.join(dirs)}); {target.name} matches it only outside the cluster",
                           "make sure the CIDRs are external; use selectors for pods and nodes", directions=dirs))
    return out


def _named_port(cluster: Cluster, target: EngineProfile) -> list[Finding]:
    out = []
    by_name: dict[tuple[str, str], set[int]] | None = None
    for pol in cluster.policies:
        named = sorted({(d, p.port, p.protocol) for d, p in pol.all_ports() if isinstance(p.port, str)})
        if not named:
            continue
        if by_name is None:
            by_name = defaultdict(set)
            for pod in cluster.pods:
                for cp in pod.ports:
                    if cp.name:
                        by_name[(cp.name, cp.protocol)].add(cp.port)
        selected = [p for p in cluster.pods_by_ns.get(pol.namespace, ()) if selects(cluster, pol, p)]
        conflicts = []
        for d, name, proto in named:
            assert isinstance(name, str)
            if d == "ingress":
                nums = {cp.port for p in selected for cp in p.ports if cp.name == name and cp.protocol == proto}
            else:
                nums = by_name.get((name, proto), set())
            if len(nums) > 1:
                conflicts.append(f"{name}/{proto} -> {sorted(nums)}")
        names = sorted({str(n) for _, n, _ in named})
        if conflicts:
            out.append(_pf("named-port", "error", pol,
                           f"named port maps to several numbers ({'; '.join(conflicts)}); Cilium resolves one",
                           "use numeric ports, or give the name one number on every pod", ports=names))
        else:
            out.append(_pf("named-port", "warning", pol, f"uses named port(s) {', '.join(names)}",
                           "prefer numeric ports; never reuse a port name with different numbers", ports=names))
    return out


def _egress_policy(cluster: Cluster, target: EngineProfile) -> list[Finding]:
    out = []
    for pol in cluster.policies:
        deny_all = pol.affects_egress and not pol.egress
        restricted = any(r.peers is not None or r.ports is not None for r in pol.egress)
        if not (deny_all or restricted):
            continue
        what = "denies all egress" if deny_all else "restricts egress"
        out.append(_pf("egress-policy", "warning", pol,
                       f"{what}; NPM implicitly allowed egress to the pod's own node, {target.name} does not",
                       "allow node traffic explicitly (CiliumNetworkPolicy toEntities: host); check DNS 53/UDP+TCP"))
    return out


def _ports_cover(svc: Service, ports: tuple[PolicyPort, ...]) -> bool:
    if not svc.ports:
        return False
    for sp in svc.ports:
        if isinstance(sp.target_port, str) or sp.target_port == 0:
            return False
        ok = False
        for pp in ports:
            if pp.port is None:
                if pp.protocol == sp.protocol:
                    ok = True
                    break
                continue
            if isinstance(pp.port, str) or pp.port == 0:
                continue
            if pp.port == sp.target_port and pp.protocol == sp.protocol:
                ok = True
                break
        if not ok:
            return False
    return True


def _policy_matches_service(svc: Service, pol: Policy) -> bool:
    sel = pol.pod_selector
    if not sel.match_labels and not sel.expression_count:
        return True
    if sel.expression_count:
        return False  # the validator never evaluates matchExpressions
    svc_sel = svc.selector or {}
    if len(sel.match_labels) > len(svc_sel):
        return False
    return all(svc_sel.get(k) == v for k, v in sel.match_labels)


def _service_traffic_policy(cluster: Cluster, target: EngineProfile) -> list[Finding]:
    out = []
    for svc in cluster.services:
        if not svc.cluster_etp:
            continue
        pols = cluster.policies_by_ns.get(svc.namespace, [])
        if not any(p.affects_ingress for p in pols):
            continue
        safe = any(
            _policy_matches_service(svc, pol) and rule.peers is None and (rule.ports is None or _ports_cover(
                svc, rule.ports))
            for pol in pols for rule in pol.ingress
        )
        if safe:
            continue
        out.append(Finding(
            "service-traffic-policy", "error", "Service", svc.namespace, svc.name,
            f"{svc.type} with externalTrafficPolicy={svc.external_traffic_policy or 'Cluster'}: NPM let its traffic "
            f"bypass ingress policy, {target.name} enforces it", "set externalTrafficPolicy: Local, or add an ingress "
            "rule without 'from' for the service's pods and every targetPort", {"type": svc.type}))
    return out


# --- beyond the validator --------------------------------------------------------------------------------------


def _windows(cluster: Cluster, source: EngineProfile, target: EngineProfile) -> list[Finding]:
    if "npm" not in (source.name, target.name):
        return []
    win = sorted(n.name for n in cluster.nodes.values() if n.is_windows)
    if not win:
        return []
    out = []
    for pol in cluster.policies:
        feats = []
        if any(isinstance(p.port, str) for _, p in pol.all_ports()):
            feats.append("named ports")
        if any(p.protocol == "SCTP" for _, p in pol.all_ports()):
            feats.append("SCTP")
        if any(s.is_negative for s in pol.selectors()):
            feats.append("negative selectors (NotIn/DoesNotExist)")
        if any(p.ip_block is not None and p.ip_block.excepts for _, p in pol.all_peers()):
            feats.append("ipBlock except")
        if feats:
            out.append(_pf("windows-npm-unsupported", "warning", pol,
                           f"uses {', '.join(feats)}, unsupported by NPM on Windows nodes ({len(win)} present)",
                           "rewrite without these features for Windows workloads, or move them to Linux nodes",
                           features=feats, windows_nodes=win[:10]))
    return out


def _scale(cluster: Cluster, source: EngineProfile, target: EngineProfile) -> list[Finding]:
    linux_nodes = sum(1 for n in cluster.nodes.values() if not n.is_windows)
    pods = len(cluster.pods)
    over = []
    if linux_nodes > NPM_MAX_NODES:
        over.append(f"{linux_nodes} nodes > {NPM_MAX_NODES}")
    if pods > NPM_MAX_PODS:
        over.append(f"{pods} pods > {NPM_MAX_PODS}")
    if not over:
        return []
    if target.name == "npm":
        return [Finding("npm-scale-limit", "error", "Cluster", None, None,
                        f"NPM is not supported beyond 250 nodes / 20,000 pods ({'; '.join(over)})",
                        "choose Cilium as the target policy engine", {"nodes": linux_nodes, "pods": pods})]
    if source.name == "npm":
        return [Finding("npm-scale-limit", "warning", "Cluster", None, None,
                        f"running NPM beyond its supported 250 nodes / 20,000 pods ({'; '.join(over)}): OOM risk",
                        f"migrate to {target.name} soon; avoid scaling further until then",
                        {"nodes": linux_nodes, "pods": pods})]
    return []


def _connectivity(cluster: Cluster, source: EngineProfile, target: EngineProfile) -> list[Finding]:
    classes = compute_classes(cluster, [source, target])
    ma = class_reachability(cluster, source, classes)
    mb = class_reachability(cluster, target, classes)
    ev_a, ev_b = Evaluator(cluster, source), Evaluator(cluster, target)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    lost: dict[str, int] = defaultdict(int)
    counts: dict[str, int] = defaultdict(int)
    cls = classes.classes
    # Attribution: the changed direction decides the side (egress: source class, ingress: destination class);
    # one representative cell per (side, class, port) is explained with the per-pair evaluator and every changed cell
    # of that group is attributed to the policy it names.
    explained: dict[tuple[str, int, int, str, bool], tuple[str, ...]] = {}
    for (d, port, proto), bits_a in ma.cells.items():
        x = bits_a ^ mb.cells.get((d, port, proto), 0)
        if not x:
            continue
        d_cls = cls[d]
        eg_x = ma.egress[(d, port, proto)] ^ mb.egress[(d, port, proto)]
        for s in iter_bits(x):
            s_cls = cls[s]
            if s == d and len(d_cls.members) == 1 and not d_cls.host_network:
                continue  # only the self pair, allowed everywhere
            if (s_cls.host_network or d_cls.host_network) and not _real_change(ma, mb, s, d, port, proto):
                continue
            before = bool(bits_a >> s & 1)
            sp = s_cls.members[0]
            dp = d_cls.members[1] if s == d and len(d_cls.members) > 1 else d_cls.members[0]
            gkey = ("egress", s, port, proto, before) if eg_x >> s & 1 else ("ingress", d, port, proto, before)
            responsible = explained.get(gkey)
            if responsible is None:
                va = ev_a.allowed(sp, dp, port, proto, pair_overrides=False)
                vb = ev_b.allowed(sp, dp, port, proto, pair_overrides=False)
                allowed_v, denied_v = (va, vb) if before else (vb, va)
                responsible = explained[gkey] = (allowed_v.responsible or denied_v.responsible or ("",))[:1]
            pk = responsible[0]
            counts[pk] += 1
            if before:
                lost[pk] += 1
            if len(groups[pk]) < MAX_DETAIL_CELLS:
                groups[pk].append({
                    "src_class": s_cls.describe(), "dst_class": d_cls.describe(), "port": port, "protocol": proto,
                    source.name: before, target.name: not before, "src_pods": len(s_cls.members),
                    "dst_pods": len(d_cls.members), "example": f"{sp.key} -> {dp.key}",
                    "src_workload": "host network" if s_cls.host_network else sp.identity,
                    "dst_workload": "host network" if d_cls.host_network else dp.identity})
    # own-node egress (npm -> others): pods whose egress to their own node is no longer implicitly allowed
    if source.own_node_egress_allowed and not target.own_node_egress_allowed:
        for c in cls:
            rep = c.rep
            if c.host_network or not rep.node:
                continue
            node = cluster.nodes.get(rep.node) or Node(rep.node)
            v = ev_b.egress(rep, node, None, "TCP", pair_overrides=False)
            if not v.allowed:
                cell = {"src_class": c.describe(), "dst_class": "own-node", "port": None, "protocol": "TCP",
                        source.name: True, target.name: False, "src_pods": len(c.members), "example": rep.key,
                        "src_workload": rep.identity, "dst_workload": "own node"}
                for pk in v.selecting[:1]:
                    groups[pk].append(cell)
                    lost[pk] += 1
                    counts[pk] += 1
    # LoadBalancer/NodePort eTP=Cluster: bypass under the source, enforced under the target
    if source.lb_cluster_etp_bypasses_ingress and not target.lb_cluster_etp_bypasses_ingress:
        by_cls: dict[int, list[Service]] = defaultdict(list)
        cls_by_ns: dict[str, list[int]] = defaultdict(list)
        for c in cls:
            cls_by_ns[c.rep.namespace].append(c.index)
        for svc in cluster.services:
            if svc.cluster_etp:
                for ci in cls_by_ns.get(svc.namespace, ()):
                    if svc.selects(cls[ci].rep):
                        by_cls[ci].append(svc)
        for ci, svcs in by_cls.items():
            rep = cls[ci].rep
            for svc in svcs:
                for sp_ in svc.ports:
                    num = sp_.target_port if isinstance(sp_.target_port, int) else next(
                        (cp.port for cp in rep.ports if cp.name == sp_.target_port and cp.protocol == sp_.protocol),
                        None)
                    if num is None:
                        continue
                    v = open_to_all(ev_b, rep, num, sp_.protocol)
                    if not v.allowed:
                        cell = {"src_class": f"external via {svc.key}", "dst_class": cls[ci].describe(),
                                "port": num, "protocol": sp_.protocol, source.name: True, target.name: "partial",
                                "dst_pods": len(cls[ci].members), "example": rep.key,
                                "src_workload": f"external via {svc.key}", "dst_workload": rep.identity}
                        for pk in v.selecting[:1]:
                            groups[pk].append(cell)
                            lost[pk] += 1
                            counts[pk] += 1
    out = []
    pols = {p.key: p for p in cluster.policies}
    for pk, cells in sorted(groups.items()):
        n_lost = lost.get(pk, 0)
        n_gain = counts[pk] - n_lost
        ex = cells[0]
        msg = (f"{counts[pk]} class cell(s) change from {source.label} to {target.label} "
               f"({n_lost} lose access, {n_gain} gain access), e.g. {ex['example']} "
               f"{ex['port'] if ex['port'] is not None else '*'}/{ex['protocol']}")
        details = {"lost": n_lost, "gained": n_gain, "cells": cells[:MAX_DETAIL_CELLS], "policy": pk}
        sev = "error" if n_lost else "warning"
        fix = "run 'aks-netmig policy diff' and adjust this policy for the target engine before migrating"
        pol = pols.get(pk)
        if pol is None:
            out.append(Finding("connectivity-change", sev, "Cluster", None, None, msg, fix, details))
        else:
            out.append(_pf("connectivity-change", sev, pol, msg, fix, **details))
    return out


def _real_change(ma: ClassMatrix, mb: ClassMatrix, s: int, d: int, port: int, proto: str) -> bool:
    """Whether some actual pod pair of the class cell differs once pair-specific allowances apply."""
    for dp in ma.classes.classes[d].members:
        for sp in ma.classes.classes[s].members:
            a = ma.class_allowed(s, d, port, proto) or pair_override(sp, dp, ma.engine) is not None
            b = mb.class_allowed(s, d, port, proto) or pair_override(sp, dp, mb.engine) is not None
            if a != b:
                return True
    return False


def _invalid(cluster: Cluster) -> list[Finding]:
    out = []
    for pr in cluster.problems:
        sev = "error" if pr.kind == "NetworkPolicy" else "warning"
        out.append(Finding("invalid-policy", sev, pr.kind, pr.namespace, pr.name,
                           f"rejected: {pr.message}; ignored for evaluation", "fix the manifest and validate it "
                           "with 'kubectl apply --dry-run=server'"))
    return out


def analyze(
    objects: Iterable[Any] | Cluster, source_engine: EngineProfile | str = "npm",
    target_engine: EngineProfile | str = "cilium",
) -> list[Finding]:
    """All findings for moving ``objects`` from ``source_engine`` to ``target_engine``."""
    cluster = objects if isinstance(objects, Cluster) else from_objects(objects)
    source = get_engine(source_engine) if isinstance(source_engine, str) else source_engine
    target = get_engine(target_engine) if isinstance(target_engine, str) else target_engine
    out = _invalid(cluster)
    if target.name == "cilium":
        out += _end_port(cluster, target) + _ip_block(cluster, target) + _named_port(cluster, target)
        out += _egress_policy(cluster, target) + _service_traffic_policy(cluster, target)
    out += _windows(cluster, source, target) + _scale(cluster, source, target)
    if source != target:
        out += _connectivity(cluster, source, target)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    out.sort(key=lambda f: (order[f.severity], RULE_IDS.index(f.rule), f.kind, f.namespace or "", f.name or ""))
    return out
