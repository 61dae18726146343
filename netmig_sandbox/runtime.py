"""Run a sandbox: one event loop in a background thread serving the ARM endpoint and the Kubernetes API.

Contract:
- ``Sandbox(scenario, directory, time_scale).start()`` returns once both HTTPS endpoints listen on free
  127.0.0.1 ports and ``DIR/sandbox.json``, ``DIR/kubeconfig``, ``DIR/ca.pem`` are written (see ``info``).
  ``sandbox.json`` is the connection file a client reads: endpoints, CA bundle, token, cluster, the manifests the
  sandbox ships, and its pace ``poll_seconds`` (real seconds between a client's polls of this sandbox: its
  operations finish in seconds, not the minutes AKS takes; ``DEFAULT_POLL_SECONDS`` unless given).
  ``DIR/arm-requests.jsonl`` is appended by the ARM endpoint, one line per request.
- ``stop()`` cancels the simulators, closes both servers and ends the thread; it is idempotent.
- ``run(fn)`` runs ``fn(ctx)`` on the loop thread and returns its result (coroutine functions are awaited):
  the only safe way for another thread (a test) to look at or change the simulated world directly.
- Several sandboxes may run in one process or in parallel processes.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import secrets
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import trustme
from aiohttp import web

from netmig_sandbox import manifest_path
from netmig_sandbox.clock import SimClock
from netmig_sandbox.context import SandboxContext
from netmig_sandbox.faults import Faults
from netmig_sandbox.kube.store import Store

T = TypeVar("T")

DEFAULT_TIME_SCALE = 0.05
DEFAULT_POLL_SECONDS = 0.2  # the sandbox's pace, written to sandbox.json for the clients that poll it


class SandboxError(Exception):
    """The sandbox could not start (bad scenario, port, ...); the message says what and how to fix it."""


class Sandbox:
    """An embedded simulated AKS cluster; see the module docstring."""

    def __init__(
        self,
        scenario: str | Path | dict[str, Any],
        directory: str | Path,
        time_scale: float = DEFAULT_TIME_SCALE,
        poll_seconds: float = DEFAULT_POLL_SECONDS,
    ) -> None:
        from netmig_sandbox import scenarios

        self.scenario = scenarios.load(scenario) if not isinstance(scenario, dict) else scenarios.normalize(scenario)
        self.directory = Path(directory).resolve()
        self.time_scale = time_scale
        if not 0 < poll_seconds < float("inf"):
            raise SandboxError(f"poll_seconds must be a positive number of seconds, got {poll_seconds}")
        self.poll_seconds = float(poll_seconds)
        self.context: SandboxContext | None = None
        self.info: dict[str, Any] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._stopped = threading.Event()

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> dict[str, Any]:
        self.directory.mkdir(parents=True, exist_ok=True)
        ready: Future[None] = Future()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="netmig-sandbox", daemon=True)
        self._thread.start()
        try:
            ready.result(timeout=120)
        except BaseException:
            self.stop()
            raise
        return self.info

    def _serve(self, ready: Future[None]) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._startup())
        except BaseException as e:  # reported to start()
            ready.set_exception(e)
            self._loop.close()
            return
        ready.set_result(None)
        try:
            self._loop.run_forever()
        finally:
            self._loop.run_until_complete(self._shutdown())
            self._loop.close()
            self._stopped.set()

    async def _startup(self) -> None:
        from netmig_sandbox import scenarios
        from netmig_sandbox.arm import server as arm_server
        from netmig_sandbox.arm.state import ArmState
        from netmig_sandbox.kube import events, gc
        from netmig_sandbox.kube import server as kube_server
        from netmig_sandbox.kube.types import register_builtin_types
        from netmig_sandbox.sim import controlplane, jobs, kubelet, processes, tigera

        ca = trustme.CA()
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        ca_pem = ca.cert_pem.bytes()
        (self.directory / "ca.pem").write_bytes(ca_pem)
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        leaf.configure_cert(ssl_ctx)

        store = Store()
        register_builtin_types(store)
        ctx = SandboxContext(
            store=store,
            faults=Faults([Faults.from_dict(f) for f in self.scenario.get("faults", [])]),
            clock=SimClock(self.time_scale),
            dir=self.directory,
            scenario=self.scenario,
            arm_token=secrets.token_urlsafe(24),
            kube_token=secrets.token_urlsafe(24),
            ca_pem=ca_pem,
        )
        self.context = ctx
        ctx.arm = ArmState.from_scenario(self.scenario)
        kubelet.install(ctx)
        controlplane.install(ctx)
        jobs.install(ctx)
        tigera.install(ctx)
        gc.install(store, ctx.services)

        kube_port = await self._listen(kube_server.build_app(ctx, processes.SimProcesses(ctx)), ssl_ctx)
        arm_port = await self._listen(arm_server.build_app(ctx), ssl_ctx)
        ctx.kube_server = f"https://127.0.0.1:{kube_port}"
        ctx.arm_endpoint = f"https://127.0.0.1:{arm_port}"

        await scenarios.materialize(ctx)
        # events start now: the scenario's objects stand for a cluster up longer than the 1 h event TTL
        events.install(store, ctx.services)

        kubeconfig = self.directory / "kubeconfig"
        kubeconfig.write_text(ctx.kubeconfig())
        kubeconfig.chmod(0o600)
        cluster = self.scenario["cluster"]
        self.info = {
            "arm_endpoint": ctx.arm_endpoint,
            "subscription_id": cluster["subscription_id"],
            "resource_group": cluster["resource_group"],
            "cluster_name": cluster["name"],
            "ca_bundle": str(self.directory / "ca.pem"),
            "token": ctx.arm_token,
            "kubeconfig": str(kubeconfig),
            "kube_server": ctx.kube_server,
            "scenario": self.scenario.get("name", "custom"),
            "time_scale": self.time_scale,
            "poll_seconds": self.poll_seconds,
            # manifests the sandbox ships, for plans that install them (the product reads paths, never imports us)
            "manifests": {"tigera-operator": str(manifest_path("tigera-operator.yaml"))},
        }
        info_path = self.directory / "sandbox.json"
        tmp = info_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.info, indent=2) + "\n")
        tmp.chmod(0o600)
        tmp.replace(info_path)

    async def _listen(self, app: web.Application, ssl_ctx: ssl.SSLContext) -> int:
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
        await site.start()
        self._runners.append(runner)
        server = site._server
        assert server is not None and server.sockets  # type: ignore[attr-defined]
        return int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]

    async def _shutdown(self) -> None:
        if self.context is not None:
            for task in list(self.context.tasks):
                task.cancel()
            await asyncio.gather(*self.context.tasks, return_exceptions=True)
        for runner in self._runners:
            await runner.cleanup()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if thread.is_alive() and not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
        self._loop = None
        self._thread = None

    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---------------------------------------------------------------- access
    def run(self, fn: Callable[[SandboxContext], Any], timeout: float = 60) -> Any:
        """Run ``fn(ctx)`` on the sandbox loop (awaiting it if it is a coroutine) and return its result."""
        if self._loop is None or self.context is None:
            raise SandboxError("the sandbox is not running; call start() first")
        ctx = self.context

        async def call() -> Any:
            result = fn(ctx)
            if inspect.isawaitable(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(call(), self._loop).result(timeout)
