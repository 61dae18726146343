"""The streaming subresources of pods: ``exec``, ``attach`` and ``portforward`` over WebSocket.

Protocols (what kubectl 1.32 and the Python ``kubernetes`` client speak):
- exec / attach: WebSocket subprotocol ``v5.channel.k8s.io`` (kubectl >= 1.30) or ``v4.channel.k8s.io`` (the
  Python client). Every binary (or, from the Python client, text) message starts with a channel byte: 0 stdin,
  1 stdout, 2 stderr, 3 error (the server writes one ``metav1.Status`` JSON there at the end: ``Success``, or
  ``Failure`` / reason ``NonZeroExitCode`` with the exit code in ``details.causes[0].message``; attach always
  ``Success``: kubectl takes a finished container's exit code from the pod), 4 resize
  (``{"Width","Height"}``, accepted and ignored), 255 close (v5 only: ``[255, 0]`` half-closes stdin). The
  server closes the WebSocket after the error channel.
- portforward: subprotocol ``SPDY/3.1+portforward.k8s.io`` (kubectl >= 1.31 tunnels SPDY/3.1 inside the
  WebSocket's binary messages; see ``spdy``): per forwarded connection the client opens an ``error`` and a
  ``data`` stream (headers ``streamtype``, ``port``, ``requestid``), the server replies to both, relays the data
  stream to the simulated pod port (``pods.open_port``) and half-closes the error stream (empty = no
  error) when the connection ends. Or ``v4.channel.k8s.io`` / ``portforward.k8s.io`` (the Python client): ports
  from ``?ports=``; channel 2i is port i's data, 2i+1 its error; the server first sends each channel its port
  number (2 bytes, little endian).
- A plain SPDY/3.1 upgrade (``KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`` / ``KUBECTL_PORT_FORWARD_WEBSOCKETS=false``,
  or kubectl < 1.30) is answered 400 with a ``Status`` saying so; a request without an upgrade 400 "Upgrade
  request required", like the real API server.
Requests are validated first (as the API server and kubelet do, with their messages): the pod exists (404),
a container name is needed when the pod has several, it must be one of the pod's, the pod must not be completed,
the container must be running (``container not found``), exec needs a command, and at least one of
stdin/stdout/stderr.

Contract: ``handle(ctx, pods, request, namespace, pod_name, sub) -> StreamResponse`` is called by the server for
``pods/{name}/{exec|attach|portforward}`` with GET or POST; ``ctx`` is the ``kube.host.KubeHost`` (the store) and
``pods`` the ``kube.host.PodProcesses`` that runs what the session reaches inside the pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import WSMsgType, web

from netmig_sandbox.kube import spdy
from netmig_sandbox.kube.host import KubeHost, PodProcesses, ProcessIO
from netmig_sandbox.kube.store import ApiError

log = logging.getLogger(__name__)
Obj = dict[str, Any]

CHANNEL_V5 = "v5.channel.k8s.io"
CHANNEL_V4 = "v4.channel.k8s.io"
SPDY_TUNNEL = "SPDY/3.1+portforward.k8s.io"
PORTFORWARD_V1 = "portforward.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
SUBRESOURCES = ("exec", "attach", "portforward")
NO_SPDY = ("the sandbox API server serves exec, attach and port-forward over WebSocket only "
           f"({CHANNEL_V5}, {CHANNEL_V4}, {SPDY_TUNNEL}); SPDY/3.1 upgrades are not supported: use kubectl >= 1.31 "
           "without KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false / KUBECTL_PORT_FORWARD_WEBSOCKETS=false")


def _bool(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


def _offered(request: web.Request) -> list[str]:
    return [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]


def _bad(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def _pick_container(pod: Obj, request: web.Request) -> str:
    name = pod["metadata"]["name"]
    containers = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
    wanted = request.query.get("container")
    if not wanted:
        if len(containers) != 1:
            raise _bad(f"a container name must be specified for pod {name}, choose one of: "
                       f"[{' '.join(containers)}]")
        return containers[0]
    if wanted not in containers:
        raise _bad(f"container {wanted} is not valid for pod {name}")
    return wanted


def _check_running(pod: Obj, container: str | None) -> None:
    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        raise _bad(f"cannot exec into a container in a completed pod; current phase is {phase}")
    if container is None:
        if phase != "Running":
            raise _bad(f"pod {pod['metadata']['name']} is not running (phase {phase})")
        return
    for cs in status.get("containerStatuses") or []:
        if cs.get("name") == container and "running" in (cs.get("state") or {}):
            return
    raise _bad(f'container not found ("{container}")')


def _status_success() -> Obj:
    return {"metadata": {}, "status": "Success"}


def _status_exit(argv: list[str], code: int) -> Obj:
    return {"metadata": {}, "status": "Failure",
            "message": f"command terminated with non-zero exit code: error executing command [{' '.join(argv)}], "
                       f"exit code {code}",
            "reason": "NonZeroExitCode", "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}


async def handle(ctx: KubeHost, pods: PodProcesses, request: web.Request, namespace: str, pod_name: str,
                 sub: str) -> web.StreamResponse:
    """Serve one exec/attach/portforward request (see the module contract); raises ``ApiError`` for refusals."""
    if request.method not in ("GET", "POST"):
        raise ApiError(405, "MethodNotAllowed", f"the server does not allow {request.method} on pods/{sub}")
    pod = ctx.store.get(("", "pods"), namespace, pod_name)
    upgrade = request.headers.get("Upgrade", "").lower()
    container: str | None = None
    argv: list[str] = []
    if sub in ("exec", "attach"):
        container = _pick_container(pod, request)
        if sub == "exec":
            argv = request.query.getall("command", [])
            if not argv:
                raise _bad("you must specify at least one command for the container")
        if not any(_bool(request, s) for s in ("stdin", "stdout", "stderr")):
            raise _bad("you must specify at least 1 of stdin, stdout, stderr")
    _check_running(pod, container)
    if upgrade.startswith("spdy"):
        raise _bad(NO_SPDY)
    if upgrade != "websocket":
        raise _bad("Upgrade request required")
    offered = _offered(request)
    supported = [SPDY_TUNNEL, CHANNEL_V4, PORTFORWARD_V1] if sub == "portforward" else [CHANNEL_V5, CHANNEL_V4]
    chosen = next((p for p in offered if p in supported), None)
    if chosen is None:
        raise _bad(f"none of the offered WebSocket subprotocols {offered} is supported; this server speaks "
                   f"{', '.join(supported)}")
    ws = web.WebSocketResponse(protocols=(chosen,), autoping=True, max_msg_size=0)
    await ws.prepare(request)
    try:
        if sub == "portforward":
            if chosen == SPDY_TUNNEL:
                await _portforward_spdy(ctx, pods, ws, namespace, pod_name)
            else:
                await _portforward_channels(ctx, pods, ws, request, namespace, pod_name)
        else:
            assert container is not None
            await _session(ctx, pods, ws, request, pod, container, argv, v5=chosen == CHANNEL_V5)
    except ConnectionError:
        pass  # the client went away
    finally:
        with contextlib.suppress(Exception):
            await ws.close()
    return ws


# ------------------------------------------------------------------ exec / attach
def _payload(msg: Any) -> bytes | None:
    if msg.type == WSMsgType.BINARY:
        return bytes(msg.data)
    if msg.type == WSMsgType.TEXT:
        return str(msg.data).encode()
    return None


async def _session(ctx: KubeHost, pods: PodProcesses, ws: web.WebSocketResponse, request: web.Request,
                   pod: Obj, container: str, argv: list[str], *, v5: bool) -> None:
    want = {STDOUT: _bool(request, "stdout"), STDERR: _bool(request, "stderr")}
    tty = _bool(request, "tty")
    lock = asyncio.Lock()

    async def write(fd: int, data: bytes) -> None:
        if tty or want.get(fd):
            async with lock:
                if not ws.closed:
                    await ws.send_bytes(bytes([fd]) + data)

    io = ProcessIO(write, tty=tty, stdin=_bool(request, "stdin"))

    async def pump() -> None:
        try:
            async for msg in ws:
                data = _payload(msg)
                if not data:
                    continue
                channel, rest = data[0], data[1:]
                if channel == STDIN and rest:
                    io.stdin.put_nowait(rest)
                elif channel == CLOSE and v5 and rest[:1] == bytes([STDIN]):
                    io.stdin.put_nowait(None)
        finally:
            io.closed.set()
            io.stdin.put_nowait(None)

    reader = asyncio.get_running_loop().create_task(pump())
    try:
        if argv:
            code: int | None = await pods.run_exec(pod, container, argv, io)
        else:
            code = await pods.run_attach(pod, container, io)
        if code is not None and not ws.closed:
            # attach reports no exit code (the kubelet's attach stream just ends); kubectl reads the container's
            # state from the pod instead. exec does report it.
            status = _status_success() if code == 0 or not argv else _status_exit(argv, code)
            async with lock:
                await ws.send_bytes(bytes([ERROR]) + json.dumps(status).encode())
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader


# ------------------------------------------------------------------ port-forward
def _refused(pod: Obj, port: int) -> str:
    uid = pod["metadata"].get("uid", "")
    return (f"error forwarding port {port} to pod {uid}, uid : failed to execute portforward in network "
            f"namespace \"/var/run/netns/cni-{uid[:8]}\": failed to connect to localhost:{port} inside "
            f"namespace \"{uid}\", IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused IPv6 "
            f"dial tcp6 [::1]:{port}: connect: connection refused ")


class _Connection:
    """One forwarded TCP connection: client bytes in ``inbox`` (None = client closed)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.error_id = 0
        self.data_id = 0
        self.inbox: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None


