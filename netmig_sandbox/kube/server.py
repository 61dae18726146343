"""The sandbox Kubernetes API server: an aiohttp application over the in-memory ``Store``.

Contract of ``build_app(ctx, pods)`` (``ctx``: the ``kube.host.KubeHost`` served from; ``pods``: the
``kube.host.PodProcesses`` exec / attach / port-forward reach):
- serves discovery (``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/{g}``, ``/apis/{g}/{v}``, with and
  without a trailing slash; legacy documents only), ``/openapi/v3`` (see ``openapi``), ``/healthz``, ``/readyz``,
  ``/livez`` (no authentication needed for the health endpoints);
- CRUD on every type registered in ``ctx.store``: GET / LIST (``kind: XList``, list ``resourceVersion``), POST
  (201; 409 AlreadyExists), PUT (409 on a stale resourceVersion), PATCH (merge, JSON, strategic merge -- 415 for
  custom resources, like the real server -- and server-side apply as create-or-strategic-merge), DELETE (the
  object while finalizers hold it, else a ``Status`` Success; DeleteOptions preconditions honoured),
  deletecollection; ``status`` (GET/PUT/PATCH), ``scale`` (apps), ``namespaces/{n}/finalize``,
  ``pods/{n}/log`` and ``pods/{n}/eviction`` subresources; ``pods/{n}/exec|attach|portforward`` over WebSocket
  (``streaming``); SelfSubjectAccessReview / SelfSubjectRulesReview answered, never stored (``reviews``);
- ``/version`` is the cluster's Kubernetes version (ARM's ``currentKubernetesVersion``);
- writes go through ``admission``: ``fieldValidation`` Ignore / Warn (``Warning`` headers) / Strict (400) for
  unknown fields, the apiserver's validation (422 Invalid, ``validation``), field managers (``managedFields``;
  server-side apply with conflicts, ``force`` and field removal: ``managed_fields``); DELETE honours
  ``propagationPolicy`` Orphan / Foreground / Background through the garbage collector (``gc``);
- ``labelSelector`` / ``fieldSelector`` on LIST, WATCH and deletecollection; ``limit``/``continue`` on LIST (also
  as a Table) as the apiserver pages (see ``paging``): at most ``limit`` items, ``metadata.continue`` and (without
  selectors) ``remainingItemCount`` while more remain; a continue token older than the store's history (etcd
  compaction) or named by a ``kind="expire-continue"`` kube fault answers 410 Expired, an undecodable one 400;
  every LIST is recorded in ``ctx.services["list_log"]`` (path, limit, continue given, items returned);
- watches (``watch=true|1``): newline-delimited JSON events, chunked; initial ADDED events when
  ``resourceVersion`` is unset or "0"; ``timeoutSeconds`` ends the stream; a too old resourceVersion yields one
  ERROR event carrying a 410 Expired ``Status``;
- ``Accept: application/json;as=Table;v=v1;g=meta.k8s.io`` -> ``meta.k8s.io/v1`` Table (see ``tables``),
  ``includeObject`` = None | Metadata (default) | Object;
- ``Authorization: Bearer <ctx.kube_token>`` required, else 401 ``Status``; with a restricted identity
  (``rbac``) a resource request its RBAC rules do not allow answers 403 Forbidden (the apiserver's ``Status``)
  before faults; every request after authentication is appended to ``DIR/kube-requests.jsonl`` (``rbac``);
- faults: every request first consults ``ctx.faults.take("kube", method, path, kind="status")`` (answer
  ``fault.status`` with a ``Status`` body and ``Retry-After`` if set); watches consult ``kind="cut-watch"`` and
  close after ``fault.params["after_events"]`` (default 0) events;
- errors are ``Status`` bodies: malformed bodies 400, unknown resources 404; a group-version served by an APIService
  that is not Available (``crds.unavailable_group_versions``, e.g. a dangling ``v3.projectcalico.org``) answers 503
  ServiceUnavailable to discovery (``/apis/{g}/{v}``) and to every request under it.
All handlers run on the sandbox loop, so they may use the store directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import json
import logging
import math
import time
import uuid
from collections.abc import Callable
from typing import Any

import yaml
from aiohttp import web

from netmig_sandbox.kube import (
    admission,
    discovery,
    gc,
    known_fields,
    managed_fields,
    openapi,
    paging,
    patching,
    protobuf,
    rbac,
    reviews,
    streaming,
    tables,
)
from netmig_sandbox.kube.crds import CRD_KEY, aggregated_group_versions
from netmig_sandbox.kube.host import KubeHost, PodProcesses
from netmig_sandbox.kube.store import ApiError, Obj, ResourceType, Store, Watch
from netmig_sandbox.kube.types import BUILTIN_TYPES, apply_defaults

log = logging.getLogger(__name__)
CTX: web.AppKey[KubeHost] = web.AppKey("sandbox_ctx")
HEALTH_PATHS = {"/healthz", "/readyz", "/livez", "/healthz/", "/readyz/", "/livez/"}
DEFAULT_WATCH_TIMEOUT = 1800.0
BUILTIN_KEYS = {rt.key for rt in BUILTIN_TYPES}
SCALABLE = {("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")}


def _status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> web.Response:
    return _json(ApiError(code, reason, message, details).status(), code)


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None,
          warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(text=json.dumps(body, separators=(",", ":")), status=status,
                        content_type="application/json", headers=headers)
    for w in warnings or []:
        resp.headers.add("Warning", admission.warning_header(w))
    return resp


def _success(details: dict[str, Any]) -> Obj:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


class Request:
    """A parsed resource request: ``/api/v1[/namespaces/{ns}]/{plural}[/{name}[/{sub}]]`` (or ``/apis/{g}/{v}``)."""

    def __init__(self, rt: ResourceType, version: str, namespace: str | None, name: str | None,
                 sub: str | None) -> None:
        self.rt = rt
        self.version = version
        self.namespace = namespace
        self.name = name
        self.sub = sub

    @property
    def gv(self) -> str:
        return f"{self.rt.group}/{self.version}" if self.rt.group else self.version


def _parse_resource_path(store: Store, group: str, version: str, rest: list[str]) -> Request:
    namespace: str | None = None
    if (rest and rest[0] == "namespaces" and len(rest) >= 3
            and not (len(rest) == 3 and rest[2] in ("status", "finalize"))):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    rt = store.find_type(group, version, rest[0])
    if namespace is not None and not rt.namespaced:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and sub not in rt.subresources:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")
    return Request(rt, version, namespace, name, sub)


def _wants_table(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    for part in accept.split(","):
        params = {p.split("=", 1)[0].strip(): p.split("=", 1)[1].strip()
                  for p in part.split(";")[1:] if "=" in p}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") == "v1":
            return True
    return False


def _wants_aggregated_only(request: web.Request) -> bool:
    """True if the client accepts aggregated discovery only (no plain JSON fallback) -> 406."""
    accept = request.headers.get("Accept", "")
    if not accept:
        return False
    for part in accept.split(","):
        media = part.split(";")[0].strip()
        params = part.split(";")[1:]
        if media in ("application/json", "*/*", "application/*") and not any(
                p.strip().startswith("as=") for p in params):
            return False
    return "apidiscovery.k8s.io" in accept


class KubeApi:
    """The request handlers; one instance per application."""

    def __init__(self, ctx: KubeHost, pods: PodProcesses) -> None:
        self.ctx = ctx
        self.pods = pods
        self.open_watches: set[Watch] = set()

    async def on_shutdown(self, _app: web.Application) -> None:
        """End every open watch stream (so shutdown does not leave handlers waiting on their queues)."""
        for w in list(self.open_watches):
            w.queue.put_nowait(("GONE", {}))

    @property
    def store(self) -> Store:
        return self.ctx.store

    # ------------------------------------------------------------ entry
    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        method = request.method
        if path in HEALTH_PATHS:
            return web.Response(text="ok", content_type="text/plain")
        auth = request.headers.get("Authorization", "")
        if not self.ctx.kube_token or auth != f"Bearer {self.ctx.kube_token}":
            return _status(401, "Unauthorized", "Unauthorized")
        attrs = rbac.attributes(method, path, request.query)
        entry: dict[str, Any] = {"method": method, "path": path, "verb": None, "time": time.time()}
        if attrs is not None:
            entry.update(verb=attrs.verb, group=attrs.group, resource=attrs.resource, namespace=attrs.namespace,
                         name=attrs.name)
        resp = await self._authorized(request, attrs)
        entry["status"] = resp.status
        rbac.log_request(self.ctx, entry)
        return resp

    async def _authorized(self, request: web.Request, attrs: rbac.Attributes | None) -> web.StreamResponse:
        path, method = request.path, request.method
        if attrs is not None and not rbac.allowed(rbac.rules(self.ctx), attrs):
            return _json(rbac.forbidden(attrs), 403)
        fault = self.ctx.faults.take("kube", method, path, kind="status")
        if fault is not None:
            headers = {}
            if fault.retry_after is not None:
                headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after)))
            return _json(ApiError(fault.status, fault.code, fault.message).status(), fault.status, headers)
        try:
            return await self._route(request)
        except ApiError as e:
            return _json(e.status(), e.code)
        except patching.PatchError as e:
            return _status(422, "Invalid", str(e))
        except ValueError as e:
            return _status(400, "BadRequest", str(e))
        except Exception as e:  # a bug in the sandbox: still a Status body, like an apiserver panic handler
            log.exception("kube API: %s %s failed", method, path)
            return _status(500, "InternalError", f"Internal error occurred: {type(e).__name__}: {e}")

    async def _route(self, request: web.Request) -> web.StreamResponse:
        segs = [s for s in request.path.split("/") if s]
        method = request.method
        if segs == ["version"]:
            return _json(discovery.version_info(discovery.cluster_version(self.ctx)))
        if segs and segs[0] == "openapi":
            return self._openapi(segs)
        if segs[:1] == ["apis"] and len(segs) >= 3 and aggregated_group_versions(self.store).get(
                (segs[1], segs[2])) is False:
            return _status(503, "ServiceUnavailable", "the server is currently unable to handle the request")
        if segs == ["api"] or segs == ["apis"] or (segs[:1] == ["apis"] and len(segs) in (2, 3)) or \
                segs == ["api", "v1"]:
            if method != "GET":
                return _status(405, "MethodNotAllowed", "the server does not allow this method")
            if _wants_aggregated_only(request):
                return _status(406, "NotAcceptable", "only legacy discovery is served")
            return self._discovery(request, segs)
        if len(segs) >= 3 and segs[:2] == ["api", "v1"]:
            req = _parse_resource_path(self.store, "", "v1", segs[2:])
        elif len(segs) >= 4 and segs[0] == "apis":
            req = _parse_resource_path(self.store, segs[1], segs[2], segs[3:])
        else:
            return _status(404, "NotFound", "the server could not find the requested resource")
        return await self._resource(request, req)

    # -------------------------------------------------------- discovery
    def _discovery(self, request: web.Request, segs: list[str]) -> web.Response:
        doc: Obj | None
        if segs == ["api"]:
            doc = discovery.core_versions(request.host)
        elif segs == ["api", "v1"]:
            doc = discovery.resource_list(self.store, "", "v1")
        elif segs == ["apis"]:
            doc = discovery.group_list(self.store)
        elif len(segs) == 2:
            doc = discovery.group(self.store, segs[1])
        else:
            doc = discovery.resource_list(self.store, segs[1], segs[2])
        if doc is None:
            return _status(404, "NotFound", "the server could not find the requested resource")
        return _json(doc)

    def _openapi(self, segs: list[str]) -> web.Response:
        if segs == ["openapi", "v3"]:
            return _json(openapi.root(self.store))
        if len(segs) > 2 and segs[1] == "v3":
            doc = openapi.group_version_doc(self.store, "/".join(segs[2:]))
            if doc is not None:
                return _json(doc)
        return _status(404, "NotFound", "the server could not find the requested resource")

    # -------------------------------------------------------- resources
    async def _body(self, request: web.Request, yaml_ok: bool = False) -> Any:
        raw = await request.read()
        if not raw:
            raise ApiError(400, "BadRequest", "request body is empty")
        if self._content_type(request) == protobuf.CONTENT_TYPE:
            try:
                return protobuf.decode(raw)
            except protobuf.ProtobufError as e:
                raise ApiError(415, "UnsupportedMediaType", str(e)) from None
        try:
            if yaml_ok:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as e:
            raise ApiError(400, "BadRequest", f"the body of the request was in an unknown format: {e}") from None

    def _out(self, req: Request, obj: Obj) -> Obj:
        """Serve ``obj`` in the requested version (custom resources: same schema, other apiVersion)."""
        if req.version != req.rt.version and obj.get("apiVersion") == req.rt.api_version:
            obj["apiVersion"] = req.gv
        return obj

    async def _resource(self, request: web.Request, req: Request) -> web.StreamResponse:
        method = request.method
        q = request.query
        if req.name is None:
            if method == "GET":
                if q.get("watch") in ("true", "1"):
                    return await self._watch(request, req)
                return self._list(request, req)
            if method == "POST":
                return await self._create(request, req)
            if method == "DELETE":
                return self._delete_collection(request, req)
        elif req.sub is None:
            if method == "GET":
                return self._respond_obj(request, req, self.store.get(req.rt.key, req.namespace, req.name))
            if method == "PUT":
                return await self._replace(request, req)
            if method == "PATCH":
                return await self._patch(request, req)
            if method == "DELETE":
                return await self._delete(request, req)
        else:
            return await self._subresource(request, req)
        return _status(405, "MethodNotAllowed", f"the server does not allow this method on the requested "
                                                 f"resource ({method})")

    def _respond_obj(self, request: web.Request, req: Request, obj: Obj, status: int = 200) -> web.Response:
        obj = self._out(req, obj)
        if _wants_table(request) and request.method == "GET":
            return _json(tables.build_table(self.store, req.rt, [obj], request.query.get("includeObject",
                                                                                           "Metadata"),
                                            obj["metadata"].get("resourceVersion", ""), req.version), status)
        return _json(obj, status)

    def _select(self, request: web.Request, req: Request) -> list[Obj]:
        label = request.query.get("labelSelector") or None
        field = request.query.get("fieldSelector") or None
        try:
            return self.store.list(req.rt.key, req.namespace, label, field)
        except ValueError as e:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {e}") from None

    def _select_page(self, request: web.Request, req: Request) -> paging.Select:
        label = request.query.get("labelSelector") or None
        field = request.query.get("fieldSelector") or None

        def select(after: tuple[str, str] | None, limit: int) -> tuple[list[Obj], int]:
            try:
                return self.store.list_page(req.rt.key, req.namespace, label, field, after, limit)
            except ValueError as e:
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {e}") from None
        return select

    def _list(self, request: web.Request, req: Request) -> web.Response:
        q = request.query
        expired = bool(q.get("continue")) and self.ctx.faults.take(
            "kube", request.method, request.path, kind="expire-continue") is not None
        entry: dict[str, Any] = {"path": request.path, "limit": q.get("limit"), "continue": bool(q.get("continue"))}
        self.ctx.services.setdefault("list_log", []).append(entry)
        try:
            page = paging.page(self._select_page(request, req), q.get("limit"), q.get("continue"),
                               int(self.store.resource_version), paging.oldest_rv(self.store), expired,
                               filtered=bool(q.get("labelSelector") or q.get("fieldSelector")))
        except ApiError as e:
            entry["status"] = e.code
            raise
        entry.update(status=200, items=len(page.items), more=bool(page.meta.get("continue")))
        items = [self._out(req, o) for o in page.items]
        if _wants_table(request):
            table = tables.build_table(self.store, req.rt, items, q.get("includeObject", "Metadata"),
                                       page.meta["resourceVersion"], req.version)
            table["metadata"] = page.meta
            return _json(table)
        return _json({"kind": f"{req.rt.kind}List", "apiVersion": req.gv, "metadata": page.meta, "items": items})

    def _validate_new(self, req: Request, obj: Any) -> Obj:
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        kind = obj.get("kind")
        if kind and kind != req.rt.kind:
            raise ApiError(400, "BadRequest", f"the API version in the data ({obj.get('apiVersion')}) does not "
                                              f"match the expected API version ({req.gv}) or kind {kind} is "
                                              f"not {req.rt.kind}")
        if not isinstance(obj.get("metadata", {}), dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if req.rt.key == CRD_KEY:
            spec = obj.get("spec") or {}
            names = spec.get("names") or {}
            expected = f"{names.get('plural')}.{spec.get('group')}"
            if (obj.get("metadata") or {}).get("name") != expected:
                raise ApiError(422, "Invalid", f'CustomResourceDefinition.apiextensions.k8s.io '
                                               f'"{(obj.get("metadata") or {}).get("name")}" is invalid: '
                                               f"metadata.name: Invalid value: must be spec.names.plural+\".\"+"
                                               f"spec.group ({expected})")
        return obj

    async def _create(self, request: web.Request, req: Request) -> web.Response:
        obj = self._typed(req, self._validate_new(req, await self._body(request)))
        if req.rt.key in reviews.KEYS:
            return _json(reviews.review(req.rt.kind, obj, self.ctx), 201)
        warnings = admission.check_unknown(admission.field_validation(request.query), req.rt, obj, "create", req.gv)
        apply_defaults(req.rt.key, obj, self.store)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{uuid.uuid4().hex[:5]}"
        admission.check_valid(req.rt, obj)
        managed_fields.record_update(None, obj, self._manager(request), req.gv,
                                     body_fields=meta.get("managedFields"))
        if request.query.get("dryRun"):
            meta = obj.setdefault("metadata", {})
            if req.rt.namespaced:
                meta.setdefault("namespace", req.namespace or "default")
            obj["apiVersion"], obj["kind"] = req.rt.api_version, req.rt.kind
            if meta.get("name") and self.store.exists(req.rt.key, meta.get("namespace"), meta["name"]):
                raise ApiError(409, "AlreadyExists", f'{req.rt.plural} "{meta["name"]}" already exists')
            return _json(self._out(req, obj), 201)
        created = self.store.create(req.rt.key, obj, req.namespace)
        if req.rt.key == CRD_KEY:  # the CRD controller established it synchronously: serve that status
            created = self.store.get(req.rt.key, None, created["metadata"]["name"])
        return _json(self._out(req, created), 201, warnings=warnings)

    def _typed(self, req: Request, obj: Obj) -> Obj:
        """Built-in kinds decode into typed structs: null entries vanish (``known_fields.drop_nulls``)."""
        return known_fields.drop_nulls(obj) if req.rt.key in BUILTIN_KEYS else obj

    def _manager(self, request: web.Request, apply: bool = False) -> str:
        return admission.manager(request.query, request.headers.get("User-Agent", ""), apply)

    def _check_name(self, req: Request, obj: Obj) -> None:
        meta = obj.setdefault("metadata", {})
        if meta.get("name") and meta["name"] != req.name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the name on the URL")
        meta["name"] = req.name
        if req.rt.namespaced:
            if meta.get("namespace") and meta["namespace"] != req.namespace:
                raise ApiError(400, "BadRequest", "the namespace of the object does not match the namespace on "
                                                  "the URL")
            meta["namespace"] = req.namespace

    async def _replace(self, request: web.Request, req: Request, subresource: str | None = None) -> web.Response:
        obj = self._typed(req, self._validate_new(req, await self._body(request)))
        self._check_name(req, obj)
        warnings: list[str] = []
        if subresource is None:
            warnings = admission.check_unknown(admission.field_validation(request.query), req.rt, obj, "update",
                                               req.gv)
            current = self.store.get(req.rt.key, req.namespace, req.name or "")
            check = copy.deepcopy(obj)
            if "status" in current and "status" in req.rt.subresources:
                check["status"] = current["status"]
            admission.check_valid(req.rt, check, current)
            managed_fields.record_update(current, obj, self._manager(request), req.gv,
                                         body_fields=(obj.get("metadata") or {}).get("managedFields", None))
        if request.query.get("dryRun"):
            self.store.get(req.rt.key, req.namespace, req.name or "")
            return _json(self._out(req, obj), warnings=warnings)
        return _json(self._out(req, self.store.replace(req.rt.key, obj, req.namespace, subresource=subresource)),
                     warnings=warnings)

    def _content_type(self, request: web.Request) -> str:
        return request.headers.get("Content-Type", "").split(";")[0].strip().lower()

    async def _patch(self, request: web.Request, req: Request, subresource: str | None = None) -> web.Response:
        ct = self._content_type(request)
        if ct not in patching.PATCH_TYPES:
            return _status(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                        f"accepted media types include: "
                                                        f"{', '.join(patching.PATCH_TYPES)}")
        if ct == patching.STRATEGIC and req.rt.key not in BUILTIN_KEYS:
            return _status(415, "UnsupportedMediaType", "strategic merge patch is not supported for custom "
                                                        "resources; use a merge patch or JSON patch")
        body = await self._body(request, yaml_ok=ct == patching.APPLY_YAML)
        name = req.name or ""
        mode = admission.field_validation(request.query)
        warnings: list[str] = []
        if ct == patching.APPLY_YAML:
            manager = self._manager(request, apply=True)
            force = request.query.get("force") in ("true", "1")
            if subresource is None:
                if isinstance(body, dict):
                    self._validate_new(req, body)
                warnings = admission.check_unknown(mode, req.rt, body, "apply", req.gv, req.namespace, name)
        else:
            manager = self._manager(request)
            if subresource is None and ct != patching.JSON_PATCH:
                warnings = admission.check_unknown(mode, req.rt, body, "patch", req.gv)
        if ct == patching.APPLY_YAML and not self.store.exists(req.rt.key, req.namespace, name):
            if subresource is not None:
                raise ApiError(404, "NotFound", f'{req.rt.plural} "{name}" not found')
            obj = self._typed(req, self._validate_new(req, patching.strip_directives(body)))
            self._check_name(req, obj)
            obj = managed_fields.server_side_apply(None, obj, manager, req.gv, force)
            apply_defaults(req.rt.key, obj, self.store)
            admission.check_valid(req.rt, obj)
            if request.query.get("dryRun"):
                return _json(self._out(req, obj), 201, warnings=warnings)
            return _json(self._out(req, self.store.create(req.rt.key, obj, req.namespace)), 201, warnings=warnings)
        current = self.store.get(req.rt.key, req.namespace, name)
        if ct == patching.APPLY_YAML and subresource is None:
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "the applied configuration must be an object")
            new = managed_fields.server_side_apply(current, body, manager, req.gv, force)
        else:
            new = patching.apply_patch(ct, current, body)
            if ct == patching.JSON_PATCH and subresource is None and isinstance(new, dict):
                warnings = admission.check_unknown(mode, req.rt, new, "patch", req.gv)
        if not isinstance(new, dict):
            raise ApiError(422, "Invalid", "the patch did not produce an object")
        meta = new.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise ApiError(422, "Invalid", "metadata must be an object")
        meta["name"] = name
        if req.rt.namespaced:
            meta["namespace"] = req.namespace
        new = self._typed(req, new)
        meta = new["metadata"]
        if ct == patching.APPLY_YAML:
            meta["resourceVersion"] = current["metadata"].get("resourceVersion")
        if subresource is None:
            admission.check_valid(req.rt, new, current)
            if ct != patching.APPLY_YAML:
                managed_fields.record_update(current, new, manager, req.gv)
        if request.query.get("dryRun"):
            return _json(self._out(req, new), warnings=warnings)
        return _json(self._out(req, self.store.replace(req.rt.key, new, req.namespace, subresource=subresource)),
                     warnings=warnings)

    async def _delete_options(self, request: web.Request) -> Obj:
        raw = await request.read()
        if not raw:
            return {}
        try:
            is_proto = self._content_type(request) == protobuf.CONTENT_TYPE
            opts = protobuf.decode(raw) if is_proto else json.loads(raw)
        except ValueError as e:
            raise ApiError(400, "BadRequest", f"invalid DeleteOptions: {e}") from None
        if not isinstance(opts, dict):
            raise ApiError(400, "BadRequest", "invalid DeleteOptions")
        policy = opts.get("propagationPolicy") or request.query.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(400, "BadRequest", f"invalid propagationPolicy {policy!r}")
        return opts

    async def _delete(self, request: web.Request, req: Request) -> web.Response:
        opts = await self._delete_options(request)
        name = req.name or ""
        current = self.store.get(req.rt.key, req.namespace, name)
        pre = opts.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
            raise ApiError(409, "Conflict", f"Precondition failed: UID in precondition: {pre['uid']}, UID in "
                                            f"object meta: {current['metadata'].get('uid')}")
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"].get("resourceVersion"):
            raise ApiError(409, "Conflict", "Precondition failed: resourceVersion mismatch")
        if request.query.get("dryRun") or opts.get("dryRun"):
            return _json(self._out(req, current))
        policy = opts.get("propagationPolicy") or request.query.get("propagationPolicy")
        if opts.get("orphanDependents") is True or request.query.get("orphanDependents") == "true":
            policy = policy or "Orphan"
        if req.rt.key != ("", "namespaces"):
            gc.prepare_delete(self.store, self.ctx.services, req.rt.key, req.namespace, name, policy)
        result = self.store.delete(req.rt.key, req.namespace, name)
        if self.store.exists(req.rt.key, req.namespace, name):
            return _json(self._out(req, self.store.get(req.rt.key, req.namespace, name)))
        if req.rt.key in (("", "namespaces"), ("", "pods")) or req.rt.key not in BUILTIN_KEYS:
            return _json(self._out(req, result))
        return _json(_success({"name": name, "group": req.rt.group, "kind": req.rt.plural,
                               "uid": current["metadata"].get("uid")}))

    def _delete_collection(self, request: web.Request, req: Request) -> web.Response:
        if "deletecollection" not in req.rt.verbs:
            return _status(405, "MethodNotAllowed", "deletecollection is not supported on this resource")
        items = []
        for obj in self._select(request, req):
            meta = obj["metadata"]
            items.append(self._out(req, self.store.delete(req.rt.key, meta.get("namespace"), meta["name"])))
        return _json({"kind": f"{req.rt.kind}List", "apiVersion": req.gv,
                      "metadata": {"resourceVersion": self.store.resource_version}, "items": items})

    # ----------------------------------------------------- subresources
    async def _subresource(self, request: web.Request, req: Request) -> web.StreamResponse:
        method, sub = request.method, req.sub
        name = req.name or ""
        if sub == "status":
            if method == "GET":
                return self._respond_obj(request, req, self.store.get(req.rt.key, req.namespace, name))
            if method == "PUT":
                return await self._replace(request, req, subresource="status")
            if method == "PATCH":
                return await self._patch(request, req, subresource="status")
        elif sub == "log" and method == "GET":
            return self._log(request, req)
        elif sub == "eviction" and method == "POST":
            return await self._evict(request, req)
        elif sub in streaming.SUBRESOURCES and req.rt.key == ("", "pods"):
            return await streaming.handle(self.ctx, self.pods, request, req.namespace or "", name, sub)
        elif sub == "finalize" and method == "PUT":
            body = self._validate_new(req, await self._body(request))
            finalizers = list((body.get("spec") or {}).get("finalizers") or [])

            def set_finalizers(o: Obj) -> None:
                o.setdefault("spec", {})["finalizers"] = finalizers
            return _json(self.store.update(req.rt.key, None, name, set_finalizers))
        elif sub == "scale" and req.rt.key in SCALABLE:
            return await self._scale(request, req)
        return _status(405, "MethodNotAllowed", f"the server does not allow {method} on {req.rt.plural}/{sub}")

    def _log(self, request: web.Request, req: Request) -> web.Response:
        pod = self.store.get(req.rt.key, req.namespace, req.name or "")
        containers = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
        container = request.query.get("container")
        if not container:
            if len(containers) != 1:
                raise ApiError(400, "BadRequest", f"a container name must be specified for pod {req.name}, "
                                                  f"choose one of: [{' '.join(str(c) for c in containers)}]")
            container = str(containers[0])
        elif container not in containers:
            init = [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
            if container not in init:
                raise ApiError(400, "BadRequest", f"container {container} is not valid for pod {req.name}")
        text = self.ctx.logs.get((req.namespace or "", req.name or "", container), "")
        tail = request.query.get("tailLines")
        if tail is not None:
            try:
                n = int(tail)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid tailLines {tail!r}") from None
            lines = text.splitlines(keepends=True)
            text = "".join(lines[-n:]) if n > 0 else ""
        return web.Response(text=text, content_type="text/plain")

    async def _evict(self, request: web.Request, req: Request) -> web.Response:
        body = await self._body(request)
        if not isinstance(body, dict) or body.get("kind") not in (None, "Eviction"):
            raise ApiError(400, "BadRequest", "the body must be a policy/v1 Eviction")
        name = req.name or ""
        self.store.get(req.rt.key, req.namespace, name)
        hook: Callable[[str, str], Any] | None = self.ctx.services.get("evict")
        if hook is not None:
            result = hook(req.namespace or "", name)
            if inspect.isawaitable(result):
                await result
        else:
            self.store.delete(req.rt.key, req.namespace, name)
        return _json(_success({"name": name, "kind": "pods"}), 201)

    def _scale_of(self, obj: Obj) -> Obj:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        sel = spec.get("selector") or {}
        meta = obj["metadata"]
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": spec.get("replicas", 1)},
            "status": {"replicas": status.get("replicas", 0),
                       "selector": tables.selector_string(sel) if sel else ""},
        }

    async def _scale(self, request: web.Request, req: Request) -> web.Response:
        name = req.name or ""
        if request.method == "GET":
            return _json(self._scale_of(self.store.get(req.rt.key, req.namespace, name)))
        if request.method == "PUT":
            body = await self._body(request)
            current = self.store.get(req.rt.key, req.namespace, name)
        elif request.method == "PATCH":
            ct = self._content_type(request)
            if ct not in patching.PATCH_TYPES:
                return _status(415, "UnsupportedMediaType", "unsupported patch type")
            raw = await self._body(request, yaml_ok=ct == patching.APPLY_YAML)
            # read after the last await: no other writer can interleave before the replace below
            current = self.store.get(req.rt.key, req.namespace, name)
            body = patching.apply_patch(ct, self._scale_of(current), raw)
        else:
            return _status(405, "MethodNotAllowed", "method not allowed on scale")
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a Scale")
        replicas = (body.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(422, "Invalid", "Scale.spec.replicas: Invalid value: must be a non-negative integer")
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on {req.rt.plural} "{name}": the '
                                            "object has been modified; please apply your changes to the latest "
                                            "version and try again")
        current.setdefault("spec", {})["replicas"] = replicas
        updated = self.store.replace(req.rt.key, current, req.namespace)
        return _json(self._scale_of(updated))

    # ------------------------------------------------------------ watch
    async def _watch(self, request: web.Request, req: Request) -> web.StreamResponse:
        q = request.query
        rv = q.get("resourceVersion") or None
        label = q.get("labelSelector") or None
        field = q.get("fieldSelector") or None
        if label:
            try:
                from netmig_sandbox.kube.selectors import parse_label_selector
                parse_label_selector(label)
            except ValueError as e:
                raise ApiError(400, "BadRequest", f"unable to parse requirement: {e}") from None
        try:
            timeout = float(q.get("timeoutSeconds") or DEFAULT_WATCH_TIMEOUT)
        except ValueError:
            raise ApiError(400, "BadRequest", "invalid timeoutSeconds") from None
        table = _wants_table(request)
        include = q.get("includeObject", "Metadata")
        cut = self.ctx.faults.take("kube", "GET", request.path, kind="cut-watch")
        limit_events = int(cut.params.get("after_events", 0)) if cut is not None else None

        resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                       "Cache-Control": "no-cache, private"})
        resp.enable_chunked_encoding()
        try:
            w = self.store.watch(req.rt.key, req.namespace, rv, label, field)
        except ApiError as e:
            await resp.prepare(request)
            await resp.write((json.dumps({"type": "ERROR", "object": e.status()}) + "\n").encode())
            await resp.write_eof()
            return resp
        self.open_watches.add(w)
        initial = self.store.list(req.rt.key, req.namespace, label, field) if rv in (None, "0") else []
        sent = 0

        def encode(event: str, obj: Obj) -> bytes:
            obj = self._out(req, obj)
            if table and event != "ERROR":
                obj = tables.build_table(self.store, req.rt, [obj], include,
                                         obj.get("metadata", {}).get("resourceVersion", ""), req.version)
            return (json.dumps({"type": event, "object": obj}, separators=(",", ":")) + "\n").encode()

        try:
            await resp.prepare(request)
            deadline = time.monotonic() + max(0.0, timeout)
            for obj in initial:
                if limit_events is not None and sent >= limit_events:
                    break
                await resp.write(encode("ADDED", obj))
                sent += 1
            while limit_events is None or sent < limit_events:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    event, obj = await asyncio.wait_for(w.queue.get(), remaining)
                except TimeoutError:
                    break
                if event == "GONE":
                    break
                await resp.write(encode(event, obj))
                sent += 1
            with contextlib.suppress(ConnectionError):
                await resp.write_eof()
        except ConnectionError:
            pass  # the client went away
        finally:
            self.store.unwatch(w)
            self.open_watches.discard(w)
        return resp


def build_app(ctx: KubeHost, pods: PodProcesses) -> web.Application:
    """The Kubernetes API application for ``ctx``, its pods' processes run by ``pods`` (see the module
    contract)."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[CTX] = ctx
    api = KubeApi(ctx, pods)
    app.router.add_route("*", "/{tail:.*}", api.handle)
    app.on_shutdown.append(api.on_shutdown)
    return app
