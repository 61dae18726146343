"""What ``kubectl exec`` / ``attach`` / ``port-forward`` reach inside a simulated container.

Contract (call on the sandbox loop thread):
- ``ProcessIO`` (defined in ``kube.host``, the transport's side): the streams of one exec/attach session, filled
  by the transport (``kube.streaming``): ``read()`` the next stdin chunk (``None`` = EOF), ``write(fd, data)`` to
  stdout (1) / stderr (2); ``tty`` says whether the client asked for a terminal. With a tty, ``TtyLine`` does
  the terminal's line discipline (echo, backspace, ^C, ^D, ``\\r`` -> newline) and output newlines become
  ``\\r\\n``, as a real pty would.
- ``run_exec(ctx, pod, container, argv, io) -> exit code``: runs ``argv`` as ``kubectl exec`` does.
  Understood: ``/agnhost connect HOST:PORT [--timeout=T] [--protocol=P]`` (outcome decided by
  ``dataplane`` through ``connect.run_connect``, now, from the pod's current labels and IP; success prints
  nothing, failure prints agnhost's ``TIMEOUT`` / ``REFUSED`` / ... on stderr and exits 1; the call takes the
  probe's simulated duration), a shell (``bash``/``sh`` with no script: an interactive shell reading stdin, with
  a prompt when there is a tty; ``sh -c SCRIPT``: the script's lines), and the shell built-ins ``echo`` (with
  ``$?``), ``exit [N]``, ``true``, ``false``, ``hostname``, ``pwd``, ``cd``, ``whoami``, ``id``, ``env``,
  ``sleep N``, ``cat`` of ``/etc/hostname`` / ``/etc/resolv.conf`` / ``/etc/hosts``. Anything else: ``bash:
  CMD: command not found`` (exit 127); an exec of a missing binary fails like the container runtime does
  (exit 126/127 with its message).
- ``run_attach(ctx, pod, container, io) -> exit code | None``: a container whose main process is an interactive
  shell (``kubectl run -it ... -- bash``) is attached to that shell: the prompt is redrawn on attach (what
  readline does on the resize kubectl sends) and ``exit`` ends the container's main process (the kubelet then
  restarts it per ``restartPolicy``: ``record_main_exit``). Any other container streams its log (what it
  prints) until the client goes away; returns ``None`` then.
- ``open_port(ctx, pod, port) -> TcpApp | None``: what listens on ``port`` (TCP) in the pod, as
  ``agnhost.listening`` says; ``TcpApp.feed(data) -> bytes`` answers what a client sent, ``TcpApp.greeting``
  is sent on connect, ``TcpApp.closed`` says the server closed the connection. ``agnhost serve-hostname``
  answers HTTP requests with the pod name (its ``--tcp`` mode writes the name and closes), ``agnhost netexec``
  serves ``/hostname``, ``/echo?msg=``, ``/clientip`` and ``/`` (``NOW: ...``); other listeners answer HTTP 200
  with an empty body.
- ``SimProcesses(ctx)``: the three calls above bound to one sandbox -- the ``kube.host.PodProcesses`` the runtime
  hands to the API server.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import shlex
import urllib.parse
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from netmig_sandbox.kube.host import ProcessIO
from netmig_sandbox.sim import agnhost, connect

if TYPE_CHECKING:
    from netmig_sandbox.context import SandboxContext

Obj = dict[str, Any]
SHELLS = {"sh", "bash", "ash", "dash"}
PROMPTS = {"bash": "bash-5.1# ", "sh": "/ # ", "ash": "/ # ", "dash": "# "}
NOT_FOUND = 127


class TtyLine:
    """Canonical-mode line discipline of a pty: turns raw keystrokes into lines and echoes them."""

    def __init__(self, io: ProcessIO) -> None:
        self.io = io
        self.buf = bytearray()
        self.pending: list[bytes] = []
        self.eof = False

    async def readline(self) -> str | None:
        """The next line without its newline, "" after ^C, None at EOF (^D on an empty line, or stdin closed)."""
        while not self.pending:
            if self.eof:
                return None
            chunk = await self.io.read()
            if chunk is None:
                self.eof = True
                if self.buf:
                    line, self.buf = bytes(self.buf), bytearray()
                    return line.decode(errors="replace")
                return None
            await self._feed(chunk)
        return self.pending.pop(0).decode(errors="replace")

    async def _feed(self, chunk: bytes) -> None:
        echo = bytearray()
        for b in chunk:
            if b in (0x0D, 0x0A):
                echo += b"\r\n"
                self.pending.append(bytes(self.buf))
                self.buf = bytearray()
            elif b in (0x7F, 0x08):
                if self.buf:
                    self.buf.pop()
                    echo += b"\b \b"
            elif b == 0x03:  # ^C: the line is discarded
                echo += b"^C\r\n"
                self.buf = bytearray()
                self.pending.append(b"\x03")
            elif b == 0x04:  # ^D
                if not self.buf:
                    self.eof = True
                    break
            elif b == 0x15:  # ^U
                echo += b"\b \b" * len(self.buf)
                self.buf = bytearray()
            elif b >= 0x20 or b == 0x09:
                self.buf.append(b)
                echo.append(b)
        if echo:
            await self.io._write(1, bytes(echo))


class PlainLines:
    """Lines of a non-tty stdin."""

    def __init__(self, io: ProcessIO) -> None:
        self.io = io
        self.buf = b""
        self.eof = False

    async def readline(self) -> str | None:
        while b"\n" not in self.buf:
            if self.eof:
                break
            chunk = await self.io.read()
            if chunk is None:
                self.eof = True
            else:
                self.buf += chunk
        if not self.buf:
            return None
        line, _sep, rest = self.buf.partition(b"\n")
        self.buf = rest
        return line.decode(errors="replace")


@dataclass
class Shell:
    """A tiny POSIX-ish shell: one pod, one container, its ``$?``."""

    ctx: SandboxContext
    namespace: str
    pod: str
    container: str
    name: str = "bash"
    status: int = 0
    cwd: str = "/"
    env: dict[str, str] = field(default_factory=dict)

    def _pod(self) -> Obj | None:
        store = self.ctx.store
        if not store.exists(("", "pods"), self.namespace, self.pod):
            return None
        return store.get(("", "pods"), self.namespace, self.pod)

    def prompt(self) -> str:
        return PROMPTS.get(self.name, "$ ")

    async def interactive(self, io: ProcessIO) -> int:
        """Read-eval-print until ``exit`` or EOF; returns the exit status."""
        lines: TtyLine | PlainLines = TtyLine(io) if io.tty else PlainLines(io)
        while True:
            if io.tty:
                await io.write(1, self.prompt())
            line = await lines.readline()
            if line is None:
                if io.tty:
                    await io.write(1, "exit\n")
                return self.status
            if line == "\x03":
                self.status = 130
                continue
            done = await self.run_line(line, io)
            if done is not None:
                return done

    async def run_script(self, script: str, io: ProcessIO) -> int:
        for line in script.splitlines():
            done = await self.run_line(line, io)
            if done is not None:
                return done
        return self.status

    async def run_line(self, line: str, io: ProcessIO) -> int | None:
        """Run one command line (``;`` / ``&&`` / ``||`` lists); an int when the shell exits."""
        try:
            words = shlex.split(line, comments=True, posix=True)
        except ValueError as e:
            await io.write(2, f"{self.name}: syntax error: {e}\n")
            self.status = 2
            return None
        cmd: list[str] = []
        skip = False
        for w in [*words, ";"]:
            if w in (";", "&&", "||"):
                if cmd and not skip:
                    done = await self.run_command(cmd, io)
                    if done is not None:
                        return done
                elif cmd and skip:
                    pass
                skip = (w == "&&" and self.status != 0) or (w == "||" and self.status == 0)
                cmd = []
            elif w.endswith(";") and len(w) > 1:
                cmd.append(w[:-1])
                if not skip:
                    done = await self.run_command(cmd, io)
                    if done is not None:
                        return done
                cmd, skip = [], False
            else:
                cmd.append(w)
        return None

    def _expand(self, word: str) -> str:
        word = word.replace("$?", str(self.status))
        if word.startswith("$") and word[1:] in self._environment():
            return self._environment()[word[1:]]
        return word

    def _environment(self) -> dict[str, str]:
        base = {"HOSTNAME": self.pod, "HOME": "/root", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                "/sbin:/bin", "KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443",
                "PWD": self.cwd}
        return {**base, **self.env}

    async def run_command(self, argv: list[str], io: ProcessIO) -> int | None:
        argv = [self._expand(a) for a in argv]
        argv, routes = _redirections(argv)
        if routes:
            io = _Redirected(io, routes)
        env_assign = []
        while argv and "=" in argv[0] and not argv[0].startswith("="):
            env_assign.append(argv.pop(0))
        if not argv:
            for a in env_assign:
                k, _, v = a.partition("=")
                self.env[k] = v
            self.status = 0
            return None
        name = argv[0]
        if name == "exit":
            code = self.status
            if len(argv) > 1:
                try:
                    code = int(argv[1]) & 0xFF
                except ValueError:
                    await io.write(2, f"{self.name}: exit: {argv[1]}: numeric argument required\n")
                    code = 2
            return code
        self.status = await self.execute(argv, io)
        return None

    async def execute(self, argv: list[str], io: ProcessIO) -> int:
        """Run one program (built-in, agnhost, or a nested shell) and return its exit status."""
        name = argv[0]
        base = name.rsplit("/", 1)[-1]
        if base == "agnhost":
            return await self._agnhost(argv[1:], io)
        if base in SHELLS:
            sub = Shell(self.ctx, self.namespace, self.pod, self.container, base, env=dict(self.env))
            if len(argv) >= 3 and argv[1] == "-c":
                return await sub.run_script(argv[2], io)
            return await sub.interactive(io)
        builtin = BUILTINS.get(base)
        if builtin is None:
            await io.write(2, f"{self.name}: {name}: command not found\n")
            return NOT_FOUND
        return await builtin(self, argv, io)

    async def _agnhost(self, args: list[str], io: ProcessIO) -> int:
        if not args:
            await io.write(2, "Usage:\n  agnhost [command]\n")
            return 1
        if args[0] != "connect":
            await io.write(2, f"agnhost {args[0]}: not simulated by the sandbox (only `agnhost connect`)\n")
            return 1
        probe = agnhost._parse_probe(args[1:])
        if probe is None:
            await io.write(2, "Error: usage: agnhost connect HOST:PORT [--timeout=DURATION] "
                              "[--protocol=tcp|udp|sctp]\n")
            return 1
        pod = self._pod()
        if pod is None:
            return 137
        result = connect.run_connect(self.ctx, pod, probe)
        await self.ctx.clock.sleep(result.duration)
        if result.stderr:
            await io.write(2, result.stderr)
        return result.exit_code


def _redirections(argv: list[str]) -> tuple[list[str], dict[int, int | None]]:
    """Split ``>/dev/null``, ``2>/dev/null``, ``2>&1``, ``1>&2`` (also as two words) off a command: fd -> fd,
    or None for /dev/null. Other redirections are left as words (files are not simulated)."""
    import re

    routes: dict[int, int | None] = {}
    out: list[str] = []
    i = 0
    while i < len(argv):
        m = re.fullmatch(r"([12]?)>(&[12]|/dev/null)?", argv[i])
        target = m.group(2) if m else None
        if m and target is None and i + 1 < len(argv) and argv[i + 1] == "/dev/null":
            target, i = "/dev/null", i + 1
        if m and target is not None:
            fd = int(m.group(1) or 1)
            routes[fd] = None if target == "/dev/null" else int(target[1:])
        else:
            out.append(argv[i])
        i += 1
    return out, routes


class _Redirected(ProcessIO):
    """``io`` with some output descriptors sent elsewhere or dropped."""

    def __init__(self, io: ProcessIO, routes: dict[int, int | None]) -> None:
        super().__init__(io._write, tty=io.tty, stdin=io.has_stdin)
        self.inner = io
        self.routes = routes
        self.stdin = io.stdin
        self.closed = io.closed

    async def read(self) -> bytes | None:
        return await self.inner.read()

    async def write(self, fd: int, data: bytes | str) -> None:
        target = self.routes.get(fd, fd)
        if target is not None:
            await self.inner.write(target, data)


async def _echo(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    args = argv[1:]
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    await io.write(1, " ".join(args) + ("\n" if newline else ""))
    return 0


async def _true(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    return 0


async def _false(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    return 1


async def _hostname(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    if "-i" in argv[1:]:
        pod = sh._pod() or {}
        await io.write(1, f"{(pod.get('status') or {}).get('podIP', '')}\n")
    else:
        await io.write(1, sh.pod + "\n")
    return 0


async def _pwd(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    await io.write(1, sh.cwd + "\n")
    return 0


async def _cd(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    target = argv[1] if len(argv) > 1 else "/root"
    sh.cwd = target if target.startswith("/") else (sh.cwd.rstrip("/") + "/" + target)
    return 0


async def _whoami(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    await io.write(1, "root\n")
    return 0


async def _id(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    await io.write(1, "uid=0(root) gid=0(root) groups=0(root)\n")
    return 0


async def _env(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    await io.write(1, "".join(f"{k}={v}\n" for k, v in sorted(sh._environment().items())))
    return 0


async def _sleep(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    try:
        seconds = agnhost.parse_duration(argv[1] if len(argv) > 1 else "")
    except ValueError:
        seconds = -1
    if len(argv) < 2 or seconds < 0:
        await io.write(2, "sleep: invalid number\n")
        return 1
    await sh.ctx.clock.sleep(seconds)
    return 0


def _files(sh: Shell) -> dict[str, str]:
    pod = sh._pod() or {}
    ip = (pod.get("status") or {}).get("podIP", "")
    dns = sh.ctx.store.get(("", "services"), "kube-system", "kube-dns") if sh.ctx.store.exists(
        ("", "services"), "kube-system", "kube-dns") else {}
    dns_ip = (dns.get("spec") or {}).get("clusterIP") or "10.0.0.10"
    return {
        "/etc/hostname": sh.pod + "\n",
        "/etc/resolv.conf": (f"search {sh.namespace}.svc.cluster.local svc.cluster.local cluster.local\n"
                             f"nameserver {dns_ip}\noptions ndots:5\n"),
        "/etc/hosts": ("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
                       f"ip6-loopback\n{ip}\t{sh.pod}\n"),
    }


async def _cat(sh: Shell, argv: list[str], io: ProcessIO) -> int:
    files = _files(sh)
    status = 0
    for path in argv[1:]:
        if path in files:
            await io.write(1, files[path])
        else:
            await io.write(2, f"cat: can't open '{path}': No such file or directory\n")
            status = 1
    return status


BUILTINS: dict[str, Callable[[Shell, list[str], ProcessIO], Awaitable[int]]] = {
    "echo": _echo, "true": _true, "false": _false, ":": _true, "hostname": _hostname, "pwd": _pwd, "cd": _cd,
    "whoami": _whoami, "id": _id, "env": _env, "printenv": _env, "sleep": _sleep, "cat": _cat,
}


# ------------------------------------------------------------------ exec / attach
def _container(pod: Obj, name: str) -> Obj:
    for c in (pod.get("spec") or {}).get("containers") or []:
        if c.get("name") == name:
            return dict(c)
    return {}


def main_argv(container: Obj) -> list[str]:
    return [str(a) for a in (container.get("command") or [])] + [str(a) for a in (container.get("args") or [])]


def is_interactive_shell(container: Obj) -> bool:
    """The container's main process is a shell reading its stdin (``kubectl run -it ... -- bash``)."""
    argv = main_argv(container)
    return (bool(argv) and argv[0].rsplit("/", 1)[-1] in SHELLS and "-c" not in argv[1:2]
            and bool(container.get("stdin")))


