"""The ARM side of the sandbox: one managed cluster, its agent pools and its long-running operations.

Contract:
- ``ArmState.from_scenario(scenario)`` builds the state from the scenario dict (the ``cluster:`` section, see below).
  Resources are kept as ARM JSON, exactly as the REST API serves them (camelCase):
  ``cluster`` = managedCluster without ``properties.agentPoolProfiles`` (``cluster_json()`` adds them from
  ``pools``), ``pools`` = agentPool resources by name, ``operations`` = ``Operation`` by id.
- Only one operation runs at a time for the cluster and its pools (``in_progress()``); ``start_operation`` refuses a
  second one with ``ArmError(409, "OperationNotAllowed", ...)``.
- Every change of a resource gets a fresh etag (``touch_cluster`` / ``touch_pool``).
- Not thread-safe: touched only from the sandbox event loop.

Scenario keys read (besides the documented ``cluster:`` shape)::

    cluster:
      ...                               # subscription_id, resource_group, name, location, kubernetes_version,
                                        # identity, node_provisioning_mode, network_profile, pools
      node_image_version: str           # optional, default DEFAULT_NODE_IMAGE (pools may override with
                                        # nodeImageVersion)
      pools: [{..., maxPods: int, nodeImageVersion: str}]   # optional extras
      vnet: {...}                       # the nodes' VNet, see ``netmig_sandbox.arm.network`` (``network``)
      network_profile: {..., podCidrs: [str], serviceCidrs: [str]}   # dual-stack: both families' CIDRs
    arm_behaviour:                      # optional, top level (or inside cluster:), all optional
      block_kubenet_calico_to_overlay: bool      # refuse kubenet+calico -> overlay+calico (default false)
      drain_timeout_seconds: float               # sim seconds before PodDrainFailure (default 1800)
      node_ready_timeout_seconds: float          # sim seconds a reimaged node may stay NotReady (default 1200)
      drain_retry_seconds: float                 # eviction retry period while a PDB blocks (default 5)
      surge_seconds: float                       # time to provision a surge node (default 60)
      reimage_seconds: float                     # time a node stays NotReady while reimaged (default 45)
      operation_seconds: float                   # duration of an update without reimage (default 10)
      cancel_seconds: float                      # Canceling -> Canceled after an abort (default 5)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from netmig_sandbox.sim import topology

DEFAULT_NODE_IMAGE = "AKSUbuntu-2204gen2containerd-202610.15.0"
PROVIDER = "Microsoft.ContainerService"
CLUSTER_TYPE = f"{PROVIDER}/managedClusters"
POOL_TYPE = f"{PROVIDER}/managedClusters/agentPools"
TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # the sandbox subscription's tenant (and identities')

DEFAULT_BEHAVIOUR: dict[str, Any] = {
    "block_kubenet_calico_to_overlay": False,
    "drain_timeout_seconds": 1800.0,
    "node_ready_timeout_seconds": 1200.0,
    "drain_retry_seconds": 5.0,
    "surge_seconds": 60.0,
    "reimage_seconds": 45.0,
    "operation_seconds": 10.0,
    "cancel_seconds": 5.0,
}

TERMINAL = ("Succeeded", "Failed", "Canceled")


def now_iso() -> str:
    """UTC now in the ARM timestamp format (with fractional seconds)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ArmError(Exception):
    """An ARM failure: rendered as ``status`` with body ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


@dataclass
class Operation:
    """One long-running operation as the operation-status endpoint serves it."""

    id: str
    kind: str  # reimage | update | create | scale | abort
    target: str  # "cluster" or the agent pool name
    status: str = "InProgress"  # InProgress | Succeeded | Failed | Canceled | Canceling
    percent_complete: float = 0.0
    start_time: str = field(default_factory=now_iso)
    end_time: str | None = None
    error: dict[str, Any] | None = None
    task: asyncio.Task[Any] | None = None
    # pools whose provisioningState this operation drives
    pools: list[str] = field(default_factory=list)
    # filled by an ``lro`` fault taken when the operation starts: (kind fail|cancel, code, message, after_nodes)
    injected: dict[str, Any] | None = None

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.id,
            "status": self.status,
            "percentComplete": round(self.percent_complete, 1),
            "startTime": self.start_time,
        }
        if self.end_time:
            out["endTime"] = self.end_time
        if self.error:
            out["error"] = dict(self.error)
        return out


def pool_resource(cluster_id: str, pool: dict[str, Any], k8s_version: str, image: str,
                  subnet_id: str | None = None) -> dict[str, Any]:
    """An agentPool ARM resource from a scenario-shaped pool dict (``subnet_id``: its ``vnetSubnetID``)."""
    name = pool["name"]
    props: dict[str, Any] = {
        "eTag": _etag(),
        "count": int(pool.get("count", 1)),
        "vmSize": pool.get("vmSize") or "Standard_D4s_v5",
        "osDiskSizeGB": 128,
        "osDiskType": "Managed",
        "kubeletDiskType": "OS",
        "maxPods": topology.max_pods(pool),
        "type": "AvailabilitySet" if pool.get("availabilitySet") else "VirtualMachineScaleSets",
        "provisioningState": "Succeeded",
        "powerState": {"code": "Running"},
        "orchestratorVersion": pool.get("orchestratorVersion") or k8s_version,
        "currentOrchestratorVersion": pool.get("orchestratorVersion") or k8s_version,
        "mode": pool.get("mode") or "User",
        "osType": pool.get("osType") or "Linux",
        "osSKU": "Ubuntu" if (pool.get("osType") or "Linux") == "Linux" else "Windows2022",
        "nodeImageVersion": pool.get("nodeImageVersion") or image,
        "upgradeSettings": {"maxSurge": str(pool.get("maxSurge") or "1")},
        "enableNodePublicIP": False,
        "enableAutoScaling": False,
    }
    if pool.get("nodeLabels"):
        props["nodeLabels"] = dict(pool["nodeLabels"])
    subnet = pool.get("vnetSubnetID") or subnet_id
    if subnet:
        props["vnetSubnetID"] = subnet
    if pool.get("podSubnetID"):  # dynamic pod IP allocation (Azure CNI with a pod subnet)
        props["podSubnetID"] = pool["podSubnetID"]
    return {
        "id": f"{cluster_id}/agentPools/{name}",
        "name": name,
        "type": POOL_TYPE,
        "properties": props,
    }


def _etag() -> str:
    return str(uuid.uuid4())


class ArmState:
    """See the module docstring."""

    def __init__(self, subscription_id: str, resource_group: str, location: str,
                 behaviour: dict[str, Any] | None = None) -> None:
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.location = location
        self.cluster: dict[str, Any] | None = None
        self.pools: dict[str, dict[str, Any]] = {}
        self.operations: dict[str, Operation] = {}
        self.latest_op_id: str | None = None
        # the nodes' VNet (netmig_sandbox.arm.network.VirtualNetwork), None without a cluster
        self.network: Any = None
        self.behaviour: dict[str, Any] = {**DEFAULT_BEHAVIOUR, **(behaviour or {})}
        # node faults (stuck-notready) that already struck a node: each strikes once (by id())
        self.spent_node_faults: set[int] = set()

    # ------------------------------------------------------------ building
    @classmethod
    def from_scenario(cls, scenario: dict[str, Any]) -> ArmState:
        c = scenario.get("cluster") or {}
        behaviour = {**(c.get("arm_behaviour") or {}), **(scenario.get("arm_behaviour") or {})}
        st = cls(
            subscription_id=str(c.get("subscription_id") or "00000000-0000-0000-0000-000000000000"),
            resource_group=str(c.get("resource_group") or "rg-sandbox"),
            location=str(c.get("location") or "westeurope"),
            behaviour=behaviour,
        )
        if not c.get("name"):
            return st
        version = str(c.get("kubernetes_version") or "1.30.4")
        image = str(c.get("node_image_version") or DEFAULT_NODE_IMAGE)
        cid = st.cluster_id(c["name"])
        profile = _arm_profile(c.get("network_profile") or {})
        identity_type = c.get("identity") or "SystemAssigned"
        identity: dict[str, Any] = {"type": identity_type}
        if identity_type == "UserAssigned":
            uai = (f"/subscriptions/{st.subscription_id}/resourceGroups/{st.resource_group}/providers/"
                   f"Microsoft.ManagedIdentity/userAssignedIdentities/{c['name']}-identity")
            identity["userAssignedIdentities"] = {uai: {"principalId": str(uuid.uuid4()),
                                                        "clientId": str(uuid.uuid4())}}
        else:
            identity["principalId"] = str(uuid.uuid4())
            identity["tenantId"] = TENANT_ID
        st.cluster = {
            "id": cid,
            "name": c["name"],
            "type": CLUSTER_TYPE,
            "location": st.location,
            "tags": dict(c.get("tags") or {}),
            "eTag": _etag(),
            "identity": identity,
            "sku": {"name": "Base", "tier": "Standard"},
            "properties": {
                "provisioningState": "Succeeded",
                "powerState": {"code": "Running"},
                "kubernetesVersion": version,
                "currentKubernetesVersion": version,
                "dnsPrefix": f"{c['name']}-dns",
                "fqdn": f"{c['name']}-dns-a1b2c3d4.hcp.{st.location}.azmk8s.io",
                "nodeResourceGroup": f"MC_{st.resource_group}_{c['name']}_{st.location}",
                "enableRBAC": True,
                "networkProfile": profile,
                "identityProfile": {"kubeletidentity": {
                    "resourceId": (f"/subscriptions/{st.subscription_id}/resourceGroups/MC_{st.resource_group}_"
                                   f"{c['name']}_{st.location}/providers/Microsoft.ManagedIdentity/"
                                   f"userAssignedIdentities/{c['name']}-agentpool"),
                    "clientId": str(uuid.uuid4()), "objectId": str(uuid.uuid4())}},
                "nodeProvisioningProfile": {"mode": c.get("node_provisioning_mode") or "Manual"},
                "supportPlan": "KubernetesOfficial",
            },
        }
        from netmig_sandbox.arm.network import VirtualNetwork

        st.network = VirtualNetwork.from_scenario(c, st.subscription_id,
                                                  st.cluster["properties"]["nodeResourceGroup"], st.location)
        for pool in c.get("pools") or []:
            st.pools[pool["name"]] = pool_resource(cid, pool, version, image, st.network.pool_subnet_id())
        return st

    # ------------------------------------------------------------- naming
    def cluster_id(self, name: str) -> str:
        return (f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}/providers/"
                f"{CLUSTER_TYPE}/{name}")

    def operation_path(self, op_id: str) -> str:
        return (f"/subscriptions/{self.subscription_id}/providers/{PROVIDER}/locations/{self.location}/"
                f"operations/{op_id}")

    def operation_result_path(self, op_id: str) -> str:
        return (f"/subscriptions/{self.subscription_id}/providers/{PROVIDER}/locations/{self.location}/"
                f"operationresults/{op_id}")

    # ---------------------------------------------------------- rendering
    @property
    def profile(self) -> dict[str, Any]:
        """The cluster's current (target) network profile, live (not a copy)."""
        assert self.cluster is not None
        prof: dict[str, Any] = self.cluster["properties"]["networkProfile"]
        return prof

    def cluster_json(self) -> dict[str, Any]:
        import copy

        assert self.cluster is not None
        out = copy.deepcopy(self.cluster)
        out["properties"]["agentPoolProfiles"] = [
            {"name": name, **{k: v for k, v in copy.deepcopy(p["properties"]).items() if k != "eTag"}}
            for name, p in self.pools.items()
        ]
        return out

    def pool_json(self, name: str) -> dict[str, Any]:
        import copy

        return copy.deepcopy(self.pools[name])

    def snapshot(self) -> dict[str, Any]:
        """What ``GET /_sandbox/state`` serves."""
        return {
            "cluster": self.cluster_json() if self.cluster else None,
            "pools": [self.pool_json(n) for n in self.pools],
            "operations": [op.to_json() | {"kind": op.kind, "target": op.target}
                           for op in self.operations.values()],
            "latest_operation": self.latest_op_id,
        }

    # ------------------------------------------------------------ changes
    def touch_cluster(self) -> None:
        assert self.cluster is not None
        self.cluster["eTag"] = _etag()

    def touch_pool(self, name: str) -> None:
        self.pools[name]["properties"]["eTag"] = _etag()

    def set_cluster_state(self, state: str) -> None:
        assert self.cluster is not None
        if self.cluster["properties"].get("provisioningState") != state:
            self.cluster["properties"]["provisioningState"] = state
            self.touch_cluster()

    def set_pool_state(self, name: str, state: str) -> None:
        props = self.pools[name]["properties"]
        if props.get("provisioningState") != state:
            props["provisioningState"] = state
            self.touch_pool(name)

    # --------------------------------------------------------- operations
    def in_progress(self) -> Operation | None:
        for op in self.operations.values():
            if not op.done:
                return op
        return None

    def busy_state(self) -> str:
        """The provisioningState to name in the 409 message."""
        op = self.in_progress()
        if op is None:
            return "Succeeded"
        if op.status == "Canceling":
            return "Canceling"
        if op.target != "cluster" and op.target in self.pools:
            return str(self.pools[op.target]["properties"].get("provisioningState", "Updating"))
        assert self.cluster is not None
        return str(self.cluster["properties"].get("provisioningState", "Updating"))

    def ensure_idle(self) -> None:
        """Raise ``ArmError(409, "OperationNotAllowed", ...)`` while an operation runs."""
        if self.in_progress() is not None:
            raise ArmError(
                409, "OperationNotAllowed",
                f"Operation is not allowed: Another operation ({self.busy_state()}) is in progress, please wait "
                "for it to finish before starting a new operation. See https://aka.ms/aks-pending-operation "
                "for more details",
            )

    def start_operation(self, kind: str, target: str, pools: list[str] | None = None) -> Operation:
        """Register a new InProgress operation; 409 OperationNotAllowed while another one runs."""
        self.ensure_idle()
        op = Operation(id=str(uuid.uuid4()), kind=kind, target=target, pools=list(pools or []))
        self.operations[op.id] = op
        self.latest_op_id = op.id
        return op

    def finish_operation(self, op: Operation, status: str, error: dict[str, Any] | None = None) -> None:
        """End ``op`` and move the cluster / pools it drives to the matching provisioningState."""
        op.status = status
        op.end_time = now_iso()
        op.error = error
        if status == "Succeeded":
            op.percent_complete = 100.0
        if op.kind == "abort":
            return
        if self.cluster is not None and op.target == "cluster":
            self.set_cluster_state(status)
            props = self.cluster["properties"]
            if error:
                props["status"] = {"provisioningError": {"code": error["code"], "message": error["message"]}}
            else:
                props.pop("status", None)
        for name in op.pools:
            if name in self.pools:
                self.set_pool_state(name, status)


