"""Every preflight check, through its registered id, on cluster / inventory values built here: pass, warn and fail,
each with a one-line reason and (unless it passed) a one-line fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from netmig.azure import errors as arm
from netmig.azure.subnets import SubnetUsage
from netmig.checks.capacity import surge_ips, surge_verdict
from netmig.engine.catalog import check_fn, load_builtins
from netmig.model.checks import CheckResult, Outcome
from netmig.model.cluster import NetworkProfile
from netmig.stepkit.registry import CHECKS
from netmig.steps.preflight import run_checks
from tests.unit.engine.values import StubKube, cluster, context, plan, pool


def pod(name: str, labels: dict[str, str], ns: str = "data") -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {"nodeName": "n1"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def pdb(name: str, ns: str = "data", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": {"matchLabels": {"app": "db"}}, **spec}}


DB = [pod("db-0", {"app": "db"}), pod("db-1", {"app": "db"})]
FINDING_ERR = {"severity": "error", "rule": "ip-block", "message": "x"}
FINDING_WARN = {"severity": "warning", "rule": "named-port", "message": "y"}
NPM = NetworkProfile(plugin="azure", policy="azure")
KUBENET_CALICO = NetworkProfile(plugin="kubenet", policy="calico", pod_cidr="10.244.0.0/16")

# (check id, cluster changes, kube, findings, accepted, outcome, reason part, fix part)
CASES: list[tuple[str, dict[str, Any], StubKube | None, list[dict[str, Any]] | None, list[str], Outcome, str,
                  str | None]] = [
    ("cluster-succeeded", {}, None, None, [], Outcome.PASS, "provisioningState is Succeeded", None),
    ("policies-unenforced", {}, None, None, [], Outcome.PASS, "NetworkPolicies stay enforced (npm -> cilium)", None),
    ("cluster-succeeded", {"provisioning_state": "Updating"}, None, None, [], Outcome.FAIL,
     "cluster provisioningState is Updating", "wait for the running operation"),
    ("pools-succeeded", {}, None, None, [], Outcome.PASS, "every node pool is Succeeded", None),
    ("pools-succeeded", {"pools": (pool("system"), pool("user", provisioning_state="Upgrading"))}, None, None, [],
     Outcome.FAIL, "node pools not Succeeded: user=Upgrading", "wait for the pool operations"),
    ("azure-cni", {}, None, None, [], Outcome.PASS, "network plugin is Azure CNI (azure-cni)", None),
    ("azure-cni", {"network": NetworkProfile(plugin="kubenet", policy="calico")}, None, None, [], Outcome.FAIL,
     "network plugin is kubenet, Cilium needs Azure CNI", "kubenet-to-overlay"),
    ("no-windows-pools", {}, None, None, [], Outcome.PASS, "no Windows node pools", None),
    ("no-windows-pools", {"pools": (pool("system"), pool("user", name="win1", os_type="Windows"))}, None, None, [],
     Outcome.FAIL, "Windows node pools: win1 (Cilium is Linux only)", "delete those pools"),
    ("kubernetes-version", {}, None, None, [], Outcome.PASS, "Kubernetes 1.32.3 supports Cilium with endPort", None),
    ("kubernetes-version", {"kubernetes_version": "1.31.2"}, None, None, [], Outcome.WARN,
     "Cilium < 1.17, which ignores endPort", "upgrade to 1.32+ first if any policy uses endPort"),
    ("kubernetes-version", {"kubernetes_version": "1.29.9"}, None, None, [], Outcome.FAIL,
     "AKS rejects NPM uninstall on versions below 1.30", "upgrade the cluster to 1.30"),
    ("node-auto-provisioning-off", {}, None, None, [], Outcome.PASS, "node auto-provisioning is off", None),
    ("node-auto-provisioning-off", {"node_provisioning_mode": "Auto"}, None, None, [], Outcome.FAIL,
     "node auto-provisioning is on", "turn node auto-provisioning off"),
    # azure-cni-to-overlay (netmig/checks/azure_cni_overlay.py; more cases in tests/unit/checks)
    ("azure-cni-node-subnet", {"network": NetworkProfile(plugin="azure", policy="none")}, None, None, [],
     Outcome.PASS, "Azure CNI in node-subnet mode", None),
    ("azure-cni-node-subnet", {"network": KUBENET_CALICO}, None, None, [], Outcome.FAIL, "not Azure CNI (node subnet)",
     "kubenet-to-overlay"),
    ("overlay-no-policy-engine", {"network": NetworkProfile(plugin="azure", policy="none")}, None, None, [],
     Outcome.PASS, "network policy none", None),
    ("overlay-no-policy-engine", {}, None, None, [], Outcome.FAIL, "network policy azure", "journey plan"),
    ("overlay-dynamic-pod-ip", {}, None, None, [], Outcome.PASS, "no pool uses dynamic pod IP allocation", None),
    ("overlay-dynamic-pod-ip", {"pools": (pool("system"), pool("user", pod_subnet_id="/sub/pods"))}, None, None, [],
     Outcome.FAIL, "pools with a pod subnet (dynamic pod IP allocation): user", "delete those pools"),
    ("overlay-windows-build", {}, None, None, [], Outcome.PASS, "no Windows node pools", None),
    ("overlay-windows-build", {"pools": (pool("system"), pool("user", name="win1", os_type="Windows"))}, None, None,
     [], Outcome.WARN, "20348.1668", "node-image-only"),
    ("pdb-drain", {}, StubKube(DB, [pdb("db-ok", minAvailable=1)]), None, [], Outcome.PASS,
     "no PodDisruptionBudget forbids evictions now", None),
    ("pdb-drain", {}, StubKube(DB, [pdb("db-strict", minAvailable=2)]), None, [], Outcome.FAIL,
     "data/db-strict (needs 2 healthy, has 2)", "relax the PDBs"),
    ("pdb-drain", {}, StubKube(DB, [pdb("db-zero", maxUnavailable=0)]), None, [], Outcome.FAIL,
     "data/db-zero (needs 2 healthy, has 2)", "PodDrainFailure"),
    ("policy-analysis", {}, None, [], [], Outcome.PASS, "0 findings, none error-severity (0 warnings)", None),
    ("policy-analysis", {}, None, [FINDING_WARN], [], Outcome.WARN, "1 findings, none error-severity (1 warnings)",
     "review the findings in the plan"),
    ("policy-analysis", {}, None, [FINDING_ERR, FINDING_WARN], [], Outcome.FAIL,
     "1 error-severity findings (ip-block): connectivity changes under cilium", "plan --accept RULE"),
    # the Calico migrations (#6)
    ("calico-managed", {"network": NetworkProfile(plugin="azure", policy="calico")}, None, None, [], Outcome.PASS,
     "Azure CNI (azure-cni) with AKS-managed Calico", None),
    ("calico-managed", {"network": NetworkProfile(plugin="kubenet", policy="calico")}, None, None, [], Outcome.FAIL,
     "network plugin is kubenet", "kubenet-to-overlay"),
    ("policy-engine-present", {}, None, None, [], Outcome.PASS, "network policy azure (Azure NPM) can be set", None),
    ("policy-engine-present", {"network": NetworkProfile(plugin="azure", policy="cilium", dataplane="cilium")}, None,
     None, [], Outcome.FAIL, "the cluster runs Cilium", "keep Cilium"),
    ("policy-none", {"network": NetworkProfile(plugin="azure", policy="none")}, None, None, [], Outcome.PASS,
     "network policy none, cluster Succeeded", None),
    ("policy-none", {}, None, None, [], Outcome.FAIL, "the network policy is azure", "set the network policy to none"),
    ("policy-change-kubernetes-version", {}, None, None, [], Outcome.PASS, "Kubernetes 1.32.3 allows", None),
    ("policy-change-kubernetes-version", {"kubernetes_version": "1.29.9"}, None, None, [], Outcome.FAIL,
     "AKS rejects uninstalling Calico/NPM (network policy none) below 1.30", "upgrade the cluster to 1.30"),
    ("policy-engine-stopped", {}, StubKube([pod("web-0", {"app": "web"})]), None, [], Outcome.PASS,
     "no calico-node, typha, kube-controllers, tigera-operator or azure-npm pod runs", None),
    ("policy-engine-stopped", {}, StubKube([pod("calico-node-x1", {"k8s-app": "calico-node"}, "calico-system")]),
     None, [], Outcome.FAIL, "policy-engine pods still run: calico-system/calico-node-x1", "uninstall it first"),
    ("tigera-operator-manifest", {}, None, None, [], Outcome.PASS, "the plan installs no operator", None),
    # kubenet -> Azure CNI Overlay (#6); more cases: tests/unit/checks/test_overlay_checks.py
    ("kubenet-source", {"network": KUBENET_CALICO}, None, None, [], Outcome.PASS, "network plugin is kubenet", None),
    ("kubenet-source", {}, None, None, [], Outcome.FAIL, "network plugin is azure", "for kubenet clusters only"),
    ("overlay-kubernetes-version", {}, None, None, [], Outcome.PASS, "Kubernetes 1.32.3 or later everywhere", None),
    ("overlay-kubernetes-version", {"kubernetes_version": "1.26.12"}, None, None, [], Outcome.FAIL,
     "Kubernetes 1.26.12 (control plane): the migration to Azure CNI Overlay needs 1.27 or later", "upgrade"),
    ("overlay-kubernetes-version", {"kubernetes_version": "1.29.9", "network": KUBENET_CALICO}, None, None, [],
     Outcome.WARN, "the fallback path (network policy none, then calico again) needs 1.30+", "upgrade to 1.30+"),
    ("overlay-identity", {"identity_type": "UserAssigned"}, None, None, [], Outcome.PASS,
     "user-assigned managed identity", None),
    ("overlay-identity", {"identity_type": "SystemAssigned"}, None, None, [], Outcome.FAIL,
     "the control plane uses a system-assigned managed identity", "--assign-identity"),
    ("overlay-availability-set", {}, None, None, [], Outcome.PASS, "every pool is a virtual machine scale set", None),
    ("overlay-availability-set", {"pools": (pool("system"), pool("user", availability_set=True))}, None, None, [],
     Outcome.FAIL, "availability-set node pools: user", "scale-set pool"),
    ("overlay-windows-pools", {}, None, None, [], Outcome.PASS, "no Windows node pools", None),
    ("overlay-windows-pools", {"pools": (pool("system"), pool("user", name="win1", os_type="Windows"))}, None, None,
     [], Outcome.FAIL, "Windows node pools: win1", "delete those pools"),
    ("overlay-dual-stack", {}, None, None, [], Outcome.PASS, "single-stack IPv4", None),
    ("overlay-dual-stack", {"raw_network": {"ipFamilies": ["IPv4", "IPv6"]}}, None, None, [], Outcome.FAIL,
     "dual-stack (IPv4 + IPv6)", "new overlay cluster"),
    ("overlay-ipblock-pod-cidr", {}, None, None, [], Outcome.PASS, "no pod CIDR change", None),
]
# read through the Kubernetes API of a (sandbox) cluster: tests/e2e/test_migrate_calico.py (addon annotations),
# tests/unit/kube/test_calico.py and tests/e2e/test_migrate_uninstall.py (leftovers)
# the overlay pod CIDR (Microsoft.Network) and ip-masq-agent (ConfigMaps) checks: tests/e2e/test_migrate_overlay.py,
# their verdicts in tests/unit/checks/test_overlay_checks.py
# the permissions check (Microsoft.Authorization permissions, SelfSubjectAccessReview): tests/e2e/test_permissions.py
THROUGH_THE_API = {"calico-addon-annotations", "calico-leftovers", "overlay-pod-cidr", "overlay-ip-masq-agent",
                   "permissions"}


@pytest.mark.parametrize(("check", "changes", "kube", "found", "accepted", "outcome", "reason", "fix"), CASES,
                         ids=[f"{c[0]}-{c[5].value}-{i}" for i, c in enumerate(CASES)])
def test_check(tmp_path: Path, check: str, changes: dict[str, Any], kube: StubKube | None,
               found: list[dict[str, Any]] | None, accepted: list[str], outcome: Outcome, reason: str,
               fix: str | None) -> None:
    info = cluster(**changes)
    ctx = context(tmp_path, plan(cluster(), accepted=accepted), info=info, kube=kube)
    if found is not None:
        ctx.scratch["findings"] = found
    r = check_fn(check)(ctx)
    assert isinstance(r, CheckResult) and r.check == check
    assert r.outcome is outcome, r
    assert reason in r.reason and "\n" not in r.reason
    if fix is None:
        assert r.fix is None or outcome is not Outcome.PASS
    else:
        assert r.fix is not None and fix in r.fix and "\n" not in r.fix
    assert r.blocking == (outcome in (Outcome.FAIL, Outcome.ERROR))


def test_every_registered_check_has_a_case() -> None:
    load_builtins()
    assert {c for c in CHECKS if not c.startswith("test-")} <= {c[0] for c in CASES} | {"surge-capacity"} | \
        THROUGH_THE_API


def test_error_findings_accepted_by_rule_or_wholesale_do_not_block(tmp_path: Path) -> None:
    for accepted in (["ip-block"], ["policy-analysis"]):
        ctx = context(tmp_path, plan(accepted=accepted))
        ctx.scratch["findings"] = [FINDING_ERR]
        [r] = run_checks(ctx, ["policy-analysis"])
        assert r.outcome is Outcome.FAIL and r.accepted and not r.blocking
    ctx = context(tmp_path, plan(accepted=["named-port"]))
    ctx.scratch["findings"] = [FINDING_ERR]
    [r] = run_checks(ctx, ["policy-analysis"])
    assert r.blocking


def test_any_failing_check_can_be_accepted_by_id_and_a_crashing_check_is_a_failure(tmp_path: Path) -> None:
    ctx = context(tmp_path, plan(accepted=["cluster-succeeded"]), info=cluster(provisioning_state="Failed"))
    [r] = run_checks(ctx, ["cluster-succeeded"])
    assert r.outcome is Outcome.FAIL and r.accepted
    ctx = context(tmp_path, plan())  # no kube stub: reading pods fails
    ctx._kube = None
    ctx.kubeconfig = tmp_path / "missing-kubeconfig"
    [r] = run_checks(ctx, ["pdb-drain"])
    assert r.outcome is Outcome.ERROR and r.reason.startswith("the check could not run (") and r.fix
    assert r.blocking and not r.acceptable


def test_a_check_that_could_not_run_is_never_accepted(tmp_path: Path) -> None:
    """Issue 10, finding 1: only findings about the cluster's own content can be accepted."""
    ctx = context(tmp_path, plan(accepted=["pdb-drain"]))
    ctx._kube = None
    ctx.kubeconfig = tmp_path / "missing-kubeconfig"
    [r] = run_checks(ctx, ["pdb-drain"])
    assert r.outcome is Outcome.ERROR and not r.accepted and r.blocking
    forced = CheckResult("x", Outcome.ERROR, "could not run", accepted=True)
    assert not forced.accepted and forced.blocking
    unacceptable_fail = CheckResult("x", Outcome.FAIL, "bad manifest", accepted=True, acceptable=False)
    assert not unacceptable_fail.accepted and unacceptable_fail.blocking


