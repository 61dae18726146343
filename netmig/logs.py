"""structlog configuration, done once at the entry points.

Contract:
- ``configure(json_output=None)`` renders JSON lines when stderr is not a TTY (or when asked), a readable console
  format otherwise; context bound with ``structlog.contextvars.bind_contextvars`` (cluster, migration, step)
  appears on every line; values under secret-looking keys are replaced by ``<redacted>``.
- Every rendered line goes through the stdlib logger ``netmig`` (``netmig.<name>`` for ``get_logger(name)``; a
  name outside ``netmig`` is put under it). That logger does not propagate; its one handler writes the line to the
  *current* ``sys.stderr`` (resolved per line: test runners that swap stderr, and closed streams, are safe). So
  each line is printed exactly once, and any other handler attached to ``netmig`` (``also_to``: e.g. Prefect's
  ``APILogHandler`` for a flow run, or ``PREFECT_LOGGING_EXTRA_LOGGERS=netmig``) receives the same rendered line
  without printing it again. Use one route to Prefect, not two: ``bridged(handler, when)`` is that route (the
  Prefect side only supplies its handler and the "inside a run" test; nothing here imports Prefect).
- ``run_log(path, verbose)``: while a command runs a plan, the log records of Prefect and the SDKs go to the run's
  log file (``PLAN.run/apply.log``) and not to the terminal unless ``verbose``; ``netmig`` lines go to both.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import structlog

SECRET_KEYS = ("token", "kubeconfig", "secret", "password", "authorization", "credential")
ROOT = "netmig"


def redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event):
        if any(s in key.lower() for s in SECRET_KEYS):
            event[key] = "<redacted>"
    return event


class _StderrHandler(logging.Handler):
    """Writes the rendered line to whatever ``sys.stderr`` is when the line is logged."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(record.getMessage() + "\n")
            stream.flush()
        except (ValueError, OSError):  # a closed or broken stream: a log line is never worth a crash
            pass


def stdlib_logger(name: str | None = None) -> logging.Logger:
    """The stdlib logger structlog's ``get_logger(name)`` writes to (always under ``netmig``)."""
    if not name or name == ROOT:
        return logging.getLogger(ROOT)
    return logging.getLogger(name if name.startswith(ROOT + ".") else f"{ROOT}.{name}")


def _factory(*args: Any) -> logging.Logger:
    return stdlib_logger(str(args[0]) if args and args[0] else None)


def configure(json_output: bool | None = None, level: int = logging.INFO) -> None:
    if json_output is None:
        json_output = not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json_output else structlog.dev.ConsoleRenderer(
        colors=sys.stderr.isatty())
    root = logging.getLogger(ROOT)
    for h in [h for h in root.handlers if isinstance(h, _StderrHandler)]:
        root.removeHandler(h)
    root.addHandler(_StderrHandler())
    root.setLevel(level)
    root.propagate = False
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_factory,
        cache_logger_on_first_use=False,
    )


@contextmanager
def also_to(handler: logging.Handler) -> Iterator[None]:
    """While inside the block, every rendered ``netmig`` line also goes to ``handler`` (printed once regardless)."""
    root = logging.getLogger(ROOT)
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


@contextmanager
def bridged(handler: logging.Handler, when: Callable[[], bool] | None = None) -> Iterator[None]:
    """The one bridge from structlog to another log system: structlog configured (``configure()``) unless it already
    is, and while inside every rendered ``netmig`` line also goes to ``handler`` when ``when()`` is true at that line
    (e.g. inside a flow run; other threads' lines stay on the console only). Printed once regardless."""
    if not structlog.is_configured():
        configure()
    readable = Readable(handler)
    if when is not None:
        readable.addFilter(lambda _record: when())
    with also_to(readable):
        yield


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_META = ("event", "level", "timestamp", "logger")


def readable_text(rendered: str) -> tuple[str, dict[str, Any]]:
    """A rendered line as a person reads it, and its structured fields: a JSON line ``{"event": "watch", "pool":
    "user", ...}`` -> (``"watch · pool=user ..."``, ``{"pool": "user", ...}``); any other line (the console
    renderer's) without its colour codes, and no fields."""
    try:
        doc = json.loads(rendered)
    except ValueError:
        return _ANSI.sub("", rendered), {}
    if not isinstance(doc, dict):
        return rendered, {}
    fields = {k: v for k, v in doc.items() if k not in _META}
    text = str(doc.get("event", ""))
    if fields:
        text += " · " + " ".join(f"{k}={v}" for k, v in fields.items())
    return text, fields


class Readable(logging.Handler):
    """Hands ``target`` each record with a readable message (``readable_text``) and the structured fields as the
    record's ``netmig_fields`` attribute (extra), e.g. for Prefect's log view instead of raw JSON blobs."""

    def __init__(self, target: logging.Handler) -> None:
        super().__init__()
        self.target = target

    def emit(self, record: logging.LogRecord) -> None:
        text, fields = readable_text(record.getMessage())
        copy = logging.makeLogRecord({**record.__dict__, "msg": text, "args": None, "netmig_fields": fields})
        self.target.handle(copy)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


# --- the run's log file -------------------------------------------------------------------------------------------

_RUN_LOG: list[Path] = []
_LAST: list[Path] = []  # the last run log of this process (still named after its block ended by an exception)


class _RunFileHandler(logging.FileHandler):
    """The run's log file (a marker class: ``run_log`` finds and removes exactly its own handlers)."""


def run_log_path() -> Path | None:
    """The log file of the run in progress (``run_log``), else of the last one this process wrote, if any."""
    return _RUN_LOG[-1] if _RUN_LOG else (_LAST[-1] if _LAST else None)


def _is_console(h: logging.Handler) -> bool:
    if isinstance(h, (_RunFileHandler, logging.FileHandler)):
        return False
    if h.__class__.__name__ == "PrefectConsoleHandler":
        return True
    return isinstance(h, logging.StreamHandler) and getattr(h, "stream", None) in (sys.stderr, sys.stdout,
                                                                                 sys.__stderr__, sys.__stdout__)


@contextmanager
def run_log(path: Path, verbose: bool = False,
            quiet_loggers: tuple[str, ...] = ("prefect._internal",)) -> Iterator[Path]:
    """While inside: every log record of other libraries (Prefect, the Azure SDK, the kubernetes client, urllib3;
    they reach the root logger) and every rendered ``netmig`` line are appended to ``path``. Unless ``verbose``,
    the console handlers of the root logger (Prefect installs one) and of ``quiet_loggers`` are detached, so the
    terminal shows aks-netmig's own lines only (Python's last-resort handler is suppressed too). Restored on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = _RunFileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    ours = logging.getLogger(ROOT)
    detached: list[tuple[logging.Logger, logging.Handler]] = []
    if not verbose:
        for lg in (root, *(logging.getLogger(n) for n in quiet_loggers)):
            for h in [h for h in lg.handlers if _is_console(h)]:
                lg.removeHandler(h)
                detached.append((lg, h))
    last_resort = logging.lastResort
    if not verbose:
        logging.lastResort = None
    root.addHandler(handler)
    for name in quiet_loggers:
        logging.getLogger(name).addHandler(handler)
    ours.addHandler(handler)
    _RUN_LOG.append(path)
    try:
        yield path
    finally:
        _RUN_LOG.remove(path)
        _LAST[:] = [path]
        ours.removeHandler(handler)
        for name in quiet_loggers:
            logging.getLogger(name).removeHandler(handler)
        root.removeHandler(handler)
        logging.lastResort = last_resort
        for lg, h in detached:
            lg.addHandler(h)
        handler.close()
