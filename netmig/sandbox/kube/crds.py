"""The CustomResourceDefinition and APIService controllers of the sandbox API server.

Contract (``install(store)``, idempotent per store):
- a CRD that is ADDED or MODIFIED (and not being deleted) registers its custom resource type in the store: group,
  served versions (the highest-priority served version is the preferred one), plural, kind, scope, shortNames,
  categories, ``status``/``scale`` subresources; its ``status`` gets ``acceptedNames``, ``storedVersions`` and the
  conditions ``NamesAccepted`` and ``Established`` (True);
- a CRD that is DELETED (i.e. once its finalizers are gone) deletes every object of its type (DELETED events are
  emitted; finalizers of custom objects are not waited for) and unregisters the type; a CRD whose plural or group
  changes moves its type the same way;
- an APIService without ``spec.service`` (a local one) gets the condition ``Available`` True (reason ``Local``);
  one with a service is left to the simulators, except that it gets ``Available`` False/``MissingEndpoints``
  when it has no conditions yet.
"""

from __future__ import annotations

import re
from typing import Any

from netmig.sandbox.kube.store import Key, Obj, ResourceType, Store, now_iso

CRD_KEY: Key = ("apiextensions.k8s.io", "customresourcedefinitions")
APISERVICE_KEY: Key = ("apiregistration.k8s.io", "apiservices")

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int]:
    """Sort key (bigger is preferred) following Kubernetes' version-aware ordering: GA > beta > alpha."""
    m = _VERSION_RE.match(version)
    if not m:
        return (-1, 0, 0)
    major = int(m.group(1))
    stage = {"": 2, None: 2, "beta": 1, "alpha": 0}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, major, minor)


def resource_type_for(crd: Obj) -> ResourceType | None:
    """The custom resource type a CRD defines, or None if it is incomplete or serves no version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group")
    plural = names.get("plural")
    kind = names.get("kind")
    if not (group and plural and kind):
        return None
    versions = [v for v in spec.get("versions") or [] if v.get("served", True) and v.get("name")]
    if not versions:
        return None
    ordered = sorted((v["name"] for v in versions), key=version_priority, reverse=True)
    subresources: list[str] = []
    for v in versions:
        for sub in (v.get("subresources") or {}):
            if sub in ("status", "scale") and sub not in subresources:
                subresources.append(sub)
    return ResourceType(
        group=group,
        version=ordered[0],
        plural=plural,
        kind=kind,
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        short_names=tuple(names.get("shortNames") or ()),
        subresources=tuple(subresources),
        categories=tuple(names.get("categories") or ()),
        other_versions=tuple(ordered[1:]),
    )


def _desired_status(crd: Obj, rt: ResourceType) -> dict[str, Any]:
    current = crd.get("status") or {}
    names = dict((crd.get("spec") or {}).get("names") or {})
    names.setdefault("singular", rt.kind.lower())
    names.setdefault("listKind", rt.kind + "List")
    conds_by_type = {c.get("type"): c for c in current.get("conditions") or []}

    def cond(ctype: str, reason: str, message: str) -> dict[str, Any]:
        old = conds_by_type.get(ctype)
        if old and old.get("status") == "True" and old.get("reason") == reason:
            return dict(old)
        return {"type": ctype, "status": "True", "reason": reason, "message": message,
                "lastTransitionTime": now_iso()}

    stored = [v["name"] for v in (crd.get("spec") or {}).get("versions") or [] if v.get("storage")]
    stored_versions = list(current.get("storedVersions") or [])
    for v in stored:
        if v not in stored_versions:
            stored_versions.append(v)
    return {
        "acceptedNames": names,
        "conditions": [
            cond("NamesAccepted", "NoConflicts", "no conflicts found"),
            cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "storedVersions": stored_versions,
    }


class _CrdController:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.owned: dict[str, Key] = {}  # CRD name -> registered key

    def __call__(self, event: str, key: Key, obj: Obj) -> None:
        if key == CRD_KEY:
            self._on_crd(event, obj)
        elif key == APISERVICE_KEY and event != "DELETED":
            self._on_apiservice(obj)

    def _drop(self, name: str) -> None:
        old = self.owned.pop(name, None)
        if old is not None and old in self.store.types:
            self.store.purge_type(old)

    def _on_crd(self, event: str, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        if event == "DELETED":
            self._drop(name)
            return
        if crd["metadata"].get("deletionTimestamp"):
            return
        rt = resource_type_for(crd)
        if rt is None:
            return
        if self.owned.get(name) not in (None, rt.key):
            self._drop(name)
        if self.store.types.get(rt.key) != rt:
            self.store.register_type(rt)
        self.owned[name] = rt.key
        desired = _desired_status(crd, rt)
        if (crd.get("status") or {}) != desired:
            def set_status(o: Obj) -> None:
                o["status"] = desired
            self.store.update(CRD_KEY, None, name, set_status)

    def _on_apiservice(self, obj: Obj) -> None:
        status = obj.get("status") or {}
        local = not (obj.get("spec") or {}).get("service")
        conds = status.get("conditions") or []
        available = next((c for c in conds if c.get("type") == "Available"), None)
        if local:
            if available and available.get("status") == "True" and available.get("reason") == "Local":
                return
            cond = {"type": "Available", "status": "True", "reason": "Local",
                    "message": "Local APIServices are always available", "lastTransitionTime": now_iso()}
        else:
            if available is not None:
                return
            cond = {"type": "Available", "status": "False", "reason": "MissingEndpoints",
                    "message": "endpoints for service not found", "lastTransitionTime": now_iso()}

        def set_status(o: Obj) -> None:
            st = o.setdefault("status", {})
            st["conditions"] = [c for c in st.get("conditions") or [] if c.get("type") != "Available"] + [cond]

        self.store.update(APISERVICE_KEY, None, obj["metadata"]["name"], set_status)


def install(store: Store) -> None:
    """Install the CRD/APIService controller on ``store`` (once) and adopt CRDs already present."""
    if "crds" in store.controllers:
        return
    ctl = _CrdController(store)
    store.controllers["crds"] = ctl
    store.subscribe(ctl)
    for crd in store.list(CRD_KEY):
        ctl("ADDED", CRD_KEY, crd)
