"""The sandbox enforces a restricted identity (issue 18) with the real clients: ARM answers 403
AuthorizationFailed (the real error body, through azure-mgmt-containerservice) outside the role and serves
Microsoft.Authorization/permissions; the Kubernetes API answers 403 Forbidden (a Status, through the kubernetes
client) outside the RBAC rules and answers SelfSubjectAccessReview / SelfSubjectRulesReview for them. The default
identity stays all-powerful."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from netmig.azure import errors
from netmig.azure import permissions as azperm
from netmig.azure.gateway import AksGateway
from netmig.connection import from_sandbox_dir
from netmig.kube.access import can_i
from netmig.kube.gateway import KubeGateway
from netmig_sandbox.runtime import Sandbox

CS = "Microsoft.ContainerService/managedClusters"
IDENTITY: dict[str, Any] = {
    "azure_role": {"Name": "t", "IsCustom": True, "Actions": [f"{CS}/read", f"{CS}/listClusterUserCredential/action",
                                                           "Microsoft.Authorization/permissions/read"],
                   "NotActions": [], "AssignableScopes": ["/"]},
    "kubernetes": [
        {"kind": "ClusterRole", "metadata": {"name": "t"},
         "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]},
        {"kind": "ClusterRoleBinding", "metadata": {"name": "t"}, "roleRef": {"kind": "ClusterRole", "name": "t"},
         "subjects": [{"kind": "User", "name": "x"}]},
        {"kind": "Role", "metadata": {"name": "t", "namespace": "kube-system"},
         "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get"]}]},
        {"kind": "RoleBinding", "metadata": {"name": "t", "namespace": "kube-system"},
         "roleRef": {"kind": "Role", "name": "t"}, "subjects": [{"kind": "User", "name": "x"}]},
    ],
}


@pytest.fixture
def restricted(sandbox: Sandbox) -> Sandbox:
    sandbox.run(lambda ctx: ctx.services.__setitem__("identity", IDENTITY))
    return sandbox


def test_arm_denies_outside_the_role_with_authorization_failed_and_serves_permissions(restricted: Sandbox) -> None:
    aks = AksGateway(from_sandbox_dir(restricted.directory), polling_interval=0.1)
    aks._raw_cluster()  # managedClusters/read: granted
    with pytest.raises(errors.AuthFailed) as e:
        aks.pools()  # agentPools/read: not granted
    assert e.value.code == "AuthorizationFailed" and e.value.status == 403
    assert f"does not have authorization to perform action '{CS}/agentPools/read'" in str(e.value)
    grants = azperm.grants_at(aks, aks.ref.resource_id)
    assert azperm.allowed(grants, f"{CS}/read") and not azperm.allowed(grants, f"{CS}/write")
    log = [json.loads(x) for x in (restricted.directory / "arm-requests.jsonl").read_text().splitlines()]
    assert any(e["status"] == 403 and e["action"] == f"{CS}/agentPools/read" for e in log)


def test_kubernetes_enforces_rbac_and_answers_access_reviews(restricted: Sandbox) -> None:
    with KubeGateway(restricted.directory / "kubeconfig") as gw:
        assert gw.pods()  # list pods: granted
        with pytest.raises(ApiException) as e:
            gw.core.list_namespaced_config_map("kube-system")
        assert e.value.status == 403
        status = json.loads(e.value.body)
        assert status["kind"] == "Status" and status["reason"] == "Forbidden"
        assert status["message"] == ('configmaps is forbidden: User "aks-netmig" cannot list resource "configmaps" '
                                     'in API group "" in the namespace "kube-system"')
        assert can_i(gw, "list", "", "pods", None)
        assert can_i(gw, "get", "coordination.k8s.io", "leases", "kube-system")
        assert not can_i(gw, "get", "coordination.k8s.io", "leases", "default")
        assert not can_i(gw, "create", "", "pods", "default")
        rr = client.AuthorizationV1Api(gw.api).create_self_subject_rules_review(
            client.V1SelfSubjectRulesReview(spec=client.V1SelfSubjectRulesReviewSpec(namespace="kube-system")))
        assert {tuple(r.resources) for r in rr.status.resource_rules} == {("pods",), ("leases",)}
    log = [json.loads(x) for x in (restricted.directory / "kube-requests.jsonl").read_text().splitlines()]
    assert any(e["status"] == 403 and e["verb"] == "list" and e["resource"] == "configmaps" for e in log)


def test_the_default_identity_may_do_everything(sandbox: Sandbox) -> None:
    aks = AksGateway(from_sandbox_dir(sandbox.directory), polling_interval=0.1)
    assert azperm.allowed(azperm.grants_at(aks, aks.ref.resource_id), f"{CS}/write")
    with KubeGateway(sandbox.directory / "kubeconfig") as gw:
        assert can_i(gw, "delete", "apiextensions.k8s.io", "customresourcedefinitions", None)
        gw.core.list_namespaced_config_map("kube-system")
