"""Azure RBAC for the sandbox's ARM token: request -> action, the identity's role, 403 AuthorizationFailed, and the
``Microsoft.Authorization/permissions`` API.

Contract:
- ``action_for(method, path)`` -> the Azure RBAC action a request needs (``Microsoft.ContainerService/
  managedClusters/write`` ...; the names of the resource providers' operations, as Microsoft's lists spell them:
  ``Microsoft.Authorization/permissions/read`` for the caller's own permissions, ``.../virtualNetworks/usages/
  read`` for a VNet's usages), or None for a request no action governs (the subscription list).
- The identity is ``netmig_sandbox.kube.rbac.identity(ctx)`` (the ``aks-netmig permissions --json`` document); its
  ``azure_role`` is a role definition as ``az role definition create`` takes it (``Actions`` / ``NotActions``, or
  the ARM form ``permissions[0].actions/notActions``). No identity: everything is allowed (``actions ["*"]``).
- ``role_permissions(ctx)`` -> ``(actions, not_actions)``; ``allowed(action, actions, not_actions)`` is ARM's
  evaluation: some action pattern matches and no notAction pattern does (``*`` wildcards, case-insensitive).
- ``failure(action, scope)`` is the ``(403, code, message)`` ARM answers (``AuthorizationFailed``).
- ``permissions_json(ctx)`` is the body of ``GET {scope}/providers/Microsoft.Authorization/permissions``;
  ``role_actions(role)`` / ``permissions_body(actions, not_actions)`` the same for a role given directly (the
  sandbox fleet's front, which has no single cluster context).
"""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from netmig_sandbox.context import SandboxContext
from netmig_sandbox.kube import rbac

PRINCIPAL = "00000000-0000-0000-0000-00000000a5e7"
_CS = "Microsoft.ContainerService"
_RG = r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.containerservice"
_MC = _RG + r"/managedclusters/[^/]+"
_LOC = r"/subscriptions/[^/]+/providers/microsoft\.containerservice/locations/[^/]+"
_VNET = r"/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.network/virtualnetworks"

# (method, path pattern on the lowered path, action); first match wins
ACTIONS: list[tuple[str, re.Pattern[str], str | None]] = [(m, re.compile(p), a) for m, p, a in [
    ("GET", r".*/providers/microsoft\.authorization/permissions", "Microsoft.Authorization/permissions/read"),
    ("GET", r"/subscriptions", None),
    ("GET", r"/subscriptions/[^/]+", "Microsoft.Resources/subscriptions/read"),
    ("GET", r"/subscriptions/[^/]+/providers/microsoft\.containerservice/managedclusters",
     f"{_CS}/managedClusters/read"),
    ("GET", _RG + r"/managedclusters", f"{_CS}/managedClusters/read"),
    ("GET", _MC, f"{_CS}/managedClusters/read"),
    ("PUT", _MC, f"{_CS}/managedClusters/write"),
    ("GET", _MC + r"/agentpools(/[^/]+)?", f"{_CS}/managedClusters/agentPools/read"),
    ("PUT", _MC + r"/agentpools/[^/]+", f"{_CS}/managedClusters/agentPools/write"),
    ("POST", _MC + r"/abort", f"{_CS}/managedClusters/abort/action"),
    ("POST", _MC + r"/agentpools/[^/]+/abort", f"{_CS}/managedClusters/agentPools/abort/action"),
    ("POST", _MC + r"/listclusterusercredential", f"{_CS}/managedClusters/listClusterUserCredential/action"),
    ("POST", _MC + r"/listclusteradmincredential", f"{_CS}/managedClusters/listClusterAdminCredential/action"),
    ("GET", _MC + r"/upgradeprofiles/[^/]+", f"{_CS}/managedClusters/upgradeProfiles/read"),
    ("GET", _LOC + r"/kubernetesversions", f"{_CS}/locations/kubernetesVersions/read"),
    ("POST", _MC + r"/runcommand", f"{_CS}/managedClusters/runCommand/action"),
    ("GET", _MC + r"/commandresults/[^/]+", f"{_CS}/managedClusters/commandResults/read"),
    ("GET", _LOC + r"/operations/[^/]+", f"{_CS}/locations/operations/read"),
    ("GET", _LOC + r"/operationresults/[^/]+", f"{_CS}/locations/operationresults/read"),
    ("GET", _VNET + r"(/[^/]+)?", "Microsoft.Network/virtualNetworks/read"),
    ("GET", _VNET + r"/[^/]+/usages", "Microsoft.Network/virtualNetworks/usages/read"),
    ("GET", _VNET + r"/[^/]+/subnets(/[^/]+)?", "Microsoft.Network/virtualNetworks/subnets/read"),
]]


def action_for(method: str, path: str) -> str | None:
    """The action ``method path`` needs (see the module contract); an unknown request maps to ``METHOD path``."""
    low = path.rstrip("/").lower()
    for m, pattern, action in ACTIONS:
        if m == method.upper() and pattern.fullmatch(low):
            return action
    return f"{method.upper()} {path}"


def _role(ctx: SandboxContext) -> dict[str, Any] | None:
    doc = rbac.identity(ctx)
    role = doc.get("azure_role") if doc is not None else None
    return role if isinstance(role, dict) else None


def role_permissions(ctx: SandboxContext) -> tuple[list[str], list[str]]:
    """The identity's (actions, notActions); everything for the default identity."""
    return role_actions(_role(ctx))


def role_actions(role: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(actions, notActions) of an Azure role definition (either form); everything for None."""
    if role is None:
        return ["*"], []
    if "Actions" in role or "NotActions" in role:
        return [str(a) for a in role.get("Actions") or []], [str(a) for a in role.get("NotActions") or []]
    perms = ((role.get("properties") or role).get("permissions") or [{}])[0]
    return [str(a) for a in perms.get("actions") or []], [str(a) for a in perms.get("notActions") or []]


def _match(pattern: str, action: str) -> bool:
    return fnmatch.fnmatchcase(action.lower(), pattern.lower())


def allowed(action: str, actions: list[str], not_actions: list[str]) -> bool:
    """ARM's evaluation of one action against a role's actions / notActions."""
    return any(_match(p, action) for p in actions) and not any(_match(p, action) for p in not_actions)


def failure(action: str, scope: str) -> tuple[int, str, str]:
    """The 403 ARM answers for ``action`` on ``scope``."""
    return (403, "AuthorizationFailed",
            f"The client '{PRINCIPAL}' with object id '{PRINCIPAL}' does not have authorization to perform action "
            f"'{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please "
            "refresh your credentials.")


def permissions_json(ctx: SandboxContext) -> dict[str, Any]:
    """The caller's permissions at any scope (the sandbox's role applies to the whole subscription)."""
    return permissions_body(*role_permissions(ctx))


def permissions_body(actions: list[str], not_actions: list[str]) -> dict[str, Any]:
    """The body of ``GET {scope}/providers/Microsoft.Authorization/permissions`` for one role."""
    return {"value": [{"actions": actions, "notActions": not_actions, "dataActions": [], "notDataActions": []}]}
