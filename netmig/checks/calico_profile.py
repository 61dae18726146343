"""Network-profile preconditions of the Calico migrations (pure verdicts on the ARM profile):

- ``calico-managed``: Tigera's self-managed procedure starts from Azure CNI + AKS-managed Calico (kubenet is not
  covered by it);
- ``policy-engine-present``: an uninstall needs an engine AKS can remove (NPM or Calico; Cilium cannot go back to
  none);
- ``policy-none``: the CRD cleanup alone is for clusters whose network policy is already none;
- ``policy-change-kubernetes-version``: since 2026-05-29 AKS rejects installing or uninstalling Calico/NPM on
  Kubernetes below 1.30 (network policy none is an uninstall).
"""

from __future__ import annotations

import re

from netmig.model.checks import CheckResult, Outcome
from netmig.model.cluster import NetworkProfile
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import check


def calico_managed_verdict(net: NetworkProfile) -> CheckResult:
    cid = "calico-managed"
    if net.plugin == "azure" and net.policy == "calico" and net.dataplane != "cilium":
        return CheckResult(cid, Outcome.PASS, f"Azure CNI ({net.ipam}) with AKS-managed Calico")
    if net.policy == "calico":
        return CheckResult(cid, Outcome.FAIL, f"network plugin is {net.plugin}: Tigera's procedure covers Azure CNI "
                           "with AKS-managed Calico only", "migrate kubenet to Azure CNI Overlay first "
                           "(migration kind kubenet-to-overlay)")
    return CheckResult(cid, Outcome.FAIL, f"the network policy is {net.policy}, not AKS-managed Calico",
                       "this migration starts from AKS-managed Calico; pick another migration kind")


def engine_present_verdict(net: NetworkProfile) -> CheckResult:
    cid = "policy-engine-present"
    if net.policy in ("azure", "calico") and net.dataplane != "cilium":
        name = "Azure NPM" if net.policy == "azure" else "AKS-managed Calico"
        return CheckResult(cid, Outcome.PASS, f"network policy {net.policy} ({name}) can be set to none")
    if net.engine == "cilium":
        return CheckResult(cid, Outcome.FAIL, "the cluster runs Cilium: AKS cannot set its network policy to none",
                           "keep Cilium (its policies can be removed instead)")
    return CheckResult(cid, Outcome.FAIL, "the network policy is already none: nothing to uninstall",
                       "to remove Calico leftovers only, use the calico-crd-cleanup migration")


def policy_none_verdict(net: NetworkProfile, provisioning_state: str) -> CheckResult:
    cid = "policy-none"
    if net.policy != "none" or net.dataplane == "cilium":
        return CheckResult(cid, Outcome.FAIL, f"the network policy is {net.policy}: Calico still belongs to AKS",
                           "set the network policy to none first (migration kind uninstall does both)")
    if provisioning_state != "Succeeded":
        return CheckResult(cid, Outcome.FAIL, f"network policy none, but the cluster is {provisioning_state}",
                           "wait for the running operation to finish")
    return CheckResult(cid, Outcome.PASS, "network policy none, cluster Succeeded")


def _version(text: str) -> tuple[int, int]:
    m = re.match(r"v?(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def version_verdict(version: str) -> CheckResult:
    cid = "policy-change-kubernetes-version"
    if _version(version) < (1, 30):
        return CheckResult(cid, Outcome.FAIL, f"Kubernetes {version}: AKS rejects uninstalling Calico/NPM (network "
                           "policy none) below 1.30", "upgrade the cluster to 1.30 or newer first")
    return CheckResult(cid, Outcome.PASS, f"Kubernetes {version} allows the network-policy change")


@check("calico-managed")
def calico_managed(ctx: StepContext) -> CheckResult:
    return calico_managed_verdict(ctx.cluster().network)


@check("policy-engine-present")
def policy_engine_present(ctx: StepContext) -> CheckResult:
    return engine_present_verdict(ctx.cluster().network)


@check("policy-none")
def policy_none(ctx: StepContext) -> CheckResult:
    info = ctx.cluster()
    return policy_none_verdict(info.network, info.provisioning_state)


@check("policy-change-kubernetes-version")
def policy_change_kubernetes_version(ctx: StepContext) -> CheckResult:
    return version_verdict(ctx.cluster().kubernetes_version)
