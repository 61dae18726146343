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
  without printing it again. Use one route to Prefect, not two.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
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


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
