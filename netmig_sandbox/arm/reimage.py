"""The simulated node-pool reimage a network-profile change triggers, and PDB-aware pod eviction.

Contract:
- ``reimage_body(ctx, profile)`` returns an operation body (see ``operations.start``) that converts every node of
  every pool to ``profile``: all pools at once; per pool like an upgrade: surge node(s) (``maxSurge``, fresh names
  and indexes, the new labels and node image), then per batch of ``surge`` old nodes: cordon, drain (PDB-aware
  evictions, retried every ``drain_retry_seconds`` until ``drain_timeout_seconds`` -> Failed ``PodDrainFailure``
  naming the PDB), NotReady with a new bootID, labels / podCIDR of the new profile, Ready, uncordon; finally drain
  and delete the surge node(s). Nodes that already carry the target's labels are skipped, so a later PUT of the
  same profile after Failed / Canceled resumes. AKS's events (reason Surge, Drain, Upgrade, RemovingNode) are
  written in ``default`` with the node as involvedObject; NodeNotReady / NodeReady / Rebooted / NodeNotSchedulable
  come from ``kube.events``, which derives them from the node's changes. Networking DaemonSets of the new
  profile are created at the start, those not in it deleted at the end (the kubelet simulator runs their pods);
  only AKS-managed ones (label ``kubernetes.azure.com/managedby: aks``) are ever deleted. A reimage to a calico
  profile (re)installs AKS-managed Calico at the start, one away from calico removes its workloads at the end
  (``sim.managed_calico``: CRDs, CRs, RBAC and the APIService stay). When a node goes NotReady for its reimage,
  the pods still bound to it (DaemonSet pods, drain leftovers) are restarted in place: status reset to Pending
  without IP or container statuses, so the kubelet simulator starts them again once the node is Ready, with an IP
  from the node's new podCIDR (a real reimage wipes the VM; the pod objects survive and get new sandboxes).
  A ``node`` fault ``stuck-notready`` (params ``node`` or ``pool``, or ``path`` a regex of the node name) keeps
  that node NotReady: the operation fails ``NodeNotReadyTimeout`` after ``node_ready_timeout_seconds``
  (unless aborted first). Each such fault strikes one node once.
- ``evict(ctx, namespace, name)`` evicts a pod the way the eviction subresource does: ``ApiError(429,
  "TooManyRequests", ...)`` when a PodDisruptionBudget allows no disruption, else the pod is deleted.
  ``install(ctx)`` publishes it as ``ctx.services["evict"]``.
- ``node_matches(node, pool_spec, profile)``: whether a node already carries ``profile``'s network labels;
  ``needs_reimage`` adds nodes an interrupted attempt left NotReady or cordoned (a resume reimages them again).
  ``pending_nodes(ctx, profile)`` counts the nodes a resume would reimage.
- ``scale_pool(ctx, op, pool, target)``: the body of an agent-pool count change (add nodes / drain and delete).
- All durations are simulated seconds (``ctx.clock.sleep``); timings come from ``ArmState.behaviour``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from netmig_sandbox.arm.operations import OperationCanceled, OperationFailed, checkpoint
from netmig_sandbox.arm.state import ArmState, Operation
from netmig_sandbox.context import SandboxContext
from netmig_sandbox.kube.selectors import Requirement, match_labels
from netmig_sandbox.kube.store import ApiError, Key, Obj, now_iso
from netmig_sandbox.sim import managed_calico, topology
from netmig_sandbox.sim.index import INDEX_ANNOTATION

NODES: Key = ("", "nodes")
PODS: Key = ("", "pods")
EVENTS: Key = ("", "events")
DAEMONSETS: Key = ("apps", "daemonsets")
PDBS: Key = ("policy", "poddisruptionbudgets")

SURGE_ANNOTATION = "netmig.sandbox/surge"
UPGRADE_STATUS_LABEL = "kubernetes.azure.com/upgrade-status"
NETWORK_LABELS = (topology.LABEL_POLICY, topology.LABEL_EBPF, topology.LABEL_OVERLAY, topology.LABEL_PODNET)
UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_NAME_INDEX = re.compile(r"vmss(\d+)$")


# ----------------------------------------------------------------------------- helpers
def pool_spec(pool: dict[str, Any]) -> dict[str, Any]:
    """The scenario-shaped pool dict ``topology.node_labels`` wants, from an agentPool ARM resource."""
    p = pool["properties"]
    return {"name": pool["name"], "mode": p.get("mode"), "osType": p.get("osType"), "vmSize": p.get("vmSize"),
            "orchestratorVersion": p.get("orchestratorVersion"), "nodeLabels": p.get("nodeLabels") or {},
            "maxPods": p.get("maxPods")}


def next_image_version(version: str) -> str:
    """A newer node image: the last numeric component bumped (``...202610.15.0`` -> ``...202610.15.1``)."""
    m = re.search(r"(\d+)$", version)
    if not m:
        return version + ".1"
    return version[: m.start()] + str(int(m.group(1)) + 1)


def surge_count(max_surge: str | int | None, count: int) -> int:
    """maxSurge "1" / "33%" / 2 -> a node count >= 1."""
    text = str(max_surge or "1").strip()
    if text.endswith("%"):
        return max(1, math.ceil(count * float(text[:-1]) / 100))
    return max(1, int(float(text)))


def _labels(node: Obj) -> dict[str, str]:
    return dict((node.get("metadata") or {}).get("labels") or {})


def _index(node: Obj) -> int:
    return int(((node.get("metadata") or {}).get("annotations") or {}).get(INDEX_ANNOTATION, -1))


def _pool_index(node_name: str) -> int:
    m = _NAME_INDEX.search(node_name)
    return int(m.group(1)) if m else 0


def _is_surge(node: Obj) -> bool:
    return ((node.get("metadata") or {}).get("annotations") or {}).get(SURGE_ANNOTATION) == "true"


def node_matches(node: Obj, spec: dict[str, Any], profile: dict[str, Any]) -> bool:
    """True when the node's network labels and podCIDR are the ones ``profile`` gives it."""
    want = topology.node_labels(spec, profile, 0, "")
    have = _labels(node)
    if any(have.get(k) != want.get(k) for k in NETWORK_LABELS):
        return False
    idx = _index(node)
    cidr = topology.pod_cidr_for_node(profile, idx) if idx >= 0 else None
    return (node.get("spec") or {}).get("podCIDR") == cidr


