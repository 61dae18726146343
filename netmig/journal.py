"""The resumable record of a migration run: an append-only JSON-lines file per migration id.

Contract:
- ``Journal(path)`` appends one JSON object per event with ``os.fsync``, so a record survives ``kill -9`` the
  moment ``record`` returns; a torn last line (a crash mid-write) is ignored on read.
- ``completed(step_id)`` is true once a ``step-done`` event was recorded for it; a rerun skips such steps.
- ``value(key)`` returns the latest ``set`` value (e.g. the ARM poller continuation token).
- Nothing secret is ever recorded: values under secret-looking keys are refused with ``ValueError``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from netmig.logs import SECRET_KEYS


class Journal:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def events(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a torn write at crash time
        return out

    def record(self, event: str, **fields: Any) -> dict[str, Any]:
        for key in fields:
            if any(s in key.lower() for s in SECRET_KEYS):
                raise ValueError(f"refusing to journal a secret-looking field {key!r}")
        entry = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "event": event, **fields}
        line = json.dumps(entry, sort_keys=True) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def completed(self, step_id: str) -> bool:
        return any(e["event"] == "step-done" and e.get("step") == step_id for e in self.events())

    def completed_steps(self) -> list[str]:
        return [e["step"] for e in self.events() if e["event"] == "step-done"]

    def set(self, key: str, value: Any) -> None:
        self.record("set", key=key, value=value)

    def value(self, key: str, default: Any = None) -> Any:
        found = default
        for e in self.events():
            if e["event"] == "set" and e.get("key") == key:
                found = e.get("value")
        return found

    def last_error(self) -> dict[str, Any] | None:
        errs = [e for e in self.events() if e["event"] == "step-failed"]
        return errs[-1] if errs else None