async def _serve_port(ctx: KubeHost, pods: PodProcesses, namespace: str, pod_name: str, conn: _Connection,
                      send_data: Any, send_error: Any) -> None:
    """Relay one connection to the simulated listener; ``send_data(bytes, fin)``, ``send_error(text)``."""
    try:
        pod = ctx.store.get(("", "pods"), namespace, pod_name)
    except ApiError as e:
        await send_error(e.message)
        return
    app = pods.open_port(pod, conn.port)
    if app is None:
        await send_error(_refused(pod, conn.port))
        return
    if app.greeting:
        await send_data(app.greeting, app.closed)
    if app.closed:
        return
    while True:
        chunk = await conn.inbox.get()
        if chunk is None:
            await send_data(b"", True)
            return
        answer = app.feed(chunk)
        if answer or app.closed:
            await send_data(answer, app.closed)
        if app.closed:
            return


async def _portforward_spdy(ctx: KubeHost, pods: PodProcesses, ws: web.WebSocketResponse, namespace: str,
                            pod_name: str) -> None:
    framer = spdy.Framer()
    lock = asyncio.Lock()
    by_request: dict[str, _Connection] = {}
    by_stream: dict[int, _Connection] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def send(build: Any) -> None:
        async with lock:  # frames are built (header compression state) and sent in one order
            if not ws.closed:
                await ws.send_bytes(build())

    async def run(conn: _Connection) -> None:
        data_done = False

        async def send_data(data: bytes, fin: bool) -> None:
            nonlocal data_done
            if not data_done:
                data_done = fin
                await send(lambda: spdy.Framer.data(conn.data_id, data, fin))

        async def send_error(text: str) -> None:
            await send(lambda: spdy.Framer.data(conn.error_id, text.encode(), False))

        try:
            await _serve_port(ctx, pods, namespace, pod_name, conn, send_data, send_error)
        finally:
            # the client waits for the data stream to end, then reads the error stream to its end
            with contextlib.suppress(ConnectionError, RuntimeError):
                await send_data(b"", True)
                await send(lambda: spdy.Framer.data(conn.error_id, b"", True))

    try:
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            try:
                frames = framer.feed(bytes(msg.data))
            except spdy.ProtocolError as e:
                log.warning("port-forward: %s", e)
                await send(lambda: framer.goaway(0))
                return
            for f in frames:
                if f.control and f.type == spdy.SYN_STREAM:
                    sid = f.stream_id
                    await send(lambda sid=sid: framer.syn_reply(sid))
                    rid = f.headers.get("requestid", "0")
                    try:
                        port = int(f.headers.get("port", ""))
                    except ValueError:
                        await send(lambda sid=sid: framer.rst(sid, spdy.RST_PROTOCOL_ERROR))
                        continue
                    conn = by_request.setdefault(rid, _Connection(port))
                    if f.headers.get("streamtype") == "error":
                        conn.error_id = sid
                    else:
                        conn.data_id = sid
                    by_stream[sid] = conn
                    if conn.error_id and conn.data_id and conn.task is None:
                        conn.task = asyncio.get_running_loop().create_task(run(conn))
                        tasks.add(conn.task)
                        conn.task.add_done_callback(tasks.discard)
                elif not f.control:
                    target = by_stream.get(f.stream_id)
                    if target is not None and f.stream_id == target.data_id:
                        if f.payload:
                            target.inbox.put_nowait(f.payload)
                        if f.fin:
                            target.inbox.put_nowait(None)
                elif f.type == spdy.RST_STREAM:
                    target = by_stream.get(f.stream_id)
                    if target is not None and f.stream_id == target.data_id:
                        target.inbox.put_nowait(None)
                elif f.type == spdy.PING:
                    pid = f.value
                    await send(lambda pid=pid: framer.ping(pid))
                elif f.type == spdy.GOAWAY:
                    return
    finally:
        for t in list(tasks):
            t.cancel()
        for t in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t


