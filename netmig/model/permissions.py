"""What a step kind or check may do: the Azure RBAC actions and the Kubernetes RBAC rules it needs.

Contract:
- ``Permissions(arm=(...actions...), kube=(KubeRule, ...))`` is a frozen value; ``a | b`` is the union (order kept,
  duplicates dropped); ``read_only()`` keeps the ARM ``*/read`` actions and the get/list/watch verbs.
- ``arm(*actions)`` and ``kube(verbs, resources, group="", namespace=None)`` build them: ``kube("get,update",
  "leases", "coordination.k8s.io", namespace="kube-system")``. A rule without a namespace is cluster-wide (a
  ClusterRole); with one, it holds in that namespace only (a Role).
- ``action_allowed(action, actions, not_actions)`` is Azure's evaluation of one action against one permission entry
  (``*`` wildcards, case-insensitive; a notActions match removes it). ``rule_covers(rule, verb, group, resource,
  namespace)`` is the RBAC authorizer's match of one request against one rule (``*`` wildcards; a cluster-wide rule
  covers every namespace).
- ``rule.line()`` is the one-line form a person adds to a role (``patch clusterroles.rbac.authorization.k8s.io
  (cluster-wide)``); ``rule.as_rbac()`` the ``rules:`` entry of a (Cluster)Role.

Azure action names are spelled exactly as Microsoft's resource provider operations lists spell them (checked
2026-12-02 against the stored copies of those pages; Azure matches them case-insensitively):
- https://learn.microsoft.com/azure/role-based-access-control/permissions/containers -- Microsoft.ContainerService:
  ``managedClusters/read``, ``managedClusters/write``, ``managedClusters/abort/action`` ("Latest ongoing operation
  on managed cluster gets aborted"), ``managedClusters/listClusterUserCredential/action``,
  ``managedClusters/agentPools/read``, ``locations/operations/read`` and ``locations/operationresults/read`` (the
  status of an asynchronous operation, and its result).
- https://learn.microsoft.com/azure/role-based-access-control/permissions/networking -- Microsoft.Network:
  ``virtualNetworks/read``, ``virtualNetworks/subnets/read`` and ``virtualNetworks/usages/read`` ("Get the IP
  usages for each subnet of the virtual network": ``GET .../virtualNetworks/{name}/usages`` needs it, not
  ``virtualNetworks/read``).
- https://learn.microsoft.com/azure/role-based-access-control/permissions/management-and-governance --
  ``Microsoft.Authorization/permissions/read`` ("Lists all the permissions the caller has at a given scope": the
  permissions check and the fleet scan's access check read it), ``Microsoft.ResourceGraph/resources/read``
  ("Submits a query on resources within specified subscriptions, management groups or tenant scope") and
  ``Microsoft.Resources/subscriptions/read`` ("Gets the list of subscriptions").
Resource Graph answers a query with only the resources the caller may read: without
``Microsoft.ContainerService/managedClusters/read`` on a subscription it silently returns none of its clusters,
which is why ``fleet scan`` checks ``FLEET_SCAN`` at each subscription before it lists anything.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict

READ_VERBS = ("get", "list", "watch")


class KubeRule(BaseModel):
    """One Kubernetes RBAC rule: ``verbs`` on ``resources`` of ``api_group`` (``""`` core), cluster-wide or in
    ``namespace``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verbs: tuple[str, ...]
    resources: tuple[str, ...]
    api_group: str = ""
    namespace: str | None = None

    def line(self) -> str:
        group = f".{self.api_group}" if self.api_group else ""
        where = f"in namespace {self.namespace}" if self.namespace else "(cluster-wide)"
        return f"{','.join(self.verbs)} {','.join(r + group for r in self.resources)} {where}"

    def as_rbac(self) -> dict[str, Any]:
        return {"apiGroups": [self.api_group], "resources": list(self.resources), "verbs": list(self.verbs)}

    def singles(self) -> list[KubeRule]:
        """This rule split into one rule per verb and resource."""
        return [KubeRule(verbs=(v,), resources=(r,), api_group=self.api_group, namespace=self.namespace)
                for r in self.resources for v in self.verbs]


