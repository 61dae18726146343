"""Ctrl-C and SIGTERM for every command: one ``Interrupt`` (a ``KeyboardInterrupt``) in the main thread.

Contract:
- ``interruptible()`` (the CLI group wraps every command in it): while inside, the first SIGINT or SIGTERM raises
  ``Interrupt(signal name)`` in the main thread, so ``finally`` blocks and the commands' interrupt handling run
  (journal, lock, Prefect state) and the command exits 130. A second signal during that clean-up is not raised
  again (the clean-up is bounded and must not be cut in half): one line says so; a third one ends the process at
  once with exit 130 (``os._exit``; child processes die with it, see ``flows.local_server``).
- ``signal_name(exc)`` is the name of the signal behind a ``KeyboardInterrupt`` (``SIGINT`` for a plain one).
- Outside the main thread, or when nested, it changes nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_active = threading.local()


class Interrupt(KeyboardInterrupt):
    """SIGINT or SIGTERM; ``str()`` and ``signame`` are the signal's name."""

    def __init__(self, signame: str = "SIGINT") -> None:
        super().__init__(signame)
        self.signame = signame


def signal_name(exc: BaseException | None) -> str:
    return exc.signame if isinstance(exc, Interrupt) else "SIGINT"


@contextmanager
def interruptible() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread() or getattr(_active, "on", False):
        yield
        return
    received: list[str] = []

    def handler(signum: int, _: Any) -> None:
        name = signal.Signals(signum).name
        received.append(name)
        if len(received) == 1:
            raise Interrupt(name)
        if len(received) == 2:
            try:
                sys.stderr.write(f"{name}: still stopping (recording where the run stopped; a few seconds at "
                                 "most); send it again to quit at once\n")
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            return
        os._exit(130)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    _active.on = True
    try:
        yield
    finally:
        _active.on = False
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