async def run_exec(ctx: SandboxContext, pod: Obj, container: str, argv: list[str], io: ProcessIO) -> int:
    """``kubectl exec``: run ``argv`` in the container (see the module contract)."""
    meta = pod.get("metadata") or {}
    base = argv[0].rsplit("/", 1)[-1]
    shell = Shell(ctx, meta.get("namespace", "default"), meta.get("name", ""), container,
                  base if base in SHELLS else "sh")
    if base not in SHELLS and base != "agnhost" and base not in BUILTINS:
        await io.write(2, f'OCI runtime exec failed: exec failed: unable to start container process: exec: '
                          f'"{argv[0]}": executable file not found in $PATH: unknown\n')
        return NOT_FOUND if "/" not in argv[0] else 126
    return await shell.execute(argv, io)


async def run_attach(ctx: SandboxContext, pod: Obj, container: str, io: ProcessIO) -> int | None:
    """``kubectl attach`` / ``kubectl run -it``: see the module contract."""
    meta = pod.get("metadata") or {}
    ns, name = meta.get("namespace", "default"), meta.get("name", "")
    spec = _container(pod, container)
    if is_interactive_shell(spec):
        base = main_argv(spec)[0].rsplit("/", 1)[-1]
        shell = Shell(ctx, ns, name, container, base)
        logged = _Logged(io, ctx.logs, (ns, name, container))
        code = await shell.interactive(logged)
        if io.closed.is_set() and not spec.get("stdinOnce"):
            return code  # detached: the main shell's stdin stays open (its state is not kept between attaches)
        record_main_exit(ctx, ns, name, container, code)
        return code
    text = ctx.logs.get((ns, name, container), "")
    if text:
        await io.write(1, text)
    await io.closed.wait()
    return None


