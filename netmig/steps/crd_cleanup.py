"""calico-backup, crd-cleanup and unenforced-policies: removing what Calico / the tigera operator leave behind
once the network policy is none (``netmig.kube.calico`` does the work).

- ``calico-backup``: every Calico/Tigera CRD and custom resource, the cni-protector RBAC, the projectcalico.org
  APIServices and the Calico namespaces to RUN_DIR/calico-backup-TIMESTAMP/, verified by re-reading it and by a
  fresh inventory of the cluster. Reused on a rerun while it still verifies. ``aks-netmig restore DIR`` puts it back.
- ``crd-cleanup``: refuses while AKS manages Calico (network policy calico) or any policy-engine pod runs (so it
  can never break a running Calico, whatever the plan says), and without a verified backup of this run (param
  ``backup_step``; default the last calico-backup step before it) that holds every object it would delete. Then
  deletes (``netmig.kube.calico.cleanup``; params ``phases``, default all, and ``wait_s``, 300). Idempotent.
  Test hook point ``STEP:deleted=N``: after the N-th delete request.
- ``unenforced-policies``: the report lists every NetworkPolicy that still exists and that nothing enforces now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, StepParams, seconds, step
from netmig.stepkit.testhooks import kill_point


@step("calico-backup", params=NoParams, permissions=perm.CALICO_LEFTOVERS_READ)
def calico_backup(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    from netmig.kube import calico
    from netmig.kube.resources import Rest

    rest = Rest(ctx.kube)
    previous = ctx.journal.value(f"{step.id}.dir")
    if previous and Path(previous).is_dir() and not calico.verify(Path(previous), rest):
        return {"dir": previous, "reused": True}
    inv = calico.inventory(rest)
    if inv.unreadable:
        raise CheckFailed(f"cannot list the objects of {', '.join(inv.unreadable[:3])}: they could not be backed up",
                          "fix access to those CRDs, then rerun apply (nothing was deleted)")
    try:
        d, counts = calico.backup(rest, inv, ctx.run_dir)
    except RuntimeError as e:
        raise CheckFailed(str(e), "rerun apply (nothing was deleted)") from e
    ctx.journal.set(f"{step.id}.dir", str(d))
    ctx.progress.message(f"backed up {inv.describe()} to {d}")
    return {"dir": str(d), **counts}


def _backup_dir(ctx: StepContext, step: PlanStep, name: str | None) -> Path:
    if not name:
        before = ctx.plan.steps[: ctx.plan.steps.index(step)]
        name = next((s.id for s in reversed(before) if s.kind == "calico-backup"), None)
    d = ctx.journal.value(f"{name}.dir") if name else None
    if not d or not Path(d).is_dir():
        raise CheckFailed(f"step {step.id} has no backup of this run to rely on",
                          "put a calico-backup step before it in the plan")
    return Path(d)


class CrdCleanupParams(StepParams):
    phases: list[str] | None = Field(default=None, description="the cleanup phases to run (default: all)")
    wait_s: float = seconds(300, "how long to wait for the deletes to finish")
    backup_step: str | None = Field(default=None, description="the calico-backup step (default: the last before)")


@step("crd-cleanup", params=CrdCleanupParams, changes_cluster=True,
      permissions=perm.CALICO_LEFTOVERS_READ | perm.rules(
          perm.kube("list", "pods"),
          perm.kube("get,delete", "namespaces"),
          perm.kube("get,patch,delete", "serviceaccounts"),
          perm.kube("get,delete", "customresourcedefinitions", "apiextensions.k8s.io"),
          perm.kube("get,delete", "apiservices", "apiregistration.k8s.io"),
          perm.kube("get,patch,delete", "clusterroles,clusterrolebindings", perm.RBAC),
          perm.kube("get,patch,delete", "*", perm.CALICO),
          perm.kube("get,patch,delete", "*", perm.TIGERA)))
def crd_cleanup(ctx: StepContext, step: PlanStep, params: CrdCleanupParams) -> dict[str, Any]:
    from netmig.kube import calico
    from netmig.kube.resources import Rest

    net = ctx.cluster(fresh=True).network
    if net.policy == "calico":
        raise CheckFailed("AKS still manages Calico (network policy calico): its CRDs are in use",
                          "set the network policy to none first; nothing was deleted")
    pods = calico.engine_pods(ctx.kube)
    if pods:
        raise CheckFailed(f"a policy engine runs and uses these objects: {', '.join(pods[:5])}",
                          "cleaning up now would break it; nothing was deleted")
    rest = Rest(ctx.kube)
    d = _backup_dir(ctx, step, params.backup_step)
    problems = calico.verify(d, rest)
    if problems:
        raise CheckFailed(f"the backup {d} does not cover the cluster any more: {'; '.join(problems)}",
                          "rerun from a fresh plan (a new backup is taken); nothing was deleted")
    inv = calico.inventory(rest)
    phases = list(params.phases or calico.PHASES)
    unknown = sorted(set(phases) - set(calico.PHASES))
    if unknown:
        raise CheckFailed(f"step {step.id}: unknown phases {', '.join(unknown)}",
                          f"use some of: {', '.join(calico.PHASES)}")
    try:
        result = calico.cleanup(rest, inv, phases=phases, wait_s=params.wait_s,
                                sleep=ctx.sleep, clock=ctx.clock, on_progress=ctx.progress.message,
                                after_delete=lambda n: kill_point(f"{step.id}:deleted={n}"))
    except calico.CleanupStuck as e:
        raise CheckFailed(f"cleanup stuck: {e}", f"the backup is in {d}; fix what holds them, then rerun apply") \
            from e
    left = calico.inventory(rest)
    remaining = {p: len(left.category(p)) for p in phases}  # phases are named like the inventory's categories
    if any(remaining.values()):
        raise CheckFailed(f"objects came back during the cleanup: {remaining}", "rerun apply")
    deleted = ", ".join(f"{n} {p}" for p, n in result.deleted.items())
    lines = [f"- phases {', '.join(phases)}: deleted {deleted or 'nothing'}.",
             f"- finalizers stripped (they never clear once the operator is gone): "
             f"{', '.join(result.stripped) or 'none'}.",
             f"- backup: `{d}`; put it back with `aks-netmig restore {d} --kubeconfig FILE` (or --sandbox / "
             "--cluster)."]
    ctx.journal.record("report-note", title=f"Calico cleanup ({step.id})", lines=lines)
    return {"backup": str(d), **{f"deleted_{p}": n for p, n in result.deleted.items()},
            "stripped": len(result.stripped)}


@step("unenforced-policies", params=NoParams, permissions=perm.rules(perm.kube("list", "networkpolicies", perm.NET)))
def unenforced_policies(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    net = ctx.cluster(fresh=True).network
    pols = sorted(f"{p['metadata'].get('namespace')}/{p['metadata'].get('name')}" for p in ctx.kube.network_policies())
    if net.engine != "none":
        lines = [f"- the cluster runs {net.engine}: its {len(pols)} NetworkPolicies are enforced."]
    elif not pols:
        lines = ["- no NetworkPolicies exist."]
    else:
        lines = [f"- **{len(pols)} NetworkPolicies still exist and are NO LONGER ENFORCED** (network policy none): "
                 "every pod accepts and sends all traffic they would block. Delete them, or install a policy "
                 "engine again:", *[f"  - `{p}`" for p in pols]]
    ctx.journal.record("report-note", title="NetworkPolicies", lines=lines)
    return {"policies": len(pols), "enforced": net.engine != "none"}
