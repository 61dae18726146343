"""The sandbox's authorization pieces: ARM request -> Azure action, Kubernetes request -> RBAC attributes, rule
matching and the Forbidden body."""

from __future__ import annotations

import pytest

from netmig_sandbox.arm.authz import action_for, allowed
from netmig_sandbox.kube.rbac import Attributes, Rule, attributes, forbidden
from netmig_sandbox.kube.rbac import allowed as kube_allowed

MC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c"
CS = "Microsoft.ContainerService"


@pytest.mark.parametrize(("method", "path", "action"), [
    ("GET", MC, f"{CS}/managedClusters/read"),
    ("PUT", MC, f"{CS}/managedClusters/write"),
    ("GET", f"{MC}/agentPools", f"{CS}/managedClusters/agentPools/read"),
    ("PUT", f"{MC}/agentPools/np1", f"{CS}/managedClusters/agentPools/write"),
    ("POST", f"{MC}/listClusterUserCredential", f"{CS}/managedClusters/listClusterUserCredential/action"),
    ("POST", f"{MC}/abort", f"{CS}/managedClusters/abort/action"),
    ("POST", f"{MC}/runCommand", f"{CS}/managedClusters/runCommand/action"),
    ("GET", f"/subscriptions/s/providers/{CS}/locations/westeurope/operations/x", f"{CS}/locations/operations/read"),
    ("GET", "/subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Network/virtualNetworks/v/usages",
     "Microsoft.Network/virtualNetworks/usages/read"),
    ("GET", "/subscriptions/s/resourceGroups/MC_rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a",
     "Microsoft.Network/virtualNetworks/subnets/read"),
    ("GET", f"{MC}/providers/Microsoft.Authorization/permissions", "Microsoft.Authorization/permissions/read"),
    ("GET", "/subscriptions", None),
    ("DELETE", MC, f"DELETE {MC}"),
])
def test_arm_actions(method: str, path: str, action: str | None) -> None:
    assert action_for(method, path) == action


def test_arm_evaluation() -> None:
    assert allowed(f"{CS}/managedClusters/write", ["microsoft.containerservice/*"], [])
    assert not allowed(f"{CS}/managedClusters/write", ["*"], ["*/write"])


@pytest.mark.parametrize(("method", "path", "query", "want"), [
    ("GET", "/api/v1/pods", {}, ("list", "", "pods", None, None)),
    ("GET", "/api/v1/nodes", {"watch": "true"}, ("watch", "", "nodes", None, None)),
    ("GET", "/api/v1/namespaces/ns1", {}, ("get", "", "namespaces", "ns1", "ns1")),
    ("DELETE", "/api/v1/namespaces/ns1/pods", {}, ("deletecollection", "", "pods", "ns1", None)),
    ("GET", "/api/v1/namespaces/ns1/pods/p/log", {}, ("get", "", "pods/log", "ns1", "p")),
    ("GET", "/api/v1/namespaces/ns1/pods/p/exec", {}, ("create", "", "pods/exec", "ns1", "p")),
    ("PATCH", "/apis/apps/v1/namespaces/a/deployments/d", {}, ("patch", "apps", "deployments", "a", "d")),
    ("PUT", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l", {},
     ("update", "coordination.k8s.io", "leases", "kube-system", "l")),
])
def test_kube_attributes(method: str, path: str, query: dict[str, str], want: tuple[object, ...]) -> None:
    a = attributes(method, path, query)
    assert a is not None and (a.verb, a.group, a.resource, a.namespace, a.name) == want


def test_non_resource_requests_and_rules() -> None:
    assert attributes("GET", "/apis/apps/v1", {}) is None and attributes("GET", "/version", {}) is None
    lease = Rule(("get",), ("coordination.k8s.io",), ("leases",), (), "kube-system")
    a = Attributes("get", "coordination.k8s.io", "leases", "kube-system", "l")
    assert kube_allowed([lease], a) and not kube_allowed([lease], Attributes("get", "coordination.k8s.io", "leases",
                                                                                "default", "l"))
    assert kube_allowed([], Attributes("create", "authorization.k8s.io", "selfsubjectaccessreviews", None, None))
    assert kube_allowed(None, a)
    body = forbidden(Attributes("delete", "apiextensions.k8s.io", "customresourcedefinitions", None, "x.y"))
    assert body["code"] == 403 and body["reason"] == "Forbidden"
    assert body["message"] == ('customresourcedefinitions "x.y" is forbidden: User "aks-netmig" cannot delete resource '
                               '"customresourcedefinitions" in API group "apiextensions.k8s.io" at the cluster scope')
