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
  one with a service is checked like kube-aggregator's availability controller when it is created, when its spec
  changes and whenever its Service or Endpoints change: no Service -> False ``ServiceNotFound``, no ready endpoint
  address -> False ``MissingEndpoints``, else True ``Passed``. A status written by a client sticks until one of
  those events (the real controller would re-check sooner).
- ``unavailable_group_versions(store)``: ``group/version`` of every service-backed APIService that is not
  Available. The API server answers 503 for them (discovery and requests) and the store's namespace deletion
  stops before removing the ``kubernetes`` finalizer (``NamespaceDeletionDiscoveryFailure``) while any exists,
  like a real cluster with a dangling APIService (calico #7555). When one is deleted or turns Available, the
  deletion of every Terminating namespace is retried.
"""

from __future__ import annotations

import json
import re
from typing import Any

from netmig_sandbox.kube.store import Key, Obj, ResourceType, Store, now_iso

CRD_KEY: Key = ("apiextensions.k8s.io", "customresourcedefinitions")
APISERVICE_KEY: Key = ("apiregistration.k8s.io", "apiservices")
SERVICES: Key = ("", "services")
ENDPOINTS: Key = ("", "endpoints")
NAMESPACES: Key = ("", "namespaces")

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


def _available(obj: Obj) -> bool:
    conds = (obj.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Available" and c.get("status") == "True" for c in conds)


def unavailable_group_versions(store: Store) -> list[str]:
    """``group/version`` of the service-backed APIServices that are not Available (sorted)."""
    if APISERVICE_KEY not in store.types:
        return []
    out = set()
    for obj in store.iter_raw(APISERVICE_KEY):
        spec = obj.get("spec") or {}
        if spec.get("service") and not _available(obj):
            out.add(f"{spec.get('group', '')}/{spec.get('version', '')}")
    return sorted(out)


def aggregated_group_versions(store: Store) -> dict[tuple[str, str], bool]:
    """(group, version) -> available, for every service-backed APIService."""
    if APISERVICE_KEY not in store.types:
        return {}
    out: dict[tuple[str, str], bool] = {}
    for obj in store.iter_raw(APISERVICE_KEY):
        spec = obj.get("spec") or {}
        if spec.get("service") and spec.get("group") and spec.get("version"):
            out[(str(spec["group"]), str(spec["version"]))] = _available(obj)
    return out


class _CrdController:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.owned: dict[str, Key] = {}  # CRD name -> registered key
        self.apiservice_specs: dict[str, str] = {}  # APIService name -> spec last checked (JSON)

    def __call__(self, event: str, key: Key, obj: Obj) -> None:
        if key == CRD_KEY:
            self._on_crd(event, obj)
        elif key == APISERVICE_KEY:
            self._on_apiservice(event, obj)
        elif key in (SERVICES, ENDPOINTS):
            meta = obj.get("metadata") or {}
            ref = (meta.get("namespace"), meta.get("name"))
            for api in list(self.store.iter_raw(APISERVICE_KEY)) if APISERVICE_KEY in self.store.types else []:
                svc = (api.get("spec") or {}).get("service") or {}
                if (svc.get("namespace"), svc.get("name")) == ref:
                    self._check(api)

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

    def _on_apiservice(self, event: str, obj: Obj) -> None:
        name = obj["metadata"]["name"]
        if event == "DELETED":
            self.apiservice_specs.pop(name, None)
            self._retry_namespaces()
            return
        spec = json.dumps(obj.get("spec") or {}, sort_keys=True)
        if self.apiservice_specs.get(name) != spec:
            self.apiservice_specs[name] = spec
            self._check(obj)
        elif _available(obj):
            self._retry_namespaces()

    def _condition(self, obj: Obj) -> dict[str, Any]:
        svc = (obj.get("spec") or {}).get("service")
        if not svc:
            return {"type": "Available", "status": "True", "reason": "Local",
                    "message": "Local APIServices are always available"}
        ns, name = svc.get("namespace", ""), svc.get("name", "")
        if not self.store.exists(SERVICES, ns, name):
            return {"type": "Available", "status": "False", "reason": "ServiceNotFound",
                    "message": f'service/{name} in "{ns}" is not present'}
        ep = self.store.get(ENDPOINTS, ns, name) if self.store.exists(ENDPOINTS, ns, name) else {}
        if not any(subset.get("addresses") for subset in ep.get("subsets") or []):
            return {"type": "Available", "status": "False", "reason": "MissingEndpoints",
                    "message": f'endpoints for service/{name} in "{ns}" have no addresses'}
        return {"type": "Available", "status": "True", "reason": "Passed", "message": "all checks passed"}

    def _check(self, obj: Obj) -> None:
        cond = self._condition(obj)
        conds = (obj.get("status") or {}).get("conditions") or []
        current = next((c for c in conds if c.get("type") == "Available"), None)
        if current is not None and (current.get("status"), current.get("reason")) == (cond["status"],
                                                                                      cond["reason"]):
            return
        cond["lastTransitionTime"] = now_iso()

        def set_status(o: Obj) -> None:
            st = o.setdefault("status", {})
            st["conditions"] = [c for c in st.get("conditions") or [] if c.get("type") != "Available"] + [cond]

        name = obj["metadata"]["name"]
        if self.store.exists(APISERVICE_KEY, None, name):
            self.store.update(APISERVICE_KEY, None, name, set_status)
        if cond["status"] == "True":
            self._retry_namespaces()

    def _retry_namespaces(self) -> None:
        for ns in list(self.store.iter_raw(NAMESPACES)):
            if ns["metadata"].get("deletionTimestamp"):
                self.store.finish_namespace_deletion(ns["metadata"]["name"])


def install(store: Store) -> None:
    """Install the CRD/APIService controller on ``store`` (once) and adopt CRDs already present."""
    if "crds" in store.controllers:
        return
    ctl = _CrdController(store)
    store.controllers["crds"] = ctl
    store.discovery_failures = lambda: unavailable_group_versions(store)
    store.subscribe_readonly(ctl, (CRD_KEY, APISERVICE_KEY, SERVICES, ENDPOINTS))  # reads; writes only via the store
    for crd in store.list(CRD_KEY):
        ctl("ADDED", CRD_KEY, crd)
