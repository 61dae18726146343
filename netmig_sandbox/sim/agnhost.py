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
  - ``batch``: ``["/bin/sh", "-c", SCRIPT]`` (or ``sh``/``bash``) where every non-empty line of SCRIPT is exactly
    (one line; shown here split after ``;``)::

        /agnhost connect HOST:PORT --timeout=Ts --protocol=P >/dev/null 2>/tmp/e;
        echo "netmig-probe ID $? $(head -c 200 /tmp/e)"

    (ID a token without spaces, P tcp|udp|sctp). On a real cluster this is a plain POSIX shell script doing the
    same thing; the product's verifier must emit exactly this shape. The sandbox interprets only that shape:
    one log line per probe ``netmig-probe ID <exit> <stderr without trailing newline>`` and the shell exits 0.
  - ``invalid``: a shell script that mentions agnhost but is not of the batch shape, or a malformed
    ``agnhost connect``: it terminates with exit 1 and stderr ``OTHER: unsupported in sandbox``.
    A shell script not mentioning agnhost is ``idle`` (e.g. ``sleep 3600`` loops).
- ``run_connect(ctx, pod, probe) -> Result`` performs one ``agnhost connect`` from ``pod`` now: resolves HOST
  (an IP, or a Service name ``svc``, ``svc.ns``, ``svc.ns.svc``, ``svc.ns.svc.cluster.local`` using the pod's
  resolv.conf search list; headless services resolve to their first ready endpoint), asks
  ``dataplane.decide`` and renders agnhost's real output: success -> exit 0, no output; failure -> exit 1 and
  stderr ``TIMEOUT`` / ``REFUSED`` / ``OTHER: ...`` / ``DNS: ...``, each ending in a newline. Name resolution
  goes to kube-dns: when a ``kube-system/kube-dns`` Service exists, the pod must reach it on UDP 53 through the
  dataplane (an egress policy without DNS makes the lookup time out: ``DNS: lookup NAME on IP:53: ... i/o
  timeout``); without that Service the sandbox resolves directly. ``Result.duration`` is the simulated time the
  probe takes (the full ``--timeout`` for TIMEOUT; agnhost's default timeout 0 means the kernel's ~127 s).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from netmig_sandbox.context import SandboxContext

Obj = dict[str, Any]
ProgramKind = Literal["server", "idle", "connect", "batch", "invalid"]
UNSUPPORTED = "OTHER: unsupported in sandbox\n"
SHELLS = ("sh", "bash", "ash", "dash")
CLUSTER_DOMAIN = "cluster.local"

PROBE_LINE = re.compile(
    r'^/agnhost connect (?P<host>[^\s:]+):(?P<port>\d+) --timeout=(?P<timeout>\S+) '
    r'--protocol=(?P<proto>tcp|udp|sctp) >/dev/null 2>/tmp/e; '
    r'echo "netmig-probe (?P<id>[^\s"$`\\]+) \$\? \$\(head -c 200 /tmp/e\)"$'
)


@dataclass(frozen=True)
class Probe:
    """One ``agnhost connect``: destination host (IP or name), port, timeout (s), protocol (TCP|UDP|SCTP)."""

    host: str
    port: int
    timeout: float
    protocol: str


@dataclass(frozen=True)
class Program:
    kind: ProgramKind
    listens: frozenset[tuple[int, str]] = frozenset()
    probe: Probe | None = None
    batch: tuple[tuple[str, Probe], ...] = ()


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


def parse_script(script: str) -> tuple[tuple[str, Probe], ...] | None:
    """The probes of a batch probe script, or None when any line is not of the exact batch shape."""
    probes: list[tuple[str, Probe]] = []
    for raw in script.splitlines():
        line = raw.strip()
        if not line:
            continue
        m = PROBE_LINE.match(line)
        if not m:
            return None
        try:
            timeout = parse_duration(m.group("timeout"))
        except ValueError:
            return None
        probes.append((m.group("id"), Probe(m.group("host"), int(m.group("port")), timeout,
                                            m.group("proto").upper())))
    return tuple(probes) if probes else None


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


