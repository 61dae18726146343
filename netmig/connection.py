"""How a command reaches a cluster: an ARM endpoint (+ CA bundle, credential) and a cluster address.

Contract:
- ``ArmTarget`` is what ``netmig.azure`` needs; its ``static_token`` is never printed (``repr`` hides it) and is
  only ever filled from a sandbox file (``from_sandbox_dir``): real clusters use azure-identity's
  DefaultAzureCredential.
- ``from_sandbox_dir(DIR)`` reads ``DIR/sandbox.json`` (endpoint, CA bundle, token, cluster); it raises
  ``UsageError`` naming the file and the fix when it is missing, unreadable (a directory, a FIFO, binary, not
  UTF-8) or malformed. The target remembers the folder (``sandbox``, absolute) so a plan can record it.
- ``for_plan(plan, **flags)``: the address flags when any names a cluster (they override the plan), else the
  plan's own connection: its sandbox folder, or its cluster id at its ARM endpoint with its CA bundle
  (``--arm-endpoint`` / ``--ca-bundle`` alone override those two). Never a token from the plan.
- Pacing is generic, never decided by what kind of cluster it is: ``ArmTarget.poll_seconds`` (None: the product's
  defaults, ``ARM_POLL_SECONDS`` for ARM long-running operations and the reimage watch's own default) and
  ``retry_backoff_max`` (None: the Azure SDK's retry backoff) come from the connection file when it declares them
  (``"poll_seconds"``, ``"retry_backoff_max"`` in ``sandbox.json``; the backoff defaults to one poll there).
- ``Address`` is the cluster-address flags as one typed value (``target(plan)``, ``names_cluster()``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmig.errors import UsageError
from netmig.inputs import read_text
from netmig.model.cluster import ClusterRef

PUBLIC_ARM = "https://management.azure.com"
ARM_POLL_SECONDS = 5.0  # the product's pace for ARM long-running operations when the connection declares none


@dataclass(frozen=True)
class ArmTarget:
    ref: ClusterRef
    endpoint: str = PUBLIC_ARM
    ca_bundle: str | None = None
    static_token: str | None = field(default=None, repr=False)
    kubeconfig: str | None = None  # a kubeconfig file to use instead of listClusterUserCredential
    sandbox: str | None = None  # the sandbox folder this target was read from (absolute)
    poll_seconds: float | None = None  # the connection's declared pace (None: the product's defaults)
    retry_backoff_max: float | None = None  # the longest retry backoff (None: the Azure SDK's default)

    @property
    def arm_poll_seconds(self) -> float:
        """How often a long-running ARM operation is polled."""
        return self.poll_seconds if self.poll_seconds is not None else ARM_POLL_SECONDS

    def describe(self) -> str:
        where = "" if self.endpoint == PUBLIC_ARM else f" at {self.endpoint}"
        return f"{self.ref}{where}"


def from_sandbox_dir(directory: str | Path) -> ArmTarget:
    path = Path(directory) / "sandbox.json"
    if Path(directory).exists() and not Path(directory).is_dir():
        raise UsageError(f"--sandbox {directory} is a file, not a sandbox folder",
                         "pass the folder given to aks-netmig sandbox start --dir")
    text = read_text(path, "sandbox file", "restart the sandbox: aks-netmig sandbox stop --dir "
                     f"{directory}, then sandbox start --dir {directory} --detach",
                     max_bytes=1024 * 1024,
                     missing_fix=f"start one with: aks-netmig sandbox start --dir {directory} --detach")
    if not text.strip():
        raise UsageError(f"no sandbox at {directory} ({path} is empty)",
                         f"start one with: aks-netmig sandbox start --dir {directory} --detach")
    try:
        info = json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON ({e.msg})", "restart the sandbox") from None
    if not isinstance(info, dict):
        raise UsageError(f"{path} is not a JSON object", "restart the sandbox")
    poll, backoff = _pacing(info, path)
    try:
        return ArmTarget(
            ref=ClusterRef(str(info["subscription_id"]), str(info["resource_group"]), str(info["cluster_name"])),
            endpoint=str(info["arm_endpoint"]),
            ca_bundle=str(info["ca_bundle"]) if info.get("ca_bundle") else None,
            static_token=str(info["token"]),
            sandbox=str(Path(directory).resolve()),
            poll_seconds=poll,
            retry_backoff_max=backoff,
        )
    except KeyError as e:
        raise UsageError(f"{path} lacks the field {e.args[0]!r}", "restart the sandbox") from None


def _pacing(info: dict[str, Any], path: Path) -> tuple[float | None, float | None]:
    """(poll_seconds, retry_backoff_max) a connection file declares: positive finite numbers, or None when it declares
    none (the product's defaults). A connection that declares its pace backs off at most one poll between retries."""
    values: list[float | None] = []
    for key in ("poll_seconds", "retry_backoff_max"):
        raw = info.get(key)
        if raw is None:
            values.append(None)
            continue
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw) or raw <= 0:
            raise UsageError(f"{path}: {key} must be a number of seconds > 0, got {raw!r}", "restart the sandbox")
        values.append(float(raw))
    poll, backoff = values
    return poll, backoff if backoff is not None else poll


