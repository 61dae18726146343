"""Fixtures for the ARM endpoint / reimage contract tests.

``arm_sandbox`` is started with ``make(scenario="npm", time_scale=0.001, **overrides)`` and returns an object with
the runtime ``Sandbox`` API (``info``, ``context``, ``run(fn)``, ``stop()``):

- ``ArmOnlySandbox`` (always available): the ARM endpoint alone over HTTPS (trustme CA), on its own loop thread,
  with a hand-built store (nodes per pool, the profile's networking DaemonSets, one ReplicaSet-owned and one
  DaemonSet-owned pod per node, optional PDBs). No kubelet: evicted pods stay deleted.
- the lead's ``netmig.sandbox.runtime.Sandbox`` when ``ARM_TESTS_RUNTIME=1`` and its simulators exist.

Helpers: ``client(sb)`` (the real ``ContainerServiceClient``), ``requests(sb)`` (parsed ``arm-requests.jsonl``),
``wait_for(pred)`` (bounded polling).
"""

from __future__ import annotations

import asyncio
import copy
import importlib.util
import inspect
import json
import os
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiohttp import web
from azure.core.credentials import AccessToken
from azure.mgmt.containerservice import ContainerServiceClient

from netmig.sandbox import scenarios
from netmig.sandbox.arm import server as arm_server
from netmig.sandbox.arm.state import ArmState
from netmig.sandbox.clock import SimClock
from netmig.sandbox.context import SandboxContext
from netmig.sandbox.faults import Faults
from netmig.sandbox.kube.store import ResourceType, Store
from netmig.sandbox.sim import topology

TYPES = (
    ResourceType("", "v1", "namespaces", "Namespace", False),
    ResourceType("", "v1", "nodes", "Node", False, subresources=("status",)),
    ResourceType("", "v1", "pods", "Pod", True, subresources=("status", "eviction")),
    ResourceType("", "v1", "events", "Event", True),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, subresources=("status",)),
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, subresources=("status",)),
)
IMAGE = "AKSUbuntu-2204gen2containerd-202610.15.0"


class StaticCredential:
    """What the SDK needs of a credential: ``get_token`` returning a far-future AccessToken."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 365 * 86400)


def client(sb: Any, **kwargs: Any) -> Any:
    """The real SDK client for ``sb`` (typed Any: tests poke at optional model fields freely)."""
    info = sb.info
    kwargs.setdefault("polling_interval", 0.01)
    return ContainerServiceClient(StaticCredential(info["token"]), info["subscription_id"],
                                  base_url=info["arm_endpoint"], connection_verify=info["ca_bundle"], **kwargs)


def requests(sb: Any) -> list[dict[str, Any]]:
    path = Path(sb.info["ca_bundle"]).parent / "arm-requests.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(pred: Callable[[], Any], timeout: float = 20.0, interval: float = 0.01, what: str = "condition") -> Any:
    """Poll ``pred`` until truthy (bounded); returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def _node(pool: dict[str, Any], profile: dict[str, Any], pool_index: int, global_index: int) -> dict[str, Any]:
    name = topology.node_name(pool["name"], pool_index)
    spec: dict[str, Any] = {}
    cidr = topology.pod_cidr_for_node(profile, global_index)
    if cidr:
        spec = {"podCIDR": cidr, "podCIDRs": [cidr]}
    return {
        "metadata": {"name": name, "labels": topology.node_labels(pool, profile, pool_index, IMAGE),
                     "annotations": {"netmig.sandbox/index": str(global_index)}},
        "spec": spec,
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
                   "nodeInfo": {"bootID": str(uuid.uuid4())}},
    }


def _pod(ns: str, name: str, node: str, labels: dict[str, str], owner_kind: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "ownerReferences": [{"kind": owner_kind, "name": labels.get("app", name), "uid": "x",
                                          "apiVersion": "apps/v1", "controller": True}]},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "agnhost"}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }


