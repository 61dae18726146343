"""Fixtures for the contract tests of the sandbox Kubernetes API (real clients over HTTPS, no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.kube_harness import KubeOnlySandbox


@pytest.fixture
def kube_sandbox(tmp_path: Path) -> Iterator[Any]:
    """A running sandbox serving the Kubernetes API, own ports and directory (parallel-safe).

    Uses the lightweight ``KubeOnlySandbox`` (Kubernetes API only, no kubelet: pods stay Pending).
    """
    sb = KubeOnlySandbox(tmp_path / "sandbox")
    sb.start()
    try:
        yield sb
    finally:
        sb.stop()
