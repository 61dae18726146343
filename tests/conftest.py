"""Shared fixtures: sandboxes on free ports (parallel-safe) and a quiet Prefect environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# the temporary Prefect server needs 15-30 s here, more when the suite runs in parallel; 20 s is Prefect's default
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

from netmig_sandbox.runtime import Sandbox

SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def sandbox_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxFactory]:
    """Start sandboxes in this process; all are stopped at the end of the test.

    ``make(scenario="npm", time_scale=0.001)`` returns a started ``Sandbox`` with its own directory.
    """
    started: list[Sandbox] = []

    def make(scenario: str | Path | dict = "npm", time_scale: float = 0.001) -> Sandbox:  # type: ignore[type-arg]
        sb = Sandbox(scenario, tmp_path_factory.mktemp("sandbox"), time_scale=time_scale)
        sb.start()
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    """A started sandbox of the ``npm`` scenario."""
    return sandbox_factory("npm")
