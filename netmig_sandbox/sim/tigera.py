"""The simulated tigera operator: self-managed Calico (Tigera's "migrate from AKS-managed Calico" procedure).

Entry point: ``install(ctx)`` (the runtime calls it after the kubelet simulator): subscribes to the store and starts
a background task that reconciles after every relevant change (and when a timer is due). Every reconcile is
idempotent and writes only differences.

When it acts: the Deployment ``tigera-operator/tigera-operator`` (e.g. from ``netmig_sandbox/manifests/
tigera-operator.yaml``) has a ready replica AND AKS does not manage Calico (the ARM network policy is not
``calico``). AKS-managed Calico is modelled statically (``sim.aks_objects.calico_objects`` and
``sim.managed_calico``); this operator never touches it. Without a running operator nothing reconciles: CRs keep
their finalizers and TigeraStatus objects keep whatever they last said.

Operator start (not running -> running; the operator pod (re)starts):
- creates the missing operator.tigera.io CRDs (installations apiservers imagesets tigerastatuses goldmanes
  whiskers): the manifest ships none;
- picks the datastore mode the way Calico 3.31 does, from which CRDs exist at that moment: any
  ``*.crd.projectcalico.org`` CRD -> ``crd.projectcalico.org/v1`` (the AKS data is there: right); none ->
  ``projectcalico.org/v3`` (the native v3 / API-server mode: wrong for a cluster migrated from AKS-managed Calico).
  The choice holds until the operator pod restarts;
- marks every existing TigeraStatus Progressing (Available False): stale statuses left by AKS's operator are
  refreshed (the stale ones said Available True before).

Installation ``default`` (finalizer ``tigera.io/operator-cleanup`` added):
- ``spec.kubernetesProvider`` must be ``AKS`` and ``spec.cni.type`` ``AzureVNET`` on an Azure CNI / kubenet cluster,
  else TigeraStatus ``calico`` Degraded (``ResourceValidationError``) naming the field;
- mode ``projectcalico.org/v3``: nothing is deployed; TigeraStatus ``calico`` Degraded (``ResourceNotFound``) with a
  message naming the missing crd.projectcalico.org CRDs (the premature-CRD-cleanup failure the engine must refuse);
- mode ``crd.projectcalico.org/v1``: missing crd.projectcalico.org CRDs are created; namespace ``calico-system``;
  DaemonSet ``calico-node`` (every Linux node, hostNetwork, no AKS ``managedby`` label: AKS leaves it alone; the
  dataplane treats a Running calico-node pod as Calico enforcing on its node, see ``sim.dataplane``);
  Deployments ``calico-typha`` (2) and ``calico-kube-controllers`` (1); ServiceAccount / ClusterRole /
  ClusterRoleBinding ``calico-node`` with ``tigera.io/cni-protector``; TigeraStatus ``calico`` and ``ippools``:
  Progressing until calico-node is ready on every eligible node and typha / kube-controllers are ready, then
  Available once ``tigera.ready_seconds`` (scenario key, default 20) simulated seconds have passed since the
  components were deployed.
- APIServer ``default`` (finalizer ``operator.tigera.io/apiserver-controller``): namespace ``calico-apiserver``,
  its Deployment and Service ``calico-api`` and the APIService ``v3.projectcalico.org`` pointing at it; status
  ``apiserver``. Goldmane / Whisker ``default``: Deployments ``goldmane`` / ``whisker`` in calico-system; statuses
  ``goldmane`` / ``whisker``. Each becomes Available like ``calico`` (its Deployment ready + ready_seconds).
- Deleting Installation ``default`` while the operator runs: its components and TigeraStatus objects are deleted,
  ``tigera.io/cni-protector`` is stripped from the calico-node RBAC (deleted too) and ``tigera.io/operator-cleanup``
  removed. Deleting APIServer ``default``: its components go and its finalizer is removed.

TigeraStatus conditions (Available, Progressing, Degraded) carry ``reason``, ``message``, ``lastTransitionTime``
and ``observedGeneration`` (the generation of the CR they report on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from netmig_sandbox.kube.crds import CRD_KEY
from netmig_sandbox.kube.store import ApiError, Key, Obj, Store, now_iso
from netmig_sandbox.sim.index import DAEMONSETS, DEPLOYMENTS, NAMESPACES

log = logging.getLogger(__name__)

SERVICEACCOUNTS: Key = ("", "serviceaccounts")
CLUSTERROLES: Key = ("rbac.authorization.k8s.io", "clusterroles")
CLUSTERROLEBINDINGS: Key = ("rbac.authorization.k8s.io", "clusterrolebindings")
APISERVICES: Key = ("apiregistration.k8s.io", "apiservices")
OPERATOR_GROUP = "operator.tigera.io"
CALICO_GROUP = "crd.projectcalico.org"
INSTALLATIONS: Key = (OPERATOR_GROUP, "installations")
APISERVERS: Key = (OPERATOR_GROUP, "apiservers")
GOLDMANES: Key = (OPERATOR_GROUP, "goldmanes")
WHISKERS: Key = (OPERATOR_GROUP, "whiskers")
TIGERASTATUSES: Key = (OPERATOR_GROUP, "tigerastatuses")

MODE_V1 = "crd.projectcalico.org/v1"
MODE_V3 = "projectcalico.org/v3"
CALICO_VERSION = "v3.31.2"
REGISTRY = "quay.io"
CLEANUP = "tigera.io/operator-cleanup"
APISERVER_FINALIZER = "operator.tigera.io/apiserver-controller"
CNI_PROTECTOR = "tigera.io/cni-protector"
DEFAULT_READY_SECONDS = 20.0
RELEVANT = {DEPLOYMENTS, DAEMONSETS, CRD_KEY, INSTALLATIONS, APISERVERS, GOLDMANES, WHISKERS, NAMESPACES}


def install(ctx: Any) -> None:
    """Install the simulated tigera operator on ``ctx`` (idempotent)."""
    if "tigera" in ctx.services:
        return
    op = TigeraOperator(ctx)
    ctx.services["tigera"] = op
    ctx.store.subscribe_readonly(op.on_change, RELEVANT)  # it only looks at the key
    op.task = ctx.spawn(op.run())


def _cond(kind: str, ok: bool, reason: str, message: str) -> Obj:
    return {"type": kind, "status": "True" if ok else "False", "reason": reason, "message": message}


def _ready_deployment(store: Store, ns: str, name: str) -> bool:
    if not store.exists(DEPLOYMENTS, ns, name):
        return False
    d = store.get(DEPLOYMENTS, ns, name)
    want = int((d.get("spec") or {}).get("replicas", 1))
    return int((d.get("status") or {}).get("readyReplicas") or 0) >= max(1, want)


def _deployment(ns: str, name: str, replicas: int, image: str, owner: Obj | None,
                ports: list[Obj] | None = None, extra_labels: dict[str, str] | None = None) -> Obj:
    labels = {"k8s-app": name, "app.kubernetes.io/name": name, **(extra_labels or {})}
    container: Obj = {"name": name, "image": f"{REGISTRY}/calico/{image}:{CALICO_VERSION}"}
    if ports:
        container["ports"] = ports
    meta: Obj = {"name": name, "namespace": ns, "labels": dict(labels)}
    if owner:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"k8s-app": name}},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"serviceAccountName": name, "nodeSelector": {"kubernetes.io/os": "linux"},
                                           "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
                                           "containers": [container]}}}}


def calico_node_daemonset(owner: Obj | None) -> Obj:
    labels = {"k8s-app": "calico-node", "app.kubernetes.io/name": "calico-node"}
    meta: Obj = {"name": "calico-node", "namespace": "calico-system", "labels": dict(labels)}
    if owner:
        meta["ownerReferences"] = [owner]
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": meta,
            "spec": {"selector": {"matchLabels": {"k8s-app": "calico-node"}},
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"hostNetwork": True, "serviceAccountName": "calico-node",
                                           "priorityClassName": "system-node-critical",
                                           "nodeSelector": {"kubernetes.io/os": "linux"},
                                           "tolerations": [{"operator": "Exists", "effect": "NoSchedule"},
                                                           {"operator": "Exists", "effect": "NoExecute"}],
                                           "containers": [{"name": "calico-node",
                                                           "image": f"{REGISTRY}/calico/node:{CALICO_VERSION}"}]}}}}


class TigeraOperator:
    """See the module docstring."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.store: Store = ctx.store
        self.wake = asyncio.Event()
        self.task: asyncio.Task[Any] | None = None
        self.running = False
        self.mode: str | None = None
        # component -> simulated time it was (first) deployed in this operator run
        self.deployed_at: dict[str, float] = {}
        self.ready_seconds = float((ctx.scenario.get("tigera") or {}).get("ready_seconds", DEFAULT_READY_SECONDS))

    # ------------------------------------------------------------------ loop
    def on_change(self, event: str, key: Key, obj: Obj) -> None:
        if key in RELEVANT:
            self.wake.set()

    async def run(self) -> None:
        while True:
            self.wake.clear()
            try:
                delay = self.reconcile()
            except Exception:  # a simulator bug must not kill the loop
                log.exception("sandbox tigera operator: reconcile failed")
                delay = 5.0
            if delay is None:
                await self.wake.wait()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=max(0.0, delay) * self.ctx.clock.time_scale)

    def now(self) -> float:
        return float(self.ctx.clock.sim_now())

    # ------------------------------------------------------------------ helpers
    def aks_manages_calico(self) -> bool:
        arm = self.ctx.arm
        if arm is not None and getattr(arm, "cluster", None) is not None:
            return str(arm.profile.get("networkPolicy") or "none") == "calico"
        profile = (self.ctx.scenario.get("cluster") or {}).get("network_profile") or {}
        return str(profile.get("networkPolicy") or "none") == "calico"

    def network_plugin(self) -> str:
        arm = self.ctx.arm
        if arm is not None and getattr(arm, "cluster", None) is not None:
            return str(arm.profile.get("networkPlugin") or "azure")
        profile = (self.ctx.scenario.get("cluster") or {}).get("network_profile") or {}
        return str(profile.get("networkPlugin") or "azure")

    def get(self, key: Key, ns: str | None, name: str) -> Obj | None:
        if key not in self.store.types or not self.store.exists(key, ns, name):
            return None
        return self.store.get(key, ns, name)

    def ensure(self, key: Key, obj: Obj) -> None:
        meta = obj["metadata"]
        if key in self.store.types and not self.store.exists(key, meta.get("namespace"), meta["name"]):
            with contextlib.suppress(ApiError):
                self.store.create(key, obj, meta.get("namespace"))

    def delete(self, key: Key, ns: str | None, name: str) -> None:
        if key in self.store.types and self.store.exists(key, ns, name):
            with contextlib.suppress(ApiError):
                self.store.delete(key, ns, name)

    def set_finalizer(self, key: Key, ns: str | None, name: str, finalizer: str, present: bool) -> None:
        obj = self.get(key, ns, name)
        if obj is None:
            return
        have = list(obj["metadata"].get("finalizers") or [])
        if (finalizer in have) == present:
            return
        if present and obj["metadata"].get("deletionTimestamp"):
            return  # no new finalizers on an object being deleted

        def mutate(o: Obj) -> None:
            fins = [f for f in o["metadata"].get("finalizers") or [] if f != finalizer]
            if present:
                fins.append(finalizer)
            o["metadata"]["finalizers"] = fins
        with contextlib.suppress(ApiError):
            self.store.update(key, ns, name, mutate)

    def crd_names(self, group: str) -> set[str]:
        return {c["metadata"]["name"] for c in self.store.iter_raw(CRD_KEY)
                if (c.get("spec") or {}).get("group") == group and not c["metadata"].get("deletionTimestamp")}

    def ensure_crds(self, group: str, plurals: tuple[str, ...], namespaced: set[str] | None = None) -> None:
        from netmig_sandbox.sim.aks_objects import crd_manifest

        have = self.crd_names(group)
        for plural in plurals:
            if f"{plural}.{group}" not in have:
                self.ensure(CRD_KEY, crd_manifest(group, plural, "v1", plural in (namespaced or set())))

    def status(self, name: str, generation: int, available: bool, progressing: bool, degraded: bool,
               reason: str, message: str) -> None:
        """Create or update TigeraStatus ``name``; writes only when a condition changes."""
        if TIGERASTATUSES not in self.store.types:
            return
        conds = [_cond("Available", available, reason, message), _cond("Progressing", progressing, reason, message),
                 _cond("Degraded", degraded, reason, message)]
        current = self.get(TIGERASTATUSES, None, name)
        now = now_iso()
        if current is None:
            self.ensure(TIGERASTATUSES, {"apiVersion": f"{OPERATOR_GROUP}/v1", "kind": "TigeraStatus",
                                         "metadata": {"name": name}, "spec": {},
                                         "status": {"conditions": [{**c, "lastTransitionTime": now,
                                                                    "observedGeneration": generation}
                                                                   for c in conds]}})
            return
        old = {c.get("type"): c for c in (current.get("status") or {}).get("conditions") or []}
        same = all(
            (old.get(c["type"]) or {}).get("status") == c["status"]
            and (old.get(c["type"]) or {}).get("reason") == c["reason"]
            and (old.get(c["type"]) or {}).get("message") == c["message"]
            and (old.get(c["type"]) or {}).get("observedGeneration") == generation for c in conds)
        if same:
            return
        new = []
        for c in conds:
            prev = old.get(c["type"]) or {}
            ts = prev.get("lastTransitionTime") if prev.get("status") == c["status"] else None
            new.append({**c, "lastTransitionTime": ts or now, "observedGeneration": generation})

        def put(o: Obj) -> None:
            o["status"] = {"conditions": new}
        with contextlib.suppress(ApiError):
            self.store.update(TIGERASTATUSES, None, name, put)

    # ------------------------------------------------------------------ reconcile
    def operator_running(self) -> bool:
        return _ready_deployment(self.store, "tigera-operator", "tigera-operator") and not self.aks_manages_calico()

    def reconcile(self) -> float | None:
        """One pass; returns simulated seconds until a timed re-check, or None."""
        if not self.operator_running():
            self.running = False
            self.mode = None
            self.deployed_at.clear()
            return None
        if not self.running:
            self.start()
        timers: list[float] = []
        inst = self.get(INSTALLATIONS, None, "default")
        if inst is not None and inst["metadata"].get("deletionTimestamp"):
            self.uninstall(inst)
            inst = None
        if inst is not None:
            timers += self.reconcile_installation(inst)
        return min(timers) if timers else None

    def start(self) -> None:
        from netmig_sandbox.sim.aks_objects import TIGERA_OPERATOR_CRDS

        self.running = True
        self.deployed_at.clear()
        self.ensure_crds(OPERATOR_GROUP, TIGERA_OPERATOR_CRDS)
        self.mode = MODE_V1 if self.crd_names(CALICO_GROUP) else MODE_V3
        log.info("sandbox tigera operator: started, datastore mode %s", self.mode)
        if TIGERASTATUSES in self.store.types:
            for ts in self.store.list(TIGERASTATUSES):
                self.status(ts["metadata"]["name"], 0, False, True, False, "ResourceNotReady",
                            "The tigera operator is starting")

    def owner(self, inst: Obj) -> Obj:
        return {"apiVersion": f"{OPERATOR_GROUP}/v1", "kind": "Installation", "name": "default",
                "uid": inst["metadata"].get("uid"), "controller": True, "blockOwnerDeletion": True}

    def invalid(self, inst: Obj) -> str | None:
        spec = inst.get("spec") or {}
        provider = spec.get("kubernetesProvider") or ""
        if provider != "AKS":
            return (f"Installation spec.kubernetesProvider is {provider!r}, but this is an AKS cluster: set it to "
                    "'AKS'")
        cni = ((spec.get("cni") or {}).get("type")) or "Calico"
        if self.network_plugin() in ("azure", "kubenet") and cni != "AzureVNET":
            return (f"Installation spec.cni.type {cni!r} is not compatible with the cluster's network plugin "
                    f"{self.network_plugin()!r}: use 'AzureVNET' (Calico for policy only)")
        return None

    def reconcile_installation(self, inst: Obj) -> list[float]:
        from netmig_sandbox.sim.aks_objects import CALICO_CRD_V1, CLUSTER_SCOPED_CALICO

        gen = int(inst["metadata"].get("generation") or 1)
        self.set_finalizer(INSTALLATIONS, None, "default", CLEANUP, True)
        problem = self.invalid(inst)
        if problem:
            self.status("calico", gen, False, False, True, "ResourceValidationError", problem)
            return []
        if self.mode == MODE_V3:
            missing = sorted(f"{p}.{CALICO_GROUP}" for p in CALICO_CRD_V1
                             if f"{p}.{CALICO_GROUP}" not in self.crd_names(CALICO_GROUP))
            self.status("calico", gen, False, False, True, "ResourceNotFound",
                        "The operator started without any crd.projectcalico.org CustomResourceDefinition and chose "
                        f"the {MODE_V3} API (API server mode), but this cluster's Calico data lives in {MODE_V1}. "
                        f"Missing CustomResourceDefinitions: {', '.join(missing)}. Restore them from a backup and "
                        "restart the tigera-operator pod.")
            return []
        self.ensure_crds(CALICO_GROUP, CALICO_CRD_V1, set(CALICO_CRD_V1) - CLUSTER_SCOPED_CALICO)
        owner = self.owner(inst)
        self.ensure(NAMESPACES, {"metadata": {"name": "calico-system"}})
        if self.get(NAMESPACES, None, "calico-system") is None or (
                self.get(NAMESPACES, None, "calico-system") or {}).get("metadata", {}).get("deletionTimestamp"):
            self.status("calico", gen, False, True, False, "ResourceNotReady",
                        "Waiting for namespace calico-system")
            return []
        for key, name in ((SERVICEACCOUNTS, "calico-node"), (CLUSTERROLES, "calico-node"),
                          (CLUSTERROLEBINDINGS, "calico-node")):
            self.ensure_rbac(key, name)
        self.ensure(DAEMONSETS, calico_node_daemonset(owner))
        self.ensure(DEPLOYMENTS, _deployment("calico-system", "calico-typha", 2, "typha", owner))
        self.ensure(DEPLOYMENTS, _deployment("calico-system", "calico-kube-controllers", 1, "kube-controllers",
                                             owner))
        self.status_installation(inst)
        timers: list[float] = []
        calico_ok = self.calico_ready()
        timers += self.component_status("calico", gen, calico_ok, "calico-node, calico-typha, calico-kube-controllers")
        timers += self.component_status("ippools", gen, calico_ok, "IP pools")
        timers += self.optional_components(owner)
        return timers

    def ensure_rbac(self, key: Key, name: str) -> None:
        ns = "calico-system" if key == SERVICEACCOUNTS else None
        if self.get(key, ns, name) is None:
            obj: Obj = {"metadata": {"name": name, "finalizers": [CNI_PROTECTOR]}}
            if key == SERVICEACCOUNTS:
                obj["metadata"]["namespace"] = ns
            elif key == CLUSTERROLES:
                obj["rules"] = [{"apiGroups": [CALICO_GROUP], "resources": ["*"], "verbs": ["*"]}]
            else:
                obj["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name}
                obj["subjects"] = [{"kind": "ServiceAccount", "name": name, "namespace": "calico-system"}]
            self.ensure(key, obj)
        else:
            self.set_finalizer(key, ns, name, CNI_PROTECTOR, True)

    def status_installation(self, inst: Obj) -> None:
        want = {"variant": "Calico", "calicoVersion": CALICO_VERSION, "mcmCA": "", "imageSet": "",
                "computed": inst.get("spec") or {}}
        if (inst.get("status") or {}) == want:
            return

        def put(o: Obj) -> None:
            o["status"] = want
        with contextlib.suppress(ApiError):
            self.store.update(INSTALLATIONS, None, "default", put)

    def calico_ready(self) -> bool:
        ds = self.get(DAEMONSETS, "calico-system", "calico-node")
        if ds is None:
            return False
        st = ds.get("status") or {}
        desired = int(st.get("desiredNumberScheduled") or 0)
        return (desired > 0 and int(st.get("numberReady") or 0) >= desired
                and _ready_deployment(self.store, "calico-system", "calico-typha")
                and _ready_deployment(self.store, "calico-system", "calico-kube-controllers"))

    def component_status(self, name: str, gen: int, ready: bool, what: str) -> list[float]:
        """Progressing until ``ready`` and ready_seconds elapsed since first deployed; returns a timer if due."""
        first = self.deployed_at.setdefault(name, self.now())
        if not ready:
            self.status(name, gen, False, True, False, "ResourceNotReady", f"Waiting for {what} to be ready")
            return []
        left = self.ready_seconds - (self.now() - first)
        if left > 0 and self.ctx.clock.time_scale > 0:
            self.status(name, gen, False, True, False, "ResourceNotReady", f"Waiting for {what} to be ready")
            return [left]
        self.status(name, gen, True, False, False, "AllObjectsAvailable", "All Objects Available")
        return []

    def optional_components(self, owner: Obj) -> list[float]:
        from netmig_sandbox.sim.aks_objects import calico_apiserver_objects

        timers: list[float] = []
        api = self.get(APISERVERS, None, "default")
        if api is not None and api["metadata"].get("deletionTimestamp"):
            for obj in calico_apiserver_objects(managed=False):
                self.delete(_key_of(obj), obj["metadata"].get("namespace"), obj["metadata"]["name"])
            self.delete(TIGERASTATUSES, None, "apiserver")
            self.deployed_at.pop("apiserver", None)
            self.set_finalizer(APISERVERS, None, "default", APISERVER_FINALIZER, False)
        elif api is not None:
            self.set_finalizer(APISERVERS, None, "default", APISERVER_FINALIZER, True)
            self.ensure(NAMESPACES, {"metadata": {"name": "calico-apiserver"}})
            for obj in calico_apiserver_objects(managed=False):
                self.ensure(_key_of(obj), obj)
            timers += self.component_status("apiserver", int(api["metadata"].get("generation") or 1),
                                            _ready_deployment(self.store, "calico-apiserver", "calico-apiserver"),
                                            "calico-apiserver")
        else:
            self.delete(TIGERASTATUSES, None, "apiserver")  # a stale status of a component nobody asks for
        for key, name in ((GOLDMANES, "goldmane"), (WHISKERS, "whisker")):
            cr = self.get(key, None, "default")
            if cr is None or cr["metadata"].get("deletionTimestamp"):
                self.delete(DEPLOYMENTS, "calico-system", name)
                self.delete(TIGERASTATUSES, None, name)
                self.deployed_at.pop(name, None)
                continue
            self.ensure(DEPLOYMENTS, _deployment("calico-system", name, 1, name, owner))
            timers += self.component_status(name, int(cr["metadata"].get("generation") or 1),
                                            _ready_deployment(self.store, "calico-system", name), name)
        return timers

    def uninstall(self, inst: Obj) -> None:
        """Installation default is being deleted: remove what it deployed, then let it go."""
        for name in ("calico-typha", "calico-kube-controllers", "goldmane", "whisker"):
            self.delete(DEPLOYMENTS, "calico-system", name)
        self.delete(DAEMONSETS, "calico-system", "calico-node")
        for key, ns in ((SERVICEACCOUNTS, "calico-system"), (CLUSTERROLES, None), (CLUSTERROLEBINDINGS, None)):
            self.set_finalizer(key, ns, "calico-node", CNI_PROTECTOR, False)
            self.delete(key, ns, "calico-node")
        for name in ("calico", "ippools", "goldmane", "whisker"):
            self.delete(TIGERASTATUSES, None, name)
        self.deployed_at.clear()
        self.set_finalizer(INSTALLATIONS, None, "default", CLEANUP, False)


def _key_of(obj: Obj) -> Key:
    group, _, _version = str(obj["apiVersion"]).rpartition("/")
    plural = {"Deployment": "deployments", "Service": "services", "APIService": "apiservices"}[obj["kind"]]
    return (group, plural)
