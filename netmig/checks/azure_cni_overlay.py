"""Preflight checks of the Azure CNI (node subnet) -> Azure CNI Overlay migration (update-azure-cni.md).

Registered ids:
- ``azure-cni-node-subnet``: the cluster is Azure CNI in node-subnet mode (networkPlugin azure, no plugin mode).
- ``overlay-no-policy-engine``: no Azure NPM / Calico at that moment (AKS refuses the change with
  OverlayMigrationWithNetworkPolicyNotSupported; Cilium may stay). The fix names the uninstall migration and the
  journey that orders both.
- ``overlay-dynamic-pod-ip``: no node pool uses dynamic pod IP allocation (a pod subnet, ``podSubnetID``).
- ``overlay-windows-build``: a WARN per Windows pool (Windows overlay pods need OS build 20348.1668 or later).
The pod CIDR (required here: node-subnet pods have VNet addresses, so ``--pod-cidr`` must name one; not
overlapping the VNet, its subnets or the service CIDR) is ``overlay-pod-cidr``, the ip-masq-agent warning
``overlay-ip-masq-agent`` (``netmig.checks.overlay``), shared with kubenet-to-overlay.

Each verdict is a pure function of values; a failed condition is a FAIL result with a one-line reason and fix.
"""

from __future__ import annotations

from netmig.model.checks import CheckResult, Outcome
from netmig.model.cluster import ClusterInfo
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check


def node_subnet_verdict(c: ClusterInfo) -> CheckResult:
    cid = "azure-cni-node-subnet"
    n = c.network
    if n.plugin == "azure" and n.plugin_mode != "overlay":
        return CheckResult(cid, Outcome.PASS, f"Azure CNI in node-subnet mode ({n.describe()})")
    return CheckResult(cid, Outcome.FAIL, f"the cluster is {n.describe()}, not Azure CNI (node subnet)",
                       "this migration is for Azure CNI node-subnet clusters only (kubenet: kubenet-to-overlay)")


def no_engine_verdict(c: ClusterInfo) -> CheckResult:
    cid = "overlay-no-policy-engine"
    policy = c.network.policy or "none"
    if policy in ("none", "cilium"):
        return CheckResult(cid, Outcome.PASS, f"network policy {policy}: AKS allows the move to overlay")
    return CheckResult(cid, Outcome.FAIL, f"network policy {policy}: AKS refuses Azure CNI -> Overlay while a "
                       "network policy engine is installed", "uninstall it first (aks-netmig plan --kind uninstall), "
                       "or plan the whole path: aks-netmig journey plan --to overlay-cilium", acceptable=False)


def dynamic_pod_ip_verdict(c: ClusterInfo) -> CheckResult:
    cid = "overlay-dynamic-pod-ip"
    dyn = [p.name for p in c.pools if p.pod_subnet_id]
    if not dyn:
        return CheckResult(cid, Outcome.PASS, "no pool uses dynamic pod IP allocation (pod subnet)")
    return CheckResult(cid, Outcome.FAIL, f"pools with a pod subnet (dynamic pod IP allocation): {', '.join(dyn)}; "
                       "AKS cannot move them to Azure CNI Overlay", "move the workloads to pools without a pod "
                       "subnet and delete those pools first", acceptable=False)


def windows_build_verdict(c: ClusterInfo) -> CheckResult:
    cid = "overlay-windows-build"
    win = [p.name for p in c.pools if p.os_type.lower() == "windows"]
    if not win:
        return CheckResult(cid, Outcome.PASS, "no Windows node pools")
    return CheckResult(cid, Outcome.WARN, f"Windows node pools {', '.join(win)}: Windows pods on Azure CNI Overlay "
                       "need OS build 20348.1668 or later", "upgrade those pools' node image first "
                       "(az aks nodepool upgrade --node-image-only)")


@check("azure-cni-node-subnet")
def azure_cni_node_subnet(ctx: StepContext) -> CheckResult:
    return node_subnet_verdict(ctx.cluster())


@check("overlay-no-policy-engine")
def overlay_no_policy_engine(ctx: StepContext) -> CheckResult:
    return no_engine_verdict(ctx.cluster())


@check("overlay-dynamic-pod-ip")
def overlay_dynamic_pod_ip(ctx: StepContext) -> CheckResult:
    return dynamic_pod_ip_verdict(ctx.cluster())


@check("overlay-windows-build")
def overlay_windows_build(ctx: StepContext) -> CheckResult:
    return windows_build_verdict(ctx.cluster())
