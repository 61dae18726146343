"""Putting the objects of a backup (``netmig.backups``) back into a cluster.

Contract:
- ``restore(rest, objects)`` creates what is missing, in dependency order (Namespaces, CRDs -- then waits until the
  API serves them --, other built-in objects, custom resources, APIServices last), stripped by
  ``netmig.backups.clean`` (``status`` kept only for kinds without a status subresource). ownerReferences follow
  a restored owner's new uid (dropped when the owner is in neither the backup nor the cluster). Objects that
  exist are left alone (``present``; ``differs`` when they are not identical apart from server-set fields:
  ``netmig.backups.normalized``). Afterwards every created object is read back and compared: ``mismatches`` when
  anything of the backup is not in it as written (``covers``: fields the API server adds -- defaults of its version
  -- are not a difference; a field it dropped or changed is).
  An APIService whose Service exists neither in the cluster nor in the backup is never created (``skipped``, with
  the reason). ``dry_run``: nothing is created and nothing is waited for: a custom resource whose CRD is in the
  backup but not served yet counts as "would create".
- ``put_back(rest, objects, same)`` is what the migration steps that restore policies use (``restore-policies``,
  ``restore-verify-policies``): every object must exist as in the backup -- a missing one is created, one that
  ``same(backed, live)`` calls different is replaced (PUT on the live resourceVersion; ``errors.Conflict`` when it
  changed meanwhile); then all are read back: ``differ`` names those still missing or different. ``same=None``:
  missing ones are created, existing ones left alone and not compared. Names are ``namespace/name``.
- ``read_backup(dir)`` is ``netmig.backups.read(dir).files`` (kept for callers of the earlier API).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig import backups
from netmig.backups import clean, key, normalized, ns_name
from netmig.kube import errors
from netmig.kube.resources import Resource, Rest

Obj = dict[str, Any]
__all__ = ["PutBack", "RestoreResult", "covers", "key", "normalized", "put_back", "read_backup", "restore"]


def read_backup(d: Path) -> dict[str, list[Obj]]:
    """Group name -> objects of the verified backup in ``d`` (``netmig.backups.BackupError`` when damaged)."""
    return backups.read(d).files


@dataclass
class PutBack:
    created: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    differ: list[str] = field(default_factory=list)


def put_back(rest: Rest, objects: Iterable[Obj], same: Callable[[Obj, Obj], bool] | None) -> PutBack:
    out = PutBack()
    by_resource: dict[Resource, list[Obj]] = {}
    for o in objects:
        by_resource.setdefault(rest.resource(str(o.get("apiVersion")), str(o.get("kind"))), []).append(o)
    for res, wanted in by_resource.items():
        live = {ns_name(o): o for o in rest.list(res)}
        for o in wanted:
            k, body = ns_name(o), clean(o)
            if k not in live:
                rest.create(res, body)
                out.created.append(k)
            elif same is not None and not same(o, live[k]):
                body["metadata"]["resourceVersion"] = live[k]["metadata"].get("resourceVersion")
                rest.replace(res, body)
                out.replaced.append(k)
        if same is not None:
            now = {ns_name(o): o for o in rest.list(res)}
            out.differ += [k for o in wanted if (k := ns_name(o)) not in now or not same(o, now[k])]
    return out


def _rank(obj: Obj) -> int:
    kind, api = obj.get("kind"), str(obj.get("apiVersion") or "")
    if kind == "Namespace":
        return 0
    if kind == "CustomResourceDefinition":
        return 1
    if kind == "APIService":
        return 4
    group = api.rpartition("/")[0]
    builtin = "." not in group or (group.endswith(".k8s.io") and group != "policy.networking.k8s.io")
    return 2 if builtin else 3


@dataclass
class RestoreResult:
    created: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "key: why" (a dangling APIService)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.mismatches


def _wait(cond: Callable[[], bool], wait_s: float, sleep: Callable[[float], Any]) -> bool:
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while not cond():
        if time.monotonic() > deadline:
            return False
        sleep(delay)
        delay = min(delay * 1.5, 1.0)
    return True


def restore(rest: Rest, objects: Iterable[Obj], *, wait_s: float = 120.0, dry_run: bool = False,
            sleep: Callable[[float], Any] = time.sleep,
            on_progress: Callable[[str], None] | None = None) -> RestoreResult:
    say = on_progress or (lambda _m: None)
    objs = sorted(objects, key=_rank)
    uid_map: dict[str, str] = {}
    result = RestoreResult()
    resolved: dict[str, Resource] = {}
    sent: dict[str, Obj] = {}
    crd_kinds = {(str((o.get("spec") or {}).get("group")), str(((o.get("spec") or {}).get("names") or {}).get("kind")))
                 for o in objs if o.get("kind") == "CustomResourceDefinition"}
    services = {ns_name(o) for o in objs if o.get("kind") == "Service" and o.get("apiVersion") == "v1"}
    served: dict[tuple[str, str], bool] = {}
    for obj in objs:
        k = key(obj)
        api_kind = (str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
        if dry_run and api_kind not in served:
            served[api_kind] = rest.served(*api_kind)
        if dry_run and not served[api_kind]:
            group = str(obj.get("apiVersion") or "").rpartition("/")[0]
            if (group, str(obj.get("kind"))) in crd_kinds:  # its CRD would be created first: no wait in a dry run
                result.created.append(k)
            else:
                result.failed.append(f"{k}: the API does not serve {obj.get('apiVersion')} {obj.get('kind')} and "
                                     "the backup holds no CRD for it")
            continue
        dangling = _dangling_apiservice(rest, obj, services)
        if dangling:
            result.skipped.append(f"{k}: {dangling}")
            continue
        try:
            res = _resource(rest, obj, wait_s, sleep)
        except errors.KubeError as e:
            result.failed.append(f"{k}: {e}")
            continue
        resolved[k] = res
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") if res.namespaced else None
        live = rest.get(res, ns, meta["name"])
        if live is not None and obj.get("kind") == "Namespace" and (live.get("metadata") or {}).get(
                "deletionTimestamp"):
            say(f"namespace {meta['name']} is being deleted; waiting for it to go before restoring it")
            _wait(_absent(rest, res, str(meta["name"])), wait_s, sleep)
            live = rest.get(res, None, meta["name"])
        if live is not None:
            result.present.append(k)
            if meta.get("uid"):
                uid_map[meta["uid"]] = live["metadata"].get("uid")
            if normalized(live, not res.has_status) != normalized(obj, not res.has_status):
                result.differs.append(k)
            continue
        if dry_run:
            result.created.append(k)
            continue
        body = _for_create(obj, res, uid_map, rest, result.notes)
        sent[k] = body
        try:
            made = rest.create(res, body)
        except errors.KubeError as e:
            result.failed.append(f"{k}: {e}")
            continue
        if meta.get("uid"):
            uid_map[meta["uid"]] = str((made.get("metadata") or {}).get("uid"))
        result.created.append(k)
        if obj.get("kind") == "CustomResourceDefinition":
            rest.forget()
        say(f"created {res.describe(obj)}")
    if not dry_run:
        for obj in objs:
            k = key(obj)
            got = resolved.get(k)
            if got is None or k not in result.created:
                continue
            meta = obj["metadata"]
            live = rest.get(got, meta.get("namespace") if got.namespaced else None, meta["name"])
            if live is None:
                result.mismatches.append(f"{k}: gone again after it was created")
                continue
            if not covers(normalized(live, not got.has_status), normalized(sent[k], not got.has_status)):
                result.mismatches.append(f"{k}: differs from the backup after the restore")
    return result


def covers(live: Any, wanted: Any) -> bool:
    """True when ``live`` holds everything of ``wanted`` unchanged: dicts key by key (an empty or null value counts
    as absent), lists element by element with the same length, anything else equal. Keys only ``live`` has (server
    defaults) do not matter."""
    if isinstance(wanted, dict):
        return isinstance(live, dict) and all(
            covers(live[k], v) if k in live else v in (None, {}, [], "") for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(live, list) and len(live) == len(wanted) and all(map(covers, live, wanted))
    return bool(live == wanted)


def _dangling_apiservice(rest: Rest, obj: Obj, services: set[str]) -> str | None:
    """Why an APIService must not be created (its Service exists neither in the cluster nor in the backup: it would
    break discovery and hold namespace deletion, calico #7555), or None."""
    if obj.get("kind") != "APIService":
        return None
    svc = (obj.get("spec") or {}).get("service") or {}
    if not svc.get("name"):
        return None  # served locally by kube-apiserver
    ns, name = str(svc.get("namespace") or "default"), str(svc["name"])
    if f"{ns}/{name}" in services:
        return None
    if rest.get(rest.resource("v1", "Service"), ns, name) is not None:
        return None
    return (f"not re-created: its Service {ns}/{name} does not exist (a dangling APIService breaks API discovery "
            "and holds namespace deletion); restore it with its Service once that is back")


def _absent(rest: Rest, res: Resource, name: str) -> Callable[[], bool]:
    return lambda: rest.get(res, None, name) is None


def _resource(rest: Rest, obj: Obj, wait_s: float, sleep: Callable[[float], Any]) -> Resource:
    api, kind = str(obj.get("apiVersion") or ""), str(obj.get("kind") or "")
    try:
        return rest.resource(api, kind)
    except errors.NotFound:
        pass
    # a CRD created a moment ago: wait until the API serves its kind
    if not _wait(lambda: rest.served(api, kind), wait_s, sleep):
        raise errors.NotFound(f"the API does not serve {api} {kind} (is its CRD in the backup?)", 404, "NotFound")
    return rest.resource(api, kind)


def _owner_uid(rest: Rest, ref: Obj, namespace: str | None) -> str | None:
    """The current uid of an owner that is not in the backup (looked up by kind and name), None when it is gone."""
    try:
        res = rest.resource(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
        live = rest.get(res, namespace if res.namespaced else None, str(ref.get("name")))
    except errors.KubeError:
        return None
    return None if live is None else (live.get("metadata") or {}).get("uid")


def _for_create(obj: Obj, res: Resource, uid_map: dict[str, str], rest: Rest, notes: list[str]) -> Obj:
    body = clean(obj, keep_status=not res.has_status)
    meta = body["metadata"]
    refs = []
    for ref in meta.get("ownerReferences") or []:
        new_uid = uid_map.get(str(ref.get("uid"))) or _owner_uid(rest, ref, meta.get("namespace"))
        if new_uid:
            refs.append({**ref, "uid": new_uid})
        else:
            notes.append(f"{key(obj)}: ownerReference to {ref.get('kind')} {ref.get('name')} dropped (the owner "
                         "is gone)")
    if refs:
        meta["ownerReferences"] = refs
    else:
        meta.pop("ownerReferences", None)
    body["metadata"] = meta
    return body
