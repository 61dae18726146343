"""What the Kubernetes API server needs from the sandbox that hosts it, as Protocols (so that ``kube`` imports
nothing above it: neither ``netmig_sandbox.context`` nor the simulators).

Contract:
- ``KubeHost``: the shared state the API server reads -- the object ``store``, the ``faults`` to inject, the
  static ``kube_token``, the pod ``logs`` the kubelet writes, the ``services`` simulators publish (``evict``,
  ``list_log``, ``events``, ``identity``), ``arm`` (the ARM state, for the cluster version; may be None), the
  ``scenario`` (its ``identity`` key: a restricted identity, ``kube.rbac``) and the sandbox's folder ``dir`` (the
  request log ``kube-requests.jsonl``).
  ``netmig_sandbox.context.SandboxContext`` is one.
- ``PodProcesses``: what ``kubectl exec`` / ``attach`` / ``port-forward`` reach inside a pod, bound to one
  sandbox; the simulators provide it (``netmig_sandbox.sim.processes.SimProcesses``) and the runtime passes it
  to ``kube.server.build_app``. ``run_exec`` returns the exit code, ``run_attach`` the exit code or None (the
  client went away from a container that is not an interactive shell), ``open_port`` the listener on a TCP port
  or None (connection refused).
- ``ProcessIO``: the stdin/stdout/stderr of one exec/attach session, filled by the transport
  (``kube.streaming``): ``read()`` the next stdin chunk (``None`` = EOF), ``write(fd, data)`` to stdout (1) /
  stderr (2); with ``tty`` output newlines become ``\\r\\n`` and stderr goes to stdout, as a real pty does.
All on the sandbox loop thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from netmig_sandbox.faults import Faults
from netmig_sandbox.kube.store import Obj, Store


class KubeHost(Protocol):
    """The sandbox state the API server serves from (see the module contract)."""

    @property
    def store(self) -> Store: ...
    @property
    def faults(self) -> Faults: ...
    @property
    def kube_token(self) -> str: ...
    @property
    def logs(self) -> dict[tuple[str, str, str], str]: ...
    @property
    def services(self) -> dict[str, Any]: ...
    @property
    def arm(self) -> Any: ...
    @property
    def scenario(self) -> dict[str, Any]: ...
    @property
    def dir(self) -> Path: ...


class ProcessIO:
    """The stdin/stdout/stderr of one session (see the module contract)."""

    def __init__(self, write: Callable[[int, bytes], Awaitable[None]], *, tty: bool, stdin: bool) -> None:
        self._write = write
        self.tty = tty
        self.has_stdin = stdin
        self.stdin: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.closed = asyncio.Event()  # the client went away

    async def read(self) -> bytes | None:
        if not self.has_stdin:
            return None
        return await self.stdin.get()

    async def write(self, fd: int, data: bytes | str) -> None:
        raw = data.encode() if isinstance(data, str) else data
        if self.tty:
            raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            fd = 1  # a tty merges stderr into the terminal
        if raw:
            await self._write(fd, raw)


class PortListener(Protocol):
    """A simulated server socket accepted on one pod port: ``greeting`` is sent on connect, ``feed(data)``
    answers what the client sent, ``closed`` says the server closed the connection."""

    @property
    def greeting(self) -> bytes: ...
    @property
    def closed(self) -> bool: ...
    def feed(self, data: bytes) -> bytes: ...


class PodProcesses(Protocol):
    """The processes inside the sandbox's pods (see the module contract)."""

    async def run_exec(self, pod: Obj, container: str, argv: list[str], io: ProcessIO) -> int: ...
    async def run_attach(self, pod: Obj, container: str, io: ProcessIO) -> int | None: ...
    def open_port(self, pod: Obj, port: int) -> PortListener | None: ...
