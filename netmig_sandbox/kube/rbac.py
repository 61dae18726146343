"""RBAC for the sandbox's kubeconfig user: request attributes, the identity's rules, Forbidden answers, the log.

Contract:
- ``attributes(method, path, query)`` -> ``Attributes`` (the apiserver's request info: ``verb`` get|list|watch|
  create|update|patch|delete|deletecollection, ``group``, ``resource`` (``pods/exec`` for a subresource),
  ``namespace``, ``name``) or None for a non-resource URL (discovery, ``/version``, ``/openapi``: every
  authenticated user may read those, as ``system:discovery`` grants). WebSocket subresources (exec, attach,
  portforward) are ``create``, like the apiserver authorizes them.
- The identity: ``ctx.services["identity"]`` if set (tests switch it on a running sandbox), else the scenario's
  ``identity`` key, else None -- the default user, a cluster admin (everything allowed). An identity is the document
  ``aks-netmig permissions --json`` prints: ``{"azure_role": {...}, "kubernetes": [ClusterRole, Role,
  ClusterRoleBinding, RoleBinding objects]}``; its roles bound by its bindings are the user's rules (a ClusterRole
  bound by a ClusterRoleBinding cluster-wide, by a RoleBinding in that namespace; a Role in its namespace).
  Subjects are not matched: the identity IS the sandbox's user.
- ``rules(ctx)`` -> the user's rules (``Rule``) or None (all allowed); ``allowed(rules, attrs)`` decides like the
  RBAC authorizer (verbs / apiGroups / resources with ``*``, ``resourceNames``; a cluster-wide rule covers every
  namespace).
- ``forbidden(attrs)`` is the 403 ``Status`` body the apiserver answers.
- ``access_review(ctx, spec)`` / ``rules_review(ctx, namespace)`` answer SelfSubjectAccessReview /
  SelfSubjectRulesReview for the identity.
- ``load_identity(path)``: the identity document of a role file (``sandbox start --role FILE``); ``ValueError``.
- ``log_request(ctx, entry)`` appends one JSON line to ``DIR/kube-requests.jsonl``: ``method, path, verb, group,
  resource, namespace, name, status, time`` (epoch seconds when the request arrived); non-resource requests carry
  ``verb: null``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmig_sandbox.kube.host import KubeHost

USER = "aks-netmig"
LOG_NAME = "kube-requests.jsonl"
WEBSOCKET_SUBRESOURCES = {"exec", "attach", "portforward"}


@dataclass(frozen=True)
class Attributes:
    verb: str
    group: str
    resource: str  # "pods" or "pods/exec"
    namespace: str | None
    name: str | None


@dataclass(frozen=True)
class Rule:
    verbs: tuple[str, ...]
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    names: tuple[str, ...]
    namespace: str | None  # None: cluster-wide


def attributes(method: str, path: str, query: Any) -> Attributes | None:
    """The request's RBAC attributes (see the module contract)."""
    segs = [s for s in path.split("/") if s]
    if segs[:2] == ["api", "v1"] and len(segs) >= 3:
        group, rest = "", segs[2:]
    elif segs[:1] == ["apis"] and len(segs) >= 4:
        group, rest = segs[1], segs[3:]
    else:
        return None
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    resource = rest[0]
    name = rest[1] if len(rest) > 1 else None
    if resource == "namespaces" and name is not None:
        namespace = name
    sub = rest[2] if len(rest) > 2 else None
    if sub:
        resource = f"{resource}/{sub}"
    m = method.upper()
    if sub in WEBSOCKET_SUBRESOURCES:
        verb = "create"
    elif m == "GET":
        verb = "watch" if str(query.get("watch", "")) in ("true", "1") else ("get" if name else "list")
    elif m == "POST":
        verb = "create"
    elif m == "PUT":
        verb = "update"
    elif m == "PATCH":
        verb = "patch"
    elif m == "DELETE":
        verb = "delete" if name else "deletecollection"
    else:
        verb = m.lower()
    return Attributes(verb, group, resource, namespace, name)


def identity(ctx: KubeHost) -> dict[str, Any] | None:
    """The restricted identity document, or None (the default all-powerful user)."""
    doc = ctx.services.get("identity", ctx.scenario.get("identity"))
    return doc if isinstance(doc, dict) else None


def _as_tuple(v: Any) -> tuple[str, ...]:
    return tuple(str(x) for x in (v or []))


def rules(ctx: KubeHost) -> list[Rule] | None:
    """The identity's Kubernetes rules, or None when everything is allowed."""
    doc = identity(ctx)
    if doc is None:
        return None
    objs = [o for o in doc.get("kubernetes") or [] if isinstance(o, dict)]
    roles = {(o.get("kind"), (o.get("metadata") or {}).get("namespace"), (o.get("metadata") or {}).get("name")): o
             for o in objs if o.get("kind") in ("ClusterRole", "Role")}
    out: list[Rule] = []
    for b in objs:
        if b.get("kind") not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        ref = b.get("roleRef") or {}
        ns = (b.get("metadata") or {}).get("namespace") if b["kind"] == "RoleBinding" else None
        role = roles.get((ref.get("kind"), ns if ref.get("kind") == "Role" else None, ref.get("name")))
        if role is None:
            continue
        for r in role.get("rules") or []:
            out.append(Rule(_as_tuple(r.get("verbs")), _as_tuple(r.get("apiGroups")), _as_tuple(r.get("resources")),
                            _as_tuple(r.get("resourceNames")), ns))
    return out