class _Logged(ProcessIO):
    """``io`` whose output (and, on a tty, its echo) also goes to the container's log, as the main process's
    terminal output does on a real node."""

    def __init__(self, io: ProcessIO, logs: dict[tuple[str, str, str], str], key: tuple[str, str, str]) -> None:
        async def write(fd: int, data: bytes) -> None:
            logs[key] = logs.get(key, "") + data.decode(errors="replace")
            await io._write(fd, data)

        super().__init__(write, tty=io.tty, stdin=io.has_stdin)
        self.stdin = io.stdin
        self.closed = io.closed


def record_main_exit(ctx: SandboxContext, namespace: str, pod: str, container: str, code: int) -> None:
    """The container's main process exited with ``code``: restartPolicy Always (or OnFailure after a failure)
    restarts it at once (restartCount + 1, lastState terminated); otherwise the container stays terminated."""
    from netmig_sandbox.kube.store import ApiError, now_iso

    policy = "Always"
    try:
        current = ctx.store.get(("", "pods"), namespace, pod)
    except ApiError:
        return
    policy = (current.get("spec") or {}).get("restartPolicy") or "Always"
    restarts = policy == "Always" or (policy == "OnFailure" and code != 0)
    if not restarts:
        kubelet = ctx.services.get("kubelet")
        if kubelet is not None:
            kubelet.terminate_container((namespace, pod), container, code)
        return
    now = now_iso()

    def restart(o: Obj) -> None:
        for cs in (o.get("status") or {}).get("containerStatuses") or []:
            if cs.get("name") != container:
                continue
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", now)
            cs["lastState"] = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                              "startedAt": started, "finishedAt": now,
                                              "containerID": cs.get("containerID")}}
            cs["restartCount"] = int(cs.get("restartCount") or 0) + 1
            cs["state"] = {"running": {"startedAt": now}}

    with contextlib.suppress(ApiError):
        ctx.store.update(("", "pods"), namespace, pod, restart)


