"""Preflight checks of the kubenet(+Calico) -> Azure CNI Overlay migration (aks-migrations.md section 1).

Registered ids: ``kubenet-source``, ``overlay-kubernetes-version`` (>= 1.27; Calico's fallback path also needs
>= 1.30), ``overlay-identity`` (user-assigned control-plane identity), ``overlay-pod-cidr`` (see ``overlay_vnet``;
the VNets are read by ``netmig.azure.vnet_ranges``), ``overlay-availability-set``, ``overlay-windows-pools``,
``overlay-dual-stack``, ``overlay-ip-masq-agent`` (custom azure-ip-masq-agent configuration, read through the
Kubernetes API) and ``overlay-ipblock-pod-cidr`` (NetworkPolicy ipBlocks that select pods by the old pod CIDR when
the plan changes it).

Each verdict is a pure function of values (``*_verdict``); the registered checks only read those values (ARM,
Microsoft.Network, Kubernetes). A failed condition is a FAIL result with a one-line reason and fix, never an
exception.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any

import yaml

from netmig.azure.vnet_ranges import VnetInfo, read_vnets
from netmig.checks.overlay_vnet import pod_cidr_verdict
from netmig.model import permissions as perm
from netmig.model.checks import CheckResult, Outcome
from netmig.model.cluster import ClusterInfo
from netmig.model.plan import surge_nodes
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check

MIN_OVERLAY = (1, 27)
MIN_POLICY_CHANGE = (1, 30)  # AKS refuses Calico/NPM install or uninstall below (since 2026-05-29)
MASQ_CONFIGMAPS = ("azure-ip-masq-agent-config", "azure-ip-masq-agent-config-reconciled")
VNETS = "overlay-vnets"  # ctx.scratch: (vnets or None, why unreadable)


def _version(text: str | None) -> tuple[int, int]:
    parts = (text or "").lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return (0, 0)


# ------------------------------------------------------------------------------------------------ verdicts
def kubenet_verdict(c: ClusterInfo) -> CheckResult:
    if c.network.plugin == "kubenet":
        return CheckResult("kubenet-source", Outcome.PASS, f"network plugin is kubenet ({c.network.describe()})")
    return CheckResult("kubenet-source", Outcome.FAIL, f"network plugin is {c.network.plugin} "
                       f"({c.network.describe()}), not kubenet", "this migration is for kubenet clusters only")


def version_verdict(c: ClusterInfo, fallback_allowed: bool) -> CheckResult:
    versions = {"control plane": c.kubernetes_version}
    versions.update({f"pool {p.name}": p.orchestrator_version for p in c.pools if p.orchestrator_version})
    low_name, low = min(versions.items(), key=lambda kv: _version(kv[1]))
    if _version(low) < MIN_OVERLAY:
        return CheckResult("overlay-kubernetes-version", Outcome.FAIL,
                           f"Kubernetes {low} ({low_name}): the migration to Azure CNI Overlay needs 1.27 or later",
                           "upgrade the cluster and its pools first (az aks upgrade), then plan again")
    if c.network.policy == "calico" and _version(low) < MIN_POLICY_CHANGE:
        why = (f"Kubernetes {low} ({low_name}): the fallback path (network policy none, then calico again) "
               "needs 1.30+: AKS refuses installing or uninstalling Calico below it")
        if fallback_allowed:
            return CheckResult("overlay-kubernetes-version", Outcome.FAIL, why,
                               "upgrade to 1.30+ first, or plan without --allow-fallback")
        return CheckResult("overlay-kubernetes-version", Outcome.WARN, why + " (the direct path does not)",
                           "upgrade to 1.30+ if ARM might refuse the direct path")
    return CheckResult("overlay-kubernetes-version", Outcome.PASS, f"Kubernetes {low} or later everywhere")


def identity_verdict(identity_type: str | None) -> CheckResult:
    kind = (identity_type or "").lower()
    if kind in ("userassigned", "systemassigned, userassigned"):
        return CheckResult("overlay-identity", Outcome.PASS, "the control plane uses a user-assigned managed identity")
    what = {"systemassigned": "a system-assigned managed identity", "": "no managed identity (a service principal)"}
    return CheckResult("overlay-identity", Outcome.FAIL,
                       f"the control plane uses {what.get(kind, identity_type)}; the migration rewrites the kubenet "
                       "route table with the control plane's identity and needs a user-assigned one",
                       "az aks update --enable-managed-identity --assign-identity <user-assigned identity id>, "
                       "then plan again")


def availability_set_verdict(c: ClusterInfo) -> CheckResult:
    avset = [p.name for p in c.pools if p.availability_set]
    if not avset:
        return CheckResult("overlay-availability-set", Outcome.PASS, "every pool is a virtual machine scale set")
    return CheckResult("overlay-availability-set", Outcome.FAIL,
                       f"availability-set node pools: {', '.join(avset)} (Azure CNI Overlay needs scale sets)",
                       "move the workloads to a scale-set pool and delete those pools first")


def windows_verdict(c: ClusterInfo) -> CheckResult:
    win = [p.name for p in c.pools if p.os_type.lower() == "windows"]
    if not win:
        return CheckResult("overlay-windows-pools", Outcome.PASS, "no Windows node pools")
    return CheckResult("overlay-windows-pools", Outcome.FAIL,
                       f"Windows node pools: {', '.join(win)} (after the migration the cluster's Windows profile is "
                       "null, Azure/AKS #4489, and Windows overlay pods need OS build 20348.1668+)",
                       "move the Windows workloads off and delete those pools first (re-add them after)")


def dual_stack_verdict(raw_network: dict[str, Any]) -> CheckResult:
    families = [str(f).lower() for f in (raw_network.get("ipFamilies") or raw_network.get("ip_families") or [])]
    if "ipv6" not in families:
        return CheckResult("overlay-dual-stack", Outcome.PASS, "single-stack IPv4")
    return CheckResult("overlay-dual-stack", Outcome.FAIL,
                       "the cluster is dual-stack (IPv4 + IPv6): the migration breaks dual-stack clusters mid-way "
                       "(Azure/AKS #5120)", "do not migrate this cluster in place; build a new overlay cluster")


def _cidrs(value: Any) -> list[str]:
    return [str(x) for x in value] if isinstance(value, list) else []


def masq_cidrs(configmap: dict[str, Any]) -> list[str]:
    """Every nonMasqueradeCIDRs entry of an ip-masq-agent ConfigMap (each data value is YAML or JSON)."""
    out: list[str] = []
    for text in (configmap.get("data") or {}).values():
        try:
            doc = yaml.safe_load(str(text))
        except yaml.YAMLError:
            try:
                doc = json.loads(str(text))
            except ValueError:
                continue
        if isinstance(doc, dict):
            out += _cidrs(doc.get("nonMasqueradeCIDRs") or doc.get("NonMasqueradeCIDRs"))
    return out


def _inside(cidr: str, own: Iterable[str]) -> bool:
    try:
        net = ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False
    for o in own:
        try:
            other = ipaddress.ip_network(o, strict=False)
        except ValueError:
            continue
        if other.version == net.version and net.subnet_of(other):  # type: ignore[arg-type]
            return True
    return False


def masq_verdict(configmaps: dict[str, dict[str, Any]], own_ranges: list[str]) -> CheckResult:
    """``configmaps``: the ip-masq-agent ConfigMaps found (name -> object); ``own_ranges``: the cluster's pod CIDR
    and VNet ranges (what AKS itself puts there)."""
    problems, stale = [], []
    for name in MASQ_CONFIGMAPS:
        cm = configmaps.get(name)
        if cm is None:
            continue
        custom = [c for c in masq_cidrs(cm) if not _inside(c, own_ranges)]
        if custom:
            problems.append(f"kube-system/{name} keeps pod traffic to {', '.join(custom)} unmasqueraded")
        elif name == MASQ_CONFIGMAPS[0]:
            stale.append(f"kube-system/{name}")
    if problems:
        return CheckResult("overlay-ip-masq-agent", Outcome.FAIL,
                           "custom ip-masq-agent configuration: " + "; ".join(problems) + " -- overlay pod IPs "
                           "cannot reach anything beyond the cluster's nodes, so that traffic would break",
                           "remove those ranges (or route them differently) before migrating")
    if stale:
        return CheckResult("overlay-ip-masq-agent", Outcome.WARN,
                           f"{', '.join(stale)} exists but holds only the cluster's own ranges (an older AKS "
                           "default?)", "delete it before migrating unless it was set on purpose")
    found = [n for n in MASQ_CONFIGMAPS if n in configmaps]
    return CheckResult("overlay-ip-masq-agent", Outcome.PASS, "no custom ip-masq-agent configuration"
                       + (f" ({', '.join(found)}: AKS defaults only)" if found else ""))


def _peers(policy: dict[str, Any]) -> Iterable[dict[str, Any]]:
    spec = policy.get("spec") or {}
    for rule in spec.get("ingress") or []:
        yield from rule.get("from") or []
    for rule in spec.get("egress") or []:
        yield from rule.get("to") or []


def ipblock_verdict(policies: list[dict[str, Any]], old_cidr: str | None, new_cidr: str | None,
                    accepted: bool = False) -> CheckResult:
    if not old_cidr or not new_cidr or old_cidr == new_cidr:
        kept = f"pod CIDR kept ({new_cidr or old_cidr})" if new_cidr or old_cidr else "no pod CIDR change"
        return CheckResult("overlay-ipblock-pod-cidr", Outcome.PASS,
                           f"{kept}: ipBlock rules keep matching the same pods")
    hits = []
    for p in policies:
        for peer in _peers(p):
            cidr = str((peer.get("ipBlock") or {}).get("cidr") or "")
            if cidr and _overlaps_text(cidr, old_cidr) and not _inside(new_cidr, [cidr]):
                meta = p.get("metadata") or {}
                hits.append(f"{meta.get('namespace')}/{meta.get('name')} (ipBlock {cidr})")
    if not hits:
        return CheckResult("overlay-ipblock-pod-cidr", Outcome.PASS,
                           f"no NetworkPolicy ipBlock selects pods by the old pod CIDR {old_cidr}")
    return CheckResult("overlay-ipblock-pod-cidr", Outcome.FAIL,
                       f"pods move from {old_cidr} to {new_cidr}, so these ipBlock rules stop matching them: "
                       f"{', '.join(sorted(set(hits)))}",
                       "use pod/namespace selectors (or add the new CIDR) first, or keep the pod CIDR, or accept "
                       "with --accept overlay-ipblock-pod-cidr", accepted=accepted)


def _overlaps_text(a: str, b: str) -> bool:
    try:
        x, y = ipaddress.ip_network(a, strict=False), ipaddress.ip_network(b, strict=False)
    except ValueError:
        return False
    return x.version == y.version and x.overlaps(y)


# ------------------------------------------------------------------------------------------------ checks
def vnets(ctx: StepContext) -> tuple[list[VnetInfo] | None, str | None]:
    if VNETS not in ctx.scratch:
        from netmig.azure import errors as arm

        try:
            ctx.scratch[VNETS] = (read_vnets(ctx.aks), None)
        except arm.ArmError as e:
            ctx.scratch[VNETS] = (None, str(e)[:200])
    found: tuple[list[VnetInfo] | None, str | None] = ctx.scratch[VNETS]
    return found


def _fallback_allowed(ctx: StepContext) -> bool:
    return any(v.allowed and not v.default for v in ctx.plan.variants)


@check("kubenet-source")
def kubenet_source(ctx: StepContext) -> CheckResult:
    return kubenet_verdict(ctx.cluster())


@check("overlay-kubernetes-version")
def overlay_kubernetes_version(ctx: StepContext) -> CheckResult:
    return version_verdict(ctx.cluster(), _fallback_allowed(ctx))


@check("overlay-identity")
def overlay_identity(ctx: StepContext) -> CheckResult:
    return identity_verdict(ctx.cluster().identity_type)


@check("overlay-pod-cidr", permissions=perm.VNET_READ)
def overlay_pod_cidr(ctx: StepContext) -> CheckResult:
    c = ctx.cluster()
    found, why = vnets(ctx)
    nodes = sum(p.count + surge_nodes(p.max_surge, p.count) for p in c.pools)
    return pod_cidr_verdict(ctx.plan.target_profile().pod_cidr, c.network.service_cidr, found, nodes, why)


@check("overlay-availability-set")
def overlay_availability_set(ctx: StepContext) -> CheckResult:
    return availability_set_verdict(ctx.cluster())


@check("overlay-windows-pools")
def overlay_windows_pools(ctx: StepContext) -> CheckResult:
    return windows_verdict(ctx.cluster())


@check("overlay-dual-stack")
def overlay_dual_stack(ctx: StepContext) -> CheckResult:
    return dual_stack_verdict(ctx.cluster().raw_network)


@check("overlay-ip-masq-agent",
       permissions=perm.VNET_READ | perm.rules(perm.kube("get", "configmaps", namespace="kube-system")))
def overlay_ip_masq_agent(ctx: StepContext) -> CheckResult:
    from netmig.kube import errors
    from netmig.kube.client import translated

    found: dict[str, dict[str, Any]] = {}
    for name in MASQ_CONFIGMAPS:
        try:
            with translated(f"reading ConfigMap kube-system/{name}"):
                cm = ctx.kube.core.read_namespaced_config_map(name, "kube-system")
        except errors.NotFound:
            continue
        found[name] = ctx.kube.api.sanitize_for_serialization(cm)
    own = [c for c in (ctx.plan.source_profile().pod_cidr, ctx.plan.target_profile().pod_cidr) if c]
    nets, _ = vnets(ctx)
    own += [p for v in nets or [] for p in v.address_prefixes]
    own += [p for v in nets or [] for ps in v.subnets.values() for p in ps]
    return masq_verdict(found, own)


@check("overlay-ipblock-pod-cidr", permissions=perm.rules(perm.kube("list", "networkpolicies", perm.NET)))
def overlay_ipblock_pod_cidr(ctx: StepContext) -> CheckResult:
    old, new = ctx.plan.source_profile().pod_cidr, ctx.plan.target_profile().pod_cidr
    policies = ctx.kube.network_policies() if old and new and old != new else []
    return ipblock_verdict(policies, old, new, accepted="overlay-ipblock-pod-cidr" in ctx.plan.accepted)
