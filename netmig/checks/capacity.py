"""pdb-drain (PodDisruptionBudgets that would block the drains) and surge-capacity (free node-subnet IPs for the
surge nodes).

The verdicts are pure functions of values (``pdb_verdict(pods, pdbs)``, ``surge_verdict(cluster, subnets)``); the
registered checks only read those values (Kubernetes; ARM and Microsoft.Network).
Surge IPs: every surge node takes one subnet IP, plus ``maxPods`` pod IPs with node-subnet Azure CNI (overlay and
kubenet pods do not use the subnet). vCPU quota for the surge VMs is not read (a fix line says so when it matters).
"""

from __future__ import annotations

from typing import Any

from netmig.model import permissions as perm
from netmig.model.checks import CheckResult, Outcome
from netmig.model.cluster import ClusterInfo
from netmig.model.plan import surge_nodes
from netmig.stepkit.context import StepContext
from netmig.stepkit.monitor import blocking_pdbs
from netmig.stepkit.registry import check

MAX_PODS_DEFAULT = 30  # Azure CNI (node subnet) default maxPods


def pdb_verdict(pods: list[dict[str, Any]], pdbs: list[dict[str, Any]]) -> CheckResult:
    blocks = blocking_pdbs(pods, pdbs)
    if not blocks:
        return CheckResult("pdb-drain", Outcome.PASS, "no PodDisruptionBudget forbids evictions now")
    names = ", ".join(f"{b.pdb} (needs {b.desired} healthy, has {b.healthy})" for b in blocks)
    return CheckResult("pdb-drain", Outcome.FAIL, f"PodDisruptionBudgets allow no disruption: {names}",
                       "scale those workloads up or relax the PDBs (else the drain fails with PodDrainFailure)")


@check("pdb-drain",
       permissions=perm.rules(perm.kube("list", "pods"), perm.kube("list", "poddisruptionbudgets", "policy")))
def pdb_drain(ctx: StepContext) -> CheckResult:
    return pdb_verdict(ctx.kube.pods(), ctx.kube.pdbs())


def surge_ips(cluster: ClusterInfo, pool_names: tuple[str, ...] | None = None) -> int:
    """Subnet IPs the surge nodes of these pools (default: all) take while they exist."""
    per_pod = cluster.network.ipam == "azure-cni"
    total = 0
    for p in cluster.pools:
        if pool_names is None or p.name in pool_names:
            total += surge_nodes(p.max_surge, p.count) * (1 + ((p.max_pods or MAX_PODS_DEFAULT) if per_pod else 0))
    return total


def surge_verdict(cluster: ClusterInfo, subnets: list[Any] | None, unreadable: str | None = None) -> CheckResult:
    """``subnets``: ``netmig.azure.subnets.SubnetUsage`` values (None: not readable, ``unreadable`` says why)."""
    surge = sum(surge_nodes(p.max_surge, p.count) for p in cluster.pools)
    what = f"{surge} surge node(s) on top of {cluster.node_count} need {surge_ips(cluster)} free subnet IPs"
    if subnets is None:
        return CheckResult("surge-capacity", Outcome.WARN, f"{what}; the node subnet is not readable"
                           + (f" ({unreadable})" if unreadable else ""),
                           "check the node subnet's free IPs (Reader on the VNet lets plan read them) and the vCPU "
                           "quota for the surge nodes")
    short = []
    for s in subnets:
        need = surge_ips(cluster, tuple(s.pools))
        if s.free < need:
            short.append(f"subnet {s.name} has {s.free} free IPs, its pools' surge needs {need}")
    if short:
        return CheckResult("surge-capacity", Outcome.FAIL, f"{what}: {'; '.join(short)}",
                           "free IPs in the subnet (or lower maxSurge / maxPods) before migrating")
    free = ", ".join(f"{s.name} {s.free} free" for s in subnets)
    return CheckResult("surge-capacity", Outcome.PASS, f"{what}; {free}")


@check("surge-capacity", permissions=perm.VNET_USAGES)
def surge_capacity(ctx: StepContext) -> CheckResult:
    from netmig.azure import errors as arm
    from netmig.azure.subnets import node_subnets

    try:
        subnets = node_subnets(ctx.aks)
    except arm.ArmError as e:
        return surge_verdict(ctx.cluster(), None, str(e)[:160])
    return surge_verdict(ctx.cluster(), subnets)
