"""install-operator: apply the tigera-operator manifest (a path or an https URL, ``params.manifest``) with
server-side apply (create-or-update, like ``kubectl apply``: on a cluster left by AKS-managed Calico the namespace
tigera-operator usually still exists), then wait until the operator Deployment is ready.

Params: ``manifest`` (required), ``manifest_sha256`` (optional: refuse a manifest that changed since review),
``namespace`` / ``deployment`` (default tigera-operator / tigera-operator), ``timeout_s`` (600), ``poll_s`` (1).
Idempotent: applying the same objects again changes nothing. ``load_manifest(source)`` returns the documents and
their sha256 (``UsageError`` naming the source when unreadable). The step installs the copy the preflight pinned in
the run folder (``netmig.steps.noreturn``), not whatever the source serves by then.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from netmig.engine.context import StepContext
from netmig.engine.planning import PlanStep
from netmig.engine.registry import register_step
from netmig.errors import CheckFailed, UsageError

# apply order: namespaces and CRDs before the objects that need them
_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1, "ServiceAccount": 2, "ClusterRole": 2, "Role": 2,
          "ClusterRoleBinding": 3, "RoleBinding": 3}


def _read(source: str) -> bytes:
    if source.startswith(("https://", "http://")):
        import urllib.request

        try:
            with urllib.request.urlopen(source, timeout=30) as resp:  # http(s) only: checked above
                data: bytes = resp.read()
                return data
        except OSError as e:
            raise UsageError(f"cannot download {source} ({e.__class__.__name__}: {e})"[:300],
                             "check the URL and the network, or point params.manifest at a local copy") from None
    path = Path(source).expanduser()
    try:
        return path.read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path} ({e.__class__.__name__})",
                         "set params.manifest of the install-operator step to an existing file or URL") from None


def load_manifest(source: str) -> tuple[list[dict[str, Any]], str]:
    docs, sha, _ = fetch_manifest(source)
    return docs, sha


def fetch_manifest(source: str) -> tuple[list[dict[str, Any]], str, bytes]:
    """The documents, their sha256 and the raw bytes of ``source`` (``UsageError`` when it cannot be read)."""
    if not source:
        raise UsageError("no manifest given", "set params.manifest of the install-operator step (a path or URL)")
    return parse_manifest(source, _read(source))


def parse_manifest(source: str, data: bytes) -> tuple[list[dict[str, Any]], str, bytes]:
    """``fetch_manifest`` on bytes already read (``UsageError`` when they are not Kubernetes objects)."""
    try:
        docs = [d for d in yaml.safe_load_all(data.decode("utf-8")) if d]
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise UsageError(f"{source} is not valid YAML ({str(e).splitlines()[0][:160]})", "fix the file") from None
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("kind") or not (d.get("metadata") or {}).get("name"):
            raise UsageError(f"{source}: document {i + 1} is not a Kubernetes object", "fix the file")
    return docs, hashlib.sha256(data).hexdigest(), data


def content_problem(source: str, docs: list[dict[str, Any]], sha: str, pinned: Any) -> tuple[str, str] | None:
    """(problem, fix) when a readable manifest is not the one to install: the sha256 the plan pins differs, or it
    holds no tigera-operator Deployment; else None."""
    if pinned and pinned != sha:
        return (f"{source} has sha256 {sha}, the plan pins {pinned}",
                "review the manifest's change, then update manifest_sha256 in the plan")
    if not any(d.get("kind") == "Deployment" and (d.get("metadata") or {}).get("name") == "tigera-operator"
               for d in docs):
        return f"{source} holds no tigera-operator Deployment", "point params.manifest at Tigera's tigera-operator.yaml"
    return None


def deployment_ready(ctx: StepContext, ns: str, name: str) -> tuple[bool, str]:
    from netmig.kube.resources import Rest

    rest = Rest(ctx.kube)
    d = rest.get(rest.resource("apps/v1", "Deployment"), ns, name)
    if d is None:
        return False, "not created"
    want = int((d.get("spec") or {}).get("replicas", 1))
    ready = int((d.get("status") or {}).get("readyReplicas") or 0)
    return ready >= max(1, want), f"{ready}/{want} ready"


@register_step("install-operator")
def install_operator(ctx: StepContext, step: PlanStep) -> dict[str, Any]:
    from netmig.kube import errors
    from netmig.kube.resources import Rest
    from netmig.steps.noreturn import pinned_manifest

    source = str(step.params.get("manifest") or "")
    docs, sha = pinned_manifest(ctx, step)  # the copy pinned in the run folder before the point of no return
    pinned = step.params.get("manifest_sha256")
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
    ns, name = str(step.params.get("namespace", "tigera-operator")), str(step.params.get("deployment",
                                                                                          "tigera-operator"))
    ctx.progress.message(f"applied {len(applied)} objects of {source}; waiting for Deployment {ns}/{name}")
    timeout, poll = float(step.params.get("timeout_s", 600)), float(step.params.get("poll_s", 1))
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
