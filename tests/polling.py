"""Bounded polling of an observable condition, shared by the end-to-end tests (never a sleep as synchronisation)."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(cond: Callable[[], bool], timeout: float = 120.0, what: str = "condition") -> None:
    """Return once ``cond()`` is true; ``AssertionError`` naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
