"""A minimal OpenAPI v3 surface, enough for kubectl's default (``--validate=strict``) behaviour.

What kubectl 1.32 does (measured against this server): before ``apply``/``create -f`` it asks ``/openapi/v3``
for the group-version of each object and looks for a PATCH operation tagged with the object's
``x-kubernetes-group-version-kind`` that declares the ``fieldValidation`` query parameter. If found, it sends the
request with ``?fieldValidation=Strict`` and leaves validation to the server (no client-side schema needed); only
otherwise does it fall back to client-side validation against ``/openapi/v2`` schemas. So we publish, per served
group-version, one document whose PATCH operations declare ``fieldValidation``. The PATCH operations declare no
request body content types, so ``kubectl apply`` does not try to build strategic merge patches from (absent)
OpenAPI schemas and uses its compiled-in types instead (JSON merge patch for custom resources).

Contract: ``root(store)`` is the ``/openapi/v3`` index (``{"paths": {"api/v1": {"serverRelativeURL": ...}}}``);
``group_version_doc(store, path)`` the document for ``api/v1`` or ``apis/{g}/{v}``, or None if not served.
``/openapi/v2`` is not served (404), which kubectl tolerates when the v3 documents answer.
Component schemas (``schemas.components``) are published for NetworkPolicy, for ``kubectl explain``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from netmig_sandbox.kube import schemas
from netmig_sandbox.kube.store import Obj, Store


def _gv_paths(store: Store) -> dict[str, list[tuple[str, Any]]]:
    out: dict[str, list[tuple[str, Any]]] = {}
    for rt in store.types.values():
        for v in (rt.version, *rt.other_versions):
            path = f"apis/{rt.group}/{v}" if rt.group else "api/v1"
            out.setdefault(path, []).append((v, rt))
    return out


def group_version_doc(store: Store, gv_path: str) -> Obj | None:
    entries = _gv_paths(store).get(gv_path.strip("/"))
    if not entries:
        return None
    paths: dict[str, Any] = {}
    params = [
        {"name": "dryRun", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string", "uniqueItems": True}},
        {"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": True}},
    ]
    for version, rt in entries:
        base = f"/{gv_path.strip('/')}"
        item = (f"{base}/namespaces/{{namespace}}/{rt.plural}/{{name}}" if rt.namespaced
                else f"{base}/{rt.plural}/{{name}}")
        gvk = {"group": rt.group, "version": version, "kind": rt.kind}
        paths[item] = {
            "get": {"operationId": f"read{rt.kind}", "x-kubernetes-group-version-kind": gvk,
                    "x-kubernetes-action": "get", "responses": {"200": {"description": "OK"}}},
            "put": {"operationId": f"replace{rt.kind}", "x-kubernetes-group-version-kind": gvk,
                    "x-kubernetes-action": "put", "parameters": params,
                    "responses": {"200": {"description": "OK"}}},
            "patch": {"operationId": f"patch{rt.kind}", "x-kubernetes-group-version-kind": gvk,
                      "x-kubernetes-action": "patch", "parameters": params,
                      "responses": {"200": {"description": "OK"}}},
            "delete": {"operationId": f"delete{rt.kind}", "x-kubernetes-group-version-kind": gvk,
                       "x-kubernetes-action": "delete", "responses": {"200": {"description": "OK"}}},
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (aks-netmig sandbox)", "version": "unversioned"},
        "paths": paths,
        "components": {"schemas": schemas.components(gv_path)},
    }


def root(store: Store) -> Obj:
    paths = {}
    for gv_path in _gv_paths(store):
        doc = group_version_doc(store, gv_path)
        digest = hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32].upper()
        paths[gv_path] = {"serverRelativeURL": f"/openapi/v3/{gv_path}?hash={digest}"}
    return {"paths": paths}