# ------------------------------------------------------------------ port-forward targets
@dataclass
class TcpApp:
    """A simulated server socket accepted on one pod port (see the module contract)."""

    kind: str  # "http-hostname" | "tcp-hostname" | "netexec" | "generic"
    hostname: str
    greeting: bytes = b""
    closed: bool = False
    _buf: bytes = b""

    def feed(self, data: bytes) -> bytes:
        if self.kind == "tcp-hostname":
            return b""
        self._buf += data
        out = b""
        while b"\r\n\r\n" in self._buf:
            head, _, rest = self._buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ")
            headers = {ln.split(":", 1)[0].strip().lower(): ln.split(":", 1)[1].strip()
                       for ln in lines[1:] if ":" in ln}
            length = int(headers.get("content-length", "0") or 0)
            if len(rest) < length:
                break
            self._buf = rest[length:]
            target = parts[1] if len(parts) > 1 else "/"
            status, body = self._answer(parts[0] if parts else "GET", target)
            close = headers.get("connection", "").lower() == "close" or (len(parts) > 2 and parts[2] == "HTTP/1.0")
            now = dt.datetime.now(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
            out += (f"HTTP/1.1 {status}\r\nDate: {now}\r\nContent-Length: {len(body)}\r\n"
                    f"Content-Type: text/plain; charset=utf-8\r\n" + ("Connection: close\r\n" if close else "")
                    + "\r\n").encode() + body
            if close:
                self.closed = True
                break
        return out

    def _answer(self, method: str, target: str) -> tuple[str, bytes]:
        url = urllib.parse.urlsplit(target)
        if self.kind == "http-hostname":
            return "200 OK", self.hostname.encode()
        if self.kind == "netexec":
            q = urllib.parse.parse_qs(url.query)
            if url.path == "/hostname":
                return "200 OK", self.hostname.encode()
            if url.path == "/echo":
                return "200 OK", (q.get("msg") or [""])[0].encode()
            if url.path == "/clientip":
                return "200 OK", b"127.0.0.1:54321"
            if url.path in ("/", ""):
                return "200 OK", f"NOW: {dt.datetime.now(dt.UTC)}".encode()
            return "404 Not Found", b"404 page not found\n"
        return "200 OK", b""


def open_port(ctx: SandboxContext, pod: Obj, port: int) -> TcpApp | None:
    """What accepts a TCP connection on ``port`` inside ``pod`` (see the module contract), or None."""
    name = (pod.get("metadata") or {}).get("name", "")
    for c in (pod.get("spec") or {}).get("containers") or []:
        prog = agnhost.parse_container(c)
        if (port, "TCP") not in prog.listens:
            continue
        argv = main_argv(c)
        words = argv if not argv or argv[0].rsplit("/", 1)[-1] == "agnhost" else ["agnhost", *argv]
        sub = words[1] if len(words) > 1 else ""
        if sub == "serve-hostname":
            flags, _ = agnhost._flags(words[2:], {"tcp", "udp", "http", "close"})
            if agnhost._truthy(flags.get("http"), True):
                return TcpApp("http-hostname", name)
            return TcpApp("tcp-hostname", name, greeting=name.encode(), closed=True)
        if sub == "netexec":
            return TcpApp("netexec", name)
        return TcpApp("generic", name)
    return None


class SimProcesses:
    """``run_exec`` / ``run_attach`` / ``open_port`` bound to one sandbox (a ``kube.host.PodProcesses``)."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx

    async def run_exec(self, pod: Obj, container: str, argv: list[str], io: ProcessIO) -> int:
        return await run_exec(self.ctx, pod, container, argv, io)

    async def run_attach(self, pod: Obj, container: str, io: ProcessIO) -> int | None:
        return await run_attach(self.ctx, pod, container, io)

    def open_port(self, pod: Obj, port: int) -> TcpApp | None:
        return open_port(self.ctx, pod, port)
