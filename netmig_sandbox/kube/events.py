"""Kubernetes Events of the sandbox: a recorder, the events.k8s.io/v1 view, and the node and pod events of AKS.

Contract:
- ``EVENTS_V1`` is the ``events.k8s.io/v1`` ``Event`` type; ``install(ctx)`` registers it and subscribes an
  ``EventRecorder`` to ``ctx.store`` (idempotent; ``ctx.services["events"]``). Every core/v1 Event is mirrored
  as an events.k8s.io/v1 Event of the same namespace/name (``regarding``, ``note``, ``reportingController``,
  ``deprecatedCount`` ...) and the other way round, so both APIs list, get and watch the same events.
- ``EventRecorder.record(involved, reason, message, type_, component, host=None, field_path=None)`` emits a core/v1
  Event like client-go's recorder: name ``<object>.<hex>``, namespace of the object (``default`` for cluster-scoped
  ones), ``source``/``reportingComponent``, ``firstTimestamp``/``lastTimestamp``; a repeat of the same object,
  reason and message within the recorder's life bumps ``count`` and ``lastTimestamp`` instead (the
  EventCorrelator). Node events use the node NAME as ``involvedObject.uid``, as the kubelet and node controller
  do (``kubectl describe node`` searches with it).
- Derived from store changes (events are written from ``loop.call_soon``, never inside a store callback), like
  the components that emit them on AKS:
  Node added: kubelet ``Starting``, ``NodeHasSufficientMemory``, ``NodeHasNoDiskPressure``, ``NodeHasSufficientPID``,
  ``NodeAllocatableEnforced``, ``NodeReady`` (if Ready); node-controller ``RegisteredNode``. Node changed:
  ``NodeNotSchedulable`` / ``NodeSchedulable`` (cordon / uncordon, kubelet), ``NodeNotReady`` (node-controller),
  ``NodeReady`` (kubelet), a new bootID -> ``Rebooted`` (Warning) and ``Starting``. Node deleted:
  ``RemovingNode`` (node-controller).
  Pod bound -> ``Scheduled`` (default-scheduler); Pending ``Unschedulable`` -> ``FailedScheduling`` (Warning);
  containers running -> per container ``Pulled``, ``Created``, ``Started`` (kubelet, ``fieldPath``
  ``spec.containers{name}``); a running pod reset by a reimage (containers gone) -> ``SandboxChanged``; a pod
  deleted or marked for deletion while running -> ``Killing`` per container. A pod created with a controller
  ReplicaSet / DaemonSet / StatefulSet / Job -> ``SuccessfulCreate`` (``Created pod: x``) on the owner; a
  ReplicaSet of a Deployment changing ``spec.replicas`` -> ``ScalingReplicaSet`` on the Deployment (``Scaled up
  replica set x to 2 from 0``, deployment-controller).
- ``MAX_EVENTS`` bounds the stored events (oldest deleted first), standing in for the apiserver's 1 h event TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import time
from collections import deque
from typing import Any

from netmig_sandbox.kube.store import ApiError, Key, Obj, ResourceType, Store, clone, now_iso

CORE: Key = ("", "events")
V1: Key = ("events.k8s.io", "events")
EVENTS_V1 = ResourceType("events.k8s.io", "v1", "events", "Event", True, ("ev",))
NODES: Key = ("", "nodes")
PODS: Key = ("", "pods")
REPLICASETS: Key = ("apps", "replicasets")
CONTROLLERS = {"ReplicaSet": "replicaset-controller", "DaemonSet": "daemonset-controller",
               "StatefulSet": "statefulset-controller", "Job": "job-controller"}
MAX_EVENTS = 5000
_seq = itertools.count()


def _micro(ts: str | None) -> str:
    ts = ts or now_iso()
    return ts[:-1] + ".000000Z" if ts.endswith("Z") and "." not in ts else ts


def to_v1(ev: Obj) -> Obj:
    """The events.k8s.io/v1 form of a core/v1 Event."""
    meta = {k: v for k, v in (ev.get("metadata") or {}).items()
            if k in ("name", "namespace", "labels", "annotations")}
    src = ev.get("source") or {}
    out: Obj = {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta,
        "eventTime": ev.get("eventTime") or _micro(ev.get("firstTimestamp")),
        "reportingController": ev.get("reportingComponent") or src.get("component", ""),
        "reportingInstance": ev.get("reportingInstance") or src.get("host", ""),
        "action": ev.get("action") or ev.get("reason", ""),
        "reason": ev.get("reason", ""), "regarding": copy.deepcopy(ev.get("involvedObject") or {}),
        "note": ev.get("message", ""), "type": ev.get("type", "Normal"),
        "deprecatedSource": copy.deepcopy(src), "deprecatedFirstTimestamp": ev.get("firstTimestamp"),
        "deprecatedLastTimestamp": ev.get("lastTimestamp"), "deprecatedCount": ev.get("count", 1),
    }
    if ev.get("related"):
        out["related"] = copy.deepcopy(ev["related"])
    return out


def to_core(ev: Obj) -> Obj:
    """The core/v1 form of an events.k8s.io/v1 Event."""
    meta = {k: v for k, v in (ev.get("metadata") or {}).items()
            if k in ("name", "namespace", "labels", "annotations")}
    first = ev.get("deprecatedFirstTimestamp") or (str(ev.get("eventTime") or now_iso())[:19] + "Z")
    return {
        "apiVersion": "v1", "kind": "Event", "metadata": meta,
        "involvedObject": copy.deepcopy(ev.get("regarding") or {}), "reason": ev.get("reason", ""),
        "message": ev.get("note", ""), "type": ev.get("type", "Normal"),
        "source": copy.deepcopy(ev.get("deprecatedSource") or {"component": ev.get("reportingController", "")}),
        "firstTimestamp": first, "lastTimestamp": ev.get("deprecatedLastTimestamp") or first,
        "count": ev.get("deprecatedCount") or 1, "eventTime": ev.get("eventTime"),
        "reportingComponent": ev.get("reportingController", ""), "reportingInstance": ev.get("reportingInstance", ""),
        "action": ev.get("action", ""),
    }


def _ready(obj: Obj) -> bool | None:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return None


def _running(pod: Obj) -> list[str]:
    return [str(cs.get("name")) for cs in (pod.get("status") or {}).get("containerStatuses") or []
            if "running" in (cs.get("state") or {})]


def _controller(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller"):
            return ref
    return None


def _ref_obj(ref: Obj, namespace: str) -> Obj:
    """An involved object for an ownerReference (its kind, apiVersion, name, uid) in ``namespace``."""
    return {"kind": ref.get("kind", ""), "apiVersion": ref.get("apiVersion", ""),
            "metadata": {"name": ref.get("name", ""), "namespace": namespace, "uid": ref.get("uid", "")}}


def _unschedulable(pod: Obj) -> str | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return str(c.get("message") or "")
    return None


class EventRecorder:
    """See the module contract."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[Any, ...]] = []
        self._scheduled = False
        self._mirroring = False
        self._seen: dict[tuple[str, str, str, str, str], tuple[str, str]] = {}
        self._order: deque[tuple[str, str]] = deque()
        self._nodes: dict[str, Obj] = {}
        self._pods: dict[tuple[str, str], tuple[str | None, tuple[str, ...], bool, str | None]] = {}
        self._rs: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------ recording
    def record(self, involved: Obj, reason: str, message: str, type_: str = "Normal", component: str = "kubelet",
               host: str | None = None, field_path: str | None = None) -> None:
        """Write (or count) one core/v1 Event now (see the module contract)."""
        meta = involved.get("metadata") or {}
        kind = involved.get("kind") or ""
        name = str(meta.get("name") or "")
        ns = meta.get("namespace") or ""
        uid = name if kind == "Node" else str(meta.get("uid") or "")
        corr = (kind, ns, name, reason, message)
        now = now_iso()
        seen = self._seen.get(corr)
        if seen is not None and self.store.exists(CORE, seen[0], seen[1]):
            def bump(o: Obj) -> None:
                o["count"] = int(o.get("count") or 1) + 1
                o["lastTimestamp"] = now
            try:
                self.store.update(CORE, seen[0], seen[1], bump)
                return
            except ApiError:
                pass
        ref: Obj = {"kind": kind, "name": name, "uid": uid, "apiVersion": involved.get("apiVersion", "v1")}
        if ns:
            ref["namespace"] = ns
        if meta.get("resourceVersion"):
            ref["resourceVersion"] = meta["resourceVersion"]
        if field_path:
            ref["fieldPath"] = field_path
        ev_ns = ns or "default"
        ev_name = f"{name}.{time.time_ns() + next(_seq):x}"
        source: Obj = {"component": component}
        if host:
            source["host"] = host
        body = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": ev_name, "namespace": ev_ns},
                "involvedObject": ref, "reason": reason, "message": message, "type": type_, "count": 1,
                "firstTimestamp": now, "lastTimestamp": now, "source": source, "eventTime": None,
                "reportingComponent": component, "reportingInstance": host or ""}
        try:
            self.store.create(CORE, body, ev_ns)
        except ApiError:
            return  # e.g. the namespace is gone or terminating: the real recorder drops it too
        self._seen[corr] = (ev_ns, ev_name)
        self._order.append((ev_ns, ev_name))
        while len(self._order) > MAX_EVENTS:
            old_ns, old_name = self._order.popleft()
            with contextlib.suppress(ApiError):
                self.store.delete(CORE, old_ns, old_name)

    def later(self, *args: Any, **kwargs: Any) -> None:
        """``record`` from the loop's next turn (safe inside a store callback)."""
        self._pending.append((args, kwargs))
        if self._scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for args, kwargs in pending:
            self.record(*args, **kwargs)

    # ------------------------------------------------------------ store subscriber
    def on_change(self, event: str, key: Key, obj: Obj) -> None:
        if key in (CORE, V1):
            self._mirror(event, key, obj)
        elif key == NODES:
            self._node(event, obj)
        elif key == PODS:
            self._pod(event, obj)
        elif key == REPLICASETS:
            self._replicaset(event, obj)

    def _replicaset(self, event: str, rs: Obj) -> None:
        meta = rs["metadata"]
        k = (str(meta.get("namespace") or ""), str(meta["name"]))
        if event == "DELETED":
            self._rs.pop(k, None)
            return
        replicas = int((rs.get("spec") or {}).get("replicas") or 0)
        old = self._rs.get(k)
        self._rs[k] = replicas
        if old is None and event != "ADDED":
            return
        before = old or 0
        owner = _controller(rs)
        if owner is None or owner.get("kind") != "Deployment" or replicas == before:
            return
        verb = "up" if replicas > before else "down"
        self.later(_ref_obj(owner, k[0]), "ScalingReplicaSet",
                   f"Scaled {verb} replica set {k[1]} to {replicas} from {before}", component="deployment-controller")

    def _mirror(self, event: str, key: Key, obj: Obj) -> None:
        if self._mirroring or V1 not in self.store.types:
            return
        other, convert = (V1, to_v1) if key == CORE else (CORE, to_core)
        obj = clone(obj)  # the stored object (a read-only subscriber): the mirror must not share its parts
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace"), str(meta.get("name") or "")
        self._mirroring = True
        try:
            if event == "DELETED":
                if self.store.exists(other, ns, name):
                    self.store.delete(other, ns, name)
            elif self.store.exists(other, ns, name):
                body = convert(obj)

                def put(o: Obj) -> None:
                    keep = o.get("metadata") or {}
                    o.clear()
                    o.update(body)
                    o["metadata"] = {**keep, **body["metadata"]}
                self.store.update(other, ns, name, put)
            else:
                self.store.create(other, convert(obj), ns)
        except ApiError:
            pass
        finally:
            self._mirroring = False

    def _node(self, event: str, node: Obj) -> None:
        name = str(node["metadata"]["name"])
        old = self._nodes.get(name)
        if event == "DELETED":
            self._nodes.pop(name, None)
            self.later(node, "RemovingNode", f"Node {name} event: Removing Node {name} from Controller",
                       component="node-controller")
            return
        self._nodes[name] = {"metadata": {"name": name}, "spec": {"unschedulable": bool(
            (node.get("spec") or {}).get("unschedulable"))}, "status": {
            "conditions": [{"type": "Ready", "status": "True" if _ready(node) else "False"}],
            "nodeInfo": {"bootID": ((node.get("status") or {}).get("nodeInfo") or {}).get("bootID")}}}
        ready = bool(_ready(node))
        if old is None:
            if event == "ADDED":
                self.later(node, "Starting", "Starting kubelet.", host=name)
                for cond in ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID"):
                    self.later(node, cond, f"Node {name} status is now: {cond}", host=name)
                self.later(node, "NodeAllocatableEnforced", "Updated Node Allocatable limit across pods", host=name)
                if ready:
                    self.later(node, "NodeReady", f"Node {name} status is now: NodeReady", host=name)
                self.later(node, "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller",
                           component="node-controller")
            return
        was_unsched = bool(old["spec"]["unschedulable"])
        unsched = bool((node.get("spec") or {}).get("unschedulable"))
        if unsched != was_unsched:
            what = "NodeNotSchedulable" if unsched else "NodeSchedulable"
            self.later(node, what, f"Node {name} status is now: {what}", host=name)
        old_boot = old["status"]["nodeInfo"]["bootID"]
        boot = ((node.get("status") or {}).get("nodeInfo") or {}).get("bootID")
        if boot and old_boot and boot != old_boot:
            self.later(node, "Rebooted", f"Node {name} has been rebooted, boot id: {boot}", "Warning", host=name)
            self.later(node, "Starting", "Starting kubelet.", host=name)
        was_ready = _ready(old)
        if was_ready and not ready:
            self.later(node, "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                       component="node-controller")
        elif not was_ready and ready:
            self.later(node, "NodeReady", f"Node {name} status is now: NodeReady", host=name)

    def _pod(self, event: str, pod: Obj) -> None:
        meta = pod["metadata"]
        k = (str(meta.get("namespace") or ""), str(meta["name"]))
        node = (pod.get("spec") or {}).get("nodeName")
        running = tuple(_running(pod))
        deleting = bool(meta.get("deletionTimestamp")) or event == "DELETED"
        unsched = _unschedulable(pod)
        old = self._pods.get(k)
        old_node, old_running, old_deleting, old_unsched = old if old is not None else (None, (), False, None)
        if event == "DELETED":
            self._pods.pop(k, None)
        else:
            self._pods[k] = (node, running, deleting, unsched)
        if old is None and event != "ADDED":
            return  # first seen mid-life (e.g. recorder installed late): no history to compare
        owner = _controller(pod)
        if event == "ADDED" and owner is not None and owner.get("kind") in CONTROLLERS:
            self.later(_ref_obj(owner, k[0]), "SuccessfulCreate", f"Created pod: {k[1]}",
                       component=CONTROLLERS[str(owner["kind"])])
        if node and not old_node and not deleting:
            self.later(pod, "Scheduled", f"Successfully assigned {k[0]}/{k[1]} to {node}",
                       component="default-scheduler")
        if unsched is not None and unsched != old_unsched and not node:
            self.later(pod, "FailedScheduling", unsched, "Warning", component="default-scheduler")
        if deleting and not old_deleting:
            for c in old_running or running:
                self.later(pod, "Killing", f"Stopping container {c}", host=node,
                           field_path=f"spec.containers{{{c}}}")
            return
        new = [c for c in running if c not in old_running]
        images = {str(c.get("name")): str(c.get("image", "")) for c in (pod.get("spec") or {}).get("containers") or []}
        if old_running and not running and not deleting and (pod.get("status") or {}).get("phase") == "Pending":
            self.later(pod, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.", host=node)
        for c in new:
            fp = f"spec.containers{{{c}}}"
            self.later(pod, "Pulled", f'Container image "{images.get(c, "")}" already present on machine',
                       host=node, field_path=fp)
            self.later(pod, "Created", f"Created container {c}", host=node, field_path=fp)
            self.later(pod, "Started", f"Started container {c}", host=node, field_path=fp)


def install(store: Store, services: dict[str, Any]) -> EventRecorder:
    """Register events.k8s.io/v1 and subscribe the recorder (idempotent); see the module contract."""
    rec = services.get("events")
    if isinstance(rec, EventRecorder):
        return rec
    if V1 not in store.types:
        store.register_type(EVENTS_V1)
    rec = EventRecorder(store)
    services["events"] = rec
    # objects that predate the recorder are known (their later changes are compared), without "added" events
    for key, seed in ((NODES, rec._node), (PODS, rec._pod), (REPLICASETS, rec._replicaset)):
        for obj in list(store.iter_raw(key)) if key in store.types else []:
            seed("MODIFIED", obj)  # read only
    store.subscribe_readonly(rec.on_change, (CORE, V1, NODES, PODS, REPLICASETS))  # reads (see _mirror)
    return rec