def _matches(rule: Rule, a: Attributes) -> bool:
    if rule.namespace is not None and a.namespace != rule.namespace:
        return False
    if "*" not in rule.verbs and a.verb not in rule.verbs:
        return False
    if "*" not in rule.groups and a.group not in rule.groups:
        return False
    if "*" not in rule.resources and a.resource not in rule.resources and not (
            "/" in a.resource and f"*/{a.resource.split('/', 1)[1]}" in rule.resources):
        return False
    return not rule.names or (a.name is not None and a.name in rule.names)


REVIEWS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}


def allowed(rs: list[Rule] | None, a: Attributes) -> bool:
    """Whether the rules allow the request (None: everything). Every user may ask what it may do (the
    ``system:basic-user`` ClusterRole: create self-subject access and rules reviews)."""
    if a.group == "authorization.k8s.io" and a.resource in REVIEWS and a.verb == "create":
        return True
    return rs is None or any(_matches(r, a) for r in rs)


def forbidden(a: Attributes) -> dict[str, Any]:
    """The apiserver's 403 ``Status`` for ``a``."""
    res, _, sub = a.resource.partition("/")
    what = f'{res} "{a.name}"' if a.name else res
    scope = f' in the namespace "{a.namespace}"' if a.namespace and res != "namespaces" else (
        "" if a.namespace else " at the cluster scope")
    sub_txt = f'/{sub}' if sub else ""
    msg = (f'{what} is forbidden: User "{USER}" cannot {a.verb} resource "{res}{sub_txt}" in API group '
           f'"{a.group}"{scope}')
    details: dict[str, Any] = {"group": a.group, "kind": res}
    if a.name:
        details["name"] = a.name
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": msg,
            "reason": "Forbidden", "details": details, "code": 403}


def access_review(ctx: KubeHost, spec: dict[str, Any]) -> dict[str, Any]:
    """The ``status`` of a SelfSubjectAccessReview of ``spec``."""
    rs = rules(ctx)
    if rs is None:
        return {"allowed": True, "reason": "the sandbox's kubeconfig user is a cluster admin "
                                           "(clusterrolebinding cluster-admin)"}
    ra = spec.get("resourceAttributes")
    if not isinstance(ra, dict):  # nonResourceAttributes: discovery is allowed to every authenticated user
        return {"allowed": True, "reason": "system:discovery"}
    resource = str(ra.get("resource") or "")
    if ra.get("subresource"):
        resource = f"{resource}/{ra['subresource']}"
    a = Attributes(str(ra.get("verb") or ""), str(ra.get("group") or ""), resource,
                   ra.get("namespace") or None, ra.get("name") or None)
    if allowed(rs, a):
        return {"allowed": True, "reason": f"RBAC: allowed by the rules bound to User \"{USER}\""}
    return {"allowed": False}


def rules_review(ctx: KubeHost, namespace: str | None) -> dict[str, Any]:
    """The ``status`` of a SelfSubjectRulesReview in ``namespace``."""
    rs = rules(ctx)
    if rs is None:
        return {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
                "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    out = []
    for r in rs:
        if r.namespace is None or r.namespace == namespace:
            entry: dict[str, Any] = {"verbs": list(r.verbs), "apiGroups": list(r.groups),
                                     "resources": list(r.resources)}
            if r.names:
                entry["resourceNames"] = list(r.names)
            out.append(entry)
    return {"resourceRules": out,
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*",
                                                                        "/healthz", "/openapi", "/openapi/*",
                                                                        "/version", "/version/"]}],
            "incomplete": False}


def log_request(ctx: KubeHost, entry: dict[str, Any]) -> None:
    """Append ``entry`` to ``DIR/kube-requests.jsonl`` (best effort)."""
    try:
        with (ctx.dir / LOG_NAME).open("a") as f:
            f.write(json.dumps(entry) + "\n")
    except OSError:
        pass


def load_identity(path: str | Path) -> dict[str, Any]:
    """The identity document in the JSON file ``path`` (``aks-netmig permissions --migration KIND --json > FILE``);
    ``ValueError`` naming the problem when it is not one."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read the role file {path} ({e.__class__.__name__})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"the role file {path} is not JSON ({e.msg})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("azure_role"), dict) or not isinstance(
            doc.get("kubernetes"), list):
        raise ValueError(f'the role file {path} is not {{"azure_role": {{...}}, "kubernetes": [...]}}')
    return doc
