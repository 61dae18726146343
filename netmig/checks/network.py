"""azure-cni, no-windows-pools, node-auto-provisioning-off, kubernetes-version (NPM -> Cilium constraints)."""

from __future__ import annotations

import re

from netmig.model.checks import CheckResult, Outcome
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check


@check("azure-cni")
def azure_cni(ctx: StepContext) -> CheckResult:
    net = ctx.cluster().network
    if net.plugin == "azure":
        return CheckResult("azure-cni", Outcome.PASS, f"network plugin is Azure CNI ({net.ipam})")
    return CheckResult("azure-cni", Outcome.FAIL, f"network plugin is {net.plugin}, Cilium needs Azure CNI",
                       "migrate kubenet to Azure CNI Overlay first (migration kind kubenet-to-overlay)")


@check("no-windows-pools")
def no_windows_pools(ctx: StepContext) -> CheckResult:
    win = [p.name for p in ctx.cluster().pools if p.os_type.lower() == "windows"]
    if not win:
        return CheckResult("no-windows-pools", Outcome.PASS, "no Windows node pools")
    return CheckResult("no-windows-pools", Outcome.FAIL, f"Windows node pools: {', '.join(win)} (Cilium is Linux only)",
                       "move Windows workloads off and delete those pools first")


@check("node-auto-provisioning-off")
def nap_off(ctx: StepContext) -> CheckResult:
    mode = (ctx.cluster().node_provisioning_mode or "Manual").lower()
    if mode != "auto":
        return CheckResult("node-auto-provisioning-off", Outcome.PASS, "node auto-provisioning is off")
    return CheckResult("node-auto-provisioning-off", Outcome.FAIL, "node auto-provisioning is on",
                       "turn node auto-provisioning off for the migration")


def _version(text: str) -> tuple[int, int]:
    m = re.match(r"v?(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


@check("kubernetes-version")
def kubernetes_version(ctx: StepContext) -> CheckResult:
    v = ctx.cluster().kubernetes_version
    have = _version(v)
    if have < (1, 30):
        return CheckResult("kubernetes-version", Outcome.FAIL,
                           f"Kubernetes {v}: AKS rejects NPM uninstall on versions below 1.30",
                           "upgrade the cluster to 1.30 or newer first")
    if have < (1, 32):
        return CheckResult("kubernetes-version", Outcome.WARN,
                           f"Kubernetes {v}: AKS ships Cilium < 1.17, which ignores endPort in NetworkPolicies",
                           "upgrade to 1.32+ first if any policy uses endPort (see the policy-analysis findings)")
    return CheckResult("kubernetes-version", Outcome.PASS, f"Kubernetes {v} supports Cilium with endPort")