# ------------------------------------------------------------------ running a probe
def _search_list(namespace: str) -> list[str]:
    return [f"{namespace}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN]


def _is_ip(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def lookup(ctx: SandboxContext, namespace: str, host: str) -> str | None:
    """The IP a name resolves to from a pod in ``namespace`` (cluster DNS records of Services), or None."""
    from netmig_sandbox.sim.dataplane import view

    idx = view(ctx)
    name = host.rstrip(".").lower()
    candidates = [name] if host.endswith(".") else [f"{name}.{s}" for s in _search_list(namespace)] + [name]
    suffix = f".svc.{CLUSTER_DOMAIN}"
    for fq in candidates:
        if not fq.endswith(suffix):
            continue
        parts = fq[: -len(suffix)].split(".")
        if len(parts) != 2:
            continue
        svc = idx.services.get((parts[1], parts[0]))
        if svc is None:
            continue
        cip = (svc.get("spec") or {}).get("clusterIP")
        if cip and cip != "None":
            return str(cip)
        ep = idx.endpoints.get((parts[1], parts[0]))
        for subset in (ep or {}).get("subsets") or []:
            addrs = sorted(subset.get("addresses") or [], key=lambda a: a.get("ip", ""))
            if addrs:
                return str(addrs[0]["ip"])
    return None


def run_connect(ctx: SandboxContext, pod: Obj, probe: Probe) -> Result:
    """Run one ``agnhost connect`` from ``pod`` now; see the module docstring."""
    from netmig_sandbox.sim import dataplane

    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    timeout = probe.timeout if probe.timeout > 0 else 127.0
    src_ip = (pod.get("status") or {}).get("podIP") or "0.0.0.0"
    dest_ip = probe.host
    if not _is_ip(probe.host):
        idx = dataplane.view(ctx)
        dns = idx.services.get(("kube-system", "kube-dns"))
        dns_ip = str(((dns or {}).get("spec") or {}).get("clusterIP") or dataplane.dns_service_ip(ctx))
        if dns is not None and dataplane.decide(ctx, pod, dns_ip, 53, "UDP") != "open":
            return Result(1, f"DNS: lookup {probe.host} on {dns_ip}:53: read udp {src_ip}:41234->{dns_ip}:53: "
                             "i/o timeout\n", min(timeout, 10.0), "dns")
        resolved = lookup(ctx, ns, probe.host)
        if resolved is None:
            return Result(1, f"DNS: lookup {probe.host} on {dns_ip}:53: no such host\n", 0.01, "dns")
        dest_ip = resolved
    outcome = dataplane.decide(ctx, pod, dest_ip, probe.port, probe.protocol)
    net = probe.protocol.lower()
    if outcome == "open":
        return Result(0, "", 0.01, outcome)
    if outcome == "refused":
        return Result(1, "REFUSED\n", 0.01, outcome)
    if outcome == "timeout":
        return Result(1, "TIMEOUT\n", timeout, outcome)
    return Result(1, f"OTHER: dial {net} {dest_ip}:{probe.port}: connect: network is unreachable\n", 0.01, outcome)


def probe_log_line(probe_id: str, result: Result) -> str:
    """What the batch script's ``echo`` prints for one probe (``$(...)`` strips trailing newlines)."""
    return f"netmig-probe {probe_id} {result.exit_code} {result.stderr[:200].rstrip(chr(10))}\n"


def quote_probe_line(probe_id: str, host: str, port: int, timeout_s: int, protocol: str) -> str:
    """Build one batch line of the exact accepted shape (helper for tests and callers)."""
    return (f"/agnhost connect {shlex.quote(host)}:{port} --timeout={timeout_s}s --protocol={protocol.lower()} "
            f'>/dev/null 2>/tmp/e; echo "netmig-probe {probe_id} $? $(head -c 200 /tmp/e)"')
