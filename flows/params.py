"""Flow parameters shared by the deployments: pydantic models, so the Prefect UI renders them as forms.

Contract: plain values only (strings, numbers, lists); ``ClusterAddress.target(...)`` turns an address into the
library's ``ArmTarget`` exactly as the CLI's ``--sandbox/--cluster/...`` flags do (``UsageError`` when unusable).
Relative paths are relative to the worker's working directory (the project folder ``prefect deploy`` ran in):
prefer absolute paths in deployment parameters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from netmig.connection import ArmTarget

ADDRESS_FIELDS = ("sandbox", "cluster", "subscription", "resource_group", "name", "arm_endpoint", "ca_bundle")


class ClusterAddress(BaseModel):
    """Which cluster: a sandbox folder, an AKS resource id, or subscription + resource group + name. Leave it empty
    to use the cluster recorded in the plan."""

    model_config = ConfigDict(extra="forbid")

    sandbox: str | None = Field(default=None, title="Sandbox folder",
                                description="A sandbox folder (aks-netmig sandbox start --dir DIR): endpoint, CA "
                                            "bundle, token and cluster come from DIR/sandbox.json.")
    cluster: str | None = Field(default=None, title="AKS resource id",
                                description="/subscriptions/S/resourceGroups/RG/providers/"
                                            "Microsoft.ContainerService/managedClusters/NAME")
    subscription: str | None = Field(default=None, title="Subscription id")
    resource_group: str | None = Field(default=None, title="Resource group")
    name: str | None = Field(default=None, title="Cluster name")
    arm_endpoint: str | None = Field(default=None, title="ARM endpoint", description="Default: public Azure.")
    ca_bundle: str | None = Field(default=None, title="CA bundle",
                                  description="A PEM file to trust for the ARM endpoint.")

    def given(self) -> bool:
        return bool(self.sandbox or self.cluster or self.subscription)

    def target(self, default_cluster: str | None = None, default_endpoint: str | None = None) -> ArmTarget:
        """The ``ArmTarget``; with no address given, ``default_cluster`` (the plan's) at ``default_endpoint``."""
        from netmig.connection import resolve

        addr: dict[str, Any] = self.model_dump()
        if not self.given() and default_cluster:
            addr["cluster"] = default_cluster
            addr["arm_endpoint"] = self.arm_endpoint or default_endpoint
        return resolve(**addr)

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> ClusterAddress:
        """From the CLI's address options (paths become strings; unknown keys are ignored)."""
        return cls(**{k: (str(v) if v is not None else None) for k, v in values.items() if k in ADDRESS_FIELDS})


class MigrationOptions(BaseModel):
    """How to run the migration."""

    model_config = ConfigDict(extra="forbid")

    accept: list[str] = Field(default_factory=list, title="Accept",
                              description="When the run makes the plan: failing check ids or policy-analysis rule "
                                          "ids to accept (like `aks-netmig plan --accept`), e.g. policy-analysis.")
    auto_approve: bool = Field(default=False, title="Approve without asking",
                               description="Skip the approval form (like `apply --yes`). Leave off to approve each "
                                           "run in the UI after reviewing the plan and the predicted changes.")
    approval_timeout_hours: float = Field(default=72.0, gt=0, title="Approval timeout (hours)",
                                          description="A run waiting for approval longer than this fails.")
    stall_seconds: float | None = Field(default=None, ge=0, title="Stall timeout (s)",
                                        description="Seconds without reimage progress before the run pauses.")
    pdb_block_seconds: float | None = Field(default=None, ge=0, title="PDB block timeout (s)",
                                            description="Seconds a PodDisruptionBudget may block a drain.")
    run_dir: str | None = Field(default=None, title="Run folder",
                                description="Journal, backups, snapshots, report, Prefect results. Default: "
                                            "PLAN.run/ next to the plan.")


class PreflightOptions(BaseModel):
    """What the preflight run does with its result."""

    model_config = ConfigDict(extra="forbid")

    accept: list[str] = Field(default_factory=list, title="Accept",
                              description="Failing check ids or policy-analysis rule ids to accept.")
    plan_out: str | None = Field(default=None, title="Write the plan to",
                                 description="Also write the concrete plan here (review it, then give it to the "
                                             "migration deployment as its plan path).")
    fail_on_blocking: bool = Field(default=True, title="Fail on blocking checks",
                                   description="End the run Failed when a check fails and is not accepted (so "
                                               "failure alerts fire for a scheduled preflight).")
