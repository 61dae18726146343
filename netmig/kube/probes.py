"""The probe runner: the only code that creates probe pods. Probing without ``kubectl exec``.

Contract
- ``ProbeRun(gateway, ...)`` is a context manager. Entering creates the run's bookkeeping namespace
  ``netmig-probe-<run id>`` (labelled ``netmig.io/probe-run=<run id>``). ``run(batches)`` runs one pod per
  ``(SourceSpec, [ProbeRequest])`` batch, at most ``concurrency`` at a time, each executing a POSIX ``sh`` script of
  ``agnhost connect`` lines (``netmig.model.probes.probe_script``) and reporting every outcome through its log.
  ``parallel`` (default ``DEFAULT_PARALLEL``): connects a pod runs at a time, as groups of backgrounded lines each
  ended by ``wait`` (1: one after the other), so a group of timeouts costs one timeout; the pod's deadline
  (``activeDeadlineSeconds``) allows one timeout + 1 s per group, plus 120 s.
  ``run`` may be called several times in one ``ProbeRun`` (the verifier's single retry round).
- BEFORE any probe pod is created, the ConfigMap ``netmig-probe-pods`` in the bookkeeping namespace is written with
  the namespace/name of every pod the round will create.
- Leaving the context (normally, on an exception, on KeyboardInterrupt, and on SIGTERM, which is turned into
  ``ProbeInterrupted`` -- a KeyboardInterrupt -- while a run is active in the main thread) stops the workers,
  deletes every pod labelled with the run id (in every namespace) and every pod listed in the ConfigMap, then
  deletes the namespace and waits (bounded) until it is gone. A further SIGTERM during that cleanup does not abort
  it (it is raised afterwards when the run was ending normally); Ctrl-C still does.
  ``cleanup_leftovers(gateway)`` removes what interrupted runs left (``aks-netmig verify cleanup``): pods carrying
  the ``netmig.io/probe-run`` label and namespaces named ``netmig-probe-*``.
- ``on_progress(done, total)`` is called in the caller's thread after each pod finishes; whatever it raises
  (KeyboardInterrupt included) aborts the run, and cleanup still happens.
- Safe concurrency: at most ``concurrency`` pods at a time overall and, with ``node_slots`` (node -> free pod
  capacity, ``node_free_pods``), at most that many on each node at a time; a pod for a node with no free capacity
  is not created (its batch reports the reason). A 429 (API server rate limit) on creating a pod waits the
  server's ``Retry-After`` (else 1, 2, 4 ... s, bounded) and retries, and lowers the run's concurrency by one
  (never below 1) for the rest of the run; ``throttled`` counts them.
- ``BatchResult.elapsed_s``: the pod's wall time from create to log read (the budget's calibration).

Design trade-off (the lead's decision): a probe pod must be *policy-equivalent* to the source class it stands for,
so it is NOT created in the bookkeeping namespace: it is created in the representative's namespace, with the
representative's labels (minus controller labels ``pod-template-hash`` / ``controller-revision-hash`` so no
ReplicaSet adopts it) plus ``netmig.io/probe-run=<run id>``, ``restartPolicy: Never``, and pinned to the
representative's node with ``spec.nodeName`` (so node-dependent behaviour -- own-node egress, a node whose engine is
mid-reimage -- is what the workload itself would get). The price:
- probe pods briefly live in workload namespaces (hence the labels, the ConfigMap written first, and cleanup by
  label across namespaces);
- a probe pod matches the same Services and PodDisruptionBudgets as the workload. It carries a readiness probe that
  always fails (``/bin/false``), so it never becomes a Service endpoint nor counts as healthy for a PDB;
- a DaemonSet or StatefulSet whose selector matches could try to adopt it (their selectors do not include the
  controller labels); probe pods live seconds and are deleted by the run, and such sources are rare in practice;
- the probe pod has its own IP, not the representative's: an ipBlock rule sees the probe's address (the verifier
  records it and evaluates expectations with it);
- ``spec.nodeName`` bypasses the scheduler: the pod tolerates every taint so it can run where the workload runs.
The image is configurable (``image=``) for private registries; the script needs ``/bin/sh``, ``head`` and
``/agnhost`` (the agnhost e2e image has all three).
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from netmig.kube import errors
from netmig.kube.client import translated
from netmig.kube.gateway import KubeGateway
from netmig.model.probes import Observation, classify, parse_log, probe_script
from netmig.policy.identity import PROBE_RUN_LABEL, workload_labels

DEFAULT_IMAGE = "registry.k8s.io/e2e-test-images/agnhost:2.53"
NAMESPACE_PREFIX = "netmig-probe-"
CONFIGMAP = "netmig-probe-pods"
DEFAULT_PARALLEL = 16  # connects at a time in one probe pod (16 short-lived agnhost processes)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SourceSpec:
    """Where a probe pod runs and what it looks like: the representative's namespace, labels and node."""

    key: str
    namespace: str
    labels: dict[str, str] = field(hash=False, compare=False)
    node: str | None = None


