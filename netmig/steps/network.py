"""update-network-profile: ONE managed-cluster PUT with the target profile; the poller's continuation token is
journaled before anything else happens, so a rerun re-attaches instead of sending a second PUT.

Idempotence: a recorded token, or a cluster that already shows the target profile (a crash between the PUT and
the journal write: test hook point ``update-network:put-sent``), means the PUT went out: nothing is sent, and the
watch-reimage step follows the cluster's provisioningState instead of the poller. Throttling / 5xx are retried after
re-reading the cluster (the same test again), with the plan's etag as If-Match so a changed cluster is refused by
ARM itself. Right before the PUT the cluster lock must still be this run's (``lock.ensure_held``) and everything the
later steps need must be pinned and verified in the run folder (``noreturn.ensure_point_of_no_return``).

Several changes in one plan (e.g. network policy none, then overlay, then calico): a change that follows another
on the active path expects the cluster at the previous change's target (not the plan's source) and sends the
etag it just read as If-Match; each change is its own PUT with its own journaled token. ``switch_variant:
{NAME: [codes]}`` in the params: a 400 with one of those codes raises ``SwitchVariant`` (the runner takes the
plan's NAME path when the plan allows it).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.logs import get_logger
from netmig.model import permissions as perm
from netmig.model.cluster import NetworkProfile
from netmig.model.plan import PlanStep, ProfileSpec, apply_spec, drift
from netmig.stepkit import variants
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import StepParams, step
from netmig.stepkit.testhooks import checkpoint
from netmig.steps.lock import ensure_held
from netmig.steps.noreturn import ensure_point_of_no_return

log = get_logger("netmig.steps.network")


def target_of(ctx: StepContext, step: PlanStep) -> NetworkProfile:
    spec = ProfileSpec(**{k: v for k, v in step.params.items() if k in ProfileSpec.model_fields})
    return apply_spec(ctx.plan.source_profile(), spec)


def token_key(step_id: str) -> str:
    return f"{step_id}.continuation_token"


def _matches(have: NetworkProfile, want: NetworkProfile) -> bool:
    return (have.plugin, have.plugin_mode, have.policy, have.dataplane) == (
        want.plugin, want.plugin_mode, want.policy, want.dataplane) and (
        not want.pod_cidr or not have.pod_cidr or have.pod_cidr == want.pod_cidr)


def _switch_code(switch_variant: dict[str, list[str]] | None, code: str | None) -> str | None:
    for name, codes in (switch_variant or {}).items():
        if code and code in codes:
            return str(name)
    return None


class NetworkProfileParams(StepParams):
    """The profile fields to change (``netmig.model.plan.ProfileSpec``; the template decides them) and retries."""

    plugin: str | None = None
    plugin_mode: str | None = None
    policy: str | None = None
    dataplane: str | None = None
    pod_cidr: str | None = None
    attempts: int = Field(default=5, gt=0, description="PUT attempts while ARM answers busy / throttled")


@step("update-network-profile", params=NetworkProfileParams, changes_cluster=True,
      permissions=perm.ARM_UPDATE | perm.rules(perm.kube("list", "nodes")))
def update_network_profile(ctx: StepContext, step: PlanStep, params: NetworkProfileParams) -> dict[str, Any]:
    from netmig.azure import errors as arm

    if ctx.journal.value(token_key(step.id)):
        return {"sent": False, "reason": "already sent (continuation token in the journal)"}
    target = target_of(ctx, step)
    attempts = params.attempts
    for attempt in range(1, attempts + 1):
        info = ctx.cluster(fresh=True)
        if _matches(info.network, target):
            log.info("the cluster already has the target network profile; not sending a PUT",
                     provisioning_state=info.provisioning_state)
            ctx.journal.record("arm-reattach", step=step.id, provisioning_state=info.provisioning_state,
                               reason="the cluster already shows the target profile")
            return {"sent": False, "reason": f"cluster already {target.describe()} ({info.provisioning_state})"}
        if ctx.journal.value("nodes-before") is None:
            ctx.journal.set("nodes-before", sorted(n["metadata"]["name"] for n in ctx.kube.nodes()))
        prev = variants.previous_change(ctx, step)
        etag = ctx.plan.etag
        if prev is None:
            problems = drift(ctx.plan, info)
            if problems:
                raise CheckFailed(f"the cluster changed since the plan was made: {'; '.join(problems)}",
                                  "make a new plan")
        else:  # not the first change: the cluster must be where the previous change left it
            expected = target_of(ctx, prev)
            if not _matches(info.network, expected):
                raise CheckFailed(f"the cluster is {info.network.describe()}, but step {prev.id} left it "
                                  f"{expected.describe()}", "check who changed it (aks-netmig status), then make "
                                  "a new plan")
            etag = info.etag
        if info.provisioning_state != "Succeeded":
            raise CheckFailed(f"the cluster is {info.provisioning_state}: another operation is in progress",
                              "wait for it to finish, then rerun apply")
        ensure_point_of_no_return(ctx, step)  # what the later steps need: pinned, verified, present
        ensure_held(ctx)
        try:
            ctx.journal.record("arm-put", step=step.id, attempt=attempt, target=target.to_dict())
            op = ctx.aks.begin_network_update(target, etag=etag)
        except (arm.Throttled, arm.Temporary) as e:
            delay = getattr(e, "retry_after", None) or min(30.0, 2.0 ** attempt)
            ctx.journal.record("arm-put-refused", step=step.id, attempt=attempt, error=str(e)[:300])
            log.warning("ARM refused the PUT for now; retrying", error=str(e)[:200], attempt=attempt, delay_s=delay)
            if attempt == attempts or ctx.sleep(delay):
                raise CheckFailed(f"ARM kept refusing the network-profile PUT: {e}",
                                  "rerun apply later (nothing was changed)") from e
            continue
        except arm.Conflict as e:
            ctx.journal.record("arm-put-refused", step=step.id, attempt=attempt, error=str(e)[:300])
            raise CheckFailed(f"ARM refused the change: {e}",
                              "the cluster changed or is busy; check it and make a new plan") from e
        except arm.Rejected as e:
            ctx.journal.record("arm-put-refused", step=step.id, attempt=attempt, error=str(e)[:300])
            name = _switch_code(params.switch_variant, e.code)
            if name is not None:
                raise variants.SwitchVariant(name, str(e.code), str(e)) from e
            raise CheckFailed(f"ARM rejected the change: {e}", "fix the cause named above and make a new plan") from e
        except (arm.AuthFailed, arm.NotFound) as e:  # refused: nothing was changed
            ctx.journal.record("arm-put-refused", step=step.id, attempt=attempt, error=str(e)[:300])
            raise CheckFailed(f"ARM refused the network-profile PUT: {e}",
                              "fix the access or the address, then rerun apply") from e
        checkpoint(f"{step.id}:put-sent")
        ctx.journal.set(token_key(step.id), op.continuation_token)
        return {"sent": True, "target": target.describe(), "attempts": attempt}
    raise CheckFailed("the network-profile PUT was not sent", "rerun apply")
