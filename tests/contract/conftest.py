"""Fixtures for the contract tests of the sandbox Kubernetes API (real clients over HTTPS, no mocks)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def kube_sandbox(sandbox_factory: Any) -> Any:
    """A running sandbox (the ``empty`` scenario: nodes, kubelet and controllers simulated) with its own ports and
    directory (parallel-safe)."""
    return sandbox_factory("empty", time_scale=0.001)
