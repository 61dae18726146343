"""In-memory Kubernetes object store of the sandbox.

Contract:
- Objects are plain JSON dicts, exactly as the API serves them. Every object returned is a deep copy.
- A resource is addressed by a ``Key`` = (group, plural); "" is the core group.
- Every change bumps one global resourceVersion (a decimal string), like etcd's revision.
- ``subscribe(cb, keys=None)`` registers a synchronous callback ``cb(event_type, key, obj)`` run after every
  change (event_type in ADDED / MODIFIED / DELETED) of the types ``keys`` (None: every type), with a deep copy
  the callback owns; the simulated controllers use it. ``subscribe_readonly(cb, keys=None)``: the same without
  the copy, handing over the stored object itself: ``cb`` must not change it. It may keep it: the store is
  copy-on-write (a stored object is never changed in place; a change stores a new object), so a kept object is
  a snapshot of that revision, as the history replayed to watches is.
- ``watch(...)`` returns a ``Watch`` whose ``queue`` receives (event_type, obj) for matching changes after the
  given resourceVersion (replayed from a bounded history; too old -> ``ApiError`` 410 Expired).
- Deleting an object with finalizers only sets ``metadata.deletionTimestamp``; it is removed once its
  finalizers are emptied. Deleting a namespace deletes everything in it, then the namespace itself -- unless
  content is held by finalizers or ``discovery_failures()`` (set by the APIService controller) names API groups
  whose discovery fails: the namespace then stays Terminating with the namespace controller's status conditions
  (``NamespaceDeletionDiscoveryFailure``, ``NamespaceContentRemaining``, ``NamespaceFinalizersRemaining``, ...);
  the deletion is retried when held content goes away (and by that controller when discovery recovers).
- ``purge_type(key)`` removes a type with its objects (DELETED events; open watches of it get a ("GONE", {})
  sentinel so the HTTP layer can end them).
- Not thread-safe: call it from the sandbox event loop only.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import datetime as dt
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from netmig_sandbox.kube.selectors import match_fields, match_labels, parse_label_selector

Key = tuple[str, str]
Obj = dict[str, Any]
ChangeCallback = Callable[[str, Key, Obj], None]

HISTORY = 20000


class ApiError(Exception):
    """A Kubernetes API failure, rendered as a ``Status`` body with ``code``."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> Obj:
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "code": self.code,
        }


