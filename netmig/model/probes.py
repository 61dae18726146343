"""What a probe observed: agnhost connect results classified in four outcomes, and the batch probe script/log format.

Contract: pure. Shared by the probe runner (``netmig.kube.probes``, which writes the scripts and reads the logs) and
the verifier (``netmig.verify``, which compares outcomes), so it lives below both.
- ``classify(exit_code, stderr)``: exit 0 -> ``open``; stderr starting ``REFUSED`` -> ``refused``; ``TIMEOUT`` ->
  ``timeout``; anything else (``OTHER:``, ``DNS:``, ``UNKNOWN:``, a shell error, a missing line) -> ``error``.
- ``probe_line(id, host, port, timeout_s, protocol)`` builds one *sequential* line of a batch script;
  ``parallel_line(slot, id, host, port, timeout_s, protocol)`` the same connect as a backgrounded brace group
  writing its stderr to its own file ``/tmp/e<slot>``::

      { /agnhost connect HOST:PORT --timeout=Ts --protocol=P >/dev/null 2>/tmp/eN;
        echo "netmig-probe ID $? $(head -c 200 /tmp/eN)"; } &

  (one line; shown split). ``probe_script(probes, timeout_s, parallel)`` is the whole script a probe pod runs
  (a plain POSIX ``sh`` script on a real cluster): with ``parallel`` <= 1 one sequential line per probe; else the
  probes in groups of at most ``parallel`` backgrounded lines (slots 0..n-1, distinct within a group), each group
  followed by a line ``wait``, so a group lasts as long as its slowest connect. Each line reports one tagged log
  line ``netmig-probe ID EXIT STDERR`` (one ``echo``: a single short write, so parallel lines never interleave);
  the order of the lines is the order the connects finish.
- ``parse_log(text)`` reads the ``netmig-probe ID EXIT STDERR`` lines back (in any order). Probe ids are tokens
  without spaces.
- ``Observation`` is a slotted record (a snapshot holds hundreds of thousands); ``parse_log`` shares one string
  per distinct stderr text.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["open", "refused", "timeout", "error"]
OUTCOMES: tuple[Outcome, ...] = ("open", "refused", "timeout", "error")
_ID = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_HOST = re.compile(r"^[A-Za-z0-9_.:\[\]-]+$")
_LOG = re.compile(r"^netmig-probe (?P<id>\S+) (?P<exit>-?\d+) ?(?P<err>.*)$")
MAX_PARALLEL = 64  # connects at a time in one probe pod, at most


@dataclass(frozen=True, slots=True)
class Observation:
    """One probe's result: the outcome and agnhost's stderr (one line, at most 200 characters)."""

    outcome: Outcome
    exit_code: int | None
    detail: str = ""


def classify(exit_code: int | None, stderr: str) -> Outcome:
    """Four-way classification of one ``agnhost connect`` (see the module docstring)."""
    if exit_code == 0:
        return "open"
    text = stderr.strip()
    if text.startswith("REFUSED"):
        return "refused"
    if text.startswith("TIMEOUT"):
        return "timeout"
    return "error"


def _connect(probe_id: str, host: str, port: int, timeout_s: int, protocol: str) -> str:
    if not _ID.match(probe_id):
        raise ValueError(f"probe id {probe_id!r} must be letters, digits and _.:/- only")
    if not _HOST.match(host):
        raise ValueError(f"probe host {host!r} is not an IP address or DNS name")
    if protocol.upper() not in ("TCP", "UDP", "SCTP"):
        raise ValueError(f"protocol {protocol!r} is not TCP, UDP or SCTP")
    return f"/agnhost connect {host}:{port} --timeout={int(timeout_s)}s --protocol={protocol.lower()}"


def probe_line(probe_id: str, host: str, port: int, timeout_s: int, protocol: str) -> str:
    """One sequential batch-script line; ``ValueError`` for an id with spaces/shell characters or a bad host."""
    return (f"{_connect(probe_id, host, port, timeout_s, protocol)} "
            f'>/dev/null 2>/tmp/e; echo "netmig-probe {probe_id} $? $(head -c 200 /tmp/e)"')


def parallel_line(slot: int, probe_id: str, host: str, port: int, timeout_s: int, protocol: str) -> str:
    """One backgrounded batch-script line using ``/tmp/e<slot>`` (see the module docstring)."""
    if not 0 <= slot < MAX_PARALLEL:
        raise ValueError(f"slot {slot} is not in 0..{MAX_PARALLEL - 1}")
    return (f"{{ {_connect(probe_id, host, port, timeout_s, protocol)} >/dev/null 2>/tmp/e{slot}; "
            f'echo "netmig-probe {probe_id} $? $(head -c 200 /tmp/e{slot})"; }} &')


def probe_script(probes: Iterable[tuple[str, str, int, str]], timeout_s: int, parallel: int = 1) -> str:
    """The script for ``probes`` (id, host, port, protocol): see the module docstring."""
    if parallel <= 1:
        return "\n".join(probe_line(i, h, p, timeout_s, proto) for i, h, p, proto in probes)
    width = min(parallel, MAX_PARALLEL)
    lines: list[str] = []
    slot = 0
    for i, h, p, proto in probes:
        lines.append(parallel_line(slot, i, h, p, timeout_s, proto))
        slot += 1
        if slot == width:
            lines.append("wait")
            slot = 0
    if slot:
        lines.append("wait")
    return "\n".join(lines)


def parse_log(text: str) -> dict[str, Observation]:
    """Probe id -> Observation for every ``netmig-probe`` line in a pod log (other lines are ignored)."""
    out: dict[str, Observation] = {}
    for line in text.splitlines():
        m = _LOG.match(line.rstrip("\r"))
        if not m:
            continue
        code = int(m.group("exit"))
        err = sys.intern(m.group("err").strip()[:200])
        out[m.group("id")] = Observation(classify(code, err), code, err)
    return out
