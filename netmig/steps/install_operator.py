"""install-operator: apply the tigera-operator manifest (a path or an https URL, ``params.manifest``) with
server-side apply (create-or-update, like ``kubectl apply``: on a cluster left by AKS-managed Calico the namespace
tigera-operator usually still exists), then wait until the operator Deployment is ready.

Params: ``manifest`` (required), ``manifest_sha256`` (optional: refuse a manifest that changed since review),
``namespace`` / ``deployment`` (default tigera-operator / tigera-operator), ``timeout_s`` (600), ``poll_s`` (1).
Idempotent: applying the same objects again changes nothing. Reading and checking the manifest is
``netmig.manifests`` (``load_manifest``, ``content_problem``). The step installs the copy the preflight pinned in
the run folder (``netmig.steps.noreturn``), not whatever the source serves by then.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netmig.errors import CheckFailed
from netmig.model import permissions as perm
from netmig.model.plan import PlanStep
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import StepParams, seconds, step

# apply order: namespaces and CRDs before the objects that need them
_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1, "ServiceAccount": 2, "ClusterRole": 2, "Role": 2,
          "ClusterRoleBinding": 3, "RoleBinding": 3}


def deployment_ready(ctx: StepContext, ns: str, name: str) -> tuple[bool, str]:
    from netmig.kube.resources import Rest

    rest = Rest(ctx.kube)
    d = rest.get(rest.resource("apps/v1", "Deployment"), ns, name)
    if d is None:
        return False, "not created"
    want = int((d.get("spec") or {}).get("replicas", 1))
    ready = int((d.get("status") or {}).get("readyReplicas") or 0)
    return ready >= max(1, want), f"{ready}/{want} ready"


class InstallOperatorParams(StepParams):
    manifest: str = Field(default="", description="the tigera-operator manifest: a path or an https URL")
    manifest_sha256: str | None = Field(default=None, description="refuse a manifest that changed since review")
    namespace: str = "tigera-operator"
    deployment: str = "tigera-operator"
    timeout_s: float = seconds(600)
    poll_s: float = seconds(1)


@step("install-operator", params=InstallOperatorParams, changes_cluster=True,
      permissions=perm.rules(
          perm.kube("get,create,patch", "namespaces,serviceaccounts"),
          perm.kube("get,create,patch", "deployments", "apps"),
          perm.kube("get,list,create,patch", "customresourcedefinitions", "apiextensions.k8s.io"),
          perm.kube("get,create,patch,bind,escalate", "clusterroles,clusterrolebindings", perm.RBAC)))
def install_operator(ctx: StepContext, step: PlanStep, params: InstallOperatorParams) -> dict[str, Any]:
    from netmig.kube import errors
    from netmig.kube.resources import Rest
    from netmig.steps.noreturn import pinned_manifest

    source = params.manifest
    docs, sha = pinned_manifest(ctx, step)  # the copy pinned in the run folder before the point of no return
    pinned = params.manifest_sha256
    if pinned and pinned != sha:
        raise CheckFailed(f"the manifest {source} changed since the plan was reviewed (sha256 {sha})",
                          "review it, then update manifest_sha256 in the plan and rerun apply")
    rest = Rest(ctx.kube)
    applied = []
    for doc in sorted(docs, key=lambda d: _FIRST.get(str(d.get("kind")), 4)):
        try:
            rest.apply(doc)
        except errors.NotFound as e:
            raise CheckFailed(f"cannot apply {doc.get('kind')} {doc['metadata']['name']}: {e}",
                              "check the manifest against this cluster's Kubernetes version") from e
        applied.append(f"{doc.get('kind')}/{doc['metadata']['name']}")
        if doc.get("kind") == "CustomResourceDefinition":
            rest.forget()
    ns, name = params.namespace, params.deployment
    ctx.progress.message(f"applied {len(applied)} objects of {source}; waiting for Deployment {ns}/{name}")
    timeout, poll = params.timeout_s, params.poll_s
    t0 = ctx.clock()
    while True:
        ok, detail = deployment_ready(ctx, ns, name)
        if ok:
            break
        if ctx.clock() - t0 > timeout:
            raise CheckFailed(f"the operator Deployment {ns}/{name} is not ready after {timeout:.0f} s ({detail})",
                              f"check: kubectl -n {ns} describe deploy {name}; then rerun apply")
        if ctx.sleep(poll):
            raise CheckFailed("stopped", "rerun apply")
    ctx.journal.record("report-note", title="Operator install", lines=[
        f"- applied {len(applied)} objects of `{source}` (sha256 {sha}) with server-side apply; Deployment "
        f"{ns}/{name} ready."])
    return {"manifest": source, "sha256": sha, "objects": len(applied), "operator": f"{ns}/{name}",
            "waited_s": round(ctx.clock() - t0, 1)}
