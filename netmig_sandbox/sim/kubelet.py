"""The simulated kubelet and controller manager of the sandbox.

Entry point: ``install(ctx)`` (call on the sandbox loop thread, before the scenario's objects are loaded; objects
already in the store are picked up too). It creates a ``Kubelet``, stores it as ``ctx.services["kubelet"]`` and
subscribes it to ``ctx.store``.

Contract:
- Store callbacks only update the in-memory ``ClusterIndex`` and mark work (dirty deployments, daemonsets,
  services, pods to schedule / start); they never write. The work is drained by ``_drain`` scheduled with
  ``loop.call_soon`` (a write made while draining marks more work, drained in the same pass), so there is no
  re-entrancy. Every reconcile is idempotent (see ``controllers``).
- Pod lifecycle: unbound -> bound (scheduler, see ``controllers``) -> after ``START_DELAY`` simulated seconds,
  once its node is Ready: Running with podIP/podIPs (``ipam``; host-network pods get the node IP), hostIP,
  conditions Ready/ContainersReady/Initialized/PodScheduled True and containerStatuses (running, ready,
  restartCount 0, image, containerID). Pods bound to a NotReady node wait for it to become Ready. Pods already
  running on a node that becomes NotReady are left alone; pods on a deleted node are deleted. Container
  processes are classified by ``agnhost.parse_container``: ``connect`` / ``batch`` / ``invalid`` containers
  run their probes via ``connect.run_connect`` (outcome decided by ``dataplane`` when each probe starts), write
  their output to ``ctx.logs[(namespace, pod, container)]`` and terminate (exitCode, reason Completed/Error).
  A batch script's steps run one after the other; the connects of one parallel group (``agnhost``: ``batch``)
  start together and each takes its own simulated duration, so the group lasts as long as its slowest connect
  (the max, not the sum); each connect's log line is written when it finishes.
  restartPolicy Never (or OnFailure after success): the container stays terminated and the pod ends
  Succeeded/Failed once all containers have. restartPolicy Always (or OnFailure after a failure): the attempt is
  recorded as ``lastState.terminated``, ``restartCount`` 1 and ``state.waiting`` CrashLoopBackOff; it is not
  re-run. A terminal pod's IP is returned to the pool (``status.podIP`` stays, as in Kubernetes).
- Every (pod, container) gets a log entry ("" for servers and idlers) when it starts.
- Performance: indexes make every event O(1); scheduling uses per-constraint heaps; reconciles run once per
  drain pass per dirty object, so creating 20,000 pods costs a few store writes per pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from netmig_sandbox.context import SandboxContext
from netmig_sandbox.kube.store import ApiError, Key, Obj, clone, now_iso
from netmig_sandbox.sim import agnhost, connect, controllers
from netmig_sandbox.sim.index import (
    DAEMONSETS,
    DEPLOYMENTS,
    NODES,
    PODS,
    REPLICASETS,
    SERVICES,
    ClusterIndex,
    ObjKey,
    is_host_network,
    meta_key,
    node_ip,
    node_ready,
    pod_owner,
    pod_ready,
    service_vips,
)
from netmig_sandbox.sim.ipam import IpamExhausted, PodIpam, ServiceIpam

log = logging.getLogger(__name__)

START_DELAY = 2.0  # simulated seconds between binding and Running
MAX_PASSES = 200
YIELD_EVERY = 500
# the types the kubelet indexes (``ClusterIndex.apply``); it is subscribed to these only
WATCHED: tuple[Key, ...] = (("", "namespaces"), NODES, SERVICES, ("", "endpoints"),
                            ("networking.k8s.io", "networkpolicies"), REPLICASETS, PODS, DEPLOYMENTS, DAEMONSETS)


def install(ctx: SandboxContext) -> None:
    """Install the simulated kubelet + controllers on ``ctx`` (see the module docstring)."""
    if "kubelet" in ctx.services:
        return
    k = Kubelet(ctx)
    ctx.services["kubelet"] = k
    ctx.store.subscribe(k.on_change, WATCHED)
    k.bootstrap()


class Kubelet:
    """All simulated node agents and controllers of one sandbox; see the module docstring."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.index = ClusterIndex()
        self.rng = random.Random()
        profile = (ctx.scenario.get("cluster") or {}).get("network_profile") or {}
        self.ipam = PodIpam()
        self.svc_ipam = ServiceIpam(profile.get("serviceCidr") or "10.0.0.0/16", profile.get("dnsServiceIP"))
        self.scheduler = controllers.Scheduler(self)
        self.node_counts: dict[str, int] = defaultdict(int)
        self._counted: dict[str, str] = {}  # pod uid -> node it is counted on
        self.dirty_deployments: set[ObjKey] = set()
        self.dirty_daemonsets: set[ObjKey] = set()
        self.dirty_services: set[ObjKey] = set()
        self.dirty_endpoint_ns: set[str] = set()
        self.to_schedule: set[ObjKey] = set()
        self.unschedulable: set[ObjKey] = set()
        self.to_start: dict[ObjKey, str] = {}
        self.waiting_for_node: dict[str, dict[ObjKey, str]] = defaultdict(dict)
        self.deleted_nodes: set[str] = set()
        self._starting: set[str] = set()
        self._scheduled = False
        self._draining = False

    # ------------------------------------------------------------ bootstrap / callbacks
    def bootstrap(self) -> None:
        """Fold in objects that exist already and reconcile them."""
        for key in WATCHED:
            if key in self.store.types:
                for obj in list(self.store.iter_raw(key)):
                    self.on_change("ADDED", key, clone(obj))

    def on_change(self, event: str, key: Key, obj: Obj) -> None:
        """Store subscriber: index the change and mark work; never writes."""
        old = self.index.apply(event, key, obj)
        if key == PODS:
            self._pod_changed(event, obj, old)
        elif key == NODES:
            self._node_changed(event, obj, old)
        elif key == REPLICASETS:
            return
        elif key == DEPLOYMENTS:
            self.dirty_deployments.add(meta_key(obj))
        elif key == DAEMONSETS:
            self.dirty_daemonsets.add(meta_key(obj))
        elif key == SERVICES:
            self._service_changed(event, obj, old)
        else:
            return
        self._kick()

    def _pod_changed(self, event: str, pod: Obj, old: Obj | None) -> None:
        k = meta_key(pod)
        meta = pod.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        owner = pod_owner(pod)
        if owner is not None:
            if owner[1] == "Deployment":
                self.dirty_deployments.add((owner[0], owner[2]))
            elif owner[1] == "DaemonSet":
                self.dirty_daemonsets.add((owner[0], owner[2]))
        if event != "MODIFIED" or old is None or _endpoint_relevant(old) != _endpoint_relevant(pod):
            self.dirty_endpoint_ns.add(k[0])
        if event == "DELETED":
            self._forget_pod(k, uid)
            return
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        node = spec.get("nodeName")
        terminating = bool(meta.get("deletionTimestamp"))
        terminal = status.get("phase") in ("Succeeded", "Failed")
        if not node:
            if not terminating and not terminal:
                self.to_schedule.add(k)
            return
        self.to_schedule.discard(k)
        self.unschedulable.discard(k)
        if uid not in self._counted:
            self._counted[uid] = node
            self.node_counts[node] += 1
        ip = status.get("podIP")
        if terminal:
            self.ipam.release(uid)
        elif ip and not is_host_network(pod) and not self.ipam.holds(uid):
            nobj = self.index.nodes.get(node)
            self.ipam.reserve(uid, ip, ((nobj or {}).get("spec") or {}).get("podCIDR"))
        if (not status.get("containerStatuses") and not terminating and not terminal
                and uid not in self._starting):
            self.to_start[k] = uid

    def _forget_pod(self, k: ObjKey, uid: str) -> None:
        self.ipam.release(uid)
        node = self._counted.pop(uid, None)
        if node is not None:
            self.node_counts[node] -= 1
            if self.node_counts[node] <= 0:
                del self.node_counts[node]
        self.to_schedule.discard(k)
        self.unschedulable.discard(k)
        if self.to_start.get(k) == uid:
            del self.to_start[k]
        for waiting in self.waiting_for_node.values():
            if waiting.get(k) == uid:
                del waiting[k]

    def _node_changed(self, event: str, node: Obj, old: Obj | None) -> None:
        name = node["metadata"]["name"]
        if event == "DELETED":
            self.deleted_nodes.add(name)
        elif old is not None and _node_facts(old) == _node_facts(node):
            return
        self.scheduler.invalidate()
        self.dirty_daemonsets.update(self._all_daemonsets())
        self.to_schedule |= self.unschedulable
        if event != "DELETED" and node_ready(node):
            waiting = self.waiting_for_node.pop(name, {})
            self.to_start.update(waiting)

    def _all_daemonsets(self) -> list[ObjKey]:
        if DAEMONSETS not in self.store.types:
            return []
        return list(self.index.workloads[DAEMONSETS])

    def _service_changed(self, event: str, svc: Obj, old: Obj | None) -> None:
        k = meta_key(svc)
        if old is not None:
            old_ips = set(service_vips(old))
            new_ips = set() if event == "DELETED" else set(service_vips(svc))
            old_ports = {int(p.get("nodePort") or 0) for p in (old.get("spec") or {}).get("ports") or []}
            new_ports = set() if event == "DELETED" else {
                int(p.get("nodePort") or 0) for p in (svc.get("spec") or {}).get("ports") or []}
            for ip in old_ips - new_ips:
                self.svc_ipam.release_cluster_ip(ip)
                self.svc_ipam.release_lb_ip(ip)
            for port in old_ports - new_ports - {0}:
                self.svc_ipam.release_node_port(port)
        if event != "DELETED":
            for ip in service_vips(svc):
                self.svc_ipam.mark_cluster_ip(ip)
                self.svc_ipam.mark_lb_ip(ip)
            for p in (svc.get("spec") or {}).get("ports") or []:
                if p.get("nodePort"):
                    self.svc_ipam.mark_node_port(int(p["nodePort"]))
        self.dirty_services.add(k)

    # ------------------------------------------------------------ work queue
    def _kick(self) -> None:
        if self._scheduled or self._draining:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not on the loop yet: the first change seen on the loop schedules the drain
        self._scheduled = True
        loop.call_soon(self._drain)

    def has_work(self) -> bool:
        return bool(self.deleted_nodes or self.dirty_services or self.dirty_deployments or self.dirty_daemonsets
                    or self.to_schedule or self.dirty_endpoint_ns or self.to_start)

    def _drain(self) -> None:
        self._scheduled = False
        self._draining = True
        try:
            with _bulk():
                for _ in range(MAX_PASSES):
                    if not self.has_work():
                        break
                    self._pass()
        finally:
            self._draining = False
        if self.has_work():
            self._kick()

    def _safely(self, what: str, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("sandbox kubelet: %s failed", what)

    def _pass(self) -> None:
        if self.deleted_nodes:
            nodes, self.deleted_nodes = self.deleted_nodes, set()
            for n in sorted(nodes):
                self.waiting_for_node.pop(n, None)
                for pk in sorted(self.index.pods_by_node.get(n, ())):
                    if n not in self.index.nodes:
                        controllers.delete_pod(self, pk)
        if self.dirty_services:
            svcs, self.dirty_services = self.dirty_services, set()
            for sk in sorted(svcs):
                self._safely(f"service {sk}", controllers.reconcile_service, self, sk)
                self._safely(f"endpoints {sk}", controllers.reconcile_endpoints, self, sk)
        if self.dirty_deployments:
            deps, self.dirty_deployments = self.dirty_deployments, set()
            for dk in sorted(deps):
                self._safely(f"deployment {dk}", controllers.reconcile_deployment, self, dk)
        if self.dirty_daemonsets:
            dss, self.dirty_daemonsets = self.dirty_daemonsets, set()
            for dk in sorted(dss):
                self._safely(f"daemonset {dk}", controllers.reconcile_daemonset, self, dk)
        if self.to_schedule:
            pods, self.to_schedule = self.to_schedule, set()
            self._safely("scheduler", controllers.schedule_pending, self, pods)
        if self.dirty_endpoint_ns:
            nss, self.dirty_endpoint_ns = self.dirty_endpoint_ns, set()
            for ns in sorted(nss):
                for name in sorted(self.index.services_by_ns.get(ns, ())):
                    self._safely(f"endpoints {ns}/{name}", controllers.reconcile_endpoints, self, (ns, name))
        if self.to_start:
            batch, self.to_start = self.to_start, {}
            self._starting.update(batch.values())
            self._spawn(self._start_later(batch))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.ctx.spawn(coro)
        task.add_done_callback(_report)

    # ------------------------------------------------------------ pod start
    async def _start_later(self, batch: dict[ObjKey, str]) -> None:
        try:
            await self.ctx.clock.sleep(START_DELAY)
        finally:
            self._starting.difference_update(batch.values())
        items = sorted(batch.items())
        for i in range(0, len(items), YIELD_EVERY):
            with _bulk():
                for k, uid in items[i:i + YIELD_EVERY]:
                    try:
                        self.start_pod(k, uid)
                    except Exception:
                        log.exception("sandbox kubelet: starting pod %s/%s failed", *k)
            await asyncio.sleep(0)

    def start_pod(self, k: ObjKey, uid: str) -> None:
        """Start pod ``k`` (if it is still the same pod, bound, not started): IP, Running, processes."""
        pod = self.index.pods.get(k)
        if pod is None or str(pod["metadata"].get("uid")) != uid:
            return
        spec = pod.get("spec") or {}
        status = pod.get("status") or {}
        if (status.get("containerStatuses") or controllers.is_terminating(pod) or controllers.is_terminal(pod)
                or not spec.get("nodeName")):
            return
        node = self.index.nodes.get(spec["nodeName"])
        if node is None:
            return
        if not node_ready(node):
            self.waiting_for_node[spec["nodeName"]][k] = uid
            return
        host_ip = node_ip(node) or ""
        if is_host_network(pod):
            ip = host_ip
        else:
            try:
                ip = self.ipam.allocate(uid, (node.get("spec") or {}).get("podCIDR"))
            except IpamExhausted:
                log.warning("sandbox kubelet: no pod IP left for %s/%s on %s", k[0], k[1], spec["nodeName"])
                return
        now = now_iso()
        programs = [(c, agnhost.parse_container(c)) for c in spec.get("containers") or []]
        container_statuses = [{
            "name": c.get("name"), "ready": True, "started": True, "restartCount": 0,
            "image": c.get("image", ""), "imageID": _image_id(c.get("image", "")),
            "containerID": "containerd://" + uuid.uuid4().hex + uuid.uuid4().hex,
            "state": {"running": {"startedAt": now}}, "lastState": {},
        } for c, _ in programs]
        init_statuses = [{
            "name": c.get("name"), "ready": True, "started": False, "restartCount": 0,
            "image": c.get("image", ""), "imageID": _image_id(c.get("image", "")),
            "containerID": "containerd://" + uuid.uuid4().hex,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}},
        } for c in spec.get("initContainers") or []]

        def run(o: Obj) -> None:
            st = o.setdefault("status", {})
            st["phase"] = "Running"
            st["hostIP"] = host_ip
            st["hostIPs"] = [{"ip": host_ip}]
            st["podIP"] = ip
            st["podIPs"] = [{"ip": ip}]
            st["startTime"] = now
            st.setdefault("qosClass", "BestEffort")
            st["conditions"] = [
                {"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
                for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")
            ]
            st["containerStatuses"] = container_statuses
            if init_statuses:
                st["initContainerStatuses"] = init_statuses

        try:
            self.store.update(PODS, k[0], k[1], run)
        except ApiError:
            self.ipam.release(uid)
            return
        for c, prog in programs:
            cname = str(c.get("name"))
            self.ctx.logs[(k[0], k[1], cname)] = ""
            if prog.kind in ("connect", "batch", "invalid"):
                self._spawn(self._run_program(k, uid, cname, prog))

    # ------------------------------------------------------------ processes
    def _current(self, k: ObjKey, uid: str) -> Obj | None:
        pod = self.index.pods.get(k)
        if pod is None or str(pod["metadata"].get("uid")) != uid:
            return None
        return pod

    async def _run_program(self, k: ObjKey, uid: str, cname: str, prog: agnhost.Program) -> None:
        logkey = (k[0], k[1], cname)
        exit_code = 0
        if prog.kind == "invalid":
            self.ctx.logs[logkey] = agnhost.UNSUPPORTED
            exit_code = 1
        elif prog.kind == "connect" and prog.probe is not None:
            pod = self._current(k, uid)
            if pod is None:
                return
            res = connect.run_connect(self.ctx, pod, prog.probe)
            await self.ctx.clock.sleep(res.duration)
            self.ctx.logs[logkey] = res.stderr
            exit_code = res.exit_code
        elif prog.kind == "batch":
            out: list[str] = []
            for group in prog.batch:  # the connects of a group start together; each logs when it finishes
                pod = self._current(k, uid)
                if pod is None:
                    return
                runs = sorted(((connect.run_connect(self.ctx, pod, probe), probe_id) for probe_id, probe in group),
                              key=lambda r: r[0].duration)
                elapsed = 0.0
                for res, probe_id in runs:
                    if res.duration > elapsed:
                        await self.ctx.clock.sleep(res.duration - elapsed)
                        elapsed = res.duration
                    out.append(agnhost.probe_log_line(probe_id, res))
                    self.ctx.logs[logkey] = "".join(out)
        if self._current(k, uid) is None:
            return
        self.terminate_container(k, cname, exit_code)

    def terminate_container(self, k: ObjKey, cname: str, exit_code: int) -> None:
        """Record that container ``cname`` of pod ``k`` exited with ``exit_code`` (restartPolicy aware)."""
        now = now_iso()

        def done(o: Obj) -> None:
            policy = (o.get("spec") or {}).get("restartPolicy") or "Always"
            st = o.setdefault("status", {})
            restarts = policy == "Always" or (policy == "OnFailure" and exit_code != 0)
            for cs in st.get("containerStatuses") or []:
                if cs.get("name") != cname:
                    continue
                started_at = ((cs.get("state") or {}).get("running") or {}).get("startedAt", now)
                term = {"exitCode": exit_code, "reason": "Completed" if exit_code == 0 else "Error",
                        "startedAt": started_at, "finishedAt": now, "containerID": cs.get("containerID")}
                cs["ready"] = False
                cs["started"] = False
                if restarts:
                    cs["lastState"] = {"terminated": term}
                    cs["restartCount"] = int(cs.get("restartCount") or 0) + 1
                    cs["state"] = {"waiting": {"reason": "CrashLoopBackOff",
                                               "message": f"back-off 10s restarting failed container={cname}"}}
                else:
                    cs["state"] = {"terminated": term}
            statuses = st.get("containerStatuses") or []
            all_done = bool(statuses) and all("terminated" in (cs.get("state") or {}) for cs in statuses)
            if all_done:
                failed = any(cs["state"]["terminated"].get("exitCode") for cs in statuses)
                st["phase"] = "Failed" if failed else "Succeeded"
            for c in st.get("conditions") or []:
                if c.get("type") in ("Ready", "ContainersReady") and c.get("status") != "False":
                    c["status"] = "False"
                    c["reason"] = "PodCompleted" if all_done else "ContainersNotReady"
                    c["lastTransitionTime"] = now

        with contextlib.suppress(ApiError):
            self.store.update(PODS, k[0], k[1], done)


# ------------------------------------------------------------------ helpers
@contextlib.contextmanager
def _bulk() -> Any:
    """Defer the cyclic GC during a synchronous burst of store writes (they allocate many acyclic dicts and
    generation-2 collections over a 20k-pod heap would dominate the cost); restores the previous state."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _endpoint_relevant(pod: Obj) -> tuple[Any, ...]:
    meta = pod.get("metadata") or {}
    return (tuple(sorted((meta.get("labels") or {}).items())), (pod.get("status") or {}).get("podIP"),
            pod_ready(pod), bool(meta.get("deletionTimestamp")), (pod.get("status") or {}).get("phase"))


def _node_facts(node: Obj) -> tuple[Any, ...]:
    meta = node.get("metadata") or {}
    spec = node.get("spec") or {}
    return (tuple(sorted((meta.get("labels") or {}).items())), repr(spec.get("taints")),
            bool(spec.get("unschedulable")), node_ready(node), bool(meta.get("deletionTimestamp")),
            spec.get("podCIDR"), node_ip(node))


def _image_id(image: str) -> str:
    import hashlib

    return f"{image.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def _report(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("sandbox kubelet task failed", exc_info=task.exception())
