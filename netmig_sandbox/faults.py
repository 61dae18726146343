"""Fault injection for the sandbox: a registry both servers consult on every request.

Contract:
- ``Faults.add(Fault)`` registers a fault; ``take(target, method, path)`` returns the first matching fault and
  consumes one use of it (``times=None`` never runs out).
- targets: ``arm`` and ``kube`` (HTTP-level faults: ``kind="status"`` answers ``status`` with an error body and
  optional ``retry_after``; ``kind="cut-watch"`` closes matching watch streams after ``after_events`` events),
  ``lro`` (``kind="fail"`` or ``kind="cancel"``: the next long-running operation ends Failed / Canceled),
  ``node`` (``kind="stuck-notready"``: the named node, or the first node reimaged in ``pool``, stays NotReady).
- Faults come from the scenario file (``faults:`` list) or at runtime through the admin endpoint
  ``POST /_sandbox/faults`` on the ARM port (body: a Fault as JSON), which ``aks-netmig sandbox fault`` calls.
"""

from __future__ import annotations

import re
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS = {"arm": ("status",), "kube": ("status", "cut-watch"), "lro": ("fail", "cancel"),
         "node": ("stuck-notready",)}


@dataclass
class Fault:
    target: str
    kind: str = "status"
    method: str | None = None
    path: str | None = None  # regular expression searched in the request path
    times: int | None = 1
    status: int = 500
    code: str = "InternalServerError"
    message: str = "injected fault"
    retry_after: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def matches(self, target: str, method: str | None, path: str | None) -> bool:
        if self.target != target:
            return False
        if self.method and method and self.method.upper() != method.upper():
            return False
        return not (self.path and path is not None and not re.search(self.path, path))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """Thread-safe fault registry (the admin endpoint and the servers may run on other threads)."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults or [])

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, target: str, method: str | None = None, path: str | None = None,
             kind: str | None = None) -> Fault | None:
        with self._lock:
            for f in self._faults:
                if (kind is None or f.kind == kind) and f.matches(target, method, path):
                    if f.times is not None:
                        f.times -= 1
                        if f.times <= 0:
                            self._faults.remove(f)
                    return f
        return None

    def peek(self, target: str, kind: str) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.target == target and f.kind == kind]

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Fault:
        """A fault from JSON; ``ValueError`` (one line) for unknown fields, an unknown target or kind, a path that
        is not a valid regular expression, an HTTP status outside 100-599 or a negative count -- a bad fault is
        refused, never registered (it would break every request it matches)."""
        if not isinstance(d, dict):
            raise ValueError("a fault is a JSON object")
        known = set(Fault.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        fault = Fault(**d)
        if fault.target not in KINDS:
            raise ValueError(f"unknown fault target {fault.target!r} (one of {', '.join(KINDS)})")
        if fault.kind not in KINDS[fault.target]:
            raise ValueError(f"fault kind {fault.kind!r} does not apply to target {fault.target} "
                             f"(one of {', '.join(KINDS[fault.target])})")
        if fault.path is not None:
            try:
                re.compile(str(fault.path))
            except re.error as e:
                raise ValueError(f"path {fault.path!r} is not a valid regular expression ({e})") from None
        if not isinstance(fault.status, int) or not 100 <= fault.status <= 599:
            raise ValueError(f"status {fault.status!r} is not an HTTP status (100-599)")
        if fault.times is not None and (not isinstance(fault.times, int) or fault.times < 0):
            raise ValueError(f"times {fault.times!r} is not a count >= 0")
        if fault.retry_after is not None and (not isinstance(fault.retry_after, (int, float))
                                              or not 0 <= fault.retry_after < 86400):
            raise ValueError(f"retry_after {fault.retry_after!r} is not a number of seconds")
        return fault