@dataclass(frozen=True)
class ProbeRequest:
    id: str
    host: str
    port: int
    protocol: str = "TCP"


@dataclass
class BatchResult:
    source: SourceSpec
    pod: str
    pod_ip: str | None
    observations: dict[str, Observation]
    error: str | None = None
    elapsed_s: float = 0.0


def node_free_pods(objects: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Node name -> free pod capacity: ``status.allocatable.pods`` minus the non-terminal pods bound to it (raw
    inventory objects; a node that declares no allocatable pods is left out, i.e. not bounded)."""
    used: dict[str, int] = {}
    for o in objects:
        if o.get("kind") != "Pod":
            continue
        node = (o.get("spec") or {}).get("nodeName")
        if node and (o.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
            used[node] = used.get(node, 0) + 1
    out: dict[str, int] = {}
    for o in objects:
        if o.get("kind") != "Node":
            continue
        alloc = ((o.get("status") or {}).get("allocatable") or {}).get("pods")
        try:
            cap = int(str(alloc))
        except ValueError:
            continue
        name = (o.get("metadata") or {}).get("name", "")
        out[name] = max(0, cap - used.get(name, 0))
    return out


def new_run_id() -> str:
    return secrets.token_hex(4)


class ProbeInterrupted(KeyboardInterrupt):
    """A signal (SIGTERM) arrived while a ``ProbeRun`` was active; ``str()`` is the signal's name."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _SigtermGuard:
    """SIGTERM handling for one probe run, in the main thread only (elsewhere every method is a no-op).

    ``install()``: SIGTERM raises ``ProbeInterrupted`` in the main thread. ``shield()`` (during cleanup): a SIGTERM
    is only counted in ``ignored``, so a second signal cannot abort the cleanup. ``restore()`` puts back the handler
    that was there before ``install()``."""

    def __init__(self) -> None:
        self.previous: Any = None
        self.active = False
        self.ignored = 0

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        previous = signal.signal(signal.SIGTERM, self._raise)
        self.previous = signal.SIG_DFL if previous is None else previous
        self.active = True

    def _raise(self, signum: int, frame: Any) -> None:
        raise ProbeInterrupted(signum)

    def _count(self, signum: int, frame: Any) -> None:
        self.ignored += 1

    def shield(self) -> None:
        if self.active:
            signal.signal(signal.SIGTERM, self._count)

    def restore(self) -> None:
        if self.active:
            signal.signal(signal.SIGTERM, self.previous)
            self.active = False


class _Stopped(Exception):
    pass


class ProbeRun:
    """One probe run (see the module docstring)."""

    def __init__(
        self, gateway: KubeGateway, *, run_id: str | None = None, image: str = DEFAULT_IMAGE, timeout_s: int = 2,
        concurrency: int = 8, on_progress: Progress | None = None, poll_interval: float = 0.05,
        pod_timeout_s: float = 300.0, node_slots: dict[str, int] | None = None, parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        if not 1 <= timeout_s <= 60:
            raise ValueError("the probe timeout must be between 1 and 60 seconds")
        self.gw = gateway
        self.run_id = run_id or new_run_id()
        self.namespace = NAMESPACE_PREFIX + self.run_id
        self.image = image
        self.timeout_s = timeout_s
        self.concurrency = max(1, concurrency)
        self.parallel = max(1, parallel)
        self.on_progress = on_progress
        self.poll_interval = poll_interval
        self.pod_timeout_s = pod_timeout_s
        self.created: list[tuple[str, str]] = []
        self._seq = 0
        self._stop = threading.Event()
        self._guard = _SigtermGuard()
        self._node_slots = dict(node_slots or {})
        self._node_sems = {n: threading.BoundedSemaphore(k) for n, k in self._node_slots.items() if k > 0}
        self._gate = threading.Condition()
        self._active = 0
        self.throttled = 0

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> ProbeRun:
        self._guard.install()
        try:
            self.start()
        except BaseException:
            self._shielded_cleanup()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        """Clean up (shielded from a further SIGTERM); a SIGTERM that arrived during the cleanup of a run that
        was ending normally is raised afterwards as ``ProbeInterrupted``."""
        self._shielded_cleanup()
        if exc_type is None and self._guard.ignored:
            raise ProbeInterrupted(signal.SIGTERM)

    def _shielded_cleanup(self) -> None:
        self._guard.shield()
        try:
            self.cleanup()
        finally:
            self._guard.restore()

    def start(self) -> None:
        body: Any = {"metadata": {"name": self.namespace, "labels": {PROBE_RUN_LABEL: self.run_id}}}
        with translated(f"creating namespace {self.namespace}"):
            self.gw.core.create_namespace(body)
        self._write_bookkeeping([])

    def _write_bookkeeping(self, planned: Sequence[tuple[str, str]]) -> None:
        body: Any = {"metadata": {"name": CONFIGMAP, "labels": {PROBE_RUN_LABEL: self.run_id}},
                "data": {"pods": "\n".join(f"{ns}/{n}" for ns, n in planned)}}
        try:
            with translated("writing the probe bookkeeping ConfigMap"):
                self.gw.core.replace_namespaced_config_map(CONFIGMAP, self.namespace, body)
        except errors.NotFound:
            with translated("writing the probe bookkeeping ConfigMap"):
                self.gw.core.create_namespaced_config_map(self.namespace, body)

    # ------------------------------------------------------------------ probing
    def run(self, batches: Sequence[tuple[SourceSpec, Sequence[ProbeRequest]]]) -> list[BatchResult]:
        """Run every batch (one pod each); results in the order of ``batches``."""
        named = []
        for src, reqs in batches:
            self._seq += 1
            named.append((f"netmig-probe-{self.run_id}-{self._seq}", src, list(reqs)))
        self.created.extend((src.namespace, name) for name, src, _ in named)
        self._write_bookkeeping(self.created)
        results: dict[int, BatchResult] = {}
        pool = ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(named))),
                                  thread_name_prefix="netmig-probe")
        try:
            futs: dict[Future[BatchResult], int] = {
                pool.submit(self._one, name, src, reqs): i for i, (name, src, reqs) in enumerate(named)}
            pending = set(futs)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for f in done:
                    results[futs[f]] = f.result()
                    if self.on_progress is not None:
                        self.on_progress(len(results), len(named))
        except BaseException:
            self._stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return [results[i] for i in range(len(named))]

    def _pod_body(self, name: str, src: SourceSpec, reqs: Sequence[ProbeRequest]) -> Any:
        script = probe_script(((r.id, r.host, r.port, r.protocol) for r in reqs), self.timeout_s, self.parallel)
        labels = workload_labels(src.labels)
        labels[PROBE_RUN_LABEL] = self.run_id
        spec: dict[str, Any] = {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 0,
            "activeDeadlineSeconds": int(self._groups(len(reqs)) * (self.timeout_s + 1) + 120),
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "probe", "image": self.image, "command": ["/bin/sh", "-c", script],
                "readinessProbe": {"exec": {"command": ["/bin/false"]}, "periodSeconds": 3600},
            }],
        }
        if src.node:
            spec["nodeName"] = src.node
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": src.namespace, "labels": labels,
                             "annotations": {"netmig.io/probe-source": src.key}},
                "spec": spec}

    def _groups(self, n: int) -> int:
        """How many sequential steps ``n`` probes take in a pod's script."""
        return -(-n // self.parallel)

    def _one(self, name: str, src: SourceSpec, reqs: Sequence[ProbeRequest]) -> BatchResult:
        """One pod, within the overall gate (``concurrency``, lowered on 429) and its node's free capacity."""
        if src.node and self._node_slots.get(src.node, 1) <= 0:
            return BatchResult(src, name, None, {}, f"node {src.node} has no free pod capacity")
        sem = self._node_sems.get(src.node or "")
        with self._gate:
            while self._active >= self.concurrency:
                if self._stop.is_set():
                    raise _Stopped()
                self._gate.wait(0.5)
            self._active += 1
        try:
            if sem is None:
                return self._one_pod(name, src, reqs)
            while not sem.acquire(timeout=0.5):
                if self._stop.is_set():
                    raise _Stopped()
            try:
                return self._one_pod(name, src, reqs)
            finally:
                sem.release()
        finally:
            with self._gate:
                self._active -= 1
                self._gate.notify()

    def _create(self, name: str, src: SourceSpec, reqs: Sequence[ProbeRequest]) -> None:
        """Create the probe pod; on 429 wait (Retry-After, else backoff), lower the concurrency and retry."""
        delay = 1.0
        for attempt in range(6):
            try:
                with translated(f"creating probe pod {src.namespace}/{name}"):
                    self.gw.core.create_namespaced_pod(src.namespace, self._pod_body(name, src, reqs))
                return
            except errors.Temporary as e:
                if e.status != 429 or attempt == 5:
                    raise
                with self._gate:
                    self.throttled += 1
                    self.concurrency = max(1, self.concurrency - 1)
                wait_s = e.retry_after if e.retry_after is not None else delay
                if self._stop.wait(min(wait_s, 30.0)):  # the server's instruction, interruptible
                    raise _Stopped() from None
                delay = min(delay * 2, 30.0)

    def _one_pod(self, name: str, src: SourceSpec, reqs: Sequence[ProbeRequest]) -> BatchResult:
        if self._stop.is_set():
            raise _Stopped()
        started = time.monotonic()
        try:
            self._create(name, src, reqs)
            pod = self._wait_done(name, src.namespace, self._groups(len(reqs)))
            with translated(f"reading the log of probe pod {src.namespace}/{name}"):
                log = self.gw.core.read_namespaced_pod_log(name, src.namespace)
        except errors.KubeError as e:
            return BatchResult(src, name, None, {}, str(e), time.monotonic() - started)
        finally:
            self._delete_pod(src.namespace, name)
        elapsed = time.monotonic() - started
        obs = parse_log(str(log))
        ip = ((pod.get("status") or {}).get("podIP")) if pod else None
        missing = [r.id for r in reqs if r.id not in obs]
        err = f"{len(missing)} probe(s) reported nothing" if missing else None
        return BatchResult(src, name, ip, obs, err, elapsed)

    def _wait_done(self, name: str, namespace: str, n: int) -> dict[str, Any]:
        deadline = time.monotonic() + min(self.pod_timeout_s + n * (self.timeout_s + 1), 3600)
        delay = self.poll_interval
        while True:
            if self._stop.is_set():
                raise _Stopped()
            with translated(f"reading probe pod {namespace}/{name}"):
                pod = self.gw.api.sanitize_for_serialization(self.gw.core.read_namespaced_pod(name, namespace))
            phase = (pod.get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                return dict(pod)
            if time.monotonic() > deadline:
                raise errors.Temporary(f"probe pod {namespace}/{name} did not finish (phase {phase})")
            self._stop.wait(delay)
            delay = min(delay * 1.5, 1.0)

    def _delete_pod(self, namespace: str, name: str) -> None:
        try:
            with translated(f"deleting probe pod {namespace}/{name}"):
                self.gw.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
        except errors.NotFound:
            pass
        except errors.KubeError:
            pass  # the final cleanup retries by label

    # ------------------------------------------------------------------ cleanup
    def cleanup(self, wait_s: float = 60.0) -> None:
        """Delete every pod of this run and the bookkeeping namespace; idempotent (see module docstring)."""
        self._stop.set()
        listed = set(self.created)
        try:
            with translated("reading the probe bookkeeping ConfigMap"):
                cm = self.gw.core.read_namespaced_config_map(CONFIGMAP, self.namespace)
            for line in ((cm.data or {}).get("pods") or "").splitlines():
                ns, _, n = line.partition("/")
                if ns and n:
                    listed.add((ns, n))
        except errors.KubeError:
            pass
        for pod in self.gw.pods(label_selector=f"{PROBE_RUN_LABEL}={self.run_id}"):
            md = pod["metadata"]
            listed.add((md["namespace"], md["name"]))
        for ns, n in sorted(listed):
            self._delete_pod(ns, n)
        delete_namespace(self.gw, self.namespace, wait_s)


def delete_namespace(gw: KubeGateway, name: str, wait_s: float) -> None:
    """Delete a namespace and wait (bounded polling) until the API no longer returns it."""
    try:
        with translated(f"deleting namespace {name}"):
            gw.core.delete_namespace(name)
    except errors.NotFound:
        return
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while time.monotonic() < deadline:
        try:
            with translated(f"reading namespace {name}"):
                gw.core.read_namespace(name)
        except errors.NotFound:
            return
        time.sleep(delay)  # bounded polling of a condition, not synchronisation by sleeping
        delay = min(delay * 1.5, 1.0)
    raise errors.Temporary(f"namespace {name} was not removed within {wait_s:.0f} s")


@dataclass
class Leftovers:
    pods: list[str]
    namespaces: list[str]


def cleanup_leftovers(gw: KubeGateway, *, dry_run: bool = False, wait_s: float = 60.0) -> Leftovers:
    """Remove probe pods (any run) and ``netmig-probe-*`` namespaces left by interrupted runs."""
    pods = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in gw.pods(label_selector=PROBE_RUN_LABEL)]
    namespaces = [n["metadata"]["name"] for n in gw.namespaces() if n["metadata"]["name"].startswith(NAMESPACE_PREFIX)]
    if not dry_run:
        for key in pods:
            ns, _, name = key.partition("/")
            try:
                with translated(f"deleting probe pod {key}"):
                    gw.core.delete_namespaced_pod(name, ns, grace_period_seconds=0)
            except errors.NotFound:
                pass
        for ns in namespaces:
            delete_namespace(gw, ns, wait_s)
    return Leftovers(pods, namespaces)


# ---------------------------------------------------------------------- single connect pods (the seed demo)
def wait_pod(gw: KubeGateway, namespace: str, name: str, until: Callable[[dict[str, Any]], bool],
             timeout_s: float = 120.0, what: str = "ready") -> dict[str, Any]:
    """Poll the pod (bounded, backing off to 1 s) until ``until(pod)``; ``errors.Temporary`` on timeout."""
    deadline = time.monotonic() + timeout_s
    delay = 0.05
    while True:
        with translated(f"reading pod {namespace}/{name}"):
            pod = dict(gw.api.sanitize_for_serialization(gw.core.read_namespaced_pod(name, namespace)))
        if until(pod):
            return pod
        if time.monotonic() > deadline:
            phase = (pod.get("status") or {}).get("phase")
            raise errors.Temporary(f"pod {namespace}/{name} was not {what} within {timeout_s:.0f} s (phase {phase})")
        time.sleep(delay)  # bounded polling of a condition
        delay = min(delay * 1.5, 1.0)


def connect_once(
    gw: KubeGateway, namespace: str, name: str, labels: dict[str, str], node: str | None, host: str, port: int, *,
    timeout_s: int = 3, protocol: str = "TCP", image: str = DEFAULT_IMAGE, wait_s: float = 120.0,
) -> Observation:
    """Run ``/agnhost connect HOST:PORT`` once as its own pod (the article's client step, without exec), return the
    classified outcome, and delete the pod (also on failure)."""
    body: Any = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0, "automountServiceAccountToken": False,
                 "containers": [{"name": "client", "image": image, "command": [
                     "/agnhost", "connect", f"{host}:{port}", f"--timeout={timeout_s}s",
                     f"--protocol={protocol.lower()}"]}]},
    }
    if node:
        body["spec"]["nodeName"] = node
    with translated(f"creating pod {namespace}/{name}"):
        gw.core.create_namespaced_pod(namespace, body)
    try:
        pod = wait_pod(gw, namespace, name, lambda p: (p.get("status") or {}).get("phase") in ("Succeeded", "Failed"),
                       wait_s + timeout_s, "finished")
        with translated(f"reading the log of {namespace}/{name}"):
            log = str(gw.core.read_namespaced_pod_log(name, namespace))
    finally:
        try:
            with translated(f"deleting pod {namespace}/{name}"):
                gw.core.delete_namespaced_pod(name, namespace, grace_period_seconds=0)
        except errors.KubeError:
            pass
    code: int | None = None
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (cs.get("state") or {}).get("terminated") or {}
        if term.get("exitCode") is not None:
            code = int(term["exitCode"])
    if code is None:
        code = 0 if (pod.get("status") or {}).get("phase") == "Succeeded" else 1
    text = log.strip().splitlines()[0] if log.strip() else ""
    return Observation(classify(code, text), code, text[:200])


# ---------------------------------------------------------------------- inventory as raw JSON
def raw_inventory(gw: KubeGateway) -> list[dict[str, Any]]:
    """Namespaces, Nodes, Pods, Services and NetworkPolicies exactly as the API serves them (raw JSON, no client
    model round trip, so fields a model would reject or drop survive), read in pages (``KubeGateway.inventory``)."""
    return gw.inventory()