def test_policies_unenforced_fails_until_accepted_naming_counts() -> None:
    from netmig.checks.unenforced import verdict

    pols = [{"metadata": {"namespace": ns, "name": n}} for ns, n in (("a", "p1"), ("a", "p2"), ("b", "p3"))]
    r = verdict(pols, "calico", "none")
    assert r.outcome is Outcome.FAIL and r.acceptable and r.blocking
    assert r.reason.startswith("turns off enforcement of 3 NetworkPolicies in 2 namespaces (a/p1, a/p2, b/p3)")
    assert r.fix and "--accept policies-unenforced" in r.fix
    assert verdict([], "npm", "none").outcome is Outcome.PASS
    assert verdict(pols, "npm", "cilium").outcome is Outcome.PASS
    assert verdict(pols, "none", "none").outcome is Outcome.PASS


# --- surge-capacity: the subnet's free IPs against maxSurge x (1 + maxPods) ----------------------------------------

SUBNET = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/nodes"


def test_surge_ips_count_pod_ips_only_for_node_subnet_azure_cni() -> None:
    assert surge_ips(cluster()) == 1 * (1 + 30) + 1 * (1 + 50)
    overlay = cluster(network=NetworkProfile(plugin="azure", policy="azure", plugin_mode="overlay"))
    assert surge_ips(overlay) == 2
    assert surge_ips(cluster(), ("user",)) == 51


