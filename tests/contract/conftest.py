"""Fixtures for the contract tests of the sandbox Kubernetes API (real clients over HTTPS, no mocks)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.kube_harness import KubeOnlySandbox


@pytest.fixture
def kube_sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A running sandbox serving the Kubernetes API, with its own ports and directory (parallel-safe).

    By default the runtime's ``Sandbox`` with the ``empty`` scenario (from ``tests/conftest.py``'s
    ``sandbox_factory``: nodes, kubelet and controllers simulated). ``NETMIG_KUBE_ONLY=1`` uses the lightweight
    ``KubeOnlySandbox`` instead (Kubernetes API only, one Ready node, no kubelet: pods stay Pending).
    """
    if os.environ.get("NETMIG_KUBE_ONLY") == "1":
        sb = KubeOnlySandbox(tmp_path / "sandbox")
        sb.start()
        try:
            yield sb
        finally:
            sb.stop()
        return
    factory = request.getfixturevalue("sandbox_factory")
    yield factory("empty", time_scale=0.001)
