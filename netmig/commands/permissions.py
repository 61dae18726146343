"""``permissions``: the least-privilege roles a migration kind needs (issue 18).

Contract: ``permissions(PermissionsRequest(kind, read_only=False, verify=False)) -> PermissionsResult``; built from
the step kinds' and checks' declarations by ``netmig.engine.permissions`` (``for_kind`` / ``for_verify``,
``documents``). ``read_only``: what ``plan`` / ``preflight`` need; ``verify``: what ``aks-netmig verify`` needs;
both at once is a ``UsageError``, and so is an unknown kind. ``to_dict()`` is the ``aks-netmig permissions --json``
document ``{"azure_role": {...}, "kubernetes": [...]}``; ``permissions`` is the ``Permissions`` value behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netmig.errors import UsageError
from netmig.model.permissions import Permissions


@dataclass(frozen=True)
class PermissionsRequest:
    kind: str
    read_only: bool = False
    verify: bool = False


@dataclass
class PermissionsResult:
    azure_role: dict[str, Any]
    kubernetes: list[dict[str, Any]]
    permissions: Permissions = field(default_factory=Permissions, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"azure_role": self.azure_role, "kubernetes": self.kubernetes}


def permissions(req: PermissionsRequest) -> PermissionsResult:
    """See the module contract."""
    from netmig.engine import permissions as perms

    if req.read_only and req.verify:
        raise UsageError("--read-only and --verify are two different roles", "pass one of them")
    perms.load_template(req.kind)  # an unknown kind: one line, exit 2
    need = perms.for_verify() if req.verify else perms.for_kind(req.kind, read_only=req.read_only)
    doc = perms.documents(req.kind, need, read_only=req.read_only, verify=req.verify)
    return PermissionsResult(doc["azure_role"], doc["kubernetes"], need)