def test_surge_capacity_pass_fail_and_warn() -> None:
    ok = surge_verdict(cluster(), [SubnetUsage(SUBNET, in_use=100, limit=251, pools=("system", "user"))])
    assert ok.outcome is Outcome.PASS and "2 surge node(s) on top of 7 need 82 free subnet IPs" in ok.reason
    assert "vnet/nodes 151 free" in ok.reason
    short = surge_verdict(cluster(), [SubnetUsage(SUBNET, in_use=240, limit=251, pools=("system", "user"))])
    assert short.outcome is Outcome.FAIL
    assert "subnet vnet/nodes has 11 free IPs, its pools' surge needs 82" in short.reason
    assert short.fix and "lower maxSurge / maxPods" in short.fix
    per_pool = surge_verdict(cluster(), [SubnetUsage(SUBNET, 0, 40, ("system",)),
                                         SubnetUsage(SUBNET + "2", 0, 40, ("user",))])
    assert per_pool.outcome is Outcome.FAIL and "needs 51" in per_pool.reason and "needs 31" not in per_pool.reason
    unknown = surge_verdict(cluster(), None, "not authorized (403)")
    assert unknown.outcome is Outcome.WARN and "not readable (not authorized (403))" in unknown.reason
    assert unknown.fix and "vCPU quota" in unknown.fix


def test_surge_capacity_check_reads_the_subnets_or_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import netmig.azure.subnets as subnets

    ctx = context(tmp_path, plan())
    monkeypatch.setattr(subnets, "node_subnets", lambda aks: [SubnetUsage(SUBNET, 10, 251, ("system", "user"))])
    assert check_fn("surge-capacity")(ctx).outcome is Outcome.PASS

    def denied(aks: Any) -> Any:
        raise arm.AuthFailed("reading the VNet: not authorized (403)", None, 403)

    monkeypatch.setattr(subnets, "node_subnets", denied)
    r = check_fn("surge-capacity")(ctx)
    assert r.outcome is Outcome.WARN and "403" in r.reason
