"""The resumable record of a migration run: an append-only JSON-lines file per migration id.

Contract:
- ``Journal(path)`` appends one JSON object per event with ``os.fsync``, so a record survives ``kill -9`` the
  moment ``record`` returns; a torn last line (a crash mid-write) is ignored on read.
- ONE reader: ``events(path)`` (and ``Journal.read()``) returns the typed ``Event`` list; ``Journal.events()`` is
  the same records as the plain dicts they were written as (the file's own view, for tools and tests). ``Event.of``
  turns such a dict back into an ``Event``; ``as_events`` does it for a list holding either.
- An ``Event`` has its ``kind`` (an ``EventKind`` value; a kind this version does not know stays a plain string),
  ``time``, ``step`` (None for run-level events) and the other ``fields``; the typed accessors (``result``,
  ``key`` / ``value``, ``error``) read the fields each kind records.
- ``completed(step_id)`` is true once a ``step-done`` event was recorded for it; a rerun skips such steps.
- ``value(key)`` returns the latest ``set`` value (e.g. the ARM poller continuation token).
- Nothing secret is ever recorded: values under secret-looking keys are refused with ``ValueError``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from netmig.logs import SECRET_KEYS


class EventKind(StrEnum):
    """The events the tool journals (what each records: the fields named)."""

    RUN_START = "run-start"  # run_id, migration
    RUN_DONE = "run-done"  # run_id
    STEP_START = "step-start"  # step, kind, run_id
    STEP_DONE = "step-done"  # step, result, run_id, duration_s
    STEP_FAILED = "step-failed"  # step, error, run_id
    STEP_PAUSED = "step-paused"  # step, reason, run_id
    STEP_INTERRUPTED = "step-interrupted"  # step, signal, run_id
    SET = "set"  # key, value
    ARM_PUT = "arm-put"  # step, target, resume
    ARM_PUT_REFUSED = "arm-put-refused"  # step, attempt, error
    ARM_REATTACH = "arm-reattach"  # step
    OPERATION_FAILED = "operation-failed"  # step, error, aborted
    STALL = "stall"  # step, kind, reason, pdb
    NODE_PHASE = "node-phase"  # step, node, pool, phase: a node's phase changed as the reimage watch saw it
    REPORT_NOTE = "report-note"  # title, lines
    VARIANT_SWITCH = "variant-switch"  # step, variant, code, message
    VARIANT_REFUSED = "variant-refused"  # step, variant, code, replan
    POINT_OF_NO_RETURN_REFUSED = "point-of-no-return-refused"  # step, problems
    ABORT_REQUESTED = "abort-requested"
    ABORT_NOOP = "abort-noop"
    ABORT_FAILED = "abort-failed"
    ABORT = "abort"


@dataclass(frozen=True)
class Event:
    """One journal record."""

    kind: str
    time: str = ""
    step: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, record: Event | Mapping[str, Any]) -> Event:
        if isinstance(record, Event):
            return record
        rest = {k: v for k, v in record.items() if k not in ("event", "time", "step")}
        step = record.get("step")
        kind = str(record.get("event", ""))
        known = kind in EventKind._value2member_map_
        return cls(kind=EventKind(kind) if known else kind, time=str(record.get("time", "")),
                   step=None if step is None else str(step), fields=rest)

    def is_(self, kind: EventKind, step: str | None = None) -> bool:
        """This event is of ``kind`` (and of ``step``, when given)."""
        return self.kind == kind and (step is None or self.step == step)

    def get(self, name: str, default: Any = None) -> Any:
        """A field by name (``event`` / ``time`` / ``step`` too): the record as written."""
        return self.to_dict().get(name, default)

    @property
    def result(self) -> dict[str, Any]:
        """A ``step-done`` event's result (``{}`` when none)."""
        return dict(self.fields.get("result") or {})

    @property
    def key(self) -> str | None:
        """A ``set`` event's key."""
        k = self.fields.get("key")
        return None if k is None else str(k)

    @property
    def value(self) -> Any:
        """A ``set`` event's value."""
        return self.fields.get("value")

    @property
    def error(self) -> str:
        return str(self.fields.get("error") or "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time": self.time, "event": str(self.kind)}
        if self.step is not None:
            out["step"] = self.step
        out.update(self.fields)
        return out


def _records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn write at crash time
        if isinstance(rec, dict):
            out.append(rec)
    return out


def events(path: str | Path) -> list[Event]:
    """The journal at ``path`` as typed events (a missing file: none; a torn last line is ignored)."""
    return [Event.of(r) for r in _records(Path(path))]


def as_events(records: Iterable[Event | Mapping[str, Any]]) -> list[Event]:
    """Events or their dict form, as events."""
    return [Event.of(r) for r in records]


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def read(self) -> list[Event]:
        return events(self.path)

    def events(self) -> list[dict[str, Any]]:
        """The records as the dicts they were written as (``read()`` gives them typed)."""
        return [e.to_dict() for e in self.read()]

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        for key in fields:
            if any(s in key.lower() for s in SECRET_KEYS):
                raise ValueError(f"refusing to journal a secret-looking field {key!r}")
        entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": str(event), **fields}
        line = json.dumps(entry, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def completed(self, step_id: str) -> bool:
        return any(e.is_(EventKind.STEP_DONE, step_id) for e in self.read())

    def completed_steps(self) -> list[str]:
        return [str(e.step) for e in self.read() if e.is_(EventKind.STEP_DONE)]

    def set(self, key: str, value: Any) -> None:
        self.record(EventKind.SET, key=key, value=value)

    def value(self, key: str, default: Any = None) -> Any:
        found = default
        for e in self.read():
            if e.is_(EventKind.SET) and e.key == key:
                found = e.value
        return found

    def last_error(self) -> dict[str, Any] | None:
        errs = [e for e in self.read() if e.is_(EventKind.STEP_FAILED)]
        return errs[-1].to_dict() if errs else None
