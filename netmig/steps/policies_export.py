"""export-policies and restore-policies: Tigera's steps 2 and 7 (``kubectl get netpol -A -o yaml`` before the
network policy goes to none; re-apply them once the self-managed Calico runs).

- ``export-policies``: every NetworkPolicy, without uid, resourceVersion, creationTimestamp, generation,
  managedFields, status and the last-applied annotation (``netmig.backups.clean``), to
  RUN_DIR/policies-export/networkpolicies.yaml (the ``netmig.backups`` format 1, kind ``policy-export``: a
  manifest with sha256 and object keys, verified by re-reading; ``aks-netmig restore DIR`` reads it). Reused on a
  rerun.
- ``restore-policies`` (param ``export_step``, default the first export-policies step): every exported policy
  must exist with the same spec, labels and annotations: a missing one is created, a changed one is put back
  (PUT on its resourceVersion); then all are re-read and compared (``CheckFailed`` listing what still differs).
  Policies created after the export are left alone. Idempotent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import Field

from netmig import backups
from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, StepParams, step

FOLDER = "policies-export"


def exported(policy: dict[str, Any]) -> dict[str, Any]:
    """A NetworkPolicy as re-applying it needs it (``netmig.backups.clean``: what Tigera's procedure strips)."""
    return backups.clean({**policy, "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy"})


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ea, eb = exported(a), exported(b)
    return bool(ea.get("spec") == eb.get("spec")
                and (ea["metadata"].get("labels") or {}) == (eb["metadata"].get("labels") or {})
                and (ea["metadata"].get("annotations") or {}) == (eb["metadata"].get("annotations") or {}))


@step("export-policies", params=NoParams, permissions=perm.rules(perm.kube("list", "networkpolicies", perm.NET)))
def export_policies(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    d = ctx.run_dir / FOLDER
    previous = ctx.journal.value(f"{step.id}.dir")
    if previous and Path(previous).is_dir():
        try:
            return {"dir": previous, "policies": len(backups.read(Path(previous)).files["networkpolicies"]),
                    "reused": True}
        except (ValueError, KeyError):
            pass  # unreadable: export again (nothing has been changed before the approval)
    items = sorted((exported(p) for p in ctx.kube.network_policies()), key=backups.ns_name)
    try:
        backups.write(d, "policy-export", {"networkpolicies": items},
                      dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    except backups.BackupError as e:
        raise CheckFailed(f"the policy export in {d} does not verify: {e}", "check the disk, then rerun apply") from e
    ctx.journal.set(f"{step.id}.dir", str(d))
    return {"dir": str(d), "policies": len(items)}


def _export_dir(ctx: StepContext, export_step: str | None) -> Path:
    name = export_step or next(
        (s.id for s in ctx.plan.steps if s.kind == "export-policies"), None)
    d = ctx.journal.value(f"{name}.dir") if name else None
    if not d or not Path(d).is_dir():
        raise CheckFailed("no policy export of this run to re-apply", "the export-policies step runs before the "
                          "change; rerun apply")
    return Path(d)


class RestorePoliciesParams(StepParams):
    export_step: str | None = Field(default=None, description="the export-policies step (default: the plan's)")


@step("restore-policies", params=RestorePoliciesParams, changes_cluster=True,
      permissions=perm.rules(perm.kube("get,list,create,patch,update", "networkpolicies", perm.NET)))
def restore_policies(ctx: StepContext, step: PlanStep, params: RestorePoliciesParams) -> dict[str, Any]:
    from netmig.kube import errors
    from netmig.kube.resources import Rest
    from netmig.kube.restore import put_back

    d = _export_dir(ctx, params.export_step)
    try:
        wanted = backups.read(d).files["networkpolicies"]
    except (ValueError, KeyError) as e:
        raise CheckFailed(f"the policy export in {d} is damaged: {e}", "restore it from the backup step's "
                          "folder, then rerun apply") from e
    try:
        done = put_back(Rest(ctx.kube), wanted, same)
    except errors.Conflict as e:
        raise CheckFailed(f"{e} (the NetworkPolicy changed while it was being re-applied)", "rerun apply") from None
    created, replaced, differ = done.created, done.replaced, done.differ
    if differ:
        raise CheckFailed(f"NetworkPolicies missing or different after re-applying: {', '.join(differ[:10])}",
                          f"compare with {d}/networkpolicies.yaml, then rerun apply")
    lines = [f"- {len(wanted)} NetworkPolicies exported before the change ({d}); all {len(wanted)} present again "
             "with the same spec, labels and annotations (re-read and compared).",
             f"- re-created: {', '.join(created) or 'none'}; put back: {', '.join(replaced) or 'none'}."]
    ctx.journal.record("report-note", title="Network policies re-applied", lines=lines)
    return {"policies": len(wanted), "created": len(created), "replaced": len(replaced)}
