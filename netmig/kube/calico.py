"""What Calico / the tigera operator leave in a cluster, backing it up, and removing it.

Contract:
- ``inventory(rest)`` finds every CRD of a Calico/Tigera group (``crd.projectcalico.org``, ``projectcalico.org``,
  ``operator.tigera.io``, any ``*.projectcalico.org`` / ``*.tigera.io``) plus the ``policy.networking.k8s.io``
  admin-policy CRDs when present (a suffix rule misses them), every object of those CRDs, the ServiceAccounts /
  ClusterRoles / ClusterRoleBindings carrying ``tigera.io/cni-protector``, the aggregated APIServices of
  ``projectcalico.org`` (``v3.projectcalico.org``; the kube-apiserver's own automanaged ones are not touched) and
  the namespaces ``calico-system``, ``tigera-operator``, ``calico-apiserver``.
- ``leftover_markers(rest)``: the Calico/Tigera CRD groups (with counts) and ``projectcalico.org`` APIServices
  still there, without listing custom resources (what the wizard reads to offer calico-crd-cleanup).
- ``engine_pods(gw)`` lists Running/Pending pods of calico-node, calico-typha, calico-kube-controllers,
  tigera-operator and azure-npm: cleanup is only safe when it is empty.
- ``backup(rest, inv, root)`` writes ``root/calico-backup-TIMESTAMP/`` (``netmig.backups`` format 1, kind
  ``calico-backup``: one file per category, objects stored ``clean`` with their ``status``), re-reads every file
  and compares it with what was collected and with a fresh inventory of the cluster; ``RuntimeError`` naming the
  differences otherwise. ``verify(dir, rest)`` is the re-read check alone (problems; empty: good).
- ``cleanup(rest, inv, ...)`` deletes, in this order: the custom resources (stripping only the finalizers that
  never clear once the operator is gone: ``NEVER_CLEARING``), the cni-protector RBAC (finalizer stripped), the
  projectcalico.org APIServices (a dangling one breaks discovery and holds namespace deletion, calico #7555), the
  CRDs, the namespaces; it waits for each phase (bounded, ``sleep`` injected) and raises ``CleanupStuck`` naming
  what is left and why. ``phases`` limits it to some phases. Rerunning it is safe: gone is gone.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig import backups
from netmig.backups import key
from netmig.kube import errors
from netmig.kube.gateway import KubeGateway
from netmig.kube.resources import Resource, Rest

Obj = dict[str, Any]

CALICO_GROUPS = ("crd.projectcalico.org", "projectcalico.org", "operator.tigera.io")
ADMIN_POLICY_GROUP = "policy.networking.k8s.io"
APISERVICE_GROUPS = ("projectcalico.org",)
NAMESPACES = ("calico-system", "tigera-operator", "calico-apiserver")
CNI_PROTECTOR = "tigera.io/cni-protector"
NEVER_CLEARING = frozenset({"tigera.io/operator-cleanup", "operator.tigera.io/apiserver-controller", CNI_PROTECTOR})
ENGINE_PODS = ("calico-node", "calico-typha", "calico-kube-controllers", "tigera-operator", "azure-npm")
PHASES = ("crs", "rbac", "apiservices", "crds", "namespaces")

CRD = Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, True)
NAMESPACE = Resource("", "v1", "namespaces", "Namespace", False, True)
SERVICEACCOUNT = Resource("", "v1", "serviceaccounts", "ServiceAccount", True)
CLUSTERROLE = Resource("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False)
CLUSTERROLEBINDING = Resource("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False)
APISERVICE = Resource("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, True)
BUILTIN = {r.kind: r for r in (CRD, NAMESPACE, SERVICEACCOUNT, CLUSTERROLE, CLUSTERROLEBINDING, APISERVICE)}


def is_calico_group(group: str) -> bool:
    return (group in CALICO_GROUPS or group == ADMIN_POLICY_GROUP or group.endswith(".projectcalico.org")
            or group.endswith(".tigera.io"))


@dataclass
class Item:
    res: Resource
    obj: Obj

    @property
    def namespace(self) -> str | None:
        return (self.obj.get("metadata") or {}).get("namespace") if self.res.namespaced else None

    @property
    def name(self) -> str:
        return str((self.obj.get("metadata") or {}).get("name"))

    @property
    def finalizers(self) -> list[str]:
        return list((self.obj.get("metadata") or {}).get("finalizers") or [])

    def describe(self) -> str:
        return self.res.describe(self.obj)


@dataclass
class Inventory:
    crds: list[Item] = field(default_factory=list)
    crs: list[Item] = field(default_factory=list)
    rbac: list[Item] = field(default_factory=list)
    apiservices: list[Item] = field(default_factory=list)
    namespaces: list[Item] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # CRDs whose objects could not be listed

    CATEGORIES = ("namespaces", "crds", "rbac", "crs", "apiservices")  # restore order

    def category(self, name: str) -> list[Item]:
        items: list[Item] = getattr(self, name)
        return items

    def items(self) -> list[Item]:
        return [i for c in self.CATEGORIES for i in self.category(c)]

    def counts(self) -> dict[str, int]:
        return {c: len(self.category(c)) for c in self.CATEGORIES}

    def empty(self) -> bool:
        return not any(self.counts().values())

    def describe(self) -> str:
        c = self.counts()
        return (f"{c['crds']} CRDs, {c['crs']} custom resources, {c['rbac']} cni-protector RBAC objects, "
                f"{c['apiservices']} APIServices, {c['namespaces']} namespaces")


def crd_resource(crd: Obj) -> Resource:
    spec = crd.get("spec") or {}
    versions = spec.get("versions") or []
    chosen = next((v for v in versions if v.get("storage")), None) or next(
        (v for v in versions if v.get("served")), None) or {"name": "v1"}
    names = spec.get("names") or {}
    return Resource(str(spec.get("group")), str(chosen.get("name")), str(names.get("plural")),
                    str(names.get("kind")), spec.get("scope") == "Namespaced",
                    "status" in (chosen.get("subresources") or {}))


def _with_type(res: Resource, objs: Iterable[Obj]) -> list[Item]:
    out = []
    for o in objs:
        o.setdefault("apiVersion", res.api_version)
        o.setdefault("kind", res.kind)
        out.append(Item(res, o))
    return out


def inventory(rest: Rest) -> Inventory:
    inv = Inventory()
    for crd in rest.list(CRD):
        if not is_calico_group(str((crd.get("spec") or {}).get("group") or "")):
            continue
        inv.crds.append(Item(CRD, crd))
        res = crd_resource(crd)
        try:
            inv.crs += _with_type(res, rest.list(res))
        except errors.KubeError as e:
            inv.unreadable.append(f"{crd['metadata']['name']} ({e})")
    for res in (SERVICEACCOUNT, CLUSTERROLE, CLUSTERROLEBINDING):
        inv.rbac += [i for i in _with_type(res, rest.list(res)) if CNI_PROTECTOR in i.finalizers]
    for svc in _with_type(APISERVICE, rest.list(APISERVICE)):
        spec = svc.obj.get("spec") or {}
        if spec.get("group") in APISERVICE_GROUPS and spec.get("service"):
            inv.apiservices.append(svc)
    for ns in NAMESPACES:
        obj = rest.get(NAMESPACE, None, ns)
        if obj is not None:
            inv.namespaces.append(Item(NAMESPACE, obj))
    for cat in Inventory.CATEGORIES:
        inv.category(cat).sort(key=lambda i: key(i.obj))
    return inv


def leftover_markers(rest: Rest) -> list[str]:
    """The signs that Calico / the tigera operator left objects behind, read cheaply (no custom resource is listed):
    ``GROUP: N CRDs`` for each Calico/Tigera CRD group (``crd.projectcalico.org``, ``operator.tigera.io``, ...;
    not the admin-policy group alone, which others install too) and ``APIService NAME`` for each aggregated
    ``projectcalico.org`` APIService (``v3.projectcalico.org``). Empty: nothing to clean up."""
    groups: dict[str, int] = {}
    for crd in rest.list(CRD):
        group = str((crd.get("spec") or {}).get("group") or "")
        if is_calico_group(group) and group != ADMIN_POLICY_GROUP:
            groups[group] = groups.get(group, 0) + 1
    out = [f"{g}: {n} CRD{'s' if n != 1 else ''}" for g, n in sorted(groups.items())]
    for svc in rest.list(APISERVICE):
        spec = svc.get("spec") or {}
        if spec.get("group") in APISERVICE_GROUPS and spec.get("service"):
            out.append(f"APIService {(svc.get('metadata') or {}).get('name')}")
    return out


def engine_pods(gw: KubeGateway) -> list[str]:
    """namespace/name of pods of a network-policy engine that still run (or are about to)."""
    out = []
    for p in gw.pods():
        meta = p.get("metadata") or {}
        labels = meta.get("labels") or {}
        app = labels.get("k8s-app") or labels.get("app") or ""
        name = str(meta.get("name") or "")
        if meta.get("deletionTimestamp") or (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if app in ENGINE_PODS or any(name.startswith(f"{n}-") for n in ENGINE_PODS):
            out.append(f"{meta.get('namespace')}/{name}")
    return sorted(out)


# --------------------------------------------------------------------------------------------------- backup


def backup(rest: Rest, inv: Inventory, root: Path, now: dt.datetime | None = None) -> tuple[Path, dict[str, int]]:
    now = now or dt.datetime.now(dt.UTC)
    d = root / f"calico-backup-{now:%Y%m%d-%H%M%S}"
    groups = {c: [i.obj for i in inv.category(c)] for c in Inventory.CATEGORIES}
    try:
        backups.write(d, "calico-backup", groups, now.isoformat(timespec="seconds"), keep_status=True)
    except backups.BackupError as e:
        raise RuntimeError(f"the backup in {d} does not verify: {e}") from e
    problems = verify(d, rest)
    if problems:
        raise RuntimeError(f"the backup in {d} does not verify: {'; '.join(problems)}")
    return d, {c: len(v) for c, v in groups.items()}


def verify(d: Path, rest: Rest | None = None) -> list[str]:
    """Files against the manifest (checksums, object keys); with ``rest``, the cluster's current Calico objects
    against the backup (an object the backup lacks is a problem: it would be deleted without a copy)."""
    try:
        backed = backups.read(d)
    except backups.BackupError as e:
        return [str(e)]
    if rest is None:
        return []
    have = {key(o) for o in backed.objects()}
    live = {key(i.obj) for i in inventory(rest).items()}
    missing = sorted(live - have)
    return [f"not in the backup: {', '.join(missing[:10])}" + (" ..." if len(missing) > 10 else "")] if missing else []


# --------------------------------------------------------------------------------------------------- cleanup


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


class CleanupStuck(RuntimeError):
    """Objects that would not go away in time (the message names them and what holds them)."""


@dataclass
class CleanupResult:
    deleted: dict[str, int] = field(default_factory=dict)
    stripped: list[str] = field(default_factory=list)  # "Kind ns/name: finalizer"


def strip_finalizers(rest: Rest, item: Item, which: frozenset[str] = NEVER_CLEARING) -> list[str]:
    """Remove ``which`` from the object's finalizers (optimistic concurrency; retried on a conflict)."""
    for _ in range(5):
        live = rest.get(item.res, item.namespace, item.name)
        if live is None:
            return []
        fins = list((live.get("metadata") or {}).get("finalizers") or [])
        gone = [f for f in fins if f in which]
        if not gone:
            return []
        patch = {"metadata": {"finalizers": [f for f in fins if f not in which] or None,
                              "resourceVersion": live["metadata"].get("resourceVersion")}}
        try:
            rest.merge_patch(item.res, item.namespace, item.name, patch)
        except errors.Conflict:
            continue
        except errors.NotFound:
            return []
        return gone
    raise errors.Conflict(f"{item.describe()} kept changing while its finalizers were being removed")


