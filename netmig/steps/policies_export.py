"""export-policies and restore-policies: Tigera's steps 2 and 7 (``kubectl get netpol -A -o yaml`` before the
network policy goes to none; re-apply them once the self-managed Calico runs).

- ``export-policies``: every NetworkPolicy, without uid, resourceVersion, creationTimestamp, generation,
  managedFields, status and the last-applied annotation, to RUN_DIR/policies-export/networkpolicies.yaml (the
  ``netmig.kube.restore`` backup format: a manifest with sha256, verified by re-reading). Reused on a rerun.
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

from netmig.errors import CheckFailed
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, StepParams, step

STRIPPED_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FOLDER = "policies-export"


def exported(policy: dict[str, Any]) -> dict[str, Any]:
    """A NetworkPolicy as re-applying it needs it (what Tigera's procedure strips, stripped)."""
    out = {k: v for k, v in policy.items() if k != "status"}
    meta = {k: v for k, v in (policy.get("metadata") or {}).items() if k not in STRIPPED_META}
    ann = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if ann:
        meta["annotations"] = ann
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    out["apiVersion"], out["kind"] = "networking.k8s.io/v1", "NetworkPolicy"
    return out


def _key(o: dict[str, Any]) -> str:
    m = o.get("metadata") or {}
    return f"{m.get('namespace')}/{m.get('name')}"


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    ea, eb = exported(a), exported(b)
    return bool(ea.get("spec") == eb.get("spec")
                and (ea["metadata"].get("labels") or {}) == (eb["metadata"].get("labels") or {})
                and (ea["metadata"].get("annotations") or {}) == (eb["metadata"].get("annotations") or {}))


@step("export-policies", params=NoParams)
def export_policies(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    from netmig.kube.restore import read_backup, write_backup

    d = ctx.run_dir / FOLDER
    previous = ctx.journal.value(f"{step.id}.dir")
    if previous and Path(previous).is_dir():
        try:
            return {"dir": previous, "policies": len(read_backup(Path(previous))["networkpolicies"]),
                    "reused": True}
        except (ValueError, KeyError):
            pass  # unreadable: export again (nothing has been changed before the approval)
    items = sorted((exported(p) for p in ctx.kube.network_policies()), key=_key)
    write_backup(d, {"networkpolicies": items}, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                 "networkpolicies-export")
    try:
        reread = read_backup(d)["networkpolicies"]
    except ValueError as e:
        raise CheckFailed(f"the policy export in {d} does not verify: {e}", "check the disk, then rerun apply") from e
    if reread != items:
        raise CheckFailed(f"the policy export in {d} does not read back as written", "check the disk, rerun apply")
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


@step("restore-policies", params=RestorePoliciesParams, changes_cluster=True)
def restore_policies(ctx: StepContext, step: PlanStep, params: RestorePoliciesParams) -> dict[str, Any]:
    from netmig.kube import errors
    from netmig.kube.resources import Rest
    from netmig.kube.restore import read_backup

    d = _export_dir(ctx, params.export_step)
    try:
        wanted = read_backup(d)["networkpolicies"]
    except ValueError as e:
        raise CheckFailed(f"the policy export in {d} is damaged: {e}", "restore it from the backup step's "
                          "folder, then rerun apply") from e
    rest = Rest(ctx.kube)
    res = rest.resource("networking.k8s.io/v1", "NetworkPolicy")
    live = {_key(p): p for p in ctx.kube.network_policies()}
    created, replaced = [], []
    for p in wanted:
        k = _key(p)
        if k not in live:
            rest.create(res, p)
            created.append(k)
        elif not same(p, live[k]):
            body = {**p, "metadata": {**p["metadata"],
                                      "resourceVersion": live[k]["metadata"].get("resourceVersion")}}
            try:
                rest.replace(res, body)
            except errors.Conflict:
                raise CheckFailed(f"NetworkPolicy {k} changed while it was being re-applied", "rerun apply") from None
            replaced.append(k)
    now = {_key(p): p for p in ctx.kube.network_policies()}
    differ = [_key(p) for p in wanted if _key(p) not in now or not same(p, now[_key(p)])]
    if differ:
        raise CheckFailed(f"NetworkPolicies missing or different after re-applying: {', '.join(differ[:10])}",
                          f"compare with {d}/networkpolicies.yaml, then rerun apply")
    lines = [f"- {len(wanted)} NetworkPolicies exported before the change ({d}); all {len(wanted)} present again "
             "with the same spec, labels and annotations (re-read and compared).",
             f"- re-created: {', '.join(created) or 'none'}; put back: {', '.join(replaced) or 'none'}."]
    ctx.journal.record("report-note", title="Network policies re-applied", lines=lines)
    return {"policies": len(wanted), "created": len(created), "replaced": len(replaced)}