def needs_reimage(node: Obj, spec: dict[str, Any], profile: dict[str, Any]) -> bool:
    """Not converted yet, or left NotReady / cordoned by an earlier attempt that failed or was aborted."""
    return (not node_matches(node, spec, profile) or not _ready(node)
            or bool((node.get("spec") or {}).get("unschedulable")))


def _ready(node_or_pod: Obj) -> bool:
    for c in (node_or_pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _selector_reqs(selector: dict[str, Any] | None) -> list[Requirement] | None:
    """A LabelSelector dict as requirements; None means "selects nothing" (a null selector)."""
    if selector is None:
        return None
    reqs: list[Requirement] = [(k, "=", (str(v),)) for k, v in (selector.get("matchLabels") or {}).items()]
    ops = {"In": "in", "NotIn": "notin", "Exists": "exists", "DoesNotExist": "!exists"}
    for e in selector.get("matchExpressions") or []:
        reqs.append((e["key"], ops.get(e.get("operator", ""), "in"), tuple(str(v) for v in e.get("values") or ())))
    return reqs


def _scaled(value: Any, total: int, round_up: bool = True) -> int:
    if isinstance(value, str) and value.endswith("%"):
        x = total * float(value[:-1]) / 100
        return math.ceil(x) if round_up else math.floor(x)
    return int(value)


# ----------------------------------------------------------------------------- eviction
def _blocking_pdb(ctx: SandboxContext, pod: Obj) -> tuple[Obj, int, int] | None:
    """The PDB that forbids evicting ``pod`` now, with (healthy, desired healthy), or None."""
    ns = pod["metadata"].get("namespace", "default")
    labels = _labels(pod)
    for pdb in ctx.store.list(PDBS, namespace=ns):
        reqs = _selector_reqs((pdb.get("spec") or {}).get("selector"))
        if reqs is None or not match_labels(reqs, labels):  # {} selects every pod (policy/v1)
            continue
        matching = [p for p in ctx.store.iter_raw(PODS)
                    if p["metadata"].get("namespace") == ns and match_labels(reqs, _labels(p))
                    and not p["metadata"].get("deletionTimestamp")]
        expected = len(matching)
        healthy = sum(1 for p in matching if _ready(p))
        spec = pdb.get("spec") or {}
        if spec.get("maxUnavailable") is not None:
            desired = expected - _scaled(spec["maxUnavailable"], expected)
        elif spec.get("minAvailable") is not None:
            desired = _scaled(spec["minAvailable"], expected)
        else:
            desired = 0
        if not _ready(pod) and healthy >= desired:
            continue  # unhealthy pods may go when the budget is met (IfHealthyBudget)
        if healthy - desired <= 0:
            return pdb, healthy, desired
    return None


def evict(ctx: SandboxContext, namespace: str, name: str) -> None:
    """PDB-aware eviction: delete the pod, or raise ApiError 429 TooManyRequests (see module docstring)."""
    pod = ctx.store.get(PODS, namespace, name)
    blocked = _blocking_pdb(ctx, pod)
    if blocked is not None:
        pdb, healthy, desired = blocked
        raise ApiError(
            429, "TooManyRequests", "Cannot evict pod as it would violate the pod's disruption budget.",
            {"causes": [{"reason": "DisruptionBudget",
                         "message": f"The disruption budget {pdb['metadata']['name']} needs {desired} healthy pods "
                                    f"and has {healthy} currently"}]},
        )
    ctx.store.delete(PODS, namespace, name)


def install(ctx: SandboxContext) -> None:
    """Publish ``evict`` as ``ctx.services["evict"]`` (used by the eviction subresource)."""
    ctx.services["evict"] = lambda namespace, name: evict(ctx, namespace, name)


# ----------------------------------------------------------------------------- the reimage
async def _all(coros: list[Coroutine[Any, Any, None]]) -> None:
    """Run concurrently; the first OperationFailed/OperationCanceled cancels the others and is re-raised."""
    if not coros:
        return
    try:
        async with asyncio.TaskGroup() as tg:
            for c in coros:
                tg.create_task(c)
    except BaseExceptionGroup as eg:
        for e in eg.exceptions:
            if isinstance(e, (OperationFailed, OperationCanceled)):
                raise e from None
        raise eg.exceptions[0] from None


def reimage_body(ctx: SandboxContext, profile: dict[str, Any]) -> Callable[[Operation], Awaitable[None]]:
    """The operation body converting every pool to ``profile`` (see the module docstring)."""

    async def body(op: Operation) -> None:
        await Reimage(ctx, op, dict(profile)).run()

    return body


class Reimage:
    """One reimage run; see the module docstring."""

    def __init__(self, ctx: SandboxContext, op: Operation, profile: dict[str, Any]) -> None:
        self.ctx = ctx
        self.store = ctx.store
        st = ctx.arm
        assert isinstance(st, ArmState)
        self.state = st
        self.op = op
        self.profile = profile
        self.b = st.behaviour
        # arm_behaviour.drain_timeout_seconds, else the scenario's top-level drain_timeout, else 1800
        explicit = "drain_timeout_seconds" in (ctx.scenario.get("arm_behaviour") or {})
        scenario_drain = ctx.scenario.get("drain_timeout")
        self.drain_timeout = float(
            scenario_drain if scenario_drain is not None and not explicit
            else self.b.get("drain_timeout_seconds", 1800))
        self.total = 0
        self.done = 0
        self.images: dict[str, str] = {}

    # -------------------------------------------------------------- events
    def event(self, node: str, reason: str, message: str, type_: str = "Normal") -> None:
        """Best effort (a store without the ``default`` namespace gets no events); through the sandbox's event
        recorder (``kube.events``) when installed."""
        recorder = self.ctx.services.get("events")
        if recorder is not None:
            recorder.record({"kind": "Node", "apiVersion": "v1", "metadata": {"name": node}}, reason, message,
                            type_, component="aks-upgrade")
            return
        uid = (self.store.get(NODES, None, node)["metadata"].get("uid", "")
               if self.store.exists(NODES, None, node) else "")
        with contextlib.suppress(ApiError):
            self.store.create(EVENTS, {
                "metadata": {"name": f"{node}.{uuid.uuid4().hex[:16]}", "namespace": "default"},
                "involvedObject": {"kind": "Node", "name": node, "apiVersion": "v1", "uid": uid},
                "reason": reason, "message": message, "type": type_, "count": 1,
                "firstTimestamp": now_iso(), "lastTimestamp": now_iso(),
                "source": {"component": "aks-upgrade"}, "reportingComponent": "aks-upgrade",
                "reportingInstance": "",
            }, "default")

    # -------------------------------------------------------------- nodes
    def pool_nodes(self, pool: str) -> list[Obj]:
        """The pool's nodes by name: the stored objects themselves (read-only), not copies."""
        return sorted((n for n in self.store.iter_raw(NODES) if _labels(n).get(topology.LABEL_POOL) == pool),
                      key=lambda n: str(n["metadata"]["name"]))

    def _next_indexes(self, pool: str) -> tuple[int, int]:
        nodes = self.store.iter_raw(NODES)
        glob = max([_index(n) for n in nodes] + [-1]) + 1
        local = max([_pool_index(n["metadata"]["name"]) for n in nodes
                     if _labels(n).get(topology.LABEL_POOL) == pool] + [-1]) + 1
        return glob, local

    def new_node(self, spec: dict[str, Any], global_index: int, pool_index: int, image: str,
                 surge: bool = True) -> Obj:
        name = topology.node_name(spec["name"], pool_index)
        nspec: dict[str, Any] = {"providerID": f"azure:///subscriptions/sandbox/virtualMachines/{name}"}
        cidr = topology.pod_cidr_for_node(self.profile, global_index)
        if cidr:
            nspec["podCIDR"] = cidr
            nspec["podCIDRs"] = [cidr]
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name,
                         "labels": topology.node_labels(spec, self.profile, pool_index, image),
                         "annotations": {INDEX_ANNOTATION: str(global_index),
                                         **({SURGE_ANNOTATION: "true"} if surge else {})}},
            "spec": nspec,
            "status": {
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "message": "kubelet is posting ready status",
                                "lastTransitionTime": now_iso(), "lastHeartbeatTime": now_iso()}],
                "addresses": [{"type": "InternalIP", "address": topology.node_ip(global_index)},
                              {"type": "Hostname", "address": name}],
                "capacity": {"cpu": "4", "memory": "16374624Ki", "pods": str(topology.max_pods(spec))},
                "allocatable": {"cpu": "3860m", "memory": "12880736Ki", "pods": str(topology.max_pods(spec))},
                "nodeInfo": {"kubeletVersion": f"v{spec.get('orchestratorVersion') or '1.30.4'}",
                             "bootID": str(uuid.uuid4()), "osImage": "Ubuntu 22.04.5 LTS",
                             "kubeProxyVersion": f"v{spec.get('orchestratorVersion') or '1.30.4'}",
                             "kernelVersion": "5.15.0-1075-azure", "machineID": uuid.uuid4().hex,
                             "systemUUID": str(uuid.uuid4()),
                             "containerRuntimeVersion": "containerd://1.7.23-1",
                             "operatingSystem": (spec.get("osType") or "Linux").lower(), "architecture": "amd64"},
            },
        }

    def cordon(self, name: str, on: bool) -> None:
        def mutate(n: Obj) -> None:
            spec = n.setdefault("spec", {})
            taints = [t for t in spec.get("taints") or [] if t.get("key") != UNSCHEDULABLE_TAINT["key"]]
            if on:
                spec["unschedulable"] = True
                taints.append({**UNSCHEDULABLE_TAINT, "timeAdded": now_iso()})
            else:
                spec.pop("unschedulable", None)
            if taints:
                spec["taints"] = taints
            else:
                spec.pop("taints", None)
        self.store.update(NODES, None, name, mutate)

    def set_ready(self, name: str, ready: bool, new_boot: bool = False) -> None:
        def mutate(n: Obj) -> None:
            status = n.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "Ready"]
            conds.append({"type": "Ready", "status": "True" if ready else "False",
                          "reason": "KubeletReady" if ready else "KubeletNotReady",
                          "message": "kubelet is posting ready status" if ready
                          else "node is being reimaged: container runtime is down",
                          "lastTransitionTime": now_iso(), "lastHeartbeatTime": now_iso()})
            status["conditions"] = conds
            if new_boot:
                status.setdefault("nodeInfo", {})["bootID"] = str(uuid.uuid4())
        self.store.update(NODES, None, name, mutate)

    def relabel(self, name: str, spec: dict[str, Any], image: str) -> None:
        def mutate(n: Obj) -> None:
            meta = n.setdefault("metadata", {})
            idx = _index(n)
            new = topology.node_labels(spec, self.profile, _pool_index(name), image)
            kept = {k: v for k, v in (meta.get("labels") or {}).items()
                    if k not in NETWORK_LABELS and k != UPGRADE_STATUS_LABEL}
            meta["labels"] = {**kept, **new}
            nspec = n.setdefault("spec", {})
            cidr = topology.pod_cidr_for_node(self.profile, idx) if idx >= 0 else None
            if cidr:
                nspec["podCIDR"] = cidr
                nspec["podCIDRs"] = [cidr]
            else:
                nspec.pop("podCIDR", None)
                nspec.pop("podCIDRs", None)
        self.store.update(NODES, None, name, mutate)

    def _pod_keys_on(self, node: str) -> list[tuple[str, str]]:
        """(namespace, name) of the pods bound to ``node``, sorted: from the kubelet's index when it runs (no scan
        of every pod), else from a scan of the store."""
        index = getattr(self.ctx.services.get("kubelet"), "index", None)
        if index is not None:
            return sorted(index.pods_by_node.get(node, ()))
        return sorted((p["metadata"].get("namespace", ""), p["metadata"]["name"])
                      for p in self.store.iter_raw(PODS) if (p.get("spec") or {}).get("nodeName") == node)

    def _pods_on(self, node: str) -> list[Obj]:
        """The live (not copied) pods bound to ``node``: read-only."""
        found = (self.store.get_raw(PODS, ns, name) for ns, name in self._pod_keys_on(node))
        return [p for p in found if p is not None and (p.get("spec") or {}).get("nodeName") == node]

    def restart_pods(self, node: str) -> None:
        """Reset the pods still bound to ``node`` to Pending (no IP, no containers): the VM was wiped."""
        keys = self._pod_keys_on(node)
        now = now_iso()

        def reset(o: Obj) -> None:
            st = o.setdefault("status", {})
            for f in ("podIP", "podIPs", "containerStatuses", "initContainerStatuses", "startTime"):
                st.pop(f, None)
            st["phase"] = "Pending"
            st["conditions"] = [
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now},
                {"type": "Ready", "status": "False", "reason": "NodeReimaged", "lastProbeTime": None,
                 "lastTransitionTime": now, "message": f"node {node} is being reimaged"},
            ]

        for ns, pname in keys:
            if not self.store.exists(PODS, ns, pname):
                continue
            pod = self.store.get(PODS, ns, pname)
            if (pod.get("spec") or {}).get("nodeName") != node or pod["metadata"].get("deletionTimestamp"):
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                continue
            with contextlib.suppress(ApiError):
                self.store.update(PODS, ns, pname, reset)

    def mark_upgrading(self, name: str) -> None:
        def mutate(n: Obj) -> None:
            n.setdefault("metadata", {}).setdefault("labels", {})[UPGRADE_STATUS_LABEL] = "Quarantined"
        self.store.update(NODES, None, name, mutate)

    # -------------------------------------------------------------- drain
    async def drain(self, node: str) -> None:
        """Evict every non-DaemonSet pod of ``node``; PodDrainFailure after the drain timeout."""
        retry = float(self.b.get("drain_retry_seconds", 5))
        waited = 0.0
        while True:
            pods = self._pods_on(node)
            blocked: tuple[Obj, Obj, int, int] | None = None
            remaining = 0
            for p in pods:
                meta = p["metadata"]
                if any(o.get("kind") == "DaemonSet" for o in meta.get("ownerReferences") or []):
                    continue
                if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
                    continue
                remaining += 1
                if meta.get("deletionTimestamp"):
                    continue
                try:
                    evict(self.ctx, meta.get("namespace", "default"), meta["name"])
                except ApiError as e:
                    if e.code != 429:
                        if e.code == 404:
                            continue
                        raise
                    pod = self.store.get(PODS, meta.get("namespace"), meta["name"])
                    found = _blocking_pdb(self.ctx, pod)
                    if found is not None and blocked is None:
                        blocked = (pod, found[0], found[1], found[2])
            if remaining == 0:
                return
            if waited >= self.drain_timeout and blocked is not None:
                pod, pdb, healthy, desired = blocked
                pns, pname = pod["metadata"]["namespace"], pod["metadata"]["name"]
                pdb_ref = f"{pdb['metadata']['namespace']}/{pdb['metadata']['name']}"
                unready = sum(1 for p in self.store.iter_raw(PODS) if p["metadata"].get("namespace") == pns
                              and not _ready(p)
                              and match_labels(_selector_reqs(pdb["spec"].get("selector")) or [], _labels(p)))
                msg = (f"Drain node {node} failed when evicting pod {pname} failed with Too Many Requests error. "
                       "This is often caused by a restrictive Pod Disruption Budget (PDB) policy. See "
                       "http://aka.ms/aks/debugdrainfailures. Original error: Cannot evict pod as it would "
                       "violate the pod's disruption budget.. PDB debug info: "
                       f"{pns}/{pname} blocked by pdb {pdb_ref} with {unready} unready pods "
                       f"(needs {desired} healthy, has {healthy}).")
                self.event(node, "Drain", msg, "Warning")
                raise OperationFailed("PodDrainFailure", msg)
            if waited >= self.drain_timeout:
                return  # only terminating pods left past the timeout: the VM reimage takes them
            waited += retry
            await self.ctx.clock.sleep(retry)

    # -------------------------------------------------------------- per node
    def _stuck(self, node: str, pool: str) -> bool:
        for f in self.ctx.faults.peek("node", "stuck-notready"):
            if id(f) in self.state.spent_node_faults:
                continue
            target_node = f.params.get("node")
            target_pool = f.params.get("pool")
            hit = (target_node == node) if target_node else (
                target_pool == pool if target_pool else bool(f.path and re.search(f.path, node)))
            if hit:
                self.state.spent_node_faults.add(id(f))
                return True
        return False

    async def reimage_node(self, name: str, pool: str, spec: dict[str, Any], image: str) -> None:
        self.cordon(name, True)
        self.mark_upgrading(name)
        self.event(name, "Drain", f"Draining node: {name}")
        await self.drain(name)
        self.event(name, "Upgrade", f"Reimaging node {name} with the new network profile and image {image}")
        self.set_ready(name, False, new_boot=True)
        self.restart_pods(name)
        await self.ctx.clock.sleep(float(self.b.get("reimage_seconds", 45)))
        self.relabel(name, spec, image)
        if self._stuck(name, pool):
            timeout = float(self.b.get("node_ready_timeout_seconds", 1200))
            await self.ctx.clock.sleep(timeout)
            raise OperationFailed(
                "NodeNotReadyTimeout",
                f"Node {name} of agent pool {pool} did not become Ready within {timeout:.0f} seconds after "
                "reimage. The operation stopped; a later update with the same network profile resumes it.")
        self.set_ready(name, True)
        self.cordon(name, False)
        self.node_done()

    def node_done(self) -> None:
        self.done += 1
        self.op.percent_complete = 100.0 * self.done / max(1, self.total)
        checkpoint(self.op, self.done)

    # -------------------------------------------------------------- per pool
    async def run_pool(self, pool: str, todo: list[str]) -> None:
        res = self.state.pools[pool]
        spec = pool_spec(res)
        image = self.images[pool]
        props = res["properties"]
        leftovers = [n["metadata"]["name"] for n in self.pool_nodes(pool) if _is_surge(n)]
        if todo:
            n_surge = min(surge_count(props.get("upgradeSettings", {}).get("maxSurge"), len(todo)), len(todo))
            surge = list(leftovers[:n_surge])
            for stale in leftovers[n_surge:]:
                await self.remove_node(stale)
            missing = n_surge - len(surge)
            if missing:
                await self.ctx.clock.sleep(float(self.b.get("surge_seconds", 60)))
            for _ in range(missing):
                glob, local = self._next_indexes(pool)
                node = self.new_node(spec, glob, local, image)
                self.store.create(NODES, node)
                surge.append(node["metadata"]["name"])
                self.event(node["metadata"]["name"], "Surge",
                           f"Created a surge node {node['metadata']['name']} for agentpool {pool}")
            for name in surge:  # a resumed run may find a leftover surge node still cordoned / NotReady
                n = self.store.get(NODES, None, name)
                if not _ready(n):
                    self.set_ready(name, True)
                if (n.get("spec") or {}).get("unschedulable"):
                    self.cordon(name, False)
            for i in range(0, len(todo), n_surge):
                await _all([self.reimage_node(n, pool, spec, image) for n in todo[i:i + n_surge]])
            leftovers = surge
        for name in leftovers:
            await self.remove_node(name)

    async def remove_node(self, name: str) -> None:
        if not self.store.exists(NODES, None, name):
            return
        self.cordon(name, True)
        self.event(name, "Drain", f"Draining surge node: {name}")
        await self.drain(name)
        self.event(name, "RemovingNode", f"Removing surge node {name}")
        self.store.delete(NODES, None, name)

    # -------------------------------------------------------------- all
    def swap_daemonsets_start(self) -> None:
        if topology.engine_of(self.profile) == "calico":
            managed_calico.ensure(self.ctx)
        for ns, name in topology.system_daemonsets(self.profile):
            if not self.store.exists(DAEMONSETS, ns, name):
                try:
                    self.store.create(DAEMONSETS, topology.daemonset_manifest(ns, name), ns)
                except ApiError as e:
                    if e.code != 404 or not e.details.get("kind") == "namespaces":
                        raise
                    self.store.create(("", "namespaces"), {"metadata": {"name": ns}})
                    self.store.create(DAEMONSETS, topology.daemonset_manifest(ns, name), ns)

    def swap_daemonsets_end(self) -> None:
        keep = set(topology.system_daemonsets(self.profile))
        networking = {"kube-proxy", "azure-cns", "azure-npm", "calico-node", "cilium"}
        for ds in self.store.list(DAEMONSETS):
            key = (ds["metadata"]["namespace"], ds["metadata"]["name"])
            managed = (ds["metadata"].get("labels") or {}).get(topology.LABEL_MANAGED_BY) == "aks"
            if (key[1] in networking and key not in keep and key[0] in ("kube-system", "calico-system")
                    and managed):
                self.store.delete(DAEMONSETS, key[0], key[1])
        if topology.engine_of(self.profile) != "calico":
            managed_calico.remove(self.ctx)

    async def run(self) -> None:
        plan: dict[str, list[str]] = {}
        for pool, res in self.state.pools.items():
            spec = pool_spec(res)
            plan[pool] = [n["metadata"]["name"] for n in self.pool_nodes(pool)
                          if not _is_surge(n) and needs_reimage(n, spec, self.profile)]
            current = str(res["properties"].get("nodeImageVersion") or "")
            # a resumed run keeps the image the first attempt chose (surge / converted nodes carry it)
            converted = [_labels(n).get(topology.LABEL_IMAGE, "") for n in self.pool_nodes(pool)
                         if node_matches(n, spec, self.profile)]
            newer = [v for v in converted if v and v != current]
            self.images[pool] = newer[0] if newer else next_image_version(current)
            self.state.set_pool_state(pool, "Updating")
        self.total = sum(len(v) for v in plan.values())
        self.swap_daemonsets_start()
        await _all([self.run_pool(pool, todo) for pool, todo in plan.items()])
        self.swap_daemonsets_end()
        for pool in plan:
            self.state.pools[pool]["properties"]["nodeImageVersion"] = self.images[pool]
            self.state.touch_pool(pool)
        if self.state.network is not None:
            self.state.network.after_reimage(self.profile)


