"""The Job controller of the simulated cluster (``batch/v1``): Jobs run their pods to completion.

Contract:
- ``install(ctx)`` (on the loop thread, after the kubelet simulator) subscribes a ``JobController``; its store
  callback only marks work, drained with ``loop.call_soon`` (as the other simulators do).
- First reconcile of a Job: the API server's defaulting of what needs the uid -- ``spec.selector`` matching
  ``batch.kubernetes.io/controller-uid``, the template's ``controller-uid`` / ``job-name`` labels (both the
  ``batch.kubernetes.io/`` and the legacy names).
- Pods: up to ``parallelism`` active ones while fewer than ``completions`` succeeded (NonIndexed), named
  ``<job>-<5 chars>``, owned by the Job (controller reference). ``status``: ``active``, ``ready``, ``succeeded``,
  ``failed``, ``terminating`` 0, ``startTime``, ``uncountedTerminatedPods``. When ``succeeded`` reaches
  ``completions``: conditions ``SuccessCriteriaMet`` and ``Complete`` and ``completionTime``; when ``failed``
  exceeds ``backoffLimit``: ``FailureTarget`` and ``Failed`` (reason ``BackoffLimitExceeded``) and the active pods
  are deleted. ``spec.suspend`` true: no pods are created (active ones are deleted).
- What a Job's containers run: the kubelet already runs ``agnhost connect`` probes and batch probe scripts; the
  other non-server containers of a Job's pods are run here once Running, through the simulated shell
  (``processes.Shell``: ``sh -c SCRIPT``, ``echo``, ``sleep``, ``exit N``, ``/agnhost connect`` ...), their output
  kept as the container log and their exit code recorded by the kubelet (``terminate_container``). Modelling
  choice: a program the shell does not know (the image's own binary, e.g. ``perl``) exits 0 after one simulated
  second with no output, as a well-behaved batch program would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import TYPE_CHECKING, Any

from netmig_sandbox.kube.store import ApiError, Key, now_iso
from netmig_sandbox.sim import agnhost, processes

if TYPE_CHECKING:
    from netmig_sandbox.context import SandboxContext

log = logging.getLogger(__name__)
Obj = dict[str, Any]
JOBS: Key = ("batch", "jobs")
PODS: Key = ("", "pods")
ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
UID_LABEL = "batch.kubernetes.io/controller-uid"
NAME_LABEL = "batch.kubernetes.io/job-name"


def install(ctx: SandboxContext) -> None:
    """Install the Job controller on ``ctx``; idempotent."""
    if "jobs" in ctx.services or JOBS not in ctx.store.types:
        return
    jc = JobController(ctx)
    ctx.services["jobs"] = jc
    ctx.store.subscribe_readonly(jc.on_change, (JOBS, PODS))


def _job_owner(pod: Obj) -> tuple[str, str] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "Job" and ref.get("controller"):
            return str(ref.get("name")), str(ref.get("uid"))
    return None


def _int(value: Any, default: int) -> int:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else default


def _has_condition(job: Obj, ctype: str) -> bool:
    return any(c.get("type") == ctype and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions") or [])


class JobController:
    """See the module contract."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.dirty: set[tuple[str, str]] = set()
        self.started: set[tuple[str, str]] = set()  # (pod uid, container) whose program runs here
        self.to_run: set[tuple[str, str]] = set()  # pods (ns, name) to look at for programs
        self.rng = random.Random()
        self._scheduled = False

    def on_change(self, event: str, key: Key, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        if key == JOBS and event != "DELETED":
            self.dirty.add((meta.get("namespace", ""), meta.get("name", "")))
        elif key == PODS:
            owner = _job_owner(obj)
            if owner is None:
                return
            self.dirty.add((meta.get("namespace", ""), owner[0]))
            if event != "DELETED" and (obj.get("status") or {}).get("phase") == "Running":
                self.to_run.add((meta.get("namespace", ""), meta.get("name", "")))
        else:
            return
        if not self._scheduled:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(self._drain)
                self._scheduled = True

    def _drain(self) -> None:
        self._scheduled = False
        jobs, self.dirty = self.dirty, set()
        pods, self.to_run = self.to_run, set()
        for k in sorted(jobs):
            try:
                self._reconcile(*k)
            except ApiError:
                pass  # raced with a change; its event brings the job back here
            except Exception:
                log.exception("sandbox job controller: %s/%s failed", *k)
        for k in sorted(pods):
            self._start_programs(*k)

    # ------------------------------------------------------------ reconcile
    def _reconcile(self, ns: str, name: str) -> None:
        if not self.store.exists(JOBS, ns, name):
            return
        job = self.store.get(JOBS, ns, name)
        meta = job["metadata"]
        uid = str(meta.get("uid"))
        spec = job.get("spec") or {}
        if meta.get("deletionTimestamp"):
            return
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if labels.get(UID_LABEL) != uid:
            def default(o: Obj) -> None:
                s = o.setdefault("spec", {})
                tmeta = s.setdefault("template", {}).setdefault("metadata", {})
                tmeta.setdefault("labels", {}).update({UID_LABEL: uid, NAME_LABEL: name, "controller-uid": uid,
                                                       "job-name": name})
                if not s.get("manualSelector"):
                    s["selector"] = {"matchLabels": {UID_LABEL: uid}}
            self.store.update(JOBS, ns, name, default)
            return  # the update brings the job back here
        if _has_condition(job, "Complete") or _has_condition(job, "Failed"):
            return
        pods = [p for p in self.store.list(PODS, ns) if (_job_owner(p) or ("", ""))[1] == uid]
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        active = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                  and not p["metadata"].get("deletionTimestamp")]
        completions = _int(spec.get("completions"), 1)
        parallelism = _int(spec.get("parallelism"), 1)
        backoff = _int(spec.get("backoffLimit"), 6)
        now = now_iso()
        conditions: list[Obj] = []
        done = False
        if succeeded >= completions:
            conditions = [{"type": t, "status": "True", "reason": "CompletionsReached",
                           "message": "Reached expected number of succeeded pods", "lastProbeTime": now,
                           "lastTransitionTime": now} for t in ("SuccessCriteriaMet", "Complete")]
            done = True
        elif failed > backoff:
            conditions = [{"type": t, "status": "True", "reason": "BackoffLimitExceeded",
                           "message": "Job has reached the specified backoff limit", "lastProbeTime": now,
                           "lastTransitionTime": now} for t in ("FailureTarget", "Failed")]
            done = True
        if done or spec.get("suspend"):
            for p in active:
                with contextlib.suppress(ApiError):
                    self.store.delete(PODS, ns, p["metadata"]["name"])
            active = []
        else:
            for _ in range(max(0, min(parallelism, completions - succeeded) - len(active))):
                active.append(self._create_pod(job))
        ready = sum(1 for p in active if any(c.get("type") == "Ready" and c.get("status") == "True"
                                             for c in (p.get("status") or {}).get("conditions") or []))
        status = dict(job.get("status") or {})
        new = {**status, "active": len(active), "ready": ready, "succeeded": succeeded, "failed": failed,
               "terminating": 0, "uncountedTerminatedPods": {}}
        for k in ("active", "succeeded", "failed"):
            if not new[k]:
                new.pop(k)
        new.setdefault("startTime", now)
        if done:
            new["conditions"] = [*(status.get("conditions") or []), *conditions]
            if succeeded >= completions:
                new["completionTime"] = now
        if new != status:
            def put(o: Obj) -> None:
                o["status"] = new
            self.store.update(JOBS, ns, name, put)

    def _create_pod(self, job: Obj) -> Obj:
        meta = job["metadata"]
        ns, name = meta["namespace"], meta["name"]
        template = job["spec"].get("template") or {}
        while True:
            pod_name = f"{name}-{''.join(self.rng.choice(ALPHABET) for _ in range(5))}"
            if not self.store.exists(PODS, ns, pod_name):
                break
        spec = dict(template.get("spec") or {})
        spec.setdefault("restartPolicy", "Never")
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "namespace": ns, "generateName": f"{name}-",
                            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
                            "annotations": dict((template.get("metadata") or {}).get("annotations") or {}),
                            "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name,
                                                 "uid": meta.get("uid"), "controller": True,
                                                 "blockOwnerDeletion": True}]},
               "spec": spec, "status": {"phase": "Pending"}}
        from netmig_sandbox.kube.types import apply_defaults

        apply_defaults(PODS, pod, self.store)
        return self.store.create(PODS, pod, ns)

    # ------------------------------------------------------------ programs
    def _start_programs(self, ns: str, name: str) -> None:
        if not self.store.exists(PODS, ns, name):
            return
        pod = self.store.get(PODS, ns, name)
        uid = str(pod["metadata"].get("uid"))
        running = {cs.get("name") for cs in (pod.get("status") or {}).get("containerStatuses") or []
                   if "running" in (cs.get("state") or {})}
        for c in (pod.get("spec") or {}).get("containers") or []:
            cname = str(c.get("name"))
            if cname not in running or (uid, cname) in self.started:
                continue
            if agnhost.parse_container(c).kind != "idle":
                continue  # probes are run by the kubelet, servers never end
            self.started.add((uid, cname))
            self.ctx.spawn(self._run(ns, name, uid, cname, processes.main_argv(c)))

    async def _run(self, ns: str, name: str, uid: str, cname: str, argv: list[str]) -> None:
        out: list[str] = []

        async def write(fd: int, data: bytes) -> None:
            out.append(data.decode(errors="replace"))
            self.ctx.logs[(ns, name, cname)] = "".join(out)

        io = processes.ProcessIO(write, tty=False, stdin=False)
        shell = processes.Shell(self.ctx, ns, name, cname, "sh")
        base = argv[0].rsplit("/", 1)[-1] if argv else ""
        if argv and (base in processes.SHELLS or base in processes.BUILTINS or base == "agnhost"):
            code = await shell.execute(argv, io)
        else:
            await self.ctx.clock.sleep(1.0)
            code = 0
        if not self.store.exists(PODS, ns, name) or str(self.store.get(PODS, ns, name)["metadata"].get("uid")) != uid:
            return
        kubelet = self.ctx.services.get("kubelet")
        if kubelet is not None:
            kubelet.terminate_container((ns, name), cname, code)
