"""The shared state of one running sandbox, handed to every server and simulator.

Contract: every field is touched only from the sandbox's event loop thread (``loop``), except ``faults``
(thread-safe). Simulators register themselves on ``store`` (``store.subscribe``) and start background
coroutines with ``spawn`` so that ``stop`` cancels them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig_sandbox.clock import SimClock
from netmig_sandbox.faults import Faults
from netmig_sandbox.kube.store import Store


@dataclass
class SandboxContext:
    store: Store
    faults: Faults
    clock: SimClock
    dir: Path
    scenario: dict[str, Any]
    arm_token: str
    kube_token: str
    ca_pem: bytes = b""
    kube_server: str = ""  # https://127.0.0.1:PORT of the Kubernetes API, set once it listens
    arm_endpoint: str = ""
    # pod logs: (namespace, pod, container) -> text; the kubelet simulator writes them, the API serves them
    logs: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # the ARM side's state (netmig_sandbox.arm.state.ArmState), set by the ARM module
    arm: Any = None
    # objects shared by simulators (e.g. the kubelet, the dataplane), by name
    services: dict[str, Any] = field(default_factory=dict)
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run a background coroutine on the sandbox loop, cancelled at stop."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def kubeconfig(self, user: str = "clusterUser") -> str:
        """The kubeconfig for the sandbox Kubernetes API (YAML text), CA embedded, static token user."""
        import base64

        import yaml

        name = self.scenario.get("cluster", {}).get("name", "sandbox")
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": name, "cluster": {
                "server": self.kube_server,
                "certificate-authority-data": base64.b64encode(self.ca_pem).decode(),
            }}],
            "users": [{"name": f"{user}_{name}", "user": {"token": self.kube_token}}],
            "contexts": [{"name": name, "context": {"cluster": name, "user": f"{user}_{name}"}}],
            "current-context": name,
            "preferences": {},
        }
        return yaml.safe_dump(doc, sort_keys=False)
