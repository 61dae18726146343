"""PATCH semantics of the sandbox API server: JSON merge patch, JSON patch and strategic merge patch.

Contract (all functions are pure: inputs are not modified, a new document is returned):
- ``merge_patch(doc, patch)``: RFC 7386 (``application/merge-patch+json``).
- ``json_patch(doc, ops)``: RFC 6902 (``application/json-patch+json``); raises ``PatchError`` on a bad operation or a
  failed ``test``.
- ``strategic_merge_patch(doc, patch)``: Kubernetes' strategic merge for built-in types: maps merge recursively,
  ``null`` deletes, lists of objects with a known merge key (containers/env/volumes by ``name``, container ports by
  ``containerPort``, service ports by ``port``, conditions/addresses by ``type``, taints by ``key``,
  ownerReferences by ``uid``, ...) merge item by item, ``metadata.finalizers`` merges as a set, other lists are
  replaced. Directives ``$patch: replace|delete``, ``$retainKeys``, ``$deleteFromPrimitiveList/<f>`` and
  ``$setElementOrder/<f>`` are honoured.
- ``apply_patch(kind, doc, patch)`` dispatches on the content type (``merge``/``json``/``strategic``/``apply``);
  server-side apply is approximated as a strategic merge of the applied configuration.
"""

from __future__ import annotations

import copy
from typing import Any

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY_YAML = "application/apply-patch+yaml"
APPLY_CBOR = "application/apply-patch+cbor"
PATCH_TYPES = (MERGE, JSON_PATCH, STRATEGIC, APPLY_YAML)


class PatchError(ValueError):
    """A patch that cannot be applied (rendered as 422 or 400 by the server)."""


# ----------------------------------------------------------------- merge patch
def merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


# ------------------------------------------------------------------ json patch
def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parts(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}")
    return [_unescape(t) for t in pointer[1:].split("/")]


def _resolve(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        if isinstance(cur, dict):
            if p not in cur:
                raise PatchError(f"path not found: /{'/'.join(parts)}")
            cur = cur[p]
        elif isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise PatchError(f"path not found: /{'/'.join(parts)}") from None
        else:
            raise PatchError(f"path not found: /{'/'.join(parts)}")
    return cur


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            try:
                idx = int(last)
            except ValueError:
                raise PatchError(f"invalid array index {last!r}") from None
            if idx < 0 or idx > len(parent):
                raise PatchError(f"array index out of range: {idx}")
            parent.insert(idx, value)
    else:
        raise PatchError(f"cannot add at /{'/'.join(parts)}")
    return doc


def _remove(doc: Any, parts: list[str]) -> tuple[Any, Any]:
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _resolve(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"path not found: /{'/'.join(parts)}")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        try:
            return doc, parent.pop(int(last))
        except (ValueError, IndexError):
            raise PatchError(f"path not found: /{'/'.join(parts)}") from None
    raise PatchError(f"path not found: /{'/'.join(parts)}")


def json_patch(doc: Any, ops: Any) -> Any:
    """RFC 6902 JSON patch."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        name = op["op"]
        parts = _parts(op["path"])
        if name == "add":
            out = _add(out, parts, copy.deepcopy(op.get("value")))
        elif name == "remove":
            out, _ = _remove(out, parts)
        elif name == "replace":
            _resolve(out, parts)
            if parts:
                out, _ = _remove(out, parts)
            out = _add(out, parts, copy.deepcopy(op.get("value")))
        elif name in ("move", "copy"):
            src = _parts(op.get("from", ""))
            if name == "move":
                out, value = _remove(out, src)
            else:
                value = copy.deepcopy(_resolve(out, src))
            out = _add(out, parts, value)
        elif name == "test":
            if _resolve(out, parts) != op.get("value"):
                raise PatchError(f"test failed at {op['path']}")
        else:
            raise PatchError(f"unknown JSON patch operation {name!r}")
    return out


# ------------------------------------------------------------ strategic merge
# field name -> merge key (lists of objects); ports are special-cased below
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "addresses": "type",
    "taints": "key",
    "ownerReferences": "uid",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
}
# lists of scalars merged as sets
MERGE_PRIMITIVE = {"finalizers"}


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        for it in items:
            if isinstance(it, dict):
                if "containerPort" in it:
                    return "containerPort"
                if "port" in it:
                    return "port"
        return None
    return MERGE_KEYS.get(field)


def _merge_list(field: str, cur: list[Any], patch: list[Any], order: list[Any] | None) -> list[Any]:
    if field in MERGE_PRIMITIVE and all(not isinstance(x, dict | list) for x in patch):
        out = list(cur)
        for x in patch:
            if x not in out:
                out.append(x)
        return out
    key = _merge_key(field, list(cur) + list(patch))
    if key is None:
        if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
            return [x for x in patch if not (isinstance(x, dict) and "$patch" in x)]
        return [strip_directives(x) for x in patch]
    if any(isinstance(x, dict) and x.get("$patch") == "replace" for x in patch):
        return [strip_directives(x) for x in patch if not (isinstance(x, dict) and "$patch" in x)]
    out = [copy.deepcopy(x) for x in cur]
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            out.append(strip_directives(item))
            continue
        idx = next((i for i, x in enumerate(out) if isinstance(x, dict) and x.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if idx is not None:
                out.pop(idx)
            continue
        if idx is None:
            out.append(strip_directives(item))
        else:
            out[idx] = strategic_merge_patch(out[idx], item)
    if order:
        rank = {(o.get(key) if isinstance(o, dict) else o): i for i, o in enumerate(order)}
        out.sort(key=lambda x: rank.get(x.get(key) if isinstance(x, dict) else x, len(rank)))
    return out


def strip_directives(value: Any) -> Any:
    """A copy of ``value`` without strategic-merge ``$`` directives."""
    if isinstance(value, dict):
        return {k: strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [strip_directives(v) for v in value]
    return copy.deepcopy(value)


def strategic_merge_patch(doc: Any, patch: Any) -> Any:
    """Kubernetes strategic merge patch (see the module contract)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return strip_directives({k: v for k, v in patch.items() if k != "$patch"})
    if patch.get("$patch") == "delete":
        return None
    out: dict[str, Any] = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    retain = patch.get("$retainKeys")
    for k, v in patch.items():
        if k.startswith("$deleteFromPrimitiveList/"):
            field = k.split("/", 1)[1]
            if isinstance(out.get(field), list):
                out[field] = [x for x in out[field] if x not in (v or [])]
            continue
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict):
            merged = strategic_merge_patch(out.get(k), v)
            if merged is None:
                out.pop(k, None)
            else:
                out[k] = merged
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = _merge_list(k, out[k], v, patch.get(f"$setElementOrder/{k}"))
        else:
            out[k] = strip_directives(v)
    if isinstance(retain, list):
        out = {k: v for k, v in out.items() if k in retain}
    return out


def apply_patch(content_type: str, doc: Any, patch: Any) -> Any:
    """Apply ``patch`` to ``doc`` according to the PATCH ``content_type``; raises ``PatchError``."""
    if content_type == MERGE:
        return merge_patch(doc, patch)
    if content_type == JSON_PATCH:
        return json_patch(doc, patch)
    if content_type in (STRATEGIC, APPLY_YAML):
        if not isinstance(patch, dict):
            raise PatchError("a strategic merge patch must be a JSON object")
        return strategic_merge_patch(doc, patch)
    raise PatchError(f"unsupported patch type {content_type!r}")
