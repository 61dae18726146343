"""Any Kubernetes resource by apiVersion/kind, as plain JSON: discovery of one group-version, list/get/create/apply/
patch/delete (what the typed client cannot do for CRDs, CRs and APIServices it does not know).

Contract:
- ``Rest(gw)`` wraps a ``KubeGateway``'s API client; every call raises ``netmig.kube.errors`` (404 ``NotFound``,
  409 ``Conflict``, 5xx/429 ``Temporary``, ...), never the client's exceptions.
- ``resource(api_version, kind)`` / ``resource_for(obj)`` resolve through the discovery document of THAT
  group-version only (cached), so an unavailable aggregated API elsewhere (a dangling APIService) does not get in
  the way. ``Resource`` knows its plural, kind, scope and whether it has a status subresource.
- ``list`` returns items with ``apiVersion`` / ``kind`` filled in, read in pages (limit/continue, 410 restarts
  once). ``get`` returns None for a missing object.
  ``apply`` is server-side apply (field manager ``aks-netmig``, forced): create-or-update like ``kubectl apply``.
  ``replace`` is a PUT; ``delete`` returns False when the object was already gone; ``merge_patch`` sends a JSON
  merge patch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from netmig.kube import errors
from netmig.kube.gateway import KubeGateway
from netmig.kube.listing import PAGE_SIZE, paged

Obj = dict[str, Any]
FIELD_MANAGER = "aks-netmig"


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    has_status: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        p = self.base
        if self.namespaced and namespace:
            p += f"/namespaces/{quote(namespace, safe='')}"
        p += f"/{self.plural}"
        if name:
            p += f"/{quote(name, safe='')}"
        return p

    def describe(self, obj: Obj) -> str:
        meta = obj.get("metadata") or {}
        where = f"{meta.get('namespace')}/" if self.namespaced and meta.get("namespace") else ""
        return f"{self.kind} {where}{meta.get('name')}"


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


def _raise(status: int, body: bytes, action: str) -> None:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        doc = {}
    reason = doc.get("reason") if isinstance(doc, dict) else None
    message = (doc.get("message") if isinstance(doc, dict) else None) or body[:200].decode("utf-8", "replace")
    text = f"{action}: {message}"
    if status == 404:
        raise errors.NotFound(text, status, reason)
    if status == 409:
        raise errors.Conflict(text, status, reason)
    if status == 403:
        raise errors.Forbidden(text, status, reason)
    if status in (400, 422):
        raise errors.Invalid(text, status, reason)
    if status == 429 or status >= 500:
        raise errors.Temporary(text, status, reason)
    raise errors.KubeError(text, status, reason)


class Rest:
    def __init__(self, gw: KubeGateway) -> None:
        self.gw = gw
        self.api = gw.api
        self._discovery: dict[str, list[Resource]] = {}

    # ------------------------------------------------------------------ transport
    def request(self, method: str, path: str, *, body: Any = None, query: list[tuple[str, str]] | None = None,
                content_type: str | None = None, action: str = "") -> Any:
        import urllib3

        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        action = action or f"{method} {path}"
        try:
            m, url, h, b, p = self.api.param_serialize(method, path, query_params=query or None,
                                                       header_params=headers, body=body,
                                                       auth_settings=["BearerToken"])
            resp = self.api.call_api(m, url, h, b, p)
            data = resp.read()
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise errors.Temporary(f"{action}: Kubernetes API unreachable ({e.__class__.__name__})") from e
        status = int(resp.status)
        if status >= 300:
            _raise(status, data, action)
        return json.loads(data) if data else {}

    # ------------------------------------------------------------------ discovery
    def group_version(self, api_version: str) -> list[Resource]:
        """The resources of one group-version (cached); ``NotFound`` when it is not served."""
        if api_version not in self._discovery:
            group, version = split_api_version(api_version)
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            doc = self.request("GET", path, action=f"discovering {api_version}")
            subs = {r["name"].split("/", 1)[0] for r in doc.get("resources") or [] if "/" in r["name"]
                    and r["name"].endswith("/status")}
            self._discovery[api_version] = [
                Resource(group, version, r["name"], r["kind"], bool(r.get("namespaced")), r["name"] in subs)
                for r in doc.get("resources") or [] if "/" not in r["name"]]
        return self._discovery[api_version]

    def forget(self, api_version: str | None = None) -> None:
        """Drop cached discovery (after CRDs were created or deleted)."""
        if api_version is None:
            self._discovery.clear()
        else:
            self._discovery.pop(api_version, None)

    def resource(self, api_version: str, kind: str) -> Resource:
        for r in self.group_version(api_version):
            if r.kind == kind:
                return r
        raise errors.NotFound(f"{api_version} serves no kind {kind}", 404, "NotFound")

    def resource_for(self, obj: Obj) -> Resource:
        return self.resource(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))

    def served(self, api_version: str, kind: str) -> bool:
        try:
            self.forget(api_version)
            self.resource(api_version, kind)
        except errors.NotFound:
            return False
        return True

    # ------------------------------------------------------------------ objects
    def list(self, res: Resource, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        """Every object, in pages of ``listing.PAGE_SIZE`` (a 410 on a continue restarts the list once)."""

        def fetch(token: str | None) -> Obj:
            query = [("limit", str(PAGE_SIZE))]
            if label_selector:
                query.append(("labelSelector", label_selector))
            if token:
                query.append(("continue", token))
            page: Obj = self.request("GET", res.path(namespace), query=query, action=f"listing {res.plural}")
            return page

        return paged(fetch, api_version=res.api_version, kind=res.kind)

    def get(self, res: Resource, namespace: str | None, name: str) -> Obj | None:
        try:
            obj: Obj = self.request("GET", res.path(namespace, name), action=f"reading {res.kind} {name}")
        except errors.NotFound:
            return None
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        return obj

    def create(self, res: Resource, obj: Obj) -> Obj:
        ns = (obj.get("metadata") or {}).get("namespace")
        out: Obj = self.request("POST", res.path(ns), body=obj, action=f"creating {res.describe(obj)}")
        return out

    def replace(self, res: Resource, obj: Obj) -> Obj:
        """PUT (``metadata.resourceVersion`` makes it conditional: ``Conflict`` when the object changed)."""
        meta = obj.get("metadata") or {}
        out: Obj = self.request("PUT", res.path(meta.get("namespace"), meta["name"]), body=obj,
                                action=f"replacing {res.describe(obj)}")
        return out

    def apply(self, obj: Obj, res: Resource | None = None) -> Obj:
        """Server-side apply (create or update), forced, as field manager ``aks-netmig``."""
        res = res or self.resource_for(obj)
        meta = obj.get("metadata") or {}
        out: Obj = self.request("PATCH", res.path(meta.get("namespace"), meta["name"]), body=obj,
                                query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                                content_type="application/apply-patch+yaml", action=f"applying {res.describe(obj)}")
        return out

    def merge_patch(self, res: Resource, namespace: str | None, name: str, patch: Obj) -> Obj:
        out: Obj = self.request("PATCH", res.path(namespace, name), body=patch,
                                content_type="application/merge-patch+json", action=f"patching {res.kind} {name}")
        return out

    def delete(self, res: Resource, namespace: str | None, name: str) -> bool:
        try:
            self.request("DELETE", res.path(namespace, name), action=f"deleting {res.kind} {name}")
        except errors.NotFound:
            return False
        return True
