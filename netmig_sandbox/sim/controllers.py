"""Workload controllers of the simulated cluster: Deployments, DaemonSets, Services/Endpoints, and the scheduler.

Every function here is a reconcile called by the kubelet simulator's work queue (``kubelet.Kubelet._drain``),
never from a store callback; each takes that simulator as a ``Host`` (the state the controllers share with it), so
this module does not depend on ``kubelet``. Each is idempotent: it compares the desired state with the indexed
state and writes only the difference, so running it twice in a row writes nothing the second time.

Modelling choices:
- Deployments create pods directly; a ``ReplicaSet`` object ``<deploy>-<hash>`` is kept for display (spec and
  status), pods carry an ownerReference to it and the label ``pod-template-hash``; pod names are
  ``<deploy>-<hash>-<5 chars>``. A template change creates pods of the new hash up to ``spec.replicas`` and
  deletes the old-hash pods once as many new pods are Ready (``Recreate``: at once); old ReplicaSets stay, scaled
  to 0, as rollout history (``deployment.kubernetes.io/revision`` on each ReplicaSet and on the Deployment; the
  oldest beyond ``spec.revisionHistoryLimit`` are deleted); a template equal to an old ReplicaSet's (``kubectl
  rollout undo``) reuses that ReplicaSet with the next revision (``revision-history`` keeps the old numbers).
  A deleted Deployment's ReplicaSets and pods are left to the garbage collector (``kube.gc``: background,
  foreground or orphan). Terminal (Failed/Succeeded, e.g. evicted) pods are deleted and replaced.
- The scheduler places a pod on a Ready node that is not cordoned (``spec.unschedulable``), not being deleted,
  matches ``nodeSelector`` and required node affinity, whose NoSchedule/NoExecute taints the pod tolerates, and
  whose ``kubernetes.io/os`` equals the pod's OS (``spec.os.name``, else its ``kubernetes.io/os`` nodeSelector,
  else linux); among those it takes the node with the fewest pods (ties by name). Deployment pods are placed at
  creation (as if the scheduler bound them instantly); other pods are bound by an update. No feasible node ->
  Pending with condition PodScheduled=False/Unschedulable, retried whenever nodes change.
- DaemonSets run one pod per node matching the template's nodeSelector / required node affinity whose taints
  are tolerated (DaemonSet pods tolerate not-ready/unreachable/unschedulable/pressure taints) and which is not
  being deleted; pods are created bound to their node. A template change replaces pods at once.
- Services: a missing ``spec.clusterIP`` is allocated from the scenario's service CIDR, NodePort/LoadBalancer
  ports get node ports, LoadBalancer services get ``status.loadBalancer.ingress[0].ip``. Services with a
  selector get an ``Endpoints`` object (same name) listing Ready pods (``addresses``) and not-ready ones with an IP
  (``notReadyAddresses``), each with its resolved ports (numeric targetPort, or the named container port with the
  same protocol on that pod; pods lacking a named port are left out), grouped into subsets by port set.
  EndpointSlices are not simulated; Events come from ``kube.events`` (derived from the pods' and nodes' changes).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import heapq
import json
import logging
import random
from typing import Any, Protocol

from netmig_sandbox.kube.store import ApiError, Store, clone, now_iso
from netmig_sandbox.sim.index import (
    DAEMONSETS,
    DEPLOYMENTS,
    ENDPOINTS,
    PODS,
    REPLICASETS,
    SERVICES,
    ClusterIndex,
    ObjKey,
    node_ready,
    pod_ready,
)
from netmig_sandbox.sim.ipam import ServiceIpam

Obj = dict[str, Any]
log = logging.getLogger(__name__)

ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DS_TOLERATED = {
    "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/disk-pressure", "node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/network-unavailable",
}


def template_hash(template: Obj) -> str:
    """A stable 10-character hash of a pod template (like pod-template-hash)."""
    n = int(hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest(), 16)
    out = []
    for _ in range(10):
        n, r = divmod(n, len(ALPHABET))
        out.append(ALPHABET[r])
    return "".join(out)


def is_terminating(obj: Obj) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def is_terminal(pod: Obj) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


# ------------------------------------------------------------------ node matching
def _match_node_expr(expr: Obj, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
    present = key in labels
    if op == "In":
        return present and labels[key] in values
    if op == "NotIn":
        return not present or labels[key] not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and values:
        try:
            a, b = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def node_matches(node: Obj, pod_spec: Obj) -> bool:
    """nodeSelector AND required node affinity (terms ORed, expressions ANDed) against the node's labels."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms") or []
    if terms:
        name = (node.get("metadata") or {}).get("name")
        ok = False
        for term in terms:
            exprs = term.get("matchExpressions") or []
            fields = term.get("matchFields") or []
            if not exprs and not fields:
                continue
            if all(_match_node_expr(e, labels) for e in exprs) and all(
                    _match_node_expr(f, {"metadata.name": name or ""}) for f in fields):
                ok = True
                break
        if not ok:
            return False
    return True


