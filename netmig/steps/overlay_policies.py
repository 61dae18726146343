"""backup-calico-policies and restore-verify-policies: the policies survive a path that takes the policy engine
away (kubenet+Calico -> overlay fallback: network policy none -> overlay -> calico), and the report says for how
long nothing enforced them.

- ``backup-calico-policies``: Calico's own policy objects (crd.projectcalico.org/v1 networkpolicies,
  globalnetworkpolicies, networksets, globalnetworksets, where the API exists) to RUN_DIR/backup-calico-TIMESTAMP/
  (``netmig.backups`` format 1, kind ``calico-policies``: one file per kind), verified by re-reading; ``aks-netmig
  restore DIR`` reads it. Kubernetes NetworkPolicies are in the ``backup`` step's folder.
- ``restore-verify-policies``: every NetworkPolicy of the ``backup`` step (param ``backup_step``, default
  ``backup``) and every Calico object of ``calico_backup_step`` (default ``backup-calico``, optional) -- both
  read through ``netmig.backups.read``, so a damaged backup is refused -- must exist
  with the same spec: a missing one is created again, a changed one is put back; then all are re-read and
  compared (``CheckFailed`` listing what still differs). Idempotent. It journals a ``report-note`` "Network
  policies" and, when a change on this run's path set the network policy to none, the unenforced window: from
  that PUT until the step named by ``enforced_after`` finished (default: now) -- also ``set unenforced-window``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import Field

from netmig import backups
from netmig.errors import CheckFailed
from netmig.journal import EventKind
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep, step_target
from netmig.stepkit import variants
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, StepParams, step

CALICO_GROUP, CALICO_VERSION = "crd.projectcalico.org", "v1"
CALICO_KINDS = {"networkpolicies": True, "globalnetworkpolicies": False, "networksets": True,
                "globalnetworksets": False}  # plural -> namespaced
def _calico_list(ctx: StepContext, plural: str) -> list[dict[str, Any]] | None:
    """The objects of one Calico kind, None when the API does not exist."""
    from netmig.kube import errors
    from netmig.kube.client import translated

    try:
        with translated(f"listing {plural}.{CALICO_GROUP}"):
            res: Any = ctx.kube.custom.list_cluster_custom_object(CALICO_GROUP, CALICO_VERSION, plural)
    except errors.NotFound:
        return None
    return [dict(o) for o in res.get("items") or []]


@step("backup-calico-policies", params=NoParams,
      permissions=perm.rules(
          perm.kube("list", "networkpolicies", perm.NET),
          perm.kube("list", perm.CALICO_POLICIES, perm.CALICO)))
def backup_calico_policies(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    previous = ctx.journal.value(f"{step.id}.dir")
    if previous and not backups.verify(Path(previous)):
        return {"dir": previous, "reused": True}
    now = dt.datetime.now(dt.UTC)
    d = ctx.run_dir / f"backup-calico-{now:%Y%m%d-%H%M%S}"
    groups = {plural: items for plural in CALICO_KINDS if (items := _calico_list(ctx, plural)) is not None}
    try:
        written = backups.write(d, "calico-policies", groups, now.isoformat(timespec="seconds"))
    except backups.BackupError as e:
        raise CheckFailed(f"the Calico policy backup in {d} does not verify: {e}",
                          "check the disk, then rerun apply") from e
    ctx.journal.set(f"{step.id}.dir", str(d))
    return {"dir": str(d), **{plural: len(items) for plural, items in written.files.items()}}


def _read(d: Path) -> backups.Backup:
    """The verified backup in ``d`` (``CheckFailed`` when it is damaged: it is never restored from)."""
    try:
        return backups.read(d)
    except backups.BackupError as e:
        raise CheckFailed(f"the backup {d} is damaged: {e}", f"restore it from a copy of {d}, then rerun apply") \
            from None


def _same(backed: dict[str, Any], live: dict[str, Any]) -> bool:
    a, b = backups.clean(backed), backups.clean(live)
    return bool(a.get("spec") == b.get("spec") and (a["metadata"].get("labels") or {}) ==
                (b["metadata"].get("labels") or {}))


def _window(ctx: StepContext, step: PlanStep, after: str | None) -> dict[str, Any] | None:
    """The unenforced window of this run's path: from the policy-none PUT to ``enforced_after`` (or now)."""
    path = variants.path_steps(ctx.plan, variants.active(ctx))
    none_steps = {s.id for s in path if s.kind == "update-network-profile"
                  and step_target(ctx.plan.source_profile(), s).engine == "none"}
    if not none_steps or ctx.plan.source_profile().engine == "none":
        return None
    events = ctx.journal.read()
    starts = [e for e in events if e.is_(EventKind.ARM_PUT) and e.step in none_steps]
    if not starts:
        return None
    ends = [e.time for e in events if e.is_(EventKind.STEP_DONE) and e.step == after]
    end = ends[-1] if ends else dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    seconds = (dt.datetime.fromisoformat(end) - dt.datetime.fromisoformat(starts[0].time)).total_seconds()
    return {"from": starts[0].time, "to": end, "seconds": round(seconds, 1), "from_step": starts[0].step,
            "to_step": after or step.id}


