"""A minimal stand-in for ``netmig.sandbox.runtime.Sandbox`` serving only the Kubernetes API.

Contract: ``KubeOnlySandbox(directory)`` mirrors the runtime's interface (``start()`` -> info dict with
``kubeconfig``/``ca_bundle``/``kube_server``, ``stop()``, ``run(fn)``, ``context``): one asyncio loop in a background
thread, HTTPS on 127.0.0.1 with a port chosen by the OS, a trustme CA, ``DIR/kubeconfig`` embedding CA and token.
It seeds the default namespaces and one Ready node (no kubelet: pods stay Pending).
"""

from __future__ import annotations

import asyncio
import inspect
import secrets
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

from netmig.sandbox.clock import SimClock
from netmig.sandbox.context import SandboxContext
from netmig.sandbox.faults import Faults
from netmig.sandbox.kube.server import build_app
from netmig.sandbox.kube.store import Store
from netmig.sandbox.kube.types import register_builtin_types

NODE_NAME = "aks-nodepool1-12345678-vmss000000"


def seed(store: Store) -> None:
    """Default namespaces, the ``kubernetes`` service and one Ready node."""
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        store.create(("", "namespaces"), {"metadata": {"name": ns}})
    store.create(("", "services"), {"metadata": {"name": "kubernetes", "namespace": "default"},
                                    "spec": {"clusterIP": "10.0.0.1", "ports": [{"name": "https", "port": 443}]}})
    store.create(("", "nodes"), {
        "metadata": {"name": NODE_NAME, "labels": {"kubernetes.io/hostname": NODE_NAME,
                                                   "kubernetes.io/os": "linux",
                                                   "kubernetes.azure.com/agentpool": "nodepool1"}},
        "spec": {},
        "status": {
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            "addresses": [{"type": "InternalIP", "address": "10.224.0.4"},
                          {"type": "Hostname", "address": NODE_NAME}],
            "nodeInfo": {"kubeletVersion": "v1.32.4", "osImage": "Ubuntu 22.04.5 LTS",
                         "kernelVersion": "5.15.0-1079-azure", "containerRuntimeVersion": "containerd://1.7.27"},
        },
    })


class KubeOnlySandbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.context: SandboxContext | None = None
        self.info: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    def start(self) -> dict[str, Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        ready: Future[None] = Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), daemon=True)
        self._thread.start()
        ready.result(timeout=60)
        return self.info

    def _serve(self, ready: Future[None]) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._startup())
        except BaseException as e:
            ready.set_exception(e)
            return
        ready.set_result(None)
        try:
            self._loop.run_forever()
        finally:
            if self._runner is not None:
                self._loop.run_until_complete(self._runner.cleanup())
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            self._loop.close()

    async def _startup(self) -> None:
        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        ca_pem = ca.cert_pem.bytes()
        (self.directory / "ca.pem").write_bytes(ca_pem)
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ssl_ctx)
        store = Store()
        register_builtin_types(store)
        seed(store)
        ctx = SandboxContext(store=store, faults=Faults(), clock=SimClock(0.01), dir=self.directory,
                             scenario={"cluster": {"name": "sandbox"}}, arm_token="unused",
                             kube_token=secrets.token_urlsafe(24), ca_pem=ca_pem)
        self.context = ctx
        self._runner = web.AppRunner(build_app(ctx), handle_signals=False, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
        await site.start()
        port = self._runner.addresses[0][1]
        ctx.kube_server = f"https://127.0.0.1:{port}"
        kubeconfig = self.directory / "kubeconfig"
        kubeconfig.write_text(ctx.kubeconfig())
        kubeconfig.chmod(0o600)
        self.info = {"kubeconfig": str(kubeconfig), "kube_server": ctx.kube_server,
                     "ca_bundle": str(self.directory / "ca.pem"), "cluster_name": "sandbox"}

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
        self._loop = None

    def run(self, fn: Callable[[SandboxContext], Any], timeout: float = 60) -> Any:
        assert self._loop is not None and self.context is not None
        ctx = self.context

        async def call() -> Any:
            result = fn(ctx)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)