def _tolerates(tolerations: list[Obj], taint: Obj, extra_keys: set[str] | frozenset[str] = frozenset()) -> bool:
    if taint.get("key") in extra_keys:
        return True
    for tol in tolerations:
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def taints_tolerated(node: Obj, pod_spec: Obj, extra_keys: set[str] | frozenset[str] = frozenset()) -> bool:
    tolerations = pod_spec.get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(tolerations, taint, extra_keys):
            return False
    return True


def pod_os(pod_spec: Obj) -> str:
    return str((pod_spec.get("os") or {}).get("name")
               or (pod_spec.get("nodeSelector") or {}).get("kubernetes.io/os") or "linux")


class Host(Protocol):
    """What the controllers read and write on the simulator that drives them (``kubelet.Kubelet``)."""

    store: Store
    index: ClusterIndex
    rng: random.Random
    scheduler: Scheduler
    svc_ipam: ServiceIpam
    node_counts: dict[str, int]
    unschedulable: set[ObjKey]


class Scheduler:
    """Least-pods placement with one lazily-validated heap per distinct placement constraint set."""

    def __init__(self, k: Host) -> None:
        self.k = k
        self._heaps: dict[str, list[tuple[int, str]]] = {}

    def invalidate(self) -> None:
        """Nodes changed (added, removed, relabelled, cordoned, readiness): rebuild candidate sets lazily."""
        self._heaps.clear()

    def feasible(self, node: Obj, spec: Obj) -> bool:
        labels = (node.get("metadata") or {}).get("labels") or {}
        return (node_ready(node) and not (node.get("spec") or {}).get("unschedulable")
                and not is_terminating(node) and labels.get("kubernetes.io/os", "linux") == pod_os(spec)
                and node_matches(node, spec) and taints_tolerated(node, spec))

    def pick(self, pod: Obj) -> str | None:
        """The node for ``pod`` (its count is pre-incremented in the heap), or None when none fits."""
        spec = pod.get("spec") or {}
        sig = json.dumps([spec.get("nodeSelector"), spec.get("affinity"), spec.get("tolerations"),
                          pod_os(spec)], sort_keys=True)
        heap = self._heaps.get(sig)
        counts = self.k.node_counts
        if heap is None:
            heap = [(counts.get(n, 0), n) for n, node in self.k.index.nodes.items() if self.feasible(node, spec)]
            heapq.heapify(heap)
            self._heaps[sig] = heap
        while heap:
            c, n = heapq.heappop(heap)
            if n not in self.k.index.nodes:
                continue
            actual = counts.get(n, 0)
            if actual != c:
                heapq.heappush(heap, (actual, n))
                continue
            heapq.heappush(heap, (c + 1, n))
            return n
        return None


# ------------------------------------------------------------------ pods
def _pod_name(k: Host, ns: str, prefix: str) -> str:
    while True:
        name = prefix + "".join(k.rng.choice(ALPHABET) for _ in range(5))
        if (ns, name) not in k.index.pods:
            return name


def _default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            p.setdefault("protocol", "TCP")