class ArmOnlySandbox:
    """The ARM endpoint plus a hand-built store; mirrors the runtime ``Sandbox`` API (see module docstring)."""

    def __init__(self, scenario: dict[str, Any], directory: Path, time_scale: float,
                 pdbs: list[dict[str, Any]] | None = None) -> None:
        self.scenario = scenario
        self.directory = directory
        self.time_scale = time_scale
        self.pdbs = pdbs or []
        self.context: SandboxContext | None = None
        self.info: dict[str, Any] = {}
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> dict[str, Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        ready: Future[None] = Future()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(self._startup())
            except BaseException as e:
                ready.set_exception(e)
                return
            ready.set_result(None)
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, daemon=True, name="arm-only-sandbox")
        self._thread.start()
        ready.result(timeout=30)
        return self.info

    def _populate(self, store: Store) -> None:
        cluster = self.scenario["cluster"]
        profile = cluster["network_profile"]
        for rt in TYPES:
            store.register_type(rt)
        for ns in ("default", "kube-system", "calico-system", "web"):
            store.create(("", "namespaces"), {"metadata": {"name": ns}})
        for ns, name in topology.system_daemonsets(profile):
            store.create(("apps", "daemonsets"), topology.daemonset_manifest(ns, name), ns)
        gi = 0
        for pool in cluster["pools"]:
            for i in range(int(pool["count"])):
                node = _node(pool, profile, i, gi)
                gi += 1
                store.create(("", "nodes"), node)
                n = node["metadata"]["name"]
                store.create(("", "pods"), _pod("web", f"web-{n}", n, {"app": "web"}, "ReplicaSet"))
                store.create(("", "pods"), _pod("kube-system", f"ds-{n}", n, {"app": "ds"}, "DaemonSet"))
        for pdb in self.pdbs:
            store.create(("policy", "poddisruptionbudgets"), pdb)

    async def _startup(self) -> None:
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        (self.directory / "ca.pem").write_bytes(ca.cert_pem.bytes())
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ssl_ctx)
        store = Store()
        self._populate(store)
        ctx = SandboxContext(
            store=store, faults=Faults([Faults.from_dict(f) for f in self.scenario.get("faults", [])]),
            clock=SimClock(self.time_scale), dir=self.directory, scenario=self.scenario,
            arm_token=secrets.token_urlsafe(16), kube_token=secrets.token_urlsafe(16),
            ca_pem=ca.cert_pem.bytes(), kube_server="https://127.0.0.1:1",
        )
        ctx.arm = ArmState.from_scenario(self.scenario)
        self.context = ctx
        self._runner = web.AppRunner(arm_server.build_app(ctx), handle_signals=False, access_log=None,
                                    shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ctx.arm_endpoint = f"https://127.0.0.1:{port}"
        c = self.scenario["cluster"]
        self.info = {"arm_endpoint": ctx.arm_endpoint, "subscription_id": c["subscription_id"],
                     "resource_group": c["resource_group"], "cluster_name": c["name"],
                     "ca_bundle": str(self.directory / "ca.pem"), "token": ctx.arm_token}

    def run(self, fn: Callable[[SandboxContext], Any], timeout: float = 30) -> Any:
        assert self.context is not None
        ctx = self.context

        async def call() -> Any:
            result = fn(ctx)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)

    def stop(self) -> None:
        if self._thread is None:
            return

        async def shutdown() -> None:
            if self.context is not None:
                for t in list(self.context.tasks):
                    t.cancel()
                await asyncio.gather(*self.context.tasks, return_exceptions=True)
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None


def _runtime_available() -> bool:
    return os.environ.get("ARM_TESTS_RUNTIME") == "1" and all(
        importlib.util.find_spec(m) is not None
        for m in ("netmig.sandbox.sim.kubelet", "netmig.sandbox.kube.server"))


def scenario(name: str = "npm", **overrides: Any) -> dict[str, Any]:
    """A built-in scenario with ``cluster`` / top-level keys overridden (deep-merged one level)."""
    sc = copy.deepcopy(scenarios.load(name))
    for k, v in overrides.items():
        if k == "cluster":
            sc["cluster"].update(v)
        else:
            sc[k] = v
    return sc


@pytest.fixture
def arm_sandbox(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make(scenario_dict_or_name="npm", time_scale=0.001, pdbs=None)`` -> a started sandbox (stopped at end)."""
    started: list[Any] = []

    def make(sc: dict[str, Any] | str = "npm", time_scale: float = 0.001,
             pdbs: list[dict[str, Any]] | None = None) -> Any:
        data = scenario(sc) if isinstance(sc, str) else sc
        directory = tmp_path / f"sb{len(started)}"
        sb: Any
        if _runtime_available() and not pdbs:
            from netmig.sandbox.runtime import Sandbox

            sb = Sandbox(data, directory, time_scale=time_scale)
        else:
            sb = ArmOnlySandbox(data, directory, time_scale, pdbs)
        sb.start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()