class Permissions(BaseModel):
    """Azure actions and Kubernetes rules, as declared with ``@step(..., permissions=)`` / ``@check(...)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arm: tuple[str, ...] = ()
    kube: tuple[KubeRule, ...] = ()

    def __or__(self, other: Permissions) -> Permissions:
        return Permissions(arm=tuple(dict.fromkeys((*self.arm, *other.arm))),
                           kube=tuple(dict.fromkeys((*self.kube, *other.kube))))

    def read_only(self) -> Permissions:
        """The reads only: ARM ``.../read`` actions, Kubernetes get/list/watch."""
        rules = []
        for r in self.kube:
            verbs = tuple(v for v in r.verbs if v in READ_VERBS)
            if verbs:
                rules.append(KubeRule(verbs=verbs, resources=r.resources, api_group=r.api_group,
                                      namespace=r.namespace))
        return Permissions(arm=tuple(a for a in self.arm if a.lower().endswith("/read")),
                           kube=tuple(dict.fromkeys(rules)))

    def minimal(self) -> Permissions:
        """The same grants with no redundant Kubernetes entry: one rule per verb and resource, dropping those a
        broader one covers (a namespaced rule under a cluster-wide one, a resource under ``*`` of its group)."""
        singles = list(dict.fromkeys(r for rule in self.kube for r in rule.singles()))

        def broader(t: KubeRule, s: KubeRule) -> bool:
            if t == s or t.verbs != s.verbs or t.api_group != s.api_group:
                return False
            wider_ns = t.namespace is None and s.namespace is not None
            wider_res = t.resources == ("*",) and s.resources != ("*",)
            return (wider_ns and t.resources in (s.resources, ("*",))) or (
                wider_res and t.namespace in (None, s.namespace))

        return Permissions(arm=self.arm, kube=tuple(s for s in singles if not any(broader(t, s) for t in singles)))

    def covers_arm(self, action: str) -> bool:
        return action_allowed(action, list(self.arm), [])

    def covers_kube(self, verb: str, group: str, resource: str, namespace: str | None) -> bool:
        return any(rule_covers(r, verb, group, resource, namespace) for r in self.kube)


NONE = Permissions()


def arm(*actions: str) -> Permissions:
    """Permissions of these Azure actions."""
    return Permissions(arm=tuple(actions))


def kube(verbs: str, resources: str, group: str = "", namespace: str | None = None) -> KubeRule:
    """A rule from comma-separated verbs and resources."""
    return KubeRule(verbs=tuple(v.strip() for v in verbs.split(",")),
                    resources=tuple(r.strip() for r in resources.split(",")), api_group=group, namespace=namespace)


def rules(*rs: KubeRule, actions: Iterable[str] = ()) -> Permissions:
    """Permissions of these Kubernetes rules (and Azure actions)."""
    return Permissions(arm=tuple(actions), kube=tuple(rs))


def _match(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def action_allowed(action: str, actions: list[str], not_actions: list[str]) -> bool:
    """Azure's evaluation of ``action`` against one permission entry (see the module contract)."""
    return any(_match(p, action) for p in actions) and not any(_match(p, action) for p in not_actions)


def rule_covers(rule: KubeRule, verb: str, group: str, resource: str, namespace: str | None) -> bool:
    """Whether ``rule`` allows ``verb`` on ``resource`` (``pods/exec`` for a subresource) of ``group``."""
    if rule.namespace is not None and namespace != rule.namespace:
        return False
    return (("*" in rule.verbs or verb in rule.verbs) and rule.api_group in ("*", group)
            and ("*" in rule.resources or resource in rule.resources))


# Sets several steps and checks share (each declares them with its decorator).
NET = "networking.k8s.io"
RBAC = "rbac.authorization.k8s.io"
CALICO = "crd.projectcalico.org"
TIGERA = "operator.tigera.io"
CALICO_POLICIES = "globalnetworkpolicies,globalnetworksets,networkpolicies,networksets"  # of crd.projectcalico.org
CS = "Microsoft.ContainerService"
VNET_READ = arm("Microsoft.Network/virtualNetworks/read")
# the VNet and the per-subnet IP usage (netmig.azure.subnets: GET .../virtualNetworks/{name}/usages)
VNET_USAGES = VNET_READ | arm("Microsoft.Network/virtualNetworks/usages/read")
# reading one's own effective permissions (netmig.azure.permissions: GET {scope}/providers/Microsoft.Authorization/
# permissions)
OWN_PERMISSIONS = arm("Microsoft.Authorization/permissions/read")
# what the policy engine reads (netmig.kube.gateway.KubeGateway.inventory)
INVENTORY = rules(kube("list", "namespaces,nodes,pods,services"), kube("list", "networkpolicies", NET))
# connectivity probes (netmig.kube.probes): a probe namespace, probe pods and their logs, the results ConfigMap
PROBES = INVENTORY | rules(kube("create,get,list,delete", "pods"), kube("get", "pods/log"),
                           kube("create,get,update,delete", "configmaps"), kube("create,get,delete", "namespaces"))
# what the Calico leftovers are (netmig.kube.calico): read by the check and the backup, deleted by the cleanup
CALICO_LEFTOVERS_READ = rules(
    kube("get", "namespaces"), kube("list", "serviceaccounts"),
    kube("list", "customresourcedefinitions", "apiextensions.k8s.io"),
    kube("list", "apiservices", "apiregistration.k8s.io"),
    kube("list", "clusterroles,clusterrolebindings", RBAC), kube("list", "*", CALICO), kube("list", "*", TIGERA))
# an ARM network-profile PUT and its long-running operation
ARM_UPDATE = arm(f"{CS}/managedClusters/write", f"{CS}/locations/operations/read")
# the documented recovery path of every run (`aks-netmig abort`: POST .../managedClusters/{name}/abort, then its
# long-running operation); part of each kind's run role
# (its poll follows the Location header too: locations/operationresults/read, spelled in lower case by Microsoft)
RECOVERY = arm(f"{CS}/managedClusters/abort/action", f"{CS}/locations/operations/read",
               f"{CS}/locations/operationresults/read")
# `aks-netmig fleet scan` (netmig.azure.inventory, netmig.commands.scan_access): the subscriptions listed, each one's
# own permissions read (the access check), the clusters queried through Resource Graph (rows only for clusters the
# caller may read), or listed per subscription when Resource Graph is unavailable. No Kubernetes: the node pools
# come from each cluster's agentPoolProfiles. `fleet scan --deep` adds, for every cluster with a recommended
# migration, that kind's read-only (plan / preflight) role (netmig.engine.permissions.for_fleet_scan).
FLEET_SCAN = arm("Microsoft.Resources/subscriptions/read", "Microsoft.ResourceGraph/resources/read",
                 f"{CS}/managedClusters/read") | OWN_PERMISSIONS