def _create_pod(k: Host, ns: str, name: str, template: Obj, labels: dict[str, str], owner: Obj,
                node: str | None) -> None:
    tmeta = template.get("metadata") or {}
    spec = clone(template.get("spec") or {})
    _default_pod_spec(spec)
    status: Obj = {"phase": "Pending", "qosClass": "BestEffort"}
    if node:
        spec["nodeName"] = node
        status["conditions"] = [{"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                                 "lastTransitionTime": now_iso()}]
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "annotations": dict(tmeta.get("annotations") or {}), "ownerReferences": [owner]},
        "spec": spec, "status": status,
    }
    k.store.create(PODS, pod, ns)


def delete_pod(k: Host, key: ObjKey) -> None:
    with contextlib.suppress(ApiError):
        k.store.delete(PODS, key[0], key[1])


def schedule_pending(k: Host, keys: set[ObjKey]) -> None:
    """Bind each still-unbound pod of ``keys`` or mark it Unschedulable (idempotent)."""
    for key in sorted(keys):
        pod = k.index.pods.get(key)
        if pod is None or (pod.get("spec") or {}).get("nodeName") or is_terminating(pod) or is_terminal(pod):
            continue
        node = k.scheduler.pick(pod)
        if node is not None:
            k.unschedulable.discard(key)

            def bind(o: Obj, node: str = node) -> None:
                o.setdefault("spec", {})["nodeName"] = node
                st = o.setdefault("status", {})
                conds = [c for c in st.get("conditions") or [] if c.get("type") != "PodScheduled"]
                conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                              "lastTransitionTime": now_iso()})
                st["conditions"] = conds
                st.setdefault("phase", "Pending")

            with contextlib.suppress(ApiError):
                k.store.update(PODS, key[0], key[1], bind)
            continue
        k.unschedulable.add(key)
        conds = (pod.get("status") or {}).get("conditions") or []
        if any(c.get("type") == "PodScheduled" and c.get("status") == "False" for c in conds):
            continue
        total = len(k.index.nodes)

        def unsched(o: Obj, total: int = total) -> None:
            st = o.setdefault("status", {})
            st.setdefault("phase", "Pending")
            conds = [c for c in st.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                          "lastProbeTime": None, "lastTransitionTime": now_iso(),
                          "message": f"0/{total} nodes are available: no Ready, schedulable node matches the pod."})
            st["conditions"] = conds

        with contextlib.suppress(ApiError):
            k.store.update(PODS, key[0], key[1], unsched)


# ------------------------------------------------------------------ deployments
def _owned_pods(k: Host, ns: str, kind: str, name: str) -> list[Obj]:
    return [k.index.pods[p] for p in sorted(k.index.pods_by_owner.get((ns, kind, name), ()))]


def _cond(kind: str, ok: bool, reason: str, message: str, old: list[Obj]) -> Obj:
    status = "True" if ok else "False"
    prev = next((c for c in old if c.get("type") == kind), None)
    now = now_iso()
    if prev and prev.get("status") == status and prev.get("reason") == reason:
        return prev
    return {"type": kind, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def reconcile_deployment(k: Host, key: ObjKey) -> None:
    ns, name = key
    dep = k.index.workloads[DEPLOYMENTS].get(key)
    if dep is None:
        if REPLICASETS not in k.store.types:  # no ReplicaSets to collect: the pods reference the Deployment
            for pod in _owned_pods(k, ns, "Deployment", name):
                delete_pod(k, (ns, pod["metadata"]["name"]))
        return  # else the garbage collector deletes (or orphans) the ReplicaSets and their pods
    if is_terminating(dep):
        return
    spec = dep.get("spec") or {}
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    template = spec.get("template") or {}
    h = template_hash(template)
    rs_name = f"{name}-{h}"
    rs_uid = _ensure_replicaset(k, dep, rs_name, h, replicas)
    pods = _owned_pods(k, ns, "Deployment", name)
    for p in pods:
        if is_terminal(p) and not is_terminating(p):
            delete_pod(k, (ns, p["metadata"]["name"]))
    active = [p for p in pods if not is_terminating(p) and not is_terminal(p)]
    current = [p for p in active if (p["metadata"].get("labels") or {}).get("pod-template-hash") == h]
    old = [p for p in active if p not in current]
    need = replicas - len(current)
    if need > 0:
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        labels["pod-template-hash"] = h
        owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name, "uid": rs_uid,
                 "controller": True, "blockOwnerDeletion": True}
        for _ in range(need):
            pod_name = _pod_name(k, ns, rs_name + "-")
            probe = {"spec": template.get("spec") or {}}
            node = k.scheduler.pick(probe)
            try:
                _create_pod(k, ns, pod_name, template, dict(labels), owner, node)
            except ApiError as e:
                log.debug("deployment %s/%s: cannot create pod: %s", ns, name, e.message)
                break
    elif need < 0:
        victims = sorted(current, key=lambda p: (pod_ready(p), bool(p["spec"].get("nodeName")),
                                                 p["metadata"].get("creationTimestamp", ""),
                                                 p["metadata"]["name"]))
        for p in victims[:-need]:
            delete_pod(k, (ns, p["metadata"]["name"]))
    if old:
        ready_new = sum(1 for p in current if pod_ready(p))
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"
        if recreate or ready_new >= replicas:
            old_hashes = set()
            for p in old:
                old_hashes.add((p["metadata"].get("labels") or {}).get("pod-template-hash", ""))
                delete_pod(k, (ns, p["metadata"]["name"]))
            for oh in old_hashes:
                _scale_down_old(k, ns, f"{name}-{oh}")
            _prune_history(k, dep, rs_name)
    _deployment_status(k, dep, h, rs_name)


