"""pdb-drain (PodDisruptionBudgets that would block the drains) and surge-capacity (IPs for the surge nodes)."""

from __future__ import annotations

from netmig.engine.context import StepContext
from netmig.engine.monitor import blocking_pdbs
from netmig.engine.planning import surge_nodes
from netmig.engine.registry import register_check
from netmig.model.checks import CheckResult, Outcome

MAX_PODS_DEFAULT = 30  # Azure CNI (node subnet) default maxPods


@register_check("pdb-drain")
def pdb_drain(ctx: StepContext) -> CheckResult:
    blocks = blocking_pdbs(ctx.kube.pods(), ctx.kube.pdbs())
    if not blocks:
        return CheckResult("pdb-drain", Outcome.PASS, "no PodDisruptionBudget forbids evictions now")
    names = ", ".join(f"{b.pdb} (needs {b.desired} healthy, has {b.healthy})" for b in blocks)
    return CheckResult("pdb-drain", Outcome.FAIL, f"PodDisruptionBudgets allow no disruption: {names}",
                       "scale those workloads up or relax the PDBs (else the drain fails with PodDrainFailure)")


@register_check("surge-capacity")
def surge_capacity(ctx: StepContext) -> CheckResult:
    c = ctx.cluster()
    surge = sum(surge_nodes(p.max_surge, p.count) for p in c.pools)
    need = (c.node_count + surge) * (1 + MAX_PODS_DEFAULT) if c.network.ipam == "azure-cni" else \
        (c.node_count + surge)
    what = f"{surge} surge node(s) on top of {c.node_count}: the subnet needs {need} free IPs during the reimage"
    if not c.vnet_cidrs:
        return CheckResult("surge-capacity", Outcome.WARN, f"{what}; the subnet size is not readable here",
                           "check the node subnet's free IPs and the vCPU quota for the surge nodes")
    return CheckResult("surge-capacity", Outcome.PASS, what)
