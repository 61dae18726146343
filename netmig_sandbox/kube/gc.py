"""The garbage collector: deletion by ``metadata.ownerReferences`` with the three propagation policies.

Contract:
- ``install(store, services)`` subscribes a ``GarbageCollector`` to the store (idempotent; ``services["gc"]``). It
  indexes every object's ownerReferences (owner uid -> dependents) and, from ``loop.call_soon`` (never inside a
  store callback), deletes the dependents of an owner that is gone (``Background``; a dependent with another owner
  that still exists only loses the reference to the deleted one), and of an owner being deleted in the
  foreground (``deletionTimestamp`` + finalizer ``foregroundDeletion``), whose finalizer it removes once no
  dependent is left, so the owner goes last.
- ``prepare_delete(store, key, namespace, name, policy)`` is called by the API server before it deletes an object:
  ``Orphan`` strips the references to it from every dependent (they stay); ``Foreground`` adds the
  ``foregroundDeletion`` finalizer (the store then only marks the object deleted); ``Background`` / None: nothing
  (the collector reacts to the DELETED event). Cascades: each dependent deleted is itself an owner that goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from netmig_sandbox.kube.store import ApiError, Key, Obj, Store

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
Ref = tuple[Key, str, str]  # (key, namespace, name)


class GarbageCollector:
    """See the module contract."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.dependents: dict[str, set[Ref]] = {}
        self.owners_of: dict[Ref, set[str]] = {}
        self.objects: dict[str, Ref] = {}  # uid -> where the live object is
        self._gone: set[str] = set()
        self._foreground: set[str] = set()
        self._scheduled = False

    def bootstrap(self) -> None:
        for key in list(self.store.types):
            for obj in list(self.store.iter_raw(key)):
                self._index("ADDED", key, obj)

    def _index(self, event: str, key: Key, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        ref: Ref = (key, str(meta.get("namespace") or ""), str(meta.get("name") or ""))
        for owner in self.owners_of.pop(ref, set()):
            deps = self.dependents.get(owner)
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self.dependents[owner]
        if event == "DELETED":
            if uid and self.objects.get(uid) == ref:
                del self.objects[uid]
            return
        if uid:
            self.objects[uid] = ref
        owners = {str(o.get("uid")) for o in meta.get("ownerReferences") or [] if isinstance(o, dict) and o.get("uid")}
        if owners:
            self.owners_of[ref] = owners
            for owner in owners:
                self.dependents.setdefault(owner, set()).add(ref)

    def on_change(self, event: str, key: Key, obj: Obj) -> None:
        self._index(event, key, obj)
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        if not uid:
            return
        if event == "DELETED":
            self._foreground.discard(uid)
            if uid in self.dependents:
                self._gone.add(uid)
                self._kick()
        elif meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []):
            self._foreground.add(uid)
            self._kick()
        if self._foreground and self.owners_of.get((key, str(meta.get("namespace") or ""),
                                                    str(meta.get("name") or ""))):
            self._kick()  # a dependent changed or went: a foreground owner may be done

    def _kick(self) -> None:
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.collect()
            return
        self._scheduled = True
        loop.call_soon(self.collect)

    def _delete(self, ref: Ref) -> None:
        key, ns, name = ref
        with contextlib.suppress(ApiError):
            self.store.delete(key, ns or None, name)

    def _drop_ref(self, ref: Ref, owner_uid: str) -> None:
        key, ns, name = ref

        def strip(o: Obj) -> None:
            meta = o.setdefault("metadata", {})
            refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != owner_uid]
            if refs:
                meta["ownerReferences"] = refs
            else:
                meta.pop("ownerReferences", None)
        with contextlib.suppress(ApiError):
            self.store.update(key, ns or None, name, strip)

    def collect(self) -> None:
        """Delete what the gone and foreground-deleted owners leave behind (see the module contract)."""
        self._scheduled = False
        for _ in range(100):
            gone, self._gone = self._gone, set()
            for uid in sorted(gone):
                for ref in sorted(self.dependents.get(uid, set())):
                    others = self.owners_of.get(ref, set()) - {uid}
                    if any(o in self.objects for o in others):
                        self._drop_ref(ref, uid)
                    else:
                        self._delete(ref)
            for uid in sorted(self._foreground):
                deps = sorted(self.dependents.get(uid, set()))
                for ref in deps:
                    self._delete(ref)
                if not self.dependents.get(uid):
                    self._finish_foreground(uid)
            if not self._gone:
                break

    def _finish_foreground(self, uid: str) -> None:
        ref = self.objects.get(uid)
        self._foreground.discard(uid)
        if ref is None:
            return
        key, ns, name = ref

        def unblock(o: Obj) -> None:
            meta = o.setdefault("metadata", {})
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FOREGROUND]
        with contextlib.suppress(ApiError):
            self.store.update(key, ns or None, name, unblock)


def install(store: Store, services: dict[str, Any]) -> GarbageCollector:
    """Subscribe the collector to ``store`` once (see the module contract)."""
    gc = services.get("gc")
    if isinstance(gc, GarbageCollector):
        return gc
    gc = GarbageCollector(store)
    gc.bootstrap()
    services["gc"] = gc
    store.subscribe_readonly(gc.on_change)  # it keeps only names and uids
    return gc


def prepare_delete(store: Store, services: dict[str, Any], key: Key, namespace: str | None, name: str,
                   policy: str | None) -> None:
    """Apply ``policy`` before the server deletes the object (see the module contract)."""
    gc = services.get("gc")
    if not isinstance(gc, GarbageCollector) or policy not in ("Orphan", "Foreground"):
        return
    obj = store.get(key, namespace, name)
    uid = str(obj["metadata"].get("uid") or "")
    if policy == "Orphan":
        for ref in sorted(gc.dependents.get(uid, set())):
            gc._drop_ref(ref, uid)
        return
    if obj["metadata"].get("deletionTimestamp"):
        return

    def mark(o: Obj) -> None:
        fins = o.setdefault("metadata", {}).setdefault("finalizers", [])
        if FOREGROUND not in fins:
            fins.append(FOREGROUND)
    store.update(key, namespace, name, mark)
