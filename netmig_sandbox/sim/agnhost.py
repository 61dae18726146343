"""What the simulated containers "run": agnhost servers, agnhost connect probes, batch probe scripts, idlers.

Contract:
- ``parse_container(container) -> Program`` classifies a container from ``command`` + ``args`` (pure):
  - ``server``: ``agnhost serve-hostname`` (flags ``--tcp``, ``--udp``, ``--http`` default true, ``--port`` default
    9376; HTTP and TCP both mean a TCP listener) or ``agnhost netexec`` (``--http-port`` 8080/TCP, ``--udp-port``
    8081/UDP, ``--sctp-port`` when > 0). It listens exactly where agnhost would (declared ports are ignored).
  - ``idle``: anything else that keeps running (``sleep``, ``bash``, ``pause``, an unknown image). Modelling choice:
    a non-agnhost container that declares ``ports`` is treated as LISTENING on its declared containerPort/protocol,
    because real servers typically do; one declaring none listens nowhere.
  - ``connect``: ``agnhost connect HOST:PORT [--timeout=T] [--protocol=tcp|udp|sctp]`` (``/agnhost`` or
    ``agnhost``, command or args, flags as ``--f=v`` or ``--f v``). Terminates once Running.
  - ``batch``: ``["/bin/sh", "-c", SCRIPT]`` (or ``sh``/``bash``) where SCRIPT is a sequence of *steps*, each
    either one sequential line (one line; shown here split after ``;``)::

        /agnhost connect HOST:PORT --timeout=Ts --protocol=P >/dev/null 2>/tmp/e;
        echo "netmig-probe ID $? $(head -c 200 /tmp/e)"

    or a *parallel group*: one or more backgrounded lines, each writing stderr to its own file ``/tmp/eN``::

        { /agnhost connect HOST:PORT --timeout=Ts --protocol=P >/dev/null 2>/tmp/eN;
          echo "netmig-probe ID $? $(head -c 200 /tmp/eN)"; } &

    followed by a line ``wait`` (N the same number in both places and distinct within the group, else the lines
    would read each other's stderr; a sequential line or the end of the script while a group is not yet waited for
    is rejected: a real shell would run them concurrently or exit before the group ends).
    (ID a token without spaces, P tcp|udp|sctp). On a real cluster this is a plain POSIX shell script doing the
    same thing; the product's verifier must emit exactly these shapes. The sandbox interprets only them: one log
    line per probe ``netmig-probe ID <exit> <stderr without trailing newline>`` and the shell exits 0.
    ``Program.batch`` holds the steps in order, each a tuple of the (ID, Probe) pairs that start together (one for
    a sequential line); the kubelet runs a step's connects at once, each with its own simulated duration, so a
    group lasts as long as its slowest connect, and logs each line when its connect finishes.
  - ``invalid``: a shell script that mentions agnhost but is not of the batch shape, or a malformed
    ``agnhost connect``: it terminates with exit 1 and stderr ``OTHER: unsupported in sandbox``.
    A shell script not mentioning agnhost is ``idle`` (e.g. ``sleep 3600`` loops).
- Pure: running a probe (name resolution, the dataplane's decision, agnhost's output) is
  ``netmig_sandbox.sim.connect``; ``Result`` is what it returns, ``probe_log_line`` what a batch script logs.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

Obj = dict[str, Any]
ProgramKind = Literal["server", "idle", "connect", "batch", "invalid"]
UNSUPPORTED = "OTHER: unsupported in sandbox\n"
SHELLS = ("sh", "bash", "ash", "dash")

PROBE_LINE = re.compile(
    r'^/agnhost connect (?P<host>[^\s:]+):(?P<port>\d+) --timeout=(?P<timeout>\S+) '
    r'--protocol=(?P<proto>tcp|udp|sctp) >/dev/null 2>/tmp/e; '
    r'echo "netmig-probe (?P<id>[^\s"$`\\]+) \$\? \$\(head -c 200 /tmp/e\)"$'
)
PARALLEL_LINE = re.compile(
    r'^\{ /agnhost connect (?P<host>[^\s:]+):(?P<port>\d+) --timeout=(?P<timeout>\S+) '
    r'--protocol=(?P<proto>tcp|udp|sctp) >/dev/null 2>/tmp/e(?P<slot>\d+); '
    r'echo "netmig-probe (?P<id>[^\s"$`\\]+) \$\? \$\(head -c 200 /tmp/e(?P<slot2>\d+)\)"; \} &$'
)


@dataclass(frozen=True)
class Probe:
    """One ``agnhost connect``: destination host (IP or name), port, timeout (s), protocol (TCP|UDP|SCTP)."""

    host: str
    port: int
    timeout: float
    protocol: str


Step = tuple[tuple[str, Probe], ...]  # probes started together (one for a sequential line)


@dataclass(frozen=True)
class Program:
    kind: ProgramKind
    listens: frozenset[tuple[int, str]] = frozenset()
    probe: Probe | None = None
    batch: tuple[Step, ...] = ()  # see ``batch`` in the module docstring


@dataclass
class Result:
    exit_code: int
    stderr: str
    duration: float
    outcome: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def parse_duration(text: str) -> float:
    """A Go duration (``3s``, ``500ms``, ``1m30s``, ``0``) in seconds; ValueError if malformed."""
    text = text.strip()
    if text in ("0", ""):
        return 0.0
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    total, pos = 0.0, 0
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text):
        if m.start() != pos:
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * units[m.group(2)]
        pos = m.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return total


def _flags(tokens: list[str], bool_flags: set[str]) -> tuple[dict[str, str], list[str]]:
    """Go pflag-style parsing: ``--f=v``, ``--f v``, ``-f v``; bool flags never consume the next token."""
    flags: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("-") and len(tok) > 1:
            name = tok.lstrip("-")
            if "=" in name:
                k, v = name.split("=", 1)
                flags[k] = v
            elif name in bool_flags:
                flags[name] = "true"
            elif i + 1 < len(tokens):
                flags[name] = tokens[i + 1]
                i += 1
            else:
                flags[name] = ""
        else:
            positional.append(tok)
        i += 1
    return flags, positional


def _truthy(v: str | None, default: bool) -> bool:
    if v is None:
        return default
    return v.lower() in ("true", "1", "t", "yes")


def _declared(container: Obj) -> frozenset[tuple[int, str]]:
    out = set()
    for p in container.get("ports") or []:
        if p.get("containerPort"):
            out.add((int(p["containerPort"]), (p.get("protocol") or "TCP").upper()))
    return frozenset(out)


def _parse_probe(tokens: list[str]) -> Probe | None:
    flags, positional = _flags(tokens, set())
    if len(positional) != 1 or ":" not in positional[0]:
        return None
    host, _, port = positional[0].rpartition(":")
    proto = flags.get("protocol", "tcp").lower()
    if not host or not port.isdigit() or proto not in ("tcp", "udp", "sctp"):
        return None
    try:
        timeout = parse_duration(flags.get("timeout", "0"))
    except ValueError:
        return None
    return Probe(host.strip("[]"), int(port), timeout, proto.upper())


def _line_probe(m: re.Match[str]) -> tuple[str, Probe] | None:
    try:
        timeout = parse_duration(m.group("timeout"))
    except ValueError:
        return None
    return m.group("id"), Probe(m.group("host"), int(m.group("port")), timeout, m.group("proto").upper())


def parse_script(script: str) -> tuple[Step, ...] | None:
    """The steps of a batch probe script (see ``batch`` in the module docstring), or None when any line is not of
    an accepted shape or a parallel group is malformed (a reused ``/tmp/eN``, no ``wait`` before the next
    sequential line or the end)."""
    steps: list[Step] = []
    group: list[tuple[str, Probe]] = []
    slots: set[str] = set()
    for raw in script.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "wait":
            if not group:
                return None  # nothing to wait for: not a shape the verifier writes
            steps.append(tuple(group))
            group, slots = [], set()
            continue
        par = PARALLEL_LINE.match(line)
        if par is not None:
            slot = par.group("slot")
            if slot != par.group("slot2") or slot in slots:
                return None
            slots.add(slot)
            got = _line_probe(par)
            if got is None:
                return None
            group.append(got)
            continue
        m = PROBE_LINE.match(line)
        if m is None or group:
            return None
        got = _line_probe(m)
        if got is None:
            return None
        steps.append((got,))
    if group:
        return None
    return tuple(steps) if steps else None


def _agnhost(sub: str, rest: list[str], container: Obj) -> Program:
    if sub == "serve-hostname":
        flags, _ = _flags(rest, {"tcp", "udp", "http", "close"})
        port = int(flags.get("port", "9376") or 9376)
        listens = set()
        if _truthy(flags.get("tcp"), False) or _truthy(flags.get("http"), True):
            listens.add((port, "TCP"))
        if _truthy(flags.get("udp"), False):
            listens.add((port, "UDP"))
        return Program("server", frozenset(listens))
    if sub == "netexec":
        flags, _ = _flags(rest, {"delay-shutdown"})
        listens = {(int(flags.get("http-port", "8080")), "TCP")}
        udp = int(flags.get("udp-port", "8081"))
        if udp > 0:
            listens.add((udp, "UDP"))
        sctp = int(flags.get("sctp-port", "-1"))
        if sctp > 0:
            listens.add((sctp, "SCTP"))
        return Program("server", frozenset(listens))
    if sub == "connect":
        probe = _parse_probe(rest)
        return Program("connect", probe=probe) if probe else Program("invalid")
    return Program("idle", _declared(container))


def parse_container(container: Obj) -> Program:
    """Classify a container; see the module docstring."""
    argv = [str(a) for a in (container.get("command") or [])] + [str(a) for a in (container.get("args") or [])]
    if not argv:
        return Program("idle", _declared(container))
    base = argv[0].rsplit("/", 1)[-1]
    if base in SHELLS and len(argv) >= 3 and argv[1] == "-c":
        script = argv[2]
        if "agnhost" not in script:
            return Program("idle", _declared(container))
        probes = parse_script(script)
        if probes is None:
            return Program("invalid")
        return Program("batch", batch=probes)
    if base == "agnhost" and len(argv) >= 2:
        return _agnhost(argv[1], argv[2:], container)
    if not container.get("command") and "agnhost" in str(container.get("image", "")) and argv:
        return _agnhost(argv[0], argv[1:], container)
    return Program("idle", _declared(container))


def listening(container: Obj) -> frozenset[tuple[int, str]]:
    """(port, PROTOCOL) pairs a running container listens on."""
    return parse_container(container).listens


def probe_log_line(probe_id: str, result: Result) -> str:
    """What the batch script's ``echo`` prints for one probe (``$(...)`` strips trailing newlines)."""
    return f"netmig-probe {probe_id} {result.exit_code} {result.stderr[:200].rstrip(chr(10))}\n"


def quote_probe_line(probe_id: str, host: str, port: int, timeout_s: int, protocol: str,
                     slot: int | None = None) -> str:
    """Build one batch line of an accepted shape (helper for tests): sequential, or backgrounded using
    ``/tmp/e<slot>`` when ``slot`` is given (a parallel group ends with a line ``wait``)."""
    connect = f"/agnhost connect {shlex.quote(host)}:{port} --timeout={timeout_s}s --protocol={protocol.lower()}"
    if slot is None:
        return f'{connect} >/dev/null 2>/tmp/e; echo "netmig-probe {probe_id} $? $(head -c 200 /tmp/e)"'
    return (f'{{ {connect} >/dev/null 2>/tmp/e{slot}; echo "netmig-probe {probe_id} $? '
            f'$(head -c 200 /tmp/e{slot})"; }} &')
