"""Field ownership (``metadata.managedFields``) and server-side apply, as the apiserver's field manager does it.

Contract:
- ``record_update(old, new, manager, api_version, subresource=None)``: for a create (``old`` None), PUT, or a
  non-apply PATCH by ``manager``, sets ``new.metadata.managedFields``: the manager's ``Update`` entry gains every
  field the request set or changed (a create: every field of the defaulted object), other managers lose the
  fields it changed or removed, empty entries are dropped. A request body with ``managedFields: []`` clears them.
- ``server_side_apply(current, applied, manager, api_version, force)`` -> the new object (``current`` None: a
  create): conflicts (a field another manager owns whose value the applied configuration changes) raise
  ``ApiError`` 409 ``Conflict`` with the apiserver's message (``Apply failed with 1 conflict: conflict with
  "mgr" using apps/v1: .spec.replicas``) and ``details.causes`` (``FieldManagerConflict``, ``field``) unless
  ``force``, which takes the conflicting fields over; the configuration is merged into the object (strategic
  merge keys); fields the manager applied last time, omits now and owns alone are removed; the manager's ``Apply``
  entry becomes exactly the applied field set.
- Field sets are serialized as ``FieldsV1`` (``{"f:spec":{"f:containers":{"k:{\\"name\\":\\"web\\"}":{".":{},
  "f:image":{}}}}}``): ``f:`` fields, ``k:`` items of associative lists (containers, env, volumes by name, ports by
  port/containerPort + protocol, conditions by type, ownerReferences by uid, ...), ``v:`` items of set lists
  (finalizers); other lists and label selectors are atomic (owned as one field). ``apiVersion``, ``kind``,
  ``status`` and server-set metadata (name, namespace, uid, resourceVersion, generation, creationTimestamp,
  managedFields) are never owned, as the apiserver strips them.
Approximations: map-typed fields get no ``"."`` marker in Update entries; status updates are not recorded.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from netmig_sandbox.kube import patching
from netmig_sandbox.kube.store import ApiError, Obj, now_iso

Path = tuple[str, ...]
STRIPPED_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
                 "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"}
# associative lists: field -> key fields (protocol defaults to TCP, as the schema's default)
ASSOCIATIVE: dict[str, tuple[str, ...]] = {
    "containers": ("name",), "initContainers": ("name",), "ephemeralContainers": ("name",), "env": ("name",),
    "volumes": ("name",), "volumeMounts": ("mountPath",), "imagePullSecrets": ("name",),
    "conditions": ("type",), "ownerReferences": ("uid",), "hostAliases": ("ip",), "readinessGates": (),
    "resourceClaims": ("name",), "schedulingGates": ("name",),
}
SET_LISTS = {"finalizers"}
ATOMIC_SELECTORS = {"selector", "podSelector", "namespaceSelector", "labelSelector"}


def _item_keys(field: str, item: Any) -> tuple[str, ...] | None:
    if not isinstance(item, dict):
        return None
    if field == "ports":
        if "containerPort" in item:
            return ("containerPort", "protocol")
        if "port" in item:
            return ("port", "protocol")
        return None
    keys = ASSOCIATIVE.get(field)
    return keys if keys else None


def _key_of(keys: tuple[str, ...], item: Obj) -> dict[str, Any]:
    out = {}
    for k in sorted(keys):
        v = item.get(k)
        if v is None and k == "protocol":
            v = "TCP"
        out[k] = v
    return out


def _pe_key(keyval: dict[str, Any]) -> str:
    return "k:" + json.dumps(keyval, separators=(",", ":"), sort_keys=True)


def _walk(value: Any, prefix: Path, out: set[Path], field: str = "") -> None:
    if isinstance(value, dict):
        if not value or (field in ATOMIC_SELECTORS and ("matchLabels" in value or "matchExpressions" in value)):
            out.add(prefix)
            return
        for k, v in value.items():
            _walk(v, (*prefix, "f:" + k), out, k)
        return
    if isinstance(value, list) and value:
        if field in SET_LISTS and all(not isinstance(x, dict | list) for x in value):
            for x in value:
                out.add((*prefix, "v:" + json.dumps(x)))
            return
        keys = _item_keys(field, value[0])
        if keys and all(isinstance(x, dict) for x in value):
            for item in value:
                ipath = (*prefix, _pe_key(_key_of(keys, item)))
                out.add(ipath)
                for k, v in item.items():
                    _walk(v, (*ipath, "f:" + k), out, k)
            return
    out.add(prefix)


def field_set(obj: Obj) -> set[Path]:
    """The owned-field paths of ``obj`` (see the module contract for what is left out)."""
    out: set[Path] = set()
    for k, v in obj.items():
        if k in ("apiVersion", "kind", "status"):
            continue
        if k == "metadata" and isinstance(v, dict):
            for mk, mv in v.items():
                if mk not in STRIPPED_META:
                    _walk(mv, ("f:metadata", "f:" + mk), out, mk)
            continue
        _walk(v, ("f:" + k,), out, k)
    return out


def to_fields_v1(paths: set[Path]) -> Obj:
    root: Obj = {}
    for p in sorted(paths):
        node = root
        for pe in p:
            node = node.setdefault(pe, {})
    # list items (k:/v:) that are members and have children carry "."
    for p in paths:
        node = root
        for pe in p:
            node = node[pe]
        if node and p[-1][:2] in ("k:", "v:"):
            node["."] = {}
    return root


def from_fields_v1(tree: Any, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    if not isinstance(tree, dict):
        return out
    for k, v in tree.items():
        if k == ".":
            out.add(prefix)
            continue
        p = (*prefix, k)
        if not v:
            out.add(p)
        else:
            out |= from_fields_v1(v, p)
    return out


_MISSING = object()


def _step(cur: Any, pe: str) -> tuple[Any, Any]:
    """(container, index-or-key) for path element ``pe`` in ``cur``, or (None, None)."""
    kind, rest = pe[:2], pe[2:]
    if kind == "f:" and isinstance(cur, dict) and rest in cur:
        return cur, rest
    if kind == "k:" and isinstance(cur, list):
        want = json.loads(rest)
        for i, item in enumerate(cur):
            if isinstance(item, dict) and _key_of(tuple(want), item) == want:
                return cur, i
    if kind == "v:" and isinstance(cur, list):
        want = json.loads(rest)
        for i, item in enumerate(cur):
            if item == want:
                return cur, i
    return None, None


def value_at(obj: Any, path: Path) -> Any:
    cur = obj
    for pe in path:
        container, idx = _step(cur, pe)
        if container is None:
            return _MISSING
        cur = container[idx]
    return cur


def remove_path(obj: Any, path: Path) -> None:
    cur = obj
    for pe in path[:-1]:
        container, idx = _step(cur, pe)
        if container is None:
            return
        cur = container[idx]
    container, idx = _step(cur, path[-1])
    if container is not None:
        del container[idx]


def path_string(path: Path) -> str:
    """The structured-merge-diff spelling of a path (``.spec.containers[name="web"].image``)."""
    out = ""
    for pe in path:
        kind, rest = pe[:2], pe[2:]
        if kind == "f:":
            out += "." + rest
        elif kind == "k:":
            keyval = json.loads(rest)
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keyval.items()) + "]"
        else:
            out += "[=" + rest + "]"
    return out


# ----------------------------------------------------------------- entries
def _entries(obj: Obj | None) -> list[Obj]:
    meta = (obj or {}).get("metadata") or {}
    return [e for e in meta.get("managedFields") or [] if isinstance(e, dict)]


def _entry(manager: str, operation: str, api_version: str, paths: set[Path], subresource: str | None) -> Obj:
    e: Obj = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now_iso(),
              "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
    if subresource:
        e["subresource"] = subresource
    return e


def _same(e: Obj, manager: str, operation: str, subresource: str | None) -> bool:
    return (e.get("manager") == manager and e.get("operation") == operation
            and (e.get("subresource") or None) == subresource)


def _has_within(paths: set[Path], p: Path) -> bool:
    return any(q[:len(p)] == p for q in paths)


def record_update(old: Obj | None, new: Obj, manager: str, api_version: str,
                  subresource: str | None = None, body_fields: Any = _MISSING) -> None:
    """Set ``new.metadata.managedFields`` after an Update-operation write (see the module contract)."""
    meta = new.setdefault("metadata", {})
    if isinstance(body_fields, list) and not body_fields:
        meta.pop("managedFields", None)
        return
    new_set = field_set(new)
    if old is None:
        changed, removed = new_set, set()
    else:
        old_set = field_set(old)
        changed = {p for p in new_set if value_at(old, p) != value_at(new, p)}
        removed = old_set - new_set
    entries: list[Obj | None] = []
    mine: set[Path] = set()
    placed = False
    for e in _entries(old):
        paths = from_fields_v1(e.get("fieldsV1"))
        if _same(e, manager, "Update", subresource) and e.get("apiVersion") == api_version:
            mine = paths
            placed = True
            entries.append(None)  # keep the manager's position
            continue
        paths = {p for p in paths if p not in changed and p not in removed}
        if paths:
            entries.append({**e, "fieldsV1": to_fields_v1(paths)})
    mine = (mine | changed) - removed
    out: list[Obj] = []
    for slot in entries:
        if slot is None:
            if mine:
                out.append(_entry(manager, "Update", api_version, mine, subresource))
        else:
            out.append(slot)
    if not placed and mine:
        out.append(_entry(manager, "Update", api_version, mine, subresource))
    if out:
        meta["managedFields"] = out
    else:
        meta.pop("managedFields", None)


def _manager_label(e: Obj) -> str:
    name = json.dumps(e.get("manager", ""))
    if e.get("operation") == "Update":
        return f"{name} using {e.get('apiVersion', '')}"
    return name


def _conflict_error(conflicts: list[tuple[Obj, Path]]) -> ApiError:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_manager_label(e)}",
               "field": path_string(p)} for e, p in conflicts]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        msg = f"Apply failed with 1 conflict: conflict with {_manager_label(e)}: {path_string(p)}"
    else:
        by: dict[str, list[str]] = {}
        for e, p in conflicts:
            by.setdefault(_manager_label(e), []).append(path_string(p))
        parts: list[str] = []
        for label in sorted(by):
            parts.append(f"conflicts with {label}:")
            parts += [f"- {p}" for p in by[label]]
        msg = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(parts)
    return ApiError(409, "Conflict", msg, {"causes": causes})


def server_side_apply(current: Obj | None, applied: Obj, manager: str, api_version: str, force: bool) -> Obj:
    """The object after ``manager`` applies ``applied`` (see the module contract); raises 409 on conflicts."""
    config = patching.strip_directives(applied)
    cmeta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
    cmeta.pop("managedFields", None)
    applied_set = field_set(config)
    base: Obj = copy.deepcopy(current) if current is not None else {}
    others: list[tuple[Obj, set[Path]]] = []
    previous: set[Path] = set()
    mine_index: int | None = None
    for i, e in enumerate(_entries(current)):
        paths = from_fields_v1(e.get("fieldsV1"))
        if _same(e, manager, "Apply", None):
            previous = paths
            mine_index = i
        else:
            others.append((e, paths))
    conflicts: list[tuple[Obj, Path]] = []
    for p in sorted(applied_set):
        want = value_at(config, p)
        if isinstance(want, dict):
            continue  # an item's identity or an empty map, not a value
        have = value_at(base, p)
        if have is _MISSING or have == want:
            continue
        for e, paths in others:
            if p in paths:
                conflicts.append((e, p))
    if conflicts and not force:
        raise _conflict_error(conflicts)
    taken = {p for _e, p in conflicts}
    merged = patching.strategic_merge_patch(base, config)
    if not isinstance(merged, dict):
        raise ApiError(400, "BadRequest", "the applied configuration is not an object")
    other_paths: set[Path] = set()
    kept_others: list[tuple[Obj, set[Path]]] = []
    for e, paths in others:
        paths = paths - taken
        kept_others.append((e, paths))
        other_paths |= paths
    for p in sorted(previous - applied_set, key=len, reverse=True):
        if not _has_within(other_paths, p) and not _has_within(applied_set, p):
            remove_path(merged, p)
    entries: list[Obj] = []
    mine = _entry(manager, "Apply", api_version, applied_set, None)
    for i, (e, paths) in enumerate(kept_others):
        if mine_index is not None and i == mine_index:
            entries.append(mine)
        if paths:
            entries.append({**e, "fieldsV1": to_fields_v1(paths)})
    if mine not in entries:
        entries.append(mine)
    merged.setdefault("metadata", {})["managedFields"] = entries
    return merged