async def _portforward_channels(ctx: KubeHost, pods: PodProcesses, ws: web.WebSocketResponse,
                                request: web.Request, namespace: str, pod_name: str) -> None:
    ports: list[int] = []
    for raw in request.query.getall("ports", []):
        ports.extend(int(word) for word in raw.split(",") if word.strip().isdigit())
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + data)

    conns = [_Connection(p) for p in ports]
    for i, p in enumerate(ports):
        await send(2 * i, p.to_bytes(2, "little"))
        await send(2 * i + 1, p.to_bytes(2, "little"))
    tasks = []
    for i, conn in enumerate(conns):
        async def send_data(data: bytes, fin: bool, i: int = i) -> None:
            if data:
                await send(2 * i, data)

        async def send_error(text: str, i: int = i) -> None:
            await send(2 * i + 1, text.encode())

        tasks.append(asyncio.get_running_loop().create_task(
            _serve_port(ctx, pods, namespace, pod_name, conn, send_data, send_error)))
    try:
        async for msg in ws:
            data = _payload(msg)
            if not data:
                continue
            channel, rest = data[0], data[1:]
            if channel % 2 == 0 and channel // 2 < len(conns) and rest:
                conns[channel // 2].inbox.put_nowait(rest)
    finally:
        for c in conns:
            c.inbox.put_nowait(None)
        for t in tasks:
            t.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
