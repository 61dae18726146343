"""apply-manifests: server-side apply of the objects written in the plan itself (``params.objects``), e.g. Tigera's
Installation ``default`` (kubernetesProvider AKS, cni.type AzureVNET) and the optional APIServer / Goldmane /
Whisker ``default``: what is reviewed in the plan is exactly what is applied.

Params: ``objects`` (a list of Kubernetes objects), ``wait_served_s`` (default 300: how long to wait for the API to
serve an object's kind -- the tigera operator creates its CRDs when it starts), ``poll_s`` (1). Idempotent.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import StepParams, seconds, step


class ApplyManifestsParams(StepParams):
    objects: list[dict[str, Any]] = Field(default_factory=list, description="the objects, written in the plan")
    wait_served_s: float = seconds(300, "how long to wait until the API serves an object's kind")
    poll_s: float = seconds(1)


@step("apply-manifests", params=ApplyManifestsParams, changes_cluster=True,
      permissions=perm.rules(perm.kube("get,create,patch", "*", perm.TIGERA)))
def apply_manifests(ctx: StepContext, step: PlanStep, params: ApplyManifestsParams) -> dict[str, Any]:
    from netmig.kube import errors
    from netmig.kube.resources import Rest

    objects = list(params.objects)
    if not objects:
        raise CheckFailed(f"step {step.id} has no objects to apply", "add params.objects to the plan")
    rest = Rest(ctx.kube)
    wait_s, poll = params.wait_served_s, params.poll_s
    applied = []
    for obj in objects:
        api, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
        t0 = ctx.clock()
        while not rest.served(api, kind):
            if ctx.clock() - t0 > wait_s:
                raise CheckFailed(f"the API does not serve {api} {kind} after {wait_s:.0f} s",
                                  "check that the operator runs and created its CRDs; then rerun apply")
            if ctx.sleep(poll):
                raise CheckFailed("stopped", "rerun apply")
        try:
            rest.apply(obj)
        except errors.Invalid as e:
            raise CheckFailed(f"{kind} {obj['metadata'].get('name')} was refused: {e}",
                              "fix the object in the plan, then rerun apply") from e
        applied.append(f"{kind}/{obj['metadata'].get('name')}")
    ctx.progress.message("applied " + ", ".join(applied))
    return {"applied": ", ".join(applied), "objects": len(applied)}