class RestoreVerifyParams(StepParams):
    backup_step: str = Field(default="backup", description="the backup step holding networkpolicies.yaml")
    calico_backup_step: str = Field(default="backup-calico", description="the backup-calico-policies step")
    enforced_after: str | None = Field(default=None, description="the step after which policies are enforced")


@step("restore-verify-policies", params=RestoreVerifyParams, changes_cluster=True,
      permissions=perm.rules(
          perm.kube("get,list,create,patch,update", "networkpolicies", perm.NET),
          perm.kube("get,list,create,patch,update", perm.CALICO_POLICIES, perm.CALICO)))
def restore_verify_policies(ctx: StepContext, step: PlanStep, params: RestoreVerifyParams) -> dict[str, Any]:
    from netmig.kube import errors
    from netmig.kube.resources import Rest
    from netmig.kube.restore import put_back

    backup_dir = ctx.journal.value(f"{params.backup_step}.dir")
    if not backup_dir or not (Path(backup_dir) / "networkpolicies.yaml").is_file():
        raise CheckFailed("no NetworkPolicy backup of this run to restore from", "rerun apply (the backup step runs "
                          "before any change)")
    backed = _read(Path(backup_dir)).files["networkpolicies"]
    calico_dir = ctx.journal.value(f"{params.calico_backup_step}.dir")
    calico_files = _read(Path(calico_dir)).files if calico_dir else {}
    calico_created: list[str] = []
    rest = Rest(ctx.kube)
    try:
        done = put_back(rest, backed, _same)
        for plural in CALICO_KINDS:  # Calico's objects: the missing ones are created again
            calico_created += [f"{plural}/{k}" for k in put_back(rest, calico_files.get(plural, []), None).created]
    except errors.Conflict as e:
        raise CheckFailed(f"{e} (it changed while it was being restored)", "rerun apply") from None
    created, replaced = done.created, done.replaced
    calico_count = sum(len(calico_files.get(plural, [])) for plural in CALICO_KINDS)
    if done.differ:
        raise CheckFailed(f"NetworkPolicies still missing or different after the restore: {', '.join(done.differ)}",
                          f"compare with {backup_dir}/networkpolicies.yaml, then rerun apply")
    lines = [f"- {len(backed)} NetworkPolicies backed up before the change ({backup_dir}); after the migration "
             f"all {len(backed)} are present with the same spec and labels (re-read and compared).",
             f"- re-created: {', '.join(created) or 'none'}; put back: {', '.join(replaced) or 'none'}."]
    if calico_dir:
        lines.append(f"- {calico_count} Calico policy objects backed up ({calico_dir}); re-created: "
                     f"{', '.join(calico_created) or 'none'}.")
    window = _window(ctx, step, params.enforced_after)
    if window:
        ctx.journal.set("unenforced-window", window)
        lines.append(f"- **Unenforced window**: NetworkPolicies were not enforced from {window['from'][:19]} (PUT "
                     f"{window['from_step']}: network policy none) until {window['to'][:19]} ({window['to_step']}: "
                     f"Calico Ready again on every node): {window['seconds']} s.")
    else:
        lines.append("- The policy engine was never removed on this path: no unenforced window.")
    ctx.journal.record("report-note", title="Network policies", lines=lines)
    return {"policies": len(backed), "recreated": len(created), "restored": len(replaced),
            "calico_recreated": len(calico_created),
            "unenforced_s": window["seconds"] if window else 0.0}
