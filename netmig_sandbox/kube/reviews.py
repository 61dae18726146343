"""Access reviews: ``kubectl auth can-i`` (SelfSubjectAccessReview) and ``--list`` (SelfSubjectRulesReview).

The sandbox has one user. By default it is the cluster admin of its kubeconfig (AKS' ``clusterUser`` with the
``cluster-admin`` binding of a local-accounts cluster), so every review is allowed, as on such a cluster; with a
restricted identity (``netmig_sandbox.kube.rbac``) the reviews answer for its RBAC rules.

Contract: ``TYPES`` are registered with the built-in types (create-only, not stored); ``review(kind, body, ctx)``
returns the answer the API server gives to a POST of ``body`` (spec echoed, status filled in).
"""

from __future__ import annotations

import copy
from typing import Any

from netmig_sandbox.kube import rbac
from netmig_sandbox.kube.host import KubeHost
from netmig_sandbox.kube.store import ResourceType

Obj = dict[str, Any]
GROUP = "authorization.k8s.io"
TYPES = (
    ResourceType(GROUP, "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, verbs=("create",)),
    ResourceType(GROUP, "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, verbs=("create",)),
)
KEYS = {rt.key for rt in TYPES}


def review(kind: str, body: Obj, ctx: KubeHost) -> Obj:
    """The answered review (see the module contract)."""
    out: Obj = {"kind": kind, "apiVersion": f"{GROUP}/v1",
                "metadata": {"creationTimestamp": None, **{k: v for k, v in (body.get("metadata") or {}).items()
                                                           if k in ("name", "generateName")}},
                "spec": copy.deepcopy(body.get("spec") or {})}
    if kind == "SelfSubjectAccessReview":
        out["status"] = rbac.access_review(ctx, out["spec"])
    else:
        out["status"] = rbac.rules_review(ctx, out["spec"].get("namespace") or None)
    return out
