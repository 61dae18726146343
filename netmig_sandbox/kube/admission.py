"""What the API server does to a write between decoding and storage: field validation, validation, field managers.

Contract (used by ``server``):
- ``field_validation(query) -> "Ignore" | "Warn" | "Strict"`` from ``?fieldValidation=`` (default ``Warn``, as the
  apiserver since 1.27; kubectl 1.32 sends ``Strict`` for create/apply/replace/patch); another value is a 400.
- ``check_unknown(mode, rt, doc, request_kind)`` for a request body (or patched result) ``doc`` of kind ``rt``:
  Strict raises 400 ``BadRequest`` with the apiserver's text (create/update: ``<Kind> in version "<v>" cannot be
  handled as a <Kind>: strict decoding error: unknown field "spec.foo"``; patch: ``strict decoding error: ...``;
  apply: ``failed to create typed patch object (<ns>/<name>; <gv>, Kind=<Kind>): .spec.foo: field not declared in
  schema``); Warn returns the warnings (``unknown field "spec.foo"``) for ``Warning: 299 - "..."`` headers; every
  mode drops the unknown fields from ``doc`` (they are never stored).
- ``check_valid(rt, obj, old=None)`` raises the 422 Invalid ``ApiError`` of ``validation.validate`` (an update:
  ``validate_update`` against ``old``).
- ``manager(query, user_agent, apply)``: the field manager; required for apply (422 like the apiserver), else
  the User-Agent up to its first "/" (e.g. ``kubectl``).
"""

from __future__ import annotations

from collections.abc import Mapping

from netmig_sandbox.kube import known_fields, validation
from netmig_sandbox.kube.store import ApiError, Obj, ResourceType

MODES = ("Ignore", "Warn", "Strict")


def field_validation(query: Mapping[str, str]) -> str:
    mode = query.get("fieldValidation") or "Warn"
    if mode not in MODES:
        raise ApiError(400, "BadRequest", f'fieldValidation must be one of "Ignore", "Warn", "Strict", got "{mode}"')
    return mode


def check_unknown(mode: str, rt: ResourceType, doc: object, request_kind: str, gv: str = "",
                  namespace: str | None = None, name: str = "") -> list[str]:
    """See the module contract; ``request_kind`` is "create", "update", "patch" or "apply"."""
    if not isinstance(doc, dict):
        return []
    unknown = known_fields.unknown_fields(rt.key, doc)
    if not unknown:
        return []
    if mode == "Strict":
        if request_kind == "apply":
            where = f"{namespace}/{name}" if namespace else name
            first = unknown[0]
            gvk = gv if "/" in gv else f"/{gv}"  # schema.GroupVersionKind's spelling: "/v1" for the core group
            raise ApiError(400, "BadRequest", f"failed to create typed patch object ({where}; {gvk}, Kind={rt.kind}): "
                                              f".{first}: field not declared in schema")
        text = "strict decoding error: " + ", ".join(f'unknown field "{u}"' for u in unknown)
        if request_kind in ("create", "update"):
            version = gv.split("/")[-1] if gv else rt.version
            text = f'{rt.kind} in version "{version}" cannot be handled as a {rt.kind}: {text}'
        raise ApiError(400, "BadRequest", text)
    known_fields.prune_unknown(rt.key, doc)
    return [f'unknown field "{u}"' for u in unknown] if mode == "Warn" else []


def check_valid(rt: ResourceType, obj: Obj, old: Obj | None = None) -> None:
    errors = validation.validate(rt.key, obj) if old is None else validation.validate_update(rt.key, obj, old)
    if errors:
        raise validation.invalid(rt, str((obj.get("metadata") or {}).get("name") or ""), errors)


def manager(query: Mapping[str, str], user_agent: str, apply: bool) -> str:
    name = query.get("fieldManager") or ""
    if apply and not name:
        raise ApiError(422, "Invalid", 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
                                       "required for apply patch",
                       {"group": "meta.k8s.io", "kind": "PatchOptions",
                        "causes": [{"reason": "FieldValueRequired", "message": "Required value: is required for "
                                    "apply patch", "field": "fieldManager"}]})
    if not name:
        name = (user_agent.split("/", 1)[0] or "unknown")[:128]
    return name


def warning_header(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'299 - "{escaped}"'
