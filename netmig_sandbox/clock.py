"""Simulated time: durations are given in simulated seconds and scaled by ``time_scale`` to real seconds.

Contract: ``await clock.sleep(sim_seconds)`` waits ``sim_seconds * time_scale`` real seconds (never negative).
A time scale of 0.001 makes a 60 s node reimage take 60 ms.
"""

from __future__ import annotations

import asyncio
import time


class SimClock:
    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale < 0:
            raise ValueError("time scale must be >= 0")
        self.time_scale = time_scale
        self._t0 = time.monotonic()

    async def sleep(self, sim_seconds: float) -> None:
        await asyncio.sleep(max(0.0, sim_seconds * self.time_scale))

    def sim_now(self) -> float:
        """Simulated seconds since start."""
        elapsed = time.monotonic() - self._t0
        return elapsed / self.time_scale if self.time_scale else 0.0