def sandbox_manifest(directory: str | Path, name: str) -> str | None:
    """The path of a manifest the sandbox at ``directory`` ships (``sandbox.json`` ``manifests``, e.g.
    ``tigera-operator``), or None when it names none or cannot be read."""
    try:
        info = json.loads((Path(directory) / "sandbox.json").read_text())
        path = (info.get("manifests") or {}).get(name)
    except (OSError, ValueError, AttributeError):
        return None
    return str(path) if path and Path(path).is_file() else None
def for_plan(plan: Any, *, sandbox: str | Path | None = None, cluster: str | None = None,
             subscription: str | None = None, resource_group: str | None = None, name: str | None = None,
             arm_endpoint: str | None = None, ca_bundle: str | None = None) -> ArmTarget:
    """The target for ``plan`` (a ``netmig.model.plan.Plan``): see the module contract."""
    if sandbox or cluster or subscription or resource_group or name:
        return resolve(sandbox=sandbox, cluster=cluster, subscription=subscription, resource_group=resource_group,
                       name=name, arm_endpoint=arm_endpoint, ca_bundle=ca_bundle)
    conn = getattr(plan, "connection", None)
    remembered = getattr(conn, "sandbox", None)
    if remembered and not arm_endpoint and not ca_bundle:
        if not (Path(remembered) / "sandbox.json").is_file():
            raise UsageError(f"the plan's sandbox {remembered} is not running (no sandbox.json)",
                             f"start it (aks-netmig sandbox start --dir {remembered} --detach) or pass "
                             "--sandbox DIR / --cluster ID")
        return from_sandbox_dir(remembered)
    return resolve(cluster=plan.cluster, arm_endpoint=arm_endpoint or plan.arm_endpoint,
                   ca_bundle=ca_bundle or getattr(conn, "ca_bundle", None))


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
    if ca_bundle:
        text = read_text(ca_bundle, "CA bundle", "pass the path of a PEM file to --ca-bundle",
                         max_bytes=4 * 1024 * 1024)
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise UsageError(f"CA bundle {ca_bundle} holds no PEM certificate",
                             "pass the path of a PEM file to --ca-bundle")
    endpoint = (arm_endpoint or PUBLIC_ARM).rstrip("/")
    if not endpoint.startswith("https://") or len(endpoint) <= len("https://") or any(c.isspace() for c in endpoint):
        raise UsageError(f"--arm-endpoint {arm_endpoint!r} is not an https URL",
                         "pass e.g. --arm-endpoint https://management.azure.com")
    return ArmTarget(ref=ref, endpoint=endpoint, ca_bundle=str(Path(ca_bundle).resolve()) if ca_bundle else None)


ADDRESS_KEYS = ("sandbox", "cluster", "subscription", "resource_group", "name", "arm_endpoint", "ca_bundle")


@dataclass(frozen=True)
class Address:
    """The cluster-address flags of a command (``--sandbox``, ``--cluster``, ``--subscription`` /
    ``--resource-group`` / ``--name``, ``--arm-endpoint``, ``--ca-bundle``), each None when not given."""

    sandbox: str | Path | None = None
    cluster: str | None = None
    subscription: str | None = None
    resource_group: str | None = None
    name: str | None = None
    arm_endpoint: str | None = None
    ca_bundle: str | None = None

    @classmethod
    def of(cls, mapping: Any) -> Address:
        """The address keys of a mapping (others ignored), or ``mapping`` itself when it is an ``Address``."""
        if isinstance(mapping, Address):
            return mapping
        return cls(**{k: (mapping or {}).get(k) or None for k in ADDRESS_KEYS})

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ADDRESS_KEYS}

    def names_cluster(self) -> bool:
        """A cluster is named (a sandbox, a resource id, or a subscription); ARM endpoint / CA bundle alone is not."""
        return bool(self.sandbox or self.cluster or self.subscription)

    def target(self, plan: Any | None = None) -> ArmTarget:
        """The cluster this address names; without one, ``plan``'s own connection (``for_plan``)."""
        if plan is not None:
            return for_plan(plan, **self.as_dict())
        return resolve(**self.as_dict())