def pending_nodes(ctx: SandboxContext, profile: dict[str, Any]) -> int:
    """How many (non-surge) nodes do not carry ``profile``'s network labels yet."""
    st = ctx.arm
    assert isinstance(st, ArmState)
    specs = {name: pool_spec(res) for name, res in st.pools.items()}
    count = 0
    for n in ctx.store.iter_raw(NODES):
        spec = specs.get(_labels(n).get(topology.LABEL_POOL, ""))
        if spec is not None and not _is_surge(n) and needs_reimage(n, spec, profile):
            count += 1
    return count


async def scale_pool(ctx: SandboxContext, op: Operation, pool: str, target: int) -> None:
    """Add nodes (current profile and pool image) or drain and delete the highest-numbered ones."""
    st = ctx.arm
    assert isinstance(st, ArmState)
    r = Reimage(ctx, op, dict(st.profile))
    res = st.pools[pool]
    spec = pool_spec(res)
    image = str(res["properties"].get("nodeImageVersion") or "")
    nodes = sorted((n for n in r.pool_nodes(pool) if not _is_surge(n)),
                   key=lambda n: _pool_index(n["metadata"]["name"]))
    r.total = abs(target - len(nodes))
    if target > len(nodes):
        await ctx.clock.sleep(float(st.behaviour.get("surge_seconds", 60)))
        for _ in range(target - len(nodes)):
            glob, local = r._next_indexes(pool)
            node = r.new_node(spec, glob, local, image, surge=False)
            ctx.store.create(NODES, node)
            r.node_done()
    else:
        for n in reversed(nodes[target:]):
            await r.remove_node(n["metadata"]["name"])
            await ctx.clock.sleep(float(st.behaviour.get("surge_seconds", 60)))  # VM deletion
            r.node_done()
    res["properties"]["count"] = target
    st.touch_pool(pool)
