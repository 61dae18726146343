"""Fixtures for the ARM endpoint / reimage contract tests.

``arm_sandbox`` is started with ``make(scenario="npm", time_scale=0.001, **overrides)`` and returns an object with
the runtime ``Sandbox`` API (``info``, ``context``, ``run(fn)``, ``stop()``):

the real ``netmig_sandbox.runtime.Sandbox`` (ARM endpoint, Kubernetes API, kubelet and reimage simulators), with
optional extra PodDisruptionBudgets added to the scenario's objects.

Helpers: ``client(sb)`` (the real ``ContainerServiceClient``), ``requests(sb)`` (parsed ``arm-requests.jsonl``),
``wait_for(pred)`` (bounded polling).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.mgmt.containerservice import ContainerServiceClient

from netmig_sandbox import scenarios


class StaticCredential:
    """What the SDK needs of a credential: ``get_token`` returning a far-future AccessToken."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 365 * 86400)


def client(sb: Any, **kwargs: Any) -> Any:
    """The real SDK client for ``sb`` (typed Any: tests poke at optional model fields freely)."""
    info = sb.info
    kwargs.setdefault("polling_interval", 0.01)
    return ContainerServiceClient(StaticCredential(info["token"]), info["subscription_id"],
                                  base_url=info["arm_endpoint"], connection_verify=info["ca_bundle"], **kwargs)


def requests(sb: Any) -> list[dict[str, Any]]:
    path = Path(sb.info["ca_bundle"]).parent / "arm-requests.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(pred: Callable[[], Any], timeout: float = 20.0, interval: float = 0.01, what: str = "condition") -> Any:
    """Poll ``pred`` until truthy (bounded); returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def scenario(name: str = "npm", **overrides: Any) -> dict[str, Any]:
    """A built-in scenario with ``cluster`` / top-level keys overridden (deep-merged one level)."""
    sc = copy.deepcopy(scenarios.load(name))
    for k, v in overrides.items():
        if k == "cluster":
            sc["cluster"].update(v)
        else:
            sc[k] = v
    return sc


@pytest.fixture
def arm_sandbox(sandbox_factory: Callable[..., Any]) -> Callable[..., Any]:
    """``make(scenario_dict_or_name="npm", time_scale=0.001, pdbs=None)`` -> a started sandbox (stopped at end)."""

    def make(sc: dict[str, Any] | str = "npm", time_scale: float = 0.001,
             pdbs: list[dict[str, Any]] | None = None) -> Any:
        data = scenario(sc) if isinstance(sc, str) else copy.deepcopy(sc)
        data["objects"] = [*data.get("objects", []), *(pdbs or [])]
        return sandbox_factory(data, time_scale=time_scale)

    return make
