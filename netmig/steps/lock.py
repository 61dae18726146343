"""acquire-lock / release-lock: the cluster Lease held while the run changes the cluster (renewed in the
background); a rerun after a crash re-takes the lease its dead predecessor held.

``ensure_held(ctx)`` is called by steps right before they change the cluster (the network-profile PUT): when this
run took the lease, it must still be this run's (renewed on the spot), else ``CheckFailed`` naming the new holder —
e.g. the process was suspended past the lease's expiry and another run took over."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import NoParams, StepParams, params_of, register_resume_hook, step

KEEPER = "lease-keeper"


def _duration(ctx: StepContext) -> int:
    for s in ctx.plan.steps:
        if s.kind == "acquire-lock":
            p = params_of(s)
            assert isinstance(p, LockParams)
            return p.lease_seconds
    return LockParams().lease_seconds


def take(ctx: StepContext) -> dict[str, Any]:
    from netmig.kube import lease

    keeper = ctx.scratch.get(KEEPER)
    if keeper is not None and not keeper.lost:
        return {"holder": "this run", "reused": True}
    try:
        h = lease.acquire(ctx.kube, ctx.plan.migration_id, ctx.run_id, _duration(ctx))
    except lease.LockHeld as e:
        raise CheckFailed(f"{e}", "nothing was changed; wait for that run to finish, or for its lease to expire "
                          "(then apply takes it over), and rerun apply") from None
    ctx.scratch[KEEPER] = lease.LeaseKeeper(ctx.kube, ctx.run_id, h.duration_s).start()
    return {"holder": h.identity, "lease_seconds": h.duration_s}


def drop(ctx: StepContext) -> bool:
    from netmig.kube import lease

    keeper = ctx.scratch.pop(KEEPER, None)
    if keeper is not None:
        keeper.stop()
    return lease.release(ctx.kube, ctx.run_id)


def ensure_held(ctx: StepContext) -> None:
    from netmig.kube import lease

    keeper = ctx.scratch.get(KEEPER)
    if keeper is None:
        return  # this plan takes no lock (or not yet): nothing to check
    if not keeper.lost and lease.renew(ctx.kube, ctx.run_id):
        return
    keeper.lost = True
    _, holder = lease.read(ctx.kube)
    raise CheckFailed("this run lost the cluster lock" + (f" to {holder.describe()}" if holder else " (released)"),
                      "nothing was sent; check that run (aks-netmig status), then rerun apply")


class LockParams(StepParams):
    lease_seconds: int = Field(default=60, gt=0, description="the Lease's duration; renewed while the run holds it")


@step("acquire-lock", params=LockParams,
      permissions=perm.rules(perm.kube("get,create,update", "leases", "coordination.k8s.io", namespace="kube-system")))
def acquire_lock(ctx: StepContext, step: PlanStep, params: LockParams) -> dict[str, Any]:
    return take(ctx)


@step("release-lock", params=NoParams,
      permissions=perm.rules(perm.kube("get,delete", "leases", "coordination.k8s.io", namespace="kube-system")))
def release_lock(ctx: StepContext, step: PlanStep, params: NoParams) -> dict[str, Any]:
    return {"released": drop(ctx)}


@register_resume_hook
def relock_on_resume(ctx: StepContext) -> None:
    """Between a completed acquire-lock and release-lock, a new run (after a crash) takes the lease again."""
    done = set(ctx.journal.completed_steps())
    held = any(s.kind == "acquire-lock" and s.id in done for s in ctx.plan.steps)
    released = any(s.kind == "release-lock" and s.id in done for s in ctx.plan.steps)
    if held and not released:
        take(ctx)