def _arm_profile(p: dict[str, Any]) -> dict[str, Any]:
    """The scenario's network_profile as AKS serves it: absent values omitted, defaults filled."""
    plugin = p.get("networkPlugin") or "azure"
    out: dict[str, Any] = {"networkPlugin": plugin}
    if p.get("networkPluginMode"):
        out["networkPluginMode"] = p["networkPluginMode"]
    out["networkPolicy"] = p.get("networkPolicy") or "none"
    if p.get("networkDataplane") or plugin == "azure":
        out["networkDataplane"] = p.get("networkDataplane") or "azure"
    if p.get("podCidr"):
        out["podCidr"] = p["podCidr"]
    elif plugin == "kubenet" or p.get("networkPluginMode") == "overlay":
        out["podCidr"] = "10.244.0.0/16"
    out["serviceCidr"] = p.get("serviceCidr") or "10.0.0.0/16"
    out["dnsServiceIP"] = p.get("dnsServiceIP") or "10.0.0.10"
    out["outboundType"] = p.get("outboundType") or "loadBalancer"
    out["loadBalancerSku"] = p.get("loadBalancerSku") or "standard"
    out["ipFamilies"] = list(p.get("ipFamilies") or ["IPv4"])
    if p.get("podCidrs"):
        out["podCidrs"] = list(p["podCidrs"])
    elif out.get("podCidr"):
        out["podCidrs"] = [out["podCidr"]]
    out["serviceCidrs"] = list(p.get("serviceCidrs") or [out["serviceCidr"]])
    return out