REVISION = "deployment.kubernetes.io/revision"


def _revision(obj: Obj) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION) or 0)
    except ValueError:
        return 0


def owned_replicasets(k: Host, dep: Obj) -> list[Obj]:
    """The ReplicaSets whose controller is ``dep`` (by uid), oldest revision first."""
    ns, uid = dep["metadata"]["namespace"], dep["metadata"].get("uid")
    out = [rs for (rns, _), rs in k.index.workloads[REPLICASETS].items()
           if rns == ns and any(r.get("controller") and r.get("uid") == uid
                                for r in rs["metadata"].get("ownerReferences") or [])]
    return sorted(out, key=lambda rs: (_revision(rs), rs["metadata"]["name"]))


def _scale_down_old(k: Host, ns: str, rs_name: str) -> None:
    """An old ReplicaSet whose pods are gone stays, scaled to 0 (rollout history)."""
    def zero(o: Obj) -> None:
        o.setdefault("spec", {})["replicas"] = 0
        o["status"] = {"replicas": 0, "observedGeneration": o["metadata"].get("generation", 1)}
    with contextlib.suppress(ApiError):
        k.store.update(REPLICASETS, ns, rs_name, zero)


def _prune_history(k: Host, dep: Obj, current: str) -> None:
    """Delete the oldest scaled-down ReplicaSets beyond ``spec.revisionHistoryLimit`` (default 10)."""
    limit = (dep.get("spec") or {}).get("revisionHistoryLimit")
    limit = 10 if limit is None else int(limit)
    old = [rs for rs in owned_replicasets(k, dep) if rs["metadata"]["name"] != current
           and not (rs.get("spec") or {}).get("replicas")]
    for rs in old[:max(0, len(old) - limit)]:
        with contextlib.suppress(ApiError):
            k.store.delete(REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"])


def _ensure_replicaset(k: Host, dep: Obj, rs_name: str, h: str, replicas: int) -> str:
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    if REPLICASETS not in k.store.types:
        return dep["metadata"].get("uid", "")
    template = copy.deepcopy((dep.get("spec") or {}).get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
    selector = copy.deepcopy((dep.get("spec") or {}).get("selector") or {})
    selector.setdefault("matchLabels", {})["pod-template-hash"] = h
    rs = k.index.workloads[REPLICASETS].get((ns, rs_name))
    dep_rev = _revision(dep)
    if rs is not None and (_revision(rs) != dep_rev or not dep_rev):
        # a rollback (or undo) to an older template: its ReplicaSet becomes the newest revision again
        owned = owned_replicasets(k, dep)
        top = max([_revision(o) for o in owned] + [0])
        if _revision(rs) < top:
            old_rev = _revision(rs)

            def bump(o: Obj) -> None:
                ann = o["metadata"].setdefault("annotations", {})
                ann[REVISION] = str(top + 1)
                history = [x for x in str(ann.get("deployment.kubernetes.io/revision-history", "")).split(",") if x]
                ann["deployment.kubernetes.io/revision-history"] = ",".join([*history, str(old_rev)])
            with contextlib.suppress(ApiError):
                rs = k.store.update(REPLICASETS, ns, rs_name, bump)
    if rs is None:
        revision = max([_revision(o) for o in owned_replicasets(k, dep)] + [0]) + 1
        annotations = {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas": str(replicas)}
        cause = ((dep.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/change-cause")
        if cause:
            annotations["kubernetes.io/change-cause"] = cause
        rs = k.store.create(REPLICASETS, {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs_name, "namespace": ns, "labels": dict(template["metadata"]["labels"]),
                         "annotations": annotations,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                              "uid": dep["metadata"].get("uid"), "controller": True,
                                              "blockOwnerDeletion": True}]},
            "spec": {"replicas": replicas, "selector": selector, "template": template},
            "status": {"replicas": 0},
        }, ns)
    return str(rs["metadata"]["uid"])


def _deployment_status(k: Host, dep: Obj, h: str, rs_name: str) -> None:
    ns, name = dep["metadata"]["namespace"], dep["metadata"]["name"]
    spec = dep.get("spec") or {}
    replicas = int(spec.get("replicas", 1) if spec.get("replicas") is not None else 1)
    pods = [p for p in _owned_pods(k, ns, "Deployment", name) if not is_terminating(p) and not is_terminal(p)]
    current = [p for p in pods if (p["metadata"].get("labels") or {}).get("pod-template-hash") == h]
    ready = sum(1 for p in pods if pod_ready(p))
    old_status = dep.get("status") or {}
    old_conds = old_status.get("conditions") or []
    available_ok = ready >= replicas
    done = len(current) == replicas == len(pods) and sum(1 for p in current if pod_ready(p)) == replicas
    conds = [
        _cond("Available", available_ok, "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
              "Deployment has minimum availability." if available_ok
              else "Deployment does not have minimum availability.", old_conds),
        _cond("Progressing", True, "NewReplicaSetAvailable" if done else "ReplicaSetUpdated",
              f'ReplicaSet "{rs_name}" has successfully progressed.' if done
              else f'ReplicaSet "{rs_name}" is progressing.', old_conds),
    ]
    status: Obj = {
        "observedGeneration": dep["metadata"].get("generation", 1),
        "replicas": len(pods),
        "updatedReplicas": len(current),
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": conds,
    }
    if replicas - ready > 0:
        status["unavailableReplicas"] = replicas - ready
    for f in ("readyReplicas", "availableReplicas", "replicas", "updatedReplicas"):
        if not status[f]:
            del status[f]
    rs = k.index.workloads[REPLICASETS].get((ns, rs_name))
    revision = str(_revision(rs)) if rs is not None and _revision(rs) else None
    if status != old_status or (revision and str(_revision(dep)) != revision):
        def put(o: Obj) -> None:
            o["status"] = status
            if revision:
                o["metadata"].setdefault("annotations", {})[REVISION] = revision

        with contextlib.suppress(ApiError):
            k.store.update(DEPLOYMENTS, ns, name, put)
    if rs is not None:
        rs_status: Obj = {"replicas": len(current), "fullyLabeledReplicas": len(current),
                          "readyReplicas": sum(1 for p in current if pod_ready(p)),
                          "availableReplicas": sum(1 for p in current if pod_ready(p)),
                          "observedGeneration": 1}
        if rs.get("status") != rs_status or (rs.get("spec") or {}).get("replicas") != replicas:
            def put_rs(o: Obj) -> None:
                o["status"] = rs_status
                o.setdefault("spec", {})["replicas"] = replicas

            k.store.update(REPLICASETS, ns, rs_name, put_rs)


# ------------------------------------------------------------------ daemonsets
def ds_node_eligible(node: Obj, spec: Obj) -> bool:
    return not is_terminating(node) and node_matches(node, spec) and taints_tolerated(node, spec, DS_TOLERATED)


def reconcile_daemonset(k: Host, key: ObjKey) -> None:
    ns, name = key
    ds = k.index.workloads[DAEMONSETS].get(key)
    if ds is None:
        for pod in _owned_pods(k, ns, "DaemonSet", name):
            delete_pod(k, (ns, pod["metadata"]["name"]))
        return
    if is_terminating(ds):
        return
    template = (ds.get("spec") or {}).get("template") or {}
    tspec = template.get("spec") or {}
    h = template_hash(template)
    gen = str(ds["metadata"].get("generation", 1))
    eligible = sorted(n for n, node in k.index.nodes.items() if ds_node_eligible(node, tspec))
    eligible_set = set(eligible)
    by_node: dict[str, list[Obj]] = {}
    for p in _owned_pods(k, ns, "DaemonSet", name):
        if is_terminating(p):
            continue
        node = (p.get("spec") or {}).get("nodeName") or ""
        if node not in eligible_set or is_terminal(p):
            delete_pod(k, (ns, p["metadata"]["name"]))
            continue
        by_node.setdefault(node, []).append(p)
    owner = {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": name, "uid": ds["metadata"].get("uid"),
             "controller": True, "blockOwnerDeletion": True}
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    labels.update({"controller-revision-hash": h, "pod-template-generation": gen})
    for node in eligible:
        pods = by_node.get(node, [])
        keep = [p for p in pods if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h][:1]
        for p in pods:
            if p not in keep:
                delete_pod(k, (ns, p["metadata"]["name"]))
        if not keep:
            try:
                _create_pod(k, ns, _pod_name(k, ns, name + "-"), template, dict(labels), owner, node)
            except ApiError as e:
                log.debug("daemonset %s/%s: cannot create pod: %s", ns, name, e.message)
                break
    _daemonset_status(k, ds, h, eligible)


def _daemonset_status(k: Host, ds: Obj, h: str, eligible: list[str]) -> None:
    ns, name = ds["metadata"]["namespace"], ds["metadata"]["name"]
    eligible_set = set(eligible)
    pods = [p for p in _owned_pods(k, ns, "DaemonSet", name) if not is_terminating(p) and not is_terminal(p)]
    scheduled = {p["spec"].get("nodeName") for p in pods} & eligible_set
    ready = 0
    updated = 0
    for p in pods:
        node = k.index.nodes.get(p["spec"].get("nodeName") or "")
        if node is not None and node_ready(node) and pod_ready(p):
            ready += 1
        if (p["metadata"].get("labels") or {}).get("controller-revision-hash") == h:
            updated += 1
    status: Obj = {
        "currentNumberScheduled": len(scheduled),
        "desiredNumberScheduled": len(eligible),
        "numberMisscheduled": len({p["spec"].get("nodeName") for p in pods} - eligible_set),
        "numberReady": ready,
        "numberAvailable": ready,
        "updatedNumberScheduled": updated,
        "observedGeneration": ds["metadata"].get("generation", 1),
    }
    if len(eligible) - ready > 0:
        status["numberUnavailable"] = len(eligible) - ready
    if status != (ds.get("status") or {}):
        def put(o: Obj) -> None:
            o["status"] = status

        with contextlib.suppress(ApiError):
            k.store.update(DAEMONSETS, ns, name, put)


# ------------------------------------------------------------------ services & endpoints
def reconcile_service(k: Host, key: ObjKey) -> None:
    """Allocate clusterIP / nodePorts / LB IP where missing (idempotent)."""
    svc = k.index.services.get(key)
    if svc is None:
        return
    spec = svc.get("spec") or {}
    stype = spec.get("type") or "ClusterIP"
    patch: dict[str, Any] = {}
    if stype != "ExternalName" and not spec.get("clusterIP"):
        patch["clusterIP"] = k.svc_ipam.cluster_ip(*key)
    ports = copy.deepcopy(spec.get("ports") or [])
    ports_changed = False
    for p in ports:
        if "protocol" not in p:
            p["protocol"] = "TCP"
            ports_changed = True
        if "targetPort" not in p:
            p["targetPort"] = p.get("port")
            ports_changed = True
        if stype in ("NodePort", "LoadBalancer") and not p.get("nodePort"):
            p["nodePort"] = k.svc_ipam.node_port()
            ports_changed = True
    lb_ip = None
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if stype == "LoadBalancer" and not ingress:
        lb_ip = k.svc_ipam.lb_ip()
    if not patch and not ports_changed and lb_ip is None:
        return

    def put(o: Obj) -> None:
        s = o.setdefault("spec", {})
        if "clusterIP" in patch:
            s["clusterIP"] = patch["clusterIP"]
            s["clusterIPs"] = [patch["clusterIP"]]
        if ports_changed:
            s["ports"] = ports
        if lb_ip is not None:
            o.setdefault("status", {})["loadBalancer"] = {"ingress": [{"ip": lb_ip, "ipMode": "VIP"}]}

    with contextlib.suppress(ApiError):
        k.store.update(SERVICES, key[0], key[1], put)


def _resolve_target(pod: Obj, sp: Obj) -> int | None:
    target = sp.get("targetPort", sp.get("port"))
    if target is None:
        return None
    if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
        return int(target)
    proto = (sp.get("protocol") or "TCP").upper()
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and (p.get("protocol") or "TCP").upper() == proto:
                return int(p["containerPort"])
    return None


def reconcile_endpoints(k: Host, key: ObjKey) -> None:
    ns, name = key
    svc = k.index.services.get(key)
    existing = k.index.endpoints.get(key)
    selector = ((svc or {}).get("spec") or {}).get("selector")
    if svc is None or not selector:
        if svc is None and existing is not None and (existing["metadata"].get("labels") or {}).get(
                "netmig.sandbox/managed") == "true":
            with contextlib.suppress(ApiError):
                k.store.delete(ENDPOINTS, ns, name)
        return
    sports = (svc.get("spec") or {}).get("ports") or []
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], tuple[list[Obj], list[Obj]]] = {}
    for pkey in sorted(k.index.pods_by_ns.get(ns, ())):
        pod = k.index.pods[pkey]
        labels = (pod.get("metadata") or {}).get("labels") or {}
        if any(labels.get(a) != b for a, b in selector.items()):
            continue
        ip = (pod.get("status") or {}).get("podIP")
        if not ip or is_terminating(pod) or is_terminal(pod):
            continue
        resolved = []
        for sp in sports:
            num = _resolve_target(pod, sp)
            if num is not None:
                entry = (str(sp.get("name") or ""), num, (sp.get("protocol") or "TCP").upper())
                resolved.append(entry)
        if sports and not resolved:
            continue
        addr = {"ip": ip, "nodeName": pod["spec"].get("nodeName"),
                "targetRef": {"kind": "Pod", "namespace": ns, "name": pkey[1],
                              "uid": pod["metadata"].get("uid")}}
        ready_list, not_ready = groups.setdefault(tuple(resolved), ([], []))
        (ready_list if (pod_ready(pod) or publish) else not_ready).append(addr)
    subsets = []
    for ports, (ready_list, not_ready) in sorted(groups.items()):
        subset: Obj = {}
        if ready_list:
            subset["addresses"] = sorted(ready_list, key=lambda a: a["ip"])
        if not_ready:
            subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
        subset["ports"] = [
            {**({"name": n} if n else {}), "port": num, "protocol": proto} for n, num, proto in ports
        ]
        subsets.append(subset)
    if existing is not None and (existing.get("subsets") or []) == subsets:
        return
    labels = dict((svc.get("metadata") or {}).get("labels") or {})
    labels["netmig.sandbox/managed"] = "true"
    if existing is None:
        body: Obj = {"apiVersion": "v1", "kind": "Endpoints",
                     "metadata": {"name": name, "namespace": ns, "labels": labels}}
        if subsets:
            body["subsets"] = subsets
        with contextlib.suppress(ApiError):
            k.store.create(ENDPOINTS, body, ns)
        return

    def put(o: Obj) -> None:
        if subsets:
            o["subsets"] = subsets
        else:
            o.pop("subsets", None)

    with contextlib.suppress(ApiError):
        k.store.update(ENDPOINTS, ns, name, put)
