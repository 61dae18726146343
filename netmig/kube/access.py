"""What the caller may do on the cluster: SelfSubjectAccessReview (``kubectl auth can-i``).

Contract: ``can_i(gw, verb, group, resource, namespace)`` -> bool; ``resource`` may name a subresource
(``pods/log``); ``namespace`` None asks for every namespace (a cluster-wide grant). Errors are
``netmig.kube.errors``. Every authenticated user may create these reviews (``system:basic-user``).
"""

from __future__ import annotations

from kubernetes import client

from netmig.kube.client import translated
from netmig.kube.gateway import KubeGateway


def can_i(gw: KubeGateway, verb: str, group: str, resource: str, namespace: str | None) -> bool:
    res, _, sub = resource.partition("/")
    attrs = client.V1ResourceAttributes(verb=verb, group=group, resource=res, subresource=sub or None,
                                        namespace=namespace or None)
    body = client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attrs))
    with translated(f"asking whether the caller may {verb} {resource}"):
        out = client.AuthorizationV1Api(gw.api).create_self_subject_access_review(body)
    return bool(out.status and out.status.allowed)
