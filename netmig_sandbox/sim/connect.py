"""One ``agnhost connect`` performed in the simulated cluster: name resolution, the dataplane's decision, agnhost's
output.

Contract: ``run_connect(ctx, pod, probe) -> agnhost.Result`` performs one ``agnhost connect`` from ``pod`` now:
resolves HOST (an IP, or a Service name ``svc``, ``svc.ns``, ``svc.ns.svc``, ``svc.ns.svc.cluster.local`` using the
pod's resolv.conf search list; headless services resolve to their first ready endpoint), asks
``dataplane.decide`` and renders agnhost's real output: success -> exit 0, no output; failure -> exit 1 and
stderr ``TIMEOUT`` / ``REFUSED`` / ``OTHER: ...`` / ``DNS: ...``, each ending in a newline. Name resolution
goes to kube-dns: when a ``kube-system/kube-dns`` Service exists, the pod must reach it on UDP 53 through the
dataplane (an egress policy without DNS makes the lookup time out: ``DNS: lookup NAME on IP:53: ... i/o
timeout``); without that Service the sandbox resolves directly. ``Result.duration`` is the simulated time the
probe takes (the full ``--timeout`` for TIMEOUT; agnhost's default timeout 0 means the kernel's ~127 s).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from netmig_sandbox.sim import dataplane
from netmig_sandbox.sim.agnhost import Probe, Result

if TYPE_CHECKING:
    from netmig_sandbox.context import SandboxContext

Obj = dict[str, Any]
CLUSTER_DOMAIN = "cluster.local"


def _search_list(namespace: str) -> list[str]:
    return [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def lookup(ctx: SandboxContext, namespace: str, host: str) -> str | None:
    """The IP a name resolves to from a pod in ``namespace`` (cluster DNS records of Services), or None."""
    idx = dataplane.view(ctx)
    name = host.rstrip(".").lower()
    candidates = [name] if host.endswith(".") else [f"{name}.{s}" for s in _search_list(namespace)] + [name]
    suffix = f".svc.{CLUSTER_DOMAIN}"
    for fq in candidates:
        if not fq.endswith(suffix):
            continue
        parts = fq[: -len(suffix)].split(".")
        if len(parts) != 2:
            continue
        svc = idx.services.get((parts[1], parts[0]))
        if svc is None:
            continue
        cip = (svc.get("spec") or {}).get("clusterIP")
        if cip and cip != "None":
            return str(cip)
        ep = idx.endpoints.get((parts[1], parts[0]))
        for subset in (ep or {}).get("subsets") or []:
            addrs = sorted(subset.get("addresses") or [], key=lambda a: a.get("ip", ""))
            if addrs:
                return str(addrs[0]["ip"])
    return None


def run_connect(ctx: SandboxContext, pod: Obj, probe: Probe) -> Result:
    """Run one ``agnhost connect`` from ``pod`` now; see the module docstring."""
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    timeout = probe.timeout if probe.timeout > 0 else 127.0
    src_ip = (pod.get("status") or {}).get("podIP") or "0.0.0.0"
    dest_ip = probe.host
    if not _is_ip(probe.host):
        idx = dataplane.view(ctx)
        dns = idx.services.get(("kube-system", "kube-dns"))
        dns_ip = str(((dns or {}).get("spec") or {}).get("clusterIP") or dataplane.dns_service_ip(ctx))
        if dns is not None and dataplane.decide(ctx, pod, dns_ip, 53, "UDP") != "open":
            return Result(1, f"DNS: lookup {probe.host} on {dns_ip}:53: read udp {src_ip}:41234->{dns_ip}:53: "
                             "i/o timeout\n", min(timeout, 10.0), "dns")
        resolved = lookup(ctx, ns, probe.host)
        if resolved is None:
            return Result(1, f"DNS: lookup {probe.host} on {dns_ip}:53: no such host\n", 0.01, "dns")
        dest_ip = resolved
    outcome = dataplane.decide(ctx, pod, dest_ip, probe.port, probe.protocol)
    net = probe.protocol.lower()
    if outcome == "open":
        return Result(0, "", 0.01, outcome)
    if outcome == "refused":
        return Result(1, "REFUSED\n", 0.01, outcome)
    if outcome == "timeout":
        return Result(1, "TIMEOUT\n", timeout, outcome)
    return Result(1, f"OTHER: dial {net} {dest_ip}:{probe.port}: connect: network is unreachable\n", 0.01, outcome)
