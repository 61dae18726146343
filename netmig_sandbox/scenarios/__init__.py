"""Scenario files: the starting state of a sandbox cluster.

Contract:
- ``load(name_or_path)`` returns the scenario dict: a built-in name (a YAML file in this folder, or ``large``,
  generated) or a path to a YAML file. Unknown names raise ``ScenarioError`` listing the known ones.
- ``materialize(ctx)`` creates the cluster's Kubernetes side in ``ctx.store``: system namespaces, nodes for every
  pool (labels from the network profile), networking DaemonSets, system workloads, Calico CRDs/CRs where the
  profile runs Calico, then the scenario's own ``objects`` in order.

Scenario keys: ``name``, ``description``, ``cluster`` (see ``netmig_sandbox.arm.state``; ``cluster.vnet`` see
``netmig_sandbox.arm.network``), ``objects`` (manifests), ``faults`` (see ``netmig_sandbox.faults``),
``arm_behaviour`` (ARM quirks), ``cilium_version``, ``drain_timeout``, ``calico_addon_annotations`` (the AKS-managed
tigera-operator Deployment and calico-node DaemonSet carry ``addonmanager.kubernetes.io/mode``),
``calico_apiserver`` (AKS-managed Calico also runs the Calico API server: APIServer ``default``, the
``calico-apiserver`` namespace, its Deployment/Service and the APIService ``v3.projectcalico.org``),
``tigera`` (timings of the simulated tigera operator, see ``netmig_sandbox.sim.tigera``).

``base: NAME`` makes a scenario file a variant of another built-in scenario (or of a path): the base is loaded
(recursively) and this file's keys are deep-merged over it (mappings merged key by key, lists and scalars
replaced); ``name`` and ``description`` always come from the variant.
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
        from netmig_sandbox.scenarios.large import generate

        return normalize(generate())
    path = HERE / f"{text}.yaml"
    if "/" in text or not path.exists():
        path = Path(text)
        if not (path.suffix in (".yaml", ".yml") and path.exists()):
            raise ScenarioError(
                f"unknown scenario {text!r}; use one of: {', '.join(names())}, or a path to a scenario YAML file"
            )
    data = _read(path, ())
    try:
        out = normalize(data)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        raise ScenarioError(f"scenario file {path} is malformed ({e.__class__.__name__}: {str(e)[:120]}); see "
                            "netmig_sandbox/scenarios/npm.yaml") from None
    if not isinstance(out["objects"], list) or not isinstance(out["faults"], list):
        raise ScenarioError(f"scenario file {path}: 'objects' and 'faults' must be lists; fix the file")
    from netmig_sandbox.faults import Faults

    for f in out["faults"]:
        try:
            Faults.from_dict(f)
        except (TypeError, ValueError) as e:
            raise ScenarioError(f"scenario file {path}: a fault is invalid ({str(e)[:160]}); fix the file") from None
    return out


MAX_BYTES = 64 * 1024 * 1024


def _text(path: Path) -> str:
    """The UTF-8 text of a scenario file; ``ScenarioError`` for a directory, a FIFO/device, an unreadable, huge,
    binary or non-UTF-8 file."""
    import stat

    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise ScenarioError(f"scenario file {path} is not a regular file (a directory, pipe or device); pass a "
                                "scenario YAML file")
        if st.st_size > MAX_BYTES:
            raise ScenarioError(f"scenario file {path} is too large ({st.st_size} bytes); pass a scenario YAML file")
        data = path.read_bytes()
    except OSError as e:
        raise ScenarioError(f"scenario file {path} cannot be read ({e.strerror or e.__class__.__name__}); check "
                            "the file") from None
    if b"\x00" in data:
        raise ScenarioError(f"scenario file {path} is a binary file, not YAML; pass a scenario YAML file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ScenarioError(f"scenario file {path} is not UTF-8 text (byte {e.start}); pass a scenario YAML "
                            "file") from None


def _read(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The raw (not normalized) scenario of ``path``, its ``base`` chain merged in."""
    if path.resolve() in seen:
        chain = " -> ".join(p.stem for p in (*seen, path))
        raise ScenarioError(f"scenario file {path} has a 'base' cycle ({chain}); fix the 'base' keys")
    try:
        data = yaml.safe_load(_text(path))
    except yaml.YAMLError as e:
        raise ScenarioError(f"scenario file {path} is not valid YAML ({e.__class__.__name__}); fix the file") from e
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario file {path} is not a mapping; see netmig_sandbox/scenarios/npm.yaml")
    base = data.pop("base", None)
    if base is not None:
        base_path = HERE / f"{base}.yaml"
        if not base_path.exists():
            base_path = (path.parent / str(base)) if not Path(str(base)).is_absolute() else Path(str(base))
        if not base_path.exists():
            raise ScenarioError(f"scenario file {path}: base {base!r} is neither a built-in scenario nor a file")
        parent = _read(base_path, (*seen, path.resolve()))
        parent.pop("name", None)
        parent.pop("description", None)
        data = deep_merge(parent, data)
        data["base"] = str(base)
    if "cluster" not in data:
        raise ScenarioError(f"scenario file {path} has no 'cluster' section; see netmig_sandbox/scenarios/npm.yaml")
    data.setdefault("name", path.stem)
    return data


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged onto a copy of ``base``: mappings key by key (recursively), anything else replaced."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


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
    from netmig_sandbox.scenarios.builder import materialize as _m

    await _m(ctx)
