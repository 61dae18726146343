"""What a probe observed: agnhost connect results classified in four outcomes, and the batch probe script/log format.

Contract: pure. Shared by the probe runner (``netmig.kube.probes``, which writes the scripts and reads the logs) and
the verifier (``netmig.verify``, which compares outcomes), so it lives below both.
- ``classify(exit_code, stderr)``: exit 0 -> ``open``; stderr starting ``REFUSED`` -> ``refused``; ``TIMEOUT`` ->
  ``timeout``; anything else (``OTHER:``, ``DNS:``, ``UNKNOWN:``, a shell error, a missing line) -> ``error``.
- ``probe_line(id, host, port, timeout_s, protocol)`` builds one line of the batch script, exactly the shape the
  probe pods run (a plain POSIX ``sh`` script on a real cluster); ``parse_log(text)`` reads the
  ``netmig-probe ID EXIT STDERR`` lines back. Probe ids are tokens without spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["open", "refused", "timeout", "error"]
OUTCOMES: tuple[Outcome, ...] = ("open", "refused", "timeout", "error")
_ID = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_LOG = re.compile(r"^netmig-probe (?P<id>\S+) (?P<exit>-?\d+) ?(?P<err>.*)$")


@dataclass(frozen=True)
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


def probe_line(probe_id: str, host: str, port: int, timeout_s: int, protocol: str) -> str:
    """One batch-script line; raises ``ValueError`` for an id with spaces/shell characters or a bad host."""
    if not _ID.match(probe_id):
        raise ValueError(f"probe id {probe_id!r} must be letters, digits and _.:/- only")
    if not re.match(r"^[A-Za-z0-9_.:\[\]-]+$", host):
        raise ValueError(f"probe host {host!r} is not an IP address or DNS name")
    if protocol.upper() not in ("TCP", "UDP", "SCTP"):
        raise ValueError(f"protocol {protocol!r} is not TCP, UDP or SCTP")
    return (f"/agnhost connect {host}:{port} --timeout={int(timeout_s)}s --protocol={protocol.lower()} "
            f'>/dev/null 2>/tmp/e; echo "netmig-probe {probe_id} $? $(head -c 200 /tmp/e)"')


def parse_log(text: str) -> dict[str, Observation]:
    """Probe id -> Observation for every ``netmig-probe`` line in a pod log (other lines are ignored)."""
    out: dict[str, Observation] = {}
    for line in text.splitlines():
        m = _LOG.match(line.rstrip("\r"))
        if not m:
            continue
        code = int(m.group("exit"))
        err = m.group("err").strip()
        out[m.group("id")] = Observation(classify(code, err), code, err[:200])
    return out
