"""How a command reaches a cluster: an ARM endpoint (+ CA bundle, credential) and a cluster address.

Contract:
- ``ArmTarget`` is what ``netmig.azure`` needs; its ``static_token`` is never printed (``repr`` hides it) and is
  only ever filled from a sandbox file (``from_sandbox_dir``): real clusters use azure-identity's
  DefaultAzureCredential.
- ``from_sandbox_dir(DIR)`` reads ``DIR/sandbox.json`` (endpoint, CA bundle, token, cluster); it raises
  ``UsageError`` naming the file and the fix when it is missing or malformed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from netmig.errors import UsageError
from netmig.model.cluster import ClusterRef

PUBLIC_ARM = "https://management.azure.com"


@dataclass(frozen=True)
class ArmTarget:
    ref: ClusterRef
    endpoint: str = PUBLIC_ARM
    ca_bundle: str | None = None
    static_token: str | None = field(default=None, repr=False)
    kubeconfig: str | None = None  # a kubeconfig file to use instead of listClusterUserCredential

    def describe(self) -> str:
        where = "" if self.endpoint == PUBLIC_ARM else f" at {self.endpoint}"
        return f"{self.ref}{where}"


def from_sandbox_dir(directory: str | Path) -> ArmTarget:
    path = Path(directory) / "sandbox.json"
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(
            f"no sandbox at {directory} ({path} does not exist)",
            f"start one with: aks-netmig sandbox start --dir {directory} --detach",
        ) from None
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON ({e.msg})", "restart the sandbox") from None
    try:
        return ArmTarget(
            ref=ClusterRef(info["subscription_id"], info["resource_group"], info["cluster_name"]),
            endpoint=info["arm_endpoint"],
            ca_bundle=info.get("ca_bundle"),
            static_token=info["token"],
        )
    except KeyError as e:
        raise UsageError(f"{path} lacks the field {e.args[0]!r}", "restart the sandbox") from None


def sandbox_manifest(directory: str | Path, name: str) -> str | None:
    """The path of a manifest the sandbox at ``directory`` ships (``sandbox.json`` ``manifests``, e.g.
    ``tigera-operator``), or None when it names none or cannot be read."""
    try:
        info = json.loads((Path(directory) / "sandbox.json").read_text())
        path = (info.get("manifests") or {}).get(name)
    except (OSError, ValueError, AttributeError):
        return None
    return str(path) if path and Path(path).is_file() else None


def resolve(
    *,
    sandbox: str | Path | None = None,
    cluster: str | None = None,
    subscription: str | None = None,
    resource_group: str | None = None,
    name: str | None = None,
    arm_endpoint: str | None = None,
    ca_bundle: str | None = None,
) -> ArmTarget:
    """The ``ArmTarget`` for the common cluster-address flags (``--sandbox`` wins; else a resource id or the
    three parts). Raises ``UsageError`` for a missing or malformed address."""
    if sandbox:
        return from_sandbox_dir(sandbox)
    if cluster:
        try:
            ref = ClusterRef.parse(cluster)
        except ValueError as e:
            raise UsageError(str(e)) from None
    elif subscription and resource_group and name:
        ref = ClusterRef(subscription, resource_group, name)
    else:
        raise UsageError(
            "no cluster given",
            "pass --cluster RESOURCE_ID, or --subscription/--resource-group/--name, or --sandbox DIR",
        )
    if ca_bundle and not Path(ca_bundle).exists():
        raise UsageError(f"CA bundle {ca_bundle} does not exist", "pass the path of a PEM file to --ca-bundle")
    return ArmTarget(ref=ref, endpoint=(arm_endpoint or PUBLIC_ARM).rstrip("/"), ca_bundle=ca_bundle)