@dataclass(frozen=True)
class ResourceType:
    """A served resource: what discovery lists and what the store keeps apart."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create", "delete", "deletecollection", "get", "list", "patch", "update", "watch",
    )
    categories: tuple[str, ...] = ()
    other_versions: tuple[str, ...] = ()

    @property
    def key(self) -> Key:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()


_ATOMS = frozenset((str, int, float, bool, type(None)))


def clone(obj: Any) -> Any:
    """A deep copy of a JSON-like object at about a third of ``copy.deepcopy``'s CPU cost: new dicts and lists,
    the same (immutable) strings and numbers, so copies cost no more memory than ``deepcopy``'s. Unlike
    ``deepcopy`` a part referenced twice is copied twice (JSON objects have no shared parts); values of other
    types (tuples, ...) go through ``copy.deepcopy``."""
    t = type(obj)
    if t is dict:
        return {k: v if type(v) in _ATOMS else clone(v) for k, v in obj.items()}
    if t is list:
        return [v if type(v) in _ATOMS else clone(v) for v in obj]
    if t in _ATOMS:
        return obj
    return copy.deepcopy(obj)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(eq=False)
class Watch:
    key: Key
    namespace: str | None
    label_selector: str | None
    field_selector: str | None
    queue: asyncio.Queue[tuple[str, Obj]] = field(default_factory=asyncio.Queue)

    def matches(self, obj: Obj) -> bool:
        meta = obj.get("metadata", {})
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.label_selector and not match_labels(
            parse_label_selector(self.label_selector), meta.get("labels") or {}
        ):
            return False
        return not (self.field_selector and not match_fields(self.field_selector, obj))


class Store:
    """The object store; see the module docstring for the contract."""

    def __init__(self) -> None:
        self.types: dict[Key, ResourceType] = {}
        self._objects: dict[Key, dict[tuple[str, str], Obj]] = {}
        self._rv = 0
        self._history: deque[tuple[int, str, Key, Obj]] = deque(maxlen=HISTORY)
        self._watches: list[Watch] = []
        self._subscribers: list[tuple[ChangeCallback, frozenset[Key] | None]] = []
        self._readers: list[tuple[ChangeCallback, frozenset[Key] | None]] = []
        self._finishing: set[str] = set()
        # controllers installed on this store (e.g. the CRD controller), by name, so installs are idempotent
        self.controllers: dict[str, Any] = {}
        # group/versions whose discovery fails now (dangling APIServices); blocks namespace finalization
        self.discovery_failures: Callable[[], list[str]] | None = None

    # ---------------------------------------------------------------- types
    def register_type(self, rt: ResourceType) -> None:
        self.types[rt.key] = rt
        self._objects.setdefault(rt.key, {})

    def unregister_type(self, key: Key) -> None:
        """Forget a type and its objects silently (no events); see ``purge_type``."""
        self.types.pop(key, None)
        self._objects.pop(key, None)

    def purge_type(self, key: Key) -> None:
        """Remove every object of ``key`` (emitting DELETED, ignoring finalizers), then unregister the type."""
        for obj in list(self._objects.get(key, {}).values()):
            ns = obj["metadata"].get("namespace") or ""
            if self._objects[key].pop((ns, obj["metadata"]["name"]), None) is None:
                continue
            self._rv += 1
            gone = clone(obj)
            gone["metadata"]["resourceVersion"] = str(self._rv)
            self._emit("DELETED", key, gone)
        self.unregister_type(key)
        for w in [w for w in self._watches if w.key == key]:
            w.queue.put_nowait(("GONE", {}))

    def type_for(self, key: Key) -> ResourceType:
        try:
            return self.types[key]
        except KeyError:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({key[1]})") from None

    def find_type(self, group: str, version: str, plural: str) -> ResourceType:
        rt = self.types.get((group, plural))
        if rt is None or (version != rt.version and version not in rt.other_versions):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return rt

    # ---------------------------------------------------------- subscribers
    def subscribe(self, cb: ChangeCallback, keys: Iterable[Key] | None = None) -> None:
        """Call ``cb`` with a deep copy of every changed object of ``keys`` (None: every type)."""
        self._subscribers.append((cb, None if keys is None else frozenset(keys)))

    def subscribe_readonly(self, cb: ChangeCallback, keys: Iterable[Key] | None = None) -> None:
        """Like ``subscribe``, without a copy: ``cb`` gets the stored object itself and must not change it (it may
        keep it: stored objects are never changed in place). For controllers that read a few fields of hot types."""
        self._readers.append((cb, None if keys is None else frozenset(keys)))

    @property
    def resource_version(self) -> str:
        return str(self._rv)

    def _emit(self, event: str, key: Key, obj: Obj) -> None:
        self._history.append((self._rv, event, key, obj))
        for w in list(self._watches):
            if w.key == key and w.matches(obj):
                w.queue.put_nowait((event, clone(obj)))
        for cb, keys in list(self._subscribers):
            if keys is None or key in keys:
                cb(event, key, clone(obj))
        for reader, keys in list(self._readers):
            if keys is None or key in keys:
                reader(event, key, obj)

    def _bump(self, obj: Obj) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    # --------------------------------------------------------------- reads
    def get(self, key: Key, namespace: str | None, name: str) -> Obj:
        rt = self.type_for(key)
        obj = self._objects[key].get((namespace or "", name))
        if obj is None:
            raise ApiError(
                404, "NotFound", f'{rt.plural}{"." + rt.group if rt.group else ""} "{name}" not found',
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        return clone(obj)

    def exists(self, key: Key, namespace: str | None, name: str) -> bool:
        return (namespace or "", name) in self._objects.get(key, {})

    def list(
        self,
        key: Key,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> list[Obj]:
        self.type_for(key)
        sel = parse_label_selector(label_selector) if label_selector else None
        out = []
        for (ns, _name), obj in sorted(self._objects[key].items()):
            if namespace is not None and ns != namespace:
                continue
            if sel is not None and not match_labels(sel, obj["metadata"].get("labels") or {}):
                continue
            if field_selector and not match_fields(field_selector, obj):
                continue
            out.append(clone(obj))
        return out

    def list_page(
        self,
        key: Key,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 0,
    ) -> tuple[builtins.list[Obj], int]:
        """Like ``list``, for pagination: only objects whose (namespace, name) sorts after ``after``, at most
        ``limit`` of them copied (0: all); returns (objects, how many more match)."""
        self.type_for(key)
        sel = parse_label_selector(label_selector) if label_selector else None
        out: builtins.list[Obj] = []
        more = 0
        for k, obj in sorted(self._objects[key].items()):
            if after is not None and k <= after:
                continue
            if namespace is not None and k[0] != namespace:
                continue
            if sel is not None and not match_labels(sel, obj["metadata"].get("labels") or {}):
                continue
            if field_selector and not match_fields(field_selector, obj):
                continue
            if limit and len(out) >= limit:
                more += 1
            else:
                out.append(clone(obj))
        return out, more

    def get_raw(self, key: Key, namespace: str | None, name: str) -> Obj | None:
        """The live object, NOT a copy (None when absent): for read-only lookups by the simulator."""
        return self._objects.get(key, {}).get((namespace or "", name))

    def iter_raw(self, key: Key) -> Iterable[Obj]:
        """Live objects, NOT copies: for read-only scans by the simulator on large scenarios."""
        return self._objects.get(key, {}).values()

    # -------------------------------------------------------------- writes
    def create(self, key: Key, obj: Obj, namespace: str | None = None) -> Obj:
        rt = self.type_for(key)
        obj = clone(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{rt.kind} is invalid: metadata.name: Required value: name is required")
        if rt.namespaced:
            ns = namespace or meta.get("namespace") or "default"
            if meta.get("namespace") and namespace and meta["namespace"] != namespace:
                raise ApiError(
                    400, "BadRequest",
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
            meta["namespace"] = ns
            nsobj = self._objects[("", "namespaces")].get(("", ns))
            if nsobj is None:
                raise ApiError(404, "NotFound", f'namespaces "{ns}" not found',
                               {"name": ns, "kind": "namespaces"})
            if nsobj["metadata"].get("deletionTimestamp"):
                raise ApiError(
                    403, "Forbidden",
                    f'{rt.plural} "{name}" is forbidden: unable to create new content in namespace {ns} '
                    "because it is being terminated",
                )
        else:
            ns = ""
            meta.pop("namespace", None)
        if (ns, name) in self._objects[key]:
            raise ApiError(
                409, "AlreadyExists", f'{rt.plural}{"." + rt.group if rt.group else ""} "{name}" already exists',
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        obj["apiVersion"] = rt.api_version
        obj["kind"] = rt.kind
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_iso()
        meta["generation"] = 1
        meta.pop("deletionTimestamp", None)
        if key == ("", "namespaces"):
            meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = name
            spec = obj.setdefault("spec", {})
            if not isinstance(spec, dict):
                spec = obj["spec"] = {}
            spec.setdefault("finalizers", ["kubernetes"])
            obj["status"] = {"phase": "Active"}
        self._bump(obj)
        self._objects[key][(ns, name)] = obj
        self._emit("ADDED", key, obj)
        return clone(obj)

    def replace(self, key: Key, obj: Obj, namespace: str | None = None, *, subresource: str | None = None) -> Obj:
        """PUT semantics: a stale ``metadata.resourceVersion`` is a 409 Conflict; status is kept apart."""
        rt = self.type_for(key)
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        ns = (namespace or meta.get("namespace") or "default") if rt.namespaced else None
        current = self._objects[key].get((ns or "", name))
        if current is None:
            raise ApiError(404, "NotFound", f'{rt.plural} "{name}" not found',
                           {"name": name, "group": rt.group, "kind": rt.plural})
        rv = meta.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise ApiError(
                409, "Conflict",
                f'Operation cannot be fulfilled on {rt.plural} "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": name, "group": rt.group, "kind": rt.plural},
            )
        new = clone(obj)
        if subresource == "status":
            merged = clone(current)
            merged["status"] = new.get("status", {})
            new = merged
        else:
            if "status" in current and rt.subresources and "status" in rt.subresources:
                new["status"] = clone(current["status"])
            if new.get("spec") != current.get("spec"):
                new.setdefault("metadata", {})["generation"] = current["metadata"].get("generation", 1) + 1
            else:
                new.setdefault("metadata", {})["generation"] = current["metadata"].get("generation", 1)
        return self._store_update(key, rt, ns, current, new)

    def _store_update(self, key: Key, rt: ResourceType, ns: str | None, current: Obj, new: Obj) -> Obj:
        meta = new.setdefault("metadata", {})
        for f in ("uid", "creationTimestamp", "deletionTimestamp", "name"):
            if f in current["metadata"]:
                meta[f] = current["metadata"][f]
        if rt.namespaced:
            meta["namespace"] = ns
        new["apiVersion"] = rt.api_version
        new["kind"] = rt.kind
        self._bump(new)
        name = meta["name"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not (
            key == ("", "namespaces") and (new.get("spec") or {}).get("finalizers")
        ):
            del self._objects[key][(ns or "", name)]
            self._emit("DELETED", key, new)
            if rt.namespaced and ns:
                self._maybe_finish_namespace(ns)
            return clone(new)
        self._objects[key][(ns or "", name)] = new
        self._emit("MODIFIED", key, new)
        return clone(new)

    def update(self, key: Key, namespace: str | None, name: str, mutate: Callable[[Obj], None]) -> Obj:
        """Read-modify-write for the simulator: ``mutate`` edits a copy in place; no conflict check."""
        rt = self.type_for(key)
        current = self._objects[key].get((namespace or "", name))
        if current is None:
            raise ApiError(404, "NotFound", f'{rt.plural} "{name}" not found')
        new = clone(current)
        mutate(new)
        return self._store_update(key, rt, namespace if rt.namespaced else None, current, new)

    def delete(self, key: Key, namespace: str | None, name: str) -> Obj:
        rt = self.type_for(key)
        ns = namespace or "" if rt.namespaced else ""
        current = self._objects[key].get((ns, name))
        if current is None:
            raise ApiError(404, "NotFound", f'{rt.plural}{"." + rt.group if rt.group else ""} "{name}" not found',
                           {"name": name, "group": rt.group, "kind": rt.plural})
        if key == ("", "namespaces"):
            return self._delete_namespace(current)
        if current["metadata"].get("finalizers"):
            if not current["metadata"].get("deletionTimestamp"):
                new = clone(current)
                new["metadata"]["deletionTimestamp"] = now_iso()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                return self._store_update(key, rt, ns or None, current, new)
            return clone(current)
        del self._objects[key][(ns, name)]
        self._rv += 1
        gone = clone(current)
        gone["metadata"]["resourceVersion"] = str(self._rv)
        self._emit("DELETED", key, gone)
        if rt.namespaced and ns:
            self._maybe_finish_namespace(ns)
        return gone

    def _delete_namespace(self, nsobj: Obj) -> Obj:
        name = nsobj["metadata"]["name"]
        if not nsobj["metadata"].get("deletionTimestamp"):
            nsobj = self.update(("", "namespaces"), None, name, _mark_terminating)
        self.finish_namespace_deletion(name)
        return nsobj

    def _maybe_finish_namespace(self, name: str) -> None:
        nsobj = self._objects.get(("", "namespaces"), {}).get(("", name))
        if nsobj is not None and nsobj["metadata"].get("deletionTimestamp") and name not in self._finishing:
            self.finish_namespace_deletion(name)

    def finish_namespace_deletion(self, name: str) -> None:
        """Delete the namespace's content; remove the namespace once nothing (e.g. finalizers) holds it.

        Called again automatically when an object held by finalizers in a terminating namespace goes away.
        """
        if not self.exists(("", "namespaces"), None, name) or name in self._finishing:
            return
        self._finishing.add(name)
        try:
            self._finish_namespace(name)
        finally:
            self._finishing.discard(name)

    def _finish_namespace(self, name: str) -> None:
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for key, rt in list(self.types.items()):
            if not rt.namespaced:
                continue
            for (ns, oname) in list(self._objects.get(key, {})):
                if ns != name:
                    continue
                self.delete(key, ns, oname)
                held = self._objects.get(key, {}).get((ns, oname))
                if held is not None:
                    what = f"{rt.plural}.{rt.group}" if rt.group else rt.plural
                    remaining[what] = remaining.get(what, 0) + 1
                    for f in held["metadata"].get("finalizers") or []:
                        finalizers[f] = finalizers.get(f, 0) + 1
        failures = self.discovery_failures() if self.discovery_failures is not None else []
        if not remaining and not failures:
            def clear(o: Obj) -> None:
                o.setdefault("spec", {})["finalizers"] = []
            self.update(("", "namespaces"), None, name, clear)
            return
        conditions = _namespace_conditions(failures, remaining, finalizers)
        current = self._objects[("", "namespaces")].get(("", name))
        if current is None:
            return
        old = [{k: v for k, v in c.items() if k != "lastTransitionTime"}
               for c in (current.get("status") or {}).get("conditions") or []]
        if old == conditions:
            return
        now = now_iso()

        def set_conditions(o: Obj) -> None:
            o.setdefault("status", {})["conditions"] = [{**c, "lastTransitionTime": now} for c in conditions]
        self.update(("", "namespaces"), None, name, set_conditions)

    # ---------------------------------------------------------------- watch
    def watch(
        self,
        key: Key,
        namespace: str | None = None,
        resource_version: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Watch:
        """Start a watch; events after ``resource_version`` are replayed, "0"/None means from now
        (the HTTP layer sends the initial ADDED list itself for "0" / unset)."""
        self.type_for(key)
        w = Watch(key, namespace, label_selector, field_selector)
        if resource_version is not None and resource_version not in ("", "0"):
            try:
                start = int(resource_version)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resourceVersion {resource_version!r}") from None
            if self._history and start < self._history[0][0] - 1 and start < self._rv:
                raise ApiError(410, "Expired", f"too old resource version: {start} ({self._history[0][0]})")
            for rv, event, k, obj in self._history:
                if rv > start and k == key and w.matches(obj):
                    w.queue.put_nowait((event, clone(obj)))
        self._watches.append(w)
        return w

    def unwatch(self, w: Watch) -> None:
        if w in self._watches:
            self._watches.remove(w)


def _namespace_conditions(failures: list[str], remaining: dict[str, int],
                          finalizers: dict[str, int]) -> list[Obj]:
    """The status conditions the namespace controller reports for a deletion that cannot finish yet."""
    def cond(ctype: str, true: bool, reason: str, message: str) -> Obj:
        return {"type": ctype, "status": "True" if true else "False", "reason": reason, "message": message}

    if failures:
        detail = ", ".join(f"{gv}: the server is currently unable to handle the request" for gv in failures)
        discovery = cond("NamespaceDeletionDiscoveryFailure", True, "DiscoveryFailed",
                         f"Discovery failed for some groups, {len(failures)} failing: unable to retrieve the "
                         f"complete list of server APIs: {detail}")
    else:
        discovery = cond("NamespaceDeletionDiscoveryFailure", False, "ResourcesDiscovered",
                         "All resources successfully discovered")
    if remaining:
        content = cond("NamespaceContentRemaining", True, "SomeResourcesRemain",
                       "Some resources are remaining: " + ", ".join(
                           f"{what} has {n} resource instances" for what, n in sorted(remaining.items())))
    else:
        content = cond("NamespaceContentRemaining", False, "ContentRemoved", "All content successfully removed")
    if finalizers:
        fin = cond("NamespaceFinalizersRemaining", True, "SomeFinalizersRemain",
                   "Some content in the namespace has finalizers remaining: " + ", ".join(
                       f"{f} in {n} resource instances" for f, n in sorted(finalizers.items())))
    else:
        fin = cond("NamespaceFinalizersRemaining", False, "ContentHasNoFinalizers",
                   "All content-preserving finalizers finished")
    return [
        discovery,
        cond("NamespaceDeletionGroupVersionParsingFailure", False, "ParsedGroupVersions",
             "All legacy kube types successfully parsed"),
        cond("NamespaceDeletionContentFailure", False, "ContentDeleted",
             "All content successfully deleted, may be waiting on finalization"),
        content,
        fin,
    ]


def _mark_terminating(o: Obj) -> None:
    o["metadata"]["deletionTimestamp"] = now_iso()
    o["status"] = {"phase": "Terminating"}
