"""The pure verdict on an overlay pod CIDR against the ranges it must not overlap (the VNets come from
``netmig.azure.vnet_ranges.read_vnets``).

Contract:
- ``pod_cidr_verdict(pod_cidr, service_cidr, vnets, nodes, unreadable)`` -> ``CheckResult`` (check
  ``overlay-pod-cidr``): FAIL when the CIDR is not a valid IPv4 network, too small for a /24 per node (surge
  included), or overlaps a node subnet, another subnet or the address space of the VNet, the service CIDR,
  172.30.0.0/16 or 172.31.0.0/16 -- the reason names every range it overlaps; WARN when it overlaps only a peered
  VNet; FAIL when the VNet could not be read (``vnets`` None: the overlap is unchecked).
"""

from __future__ import annotations

import ipaddress

from netmig.azure.vnet_ranges import VnetInfo
from netmig.model.checks import CheckResult, Outcome

RESERVED = ("172.30.0.0/16", "172.31.0.0/16")
CHECK = "overlay-pod-cidr"
Net = ipaddress.IPv4Network | ipaddress.IPv6Network


def _net(text: str) -> Net | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _overlaps(pod: Net, text: str) -> bool:
    other = _net(text)
    return other is not None and other.version == pod.version and pod.overlaps(other)


def ranges(vnets: list[VnetInfo], service_cidr: str | None) -> list[tuple[str, str]]:
    """(description, cidr) of every range the pod CIDR must not overlap, node subnets first."""
    out: list[tuple[str, str]] = []
    for v in vnets:
        for name in v.node_subnets:
            out += [(f"the node subnet {v.name}/{name}", c) for c in v.subnets.get(name, ())]
        for name, cidrs in v.subnets.items():
            if name not in v.node_subnets:
                out += [(f"the subnet {v.name}/{name}", c) for c in cidrs]
        out += [(f"the address space of the VNet {v.name}", c) for c in v.address_prefixes]
    if service_cidr:
        out.append(("the service CIDR", service_cidr))
    out += [("a range AKS reserves", c) for c in RESERVED]
    return out


def pod_cidr_verdict(pod_cidr: str | None, service_cidr: str | None, vnets: list[VnetInfo] | None, nodes: int,
                     unreadable: str | None = None) -> CheckResult:
    text = str(pod_cidr or "")
    try:
        pod = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return CheckResult(CHECK, Outcome.FAIL, f"pod CIDR {text or '(none)'!r} is not a valid network (e.g. "
                           "192.168.0.0/16, no host bits set)", "plan again with --pod-cidr A.B.C.D/N")
    if pod.version != 4:
        return CheckResult(CHECK, Outcome.FAIL, f"pod CIDR {text} is not IPv4; Azure CNI Overlay needs an IPv4 "
                           "pod CIDR here", "plan again with an IPv4 --pod-cidr")
    blocks = 2 ** (24 - pod.prefixlen) if pod.prefixlen <= 24 else 0
    if blocks < nodes:
        return CheckResult(CHECK, Outcome.FAIL, f"pod CIDR {text} has {blocks} /24 blocks, but every node takes one "
                           f"and up to {nodes} nodes exist during the reimage (surge included)",
                           "plan again with a larger --pod-cidr (e.g. a /16)")
    hits = [(what, c) for what, c in ranges(vnets or [], service_cidr) if _overlaps(pod, c)]
    if hits:
        named = "; ".join(f"{what} {c}" for what, c in hits)
        return CheckResult(CHECK, Outcome.FAIL, f"pod CIDR {text} overlaps {named}",
                           "plan again with a --pod-cidr outside those ranges (e.g. 192.168.0.0/16)")
    if vnets is None:
        return CheckResult(CHECK, Outcome.ERROR, f"pod CIDR {text}: the nodes' VNet could not be read"
                           + (f" ({unreadable})" if unreadable else "") + ", so its overlap with the VNet and "
                           "subnets is unchecked", "grant Reader on the VNet and plan again (a check that could "
                           "not run cannot be accepted)")
    peered = [(f"the peered VNet {name}", c) for v in vnets for name, cidrs in v.peerings.items() for c in cidrs
              if _overlaps(pod, c)]
    if peered:
        named = "; ".join(f"{what} {c}" for what, c in peered)
        return CheckResult(CHECK, Outcome.WARN, f"pod CIDR {text} overlaps {named}: pods could not reach it",
                           "choose a --pod-cidr that does not overlap peered networks if pods talk to them")
    checked = ", ".join(c for _, c in ranges(vnets, service_cidr))
    return CheckResult(CHECK, Outcome.PASS, f"pod CIDR {text} ({blocks} /24 blocks for {nodes} nodes) overlaps none "
                       f"of {checked}")