def _gone(rest: Rest, items: list[Item]) -> list[Item]:
    """The items still there."""
    return [i for i in items if rest.get(i.res, i.namespace, i.name) is not None]


def _why(rest: Rest, item: Item) -> str:
    live = rest.get(item.res, item.namespace, item.name) or {}
    fins = (live.get("metadata") or {}).get("finalizers") or []
    conds = [f"{c.get('type')}: {c.get('message') or c.get('reason')}" for c in
             (live.get("status") or {}).get("conditions") or [] if c.get("status") == "True"]
    why = [f"finalizers {', '.join(fins)}"] if fins else []
    return f"{item.describe()} ({'; '.join(why + conds[:2]) or 'still there'})"


def cleanup(rest: Rest, inv: Inventory, *, phases: Iterable[str] = PHASES, wait_s: float = 300.0,
            sleep: Callable[[float], bool] | None = None, clock: Callable[[], float] = time.monotonic,
            on_progress: Callable[[str], None] | None = None,
            after_delete: Callable[[int], None] | None = None) -> CleanupResult:
    """See the module docstring. ``sleep(s)`` returns True to stop waiting early (then ``CleanupStuck``)."""
    sleep = sleep or _sleep
    say = on_progress or (lambda _m: None)
    result = CleanupResult()
    count = 0
    wanted = set(phases)
    for phase in PHASES:
        if phase not in wanted:
            continue
        items = {"crs": inv.crs, "rbac": inv.rbac, "apiservices": inv.apiservices, "crds": inv.crds,
                 "namespaces": inv.namespaces}[phase]
        if not items:
            result.deleted[phase] = 0
            continue
        deleted = 0
        for item in items:
            if phase in ("crs", "rbac"):
                result.stripped += [f"{item.describe()}: {f}" for f in strip_finalizers(rest, item)]
            try:
                gone_now = rest.delete(item.res, item.namespace, item.name)
            except errors.Conflict:  # already being deleted (a terminating namespace answers 409)
                gone_now = False
            if gone_now:
                deleted += 1
                count += 1
                if after_delete is not None:
                    after_delete(count)
        result.deleted[phase] = deleted
        say(f"{phase}: deleted {deleted} of {len(items)}; waiting until they are gone")
        t0 = clock()
        left = _gone(rest, items)
        delay = 0.05
        while left:
            if phase in ("crs", "rbac"):  # finalizers added again meanwhile (e.g. by a controller)
                for item in left:
                    result.stripped += [f"{item.describe()}: {f}" for f in strip_finalizers(rest, item)]
            if clock() - t0 > wait_s or sleep(delay):
                raise CleanupStuck(f"{phase}: {len(left)} object(s) still there after {clock() - t0:.0f} s: "
                                   + "; ".join(_why(rest, i) for i in left[:5]))
            delay = min(delay * 1.5, 2.0)
            left = _gone(rest, left)
        if phase in ("crds", "apiservices"):
            rest.forget()
    return result
