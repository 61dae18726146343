"""Scenario files: the starting state of a sandbox cluster.

Contract:
- ``load(name_or_path)`` returns the scenario dict: a built-in name (a YAML file in this folder, or ``large``,
  generated) or a path to a YAML file. Unknown names raise ``ScenarioError`` listing the known ones.
- ``materialize(ctx)`` creates the cluster's Kubernetes side in ``ctx.store``: system namespaces, nodes for every
  pool (labels from the network profile), networking DaemonSets, system workloads, Calico CRDs/CRs where the
  profile runs Calico, then the scenario's own ``objects`` in order.

Scenario keys: ``name``, ``description``, ``cluster`` (see ``netmig.sandbox.arm.state``), ``objects`` (manifests),
``faults`` (see ``netmig.sandbox.faults``), ``arm_behaviour`` (ARM quirks), ``cilium_version``, ``drain_timeout``.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).parent
GENERATED = ("large",)


class ScenarioError(ValueError):
    """A scenario that can't be loaded; the message names the problem and the fix."""


def names() -> list[str]:
    return sorted([p.stem for p in HERE.glob("*.yaml")] + list(GENERATED))


def load(name_or_path: str | Path) -> dict[str, Any]:
    text = str(name_or_path)
    if text in GENERATED:
        from netmig.sandbox.scenarios.large import generate

        return normalize(generate())
    path = HERE / f"{text}.yaml"
    if not path.exists():
        path = Path(text)
        if not (path.suffix in (".yaml", ".yml") and path.exists()):
            raise ScenarioError(
                f"unknown scenario {text!r}; use one of: {', '.join(names())}, or a path to a scenario YAML file"
            )
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ScenarioError(f"scenario file {path} is not valid YAML ({e.__class__.__name__}); fix the file") from e
    if not isinstance(data, dict) or "cluster" not in data:
        raise ScenarioError(f"scenario file {path} has no 'cluster' section; see netmig/sandbox/scenarios/npm.yaml")
    data.setdefault("name", path.stem)
    return normalize(data)


def normalize(data: dict[str, Any]) -> dict[str, Any]:
    data = copy.deepcopy(data)
    c = data["cluster"]
    c.setdefault("subscription_id", "00000000-0000-0000-0000-000000000001")
    c.setdefault("resource_group", "rg-netmig-sandbox")
    c.setdefault("location", "westeurope")
    c.setdefault("kubernetes_version", "1.31.2")
    c.setdefault("identity", "UserAssigned")
    c.setdefault("node_provisioning_mode", "Manual")
    np = c.setdefault("network_profile", {})
    np.setdefault("networkPlugin", "azure")
    np.setdefault("networkPolicy", None)
    np.setdefault("networkDataplane", "azure")
    np.setdefault("networkPluginMode", None)
    np.setdefault("serviceCidr", "10.0.0.0/16")
    np.setdefault("dnsServiceIP", "10.0.0.10")
    np.setdefault("ipFamilies", ["IPv4"])
    if np["networkPlugin"] == "kubenet" or np.get("networkPluginMode") == "overlay":
        np.setdefault("podCidr", "10.244.0.0/16")
    for pool in c.setdefault("pools", [{"name": "nodepool1", "mode": "System", "count": 3}]):
        pool.setdefault("mode", "User")
        pool.setdefault("osType", "Linux")
        pool.setdefault("vmSize", "Standard_D4s_v5")
        pool.setdefault("maxSurge", "1")
        pool.setdefault("count", 3)
        pool.setdefault("availabilitySet", False)
        pool.setdefault("orchestratorVersion", c["kubernetes_version"])
    data.setdefault("objects", [])
    data.setdefault("faults", [])
    return data


async def materialize(ctx: Any) -> None:
    from netmig.sandbox.scenarios.builder import materialize as _m

    await _m(ctx)
