"""``permissions``: the least-privilege roles a migration kind, or the fleet scan, needs (issue 18).

Contract: ``permissions(PermissionsRequest(kind, read_only=False, verify=False, fleet_scan=False, deep=False))
-> PermissionsResult``; built from the declarations by ``netmig.engine.permissions``:
- a migration kind (``for_kind`` / ``for_verify``, ``documents``): ``read_only``: what ``plan`` / ``preflight``
  need; ``verify``: what ``aks-netmig verify`` needs; both at once is a ``UsageError``, and so is an unknown kind;
- ``fleet_scan`` (no kind): what ``aks-netmig fleet scan`` needs (``for_fleet_scan``, ``fleet_documents``: Azure reads
  only, no Kubernetes object); ``deep``: what ``fleet scan --deep`` needs (plus each kind's read-only role).
  A kind together with ``fleet_scan``, neither of them, ``deep`` without ``fleet_scan``, or ``fleet_scan`` with
  ``read_only`` / ``verify`` is a ``UsageError`` (one line naming the fix).
``to_dict()`` is the ``aks-netmig permissions --json`` document ``{"azure_role": {...}, "kubernetes": [...]}``;
``permissions`` is the ``Permissions`` value behind it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netmig.errors import UsageError
from netmig.model.permissions import Permissions


@dataclass(frozen=True)
class PermissionsRequest:
    kind: str | None = None
    read_only: bool = False
    verify: bool = False
    fleet_scan: bool = False
    deep: bool = False


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

    if req.fleet_scan:
        if req.kind:
            raise UsageError("--migration and --fleet-scan are two different roles", "pass one of them")
        if req.read_only or req.verify:
            raise UsageError("--read-only and --verify apply to --migration KIND; the fleet scan role only reads",
                             "drop them (--deep adds what fleet scan --deep reads)")
        need = perms.for_fleet_scan(req.deep)
        doc = perms.fleet_documents(need, req.deep)
        return PermissionsResult(doc["azure_role"], doc["kubernetes"], need)
    if req.deep:
        raise UsageError("--deep applies to --fleet-scan", "pass --fleet-scan --deep")
    if not req.kind:
        raise UsageError("no role chosen", "pass --migration KIND (a migration) or --fleet-scan (fleet scan)")
    if req.read_only and req.verify:
        raise UsageError("--read-only and --verify are two different roles", "pass one of them")
    perms.load_template(req.kind)  # an unknown kind: one line, exit 2
    need = perms.for_verify() if req.verify else perms.for_kind(req.kind, read_only=req.read_only)
    doc = perms.documents(req.kind, need, read_only=req.read_only, verify=req.verify)
    return PermissionsResult(doc["azure_role"], doc["kubernetes"], need)
