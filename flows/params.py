"""Flow parameters shared by the deployments: pydantic models, so the Prefect UI renders them as forms.

Contract: plain values only (strings, numbers, lists), no Optional fields -- the Prefect form renders
``X | None`` as a type toggle ('Property is type "None"'): an empty string / 0 is "not given" (null from an API
caller reads as that default); ``ClusterAddress.address()`` is the command layer's
``Address``, exactly what the CLI's ``--sandbox/--cluster/...`` flags make.
Relative paths are relative to the worker's working directory (the project folder ``prefect deploy`` ran in):
prefer absolute paths in deployment parameters.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from netmig.connection import ADDRESS_KEYS as ADDRESS_FIELDS
from netmig.connection import Address

KindChoice = Literal["", "azure-cni-to-overlay", "calico-crd-cleanup", "calico-to-self-managed", "kubenet-to-overlay",
                     "npm-to-cilium", "uninstall"]
MIGRATION_KINDS: tuple[str, ...] = get_args(KindChoice)[1:]


def _empty_if_none(value: Any) -> Any:
    return "" if value is None else value


NoneIsEmpty = BeforeValidator(_empty_if_none)  # a top-level parameter given null by an API caller: "" (not given)
MigrationKind = Annotated[KindChoice, NoneIsEmpty]
"""The ``migration`` parameter: a choice (the Prefect form renders an enum as a select) of the templates in plans/
(a test keeps the list equal to them); ``""``: not given (the kind of the plan at ``plan_path``)."""
OptionalText = Annotated[str, NoneIsEmpty]
"""A top-level text parameter whose ``""`` means "not given" (e.g. ``plan_path``)."""


def _empty_tuple_if_none(value: Any) -> Any:
    return () if value is None else value


TextList = Annotated[tuple[str, ...], BeforeValidator(_empty_tuple_if_none)]
"""A top-level list parameter (an array in the form, no null toggle); ``()``: none (null reads as none)."""
NumberList = Annotated[tuple[int, ...], BeforeValidator(_empty_tuple_if_none)]
"""A top-level list of integers, as ``TextList``."""
GoalChoice = Literal["azure-cni", "azure-cni-calico", "azure-cni-cilium", "azure-cni-npm", "byo-cni", "kubenet",
                     "kubenet-calico", "overlay", "overlay-calico", "overlay-cilium", "overlay-npm"]
"""A journey's goal: one of the network profiles ``netmig.model.profiles`` knows (a test keeps the two equal)."""


class ClusterAddress(BaseModel):
    """Which cluster: a sandbox folder, an AKS resource id, or subscription + resource group + name. Leave it empty
    to use the cluster recorded in the plan."""

    model_config = ConfigDict(extra="forbid")

    sandbox: str = Field(default="", title="Sandbox folder",
                                description="A sandbox folder (aks-netmig sandbox start --dir DIR): endpoint, CA "
                                            "bundle, token and cluster come from DIR/sandbox.json.")
    cluster: str = Field(default="", title="AKS resource id",
                                description="/subscriptions/S/resourceGroups/RG/providers/"
                                            "Microsoft.ContainerService/managedClusters/NAME")
    subscription: str = Field(default="", title="Subscription id")
    resource_group: str = Field(default="", title="Resource group")
    name: str = Field(default="", title="Cluster name")
    arm_endpoint: str = Field(default="", title="ARM endpoint", description="Default: public Azure.")
    ca_bundle: str = Field(default="", title="CA bundle",
                                  description="A PEM file to trust for the ARM endpoint.")

    @model_validator(mode="before")
    @classmethod
    def _none_is_empty(cls, values: Any) -> Any:
        return _no_nones(values)

    def given(self) -> bool:
        return bool(self.sandbox or self.cluster or self.subscription)

    def address(self) -> Address:
        """The command layer's ``netmig.connection.Address``."""
        return Address.of(self.model_dump())

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> ClusterAddress:
        """From the CLI's address options (paths become strings; unknown keys are ignored)."""
        return cls(**{k: (str(v) if v is not None else "") for k, v in values.items() if k in ADDRESS_FIELDS})


def _no_nones(values: Any) -> Any:
    """A form or API caller may send null for an empty field: the model's default then ("" / 0)."""
    if isinstance(values, dict):
        return {k: v for k, v in values.items() if v is not None}
    return values


SET_PATTERN = r"^[^.=\s]+\.[^=\s]+=.*$"
SetItem = Annotated[str, Field(pattern=SET_PATTERN)]


def probe_budget_text(minutes: float, every_cell: bool) -> str | None:
    """The form's ``probe_budget_minutes`` / ``probe_every_cell`` as ``--budget`` text: ``"none"`` (every cell),
    ``"Nm"``, or None (0 and off: the plan's default); ``UsageError`` when both are set or the minutes negative."""
    from netmig.errors import UsageError

    if every_cell and minutes:
        raise UsageError("probe_budget_minutes and probe_every_cell contradict each other",
                         "set one of them (probe_budget_minutes 0 with probe_every_cell)")
    if minutes < 0:
        raise UsageError(f"probe_budget_minutes {minutes} is negative", "give minutes >= 0")
    if every_cell:
        return "none"
    return f"{minutes:f}".rstrip("0").rstrip(".") + "m" if minutes else None


class PlanOptions(BaseModel):
    """What shapes a plan the run makes, exactly the options of ``aks-netmig plan`` (``plan_args``): accepted
    findings, step parameters (``--set``; ``operator_manifest`` is ``--set install-operator.manifest=...``), the
    overlay pod CIDR, the fallback path. They apply when the run makes the plan; a run given an existing plan applies
    it as reviewed and refuses options that contradict it (``conflicts``)."""

    model_config = ConfigDict(extra="forbid")

    accept: list[str] = Field(default_factory=list, title="Accept",
                              description="Failing check ids or policy-analysis rule ids to accept (like "
                                          "`aks-netmig plan --accept`), e.g. policy-analysis.")
    operator_manifest: str = Field(
        default="", title="tigera-operator manifest",
        description="calico-to-self-managed: the tigera-operator manifest the install-operator step applies, a "
                    "path on the worker (absolute) or an https URL; the same as the step parameter "
                    "install-operator.manifest=... Empty: the template's default.")
    step_params: list[SetItem] = Field(
        default_factory=list, title="Step parameters (STEP.PARAM=VALUE)",
        description="Like `aks-netmig plan --set STEP.PARAM=VALUE` (repeatable; VALUE is read as YAML), e.g. "
                    "install-operator.manifest=/srv/netmig/tigera-operator.yaml.")
    pod_cidr: str = Field(default="", title="Overlay pod CIDR",
                                 description="Migrations to Azure CNI Overlay (kubenet-to-overlay): the new pod CIDR, "
                                             "like `aks-netmig plan --pod-cidr`. Empty: keep the current one. It "
                                             "must not overlap the VNet, the service CIDR or peered networks.")
    probe_budget_minutes: float = Field(
        default=0, ge=0, title="Probing budget (minutes)",
        description="Time budget of each connectivity step (the before-snapshot and verify): every cell the policy "
                    "analysis predicts to change is probed, the rest sampled to fit; like `aks-netmig plan "
                    "--budget`. 0: the plan's default (10 min).")
    probe_every_cell: bool = Field(default=False, title="Probe every cell (no budget)",
                                   description="Probe every cell in those steps however long it takes (like "
                                               "`aks-netmig plan --no-budget`).")
    allow_fallback: bool = Field(default=False, title="Allow the fallback path",
                                 description="kubenet + Calico -> overlay: allow the plan's fallback path (network "
                                             "policy none -> overlay -> calico; three reimages, NetworkPolicies not "
                                             "enforced in between), used only if ARM refuses the direct change; "
                                             "like `aks-netmig plan --allow-fallback`.")

    @model_validator(mode="before")
    @classmethod
    def _none_is_empty(cls, values: Any) -> Any:
        return _no_nones(values)

    @field_validator("pod_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        if not value or not value.strip():
            return ""
        try:
            ipaddress.ip_network(value.strip(), strict=True)
        except ValueError as e:
            raise ValueError(f"not a CIDR: {e}") from None
        return value.strip()

    def sets(self, kind: str) -> list[str]:
        """The ``--set`` values: ``step_params``, then ``operator_manifest`` for each install-operator step of the
        ``kind`` template (``UsageError`` when it has none, or when ``step_params`` sets that manifest otherwise),
        then the probing budget (``probe_budget_minutes`` / ``probe_every_cell``, as ``plan --budget`` /
        ``--no-budget``: ``netmig.engine.planning.budget_sets``)."""
        from netmig.engine.planning import load_template, parse_set
        from netmig.errors import UsageError

        out = list(self.step_params)
        parsed = parse_set(out)
        if self.operator_manifest:
            steps = [s.id for s in load_template(kind).steps if s.kind == "install-operator"]
            if not steps:
                raise UsageError(f"the {kind} migration installs no operator: operator_manifest does not apply",
                                 "leave operator_manifest empty (it is for calico-to-self-managed)")
            for sid in steps:
                given = parsed.get(sid, {}).get("manifest")
                if given is not None and str(given) != self.operator_manifest:
                    raise UsageError(f"operator_manifest {self.operator_manifest} and step parameter "
                                     f"{sid}.manifest={given} disagree", "give the manifest once")
                if given is None:
                    out.append(f"{sid}.manifest={self.operator_manifest}")
        from netmig.engine.planning import budget_text_sets

        out += budget_text_sets(kind, probe_budget_text(self.probe_budget_minutes, self.probe_every_cell), out)
        return out

    def plan_args(self, kind: str) -> dict[str, Any]:
        """Keyword arguments of ``tasks.migrate.make_plan``: ``accepted``, ``sets``, ``pod_cidr``,
        ``allow_fallback`` (the flags of ``aks-netmig plan``)."""
        return {"accepted": list(self.accept), "sets": self.sets(kind), "pod_cidr": self.pod_cidr or None,
                "allow_fallback": self.allow_fallback}

    def conflicts(self, plan: Any) -> list[str]:
        """How the options given contradict an existing plan (empty: they agree, or none was given)."""
        from netmig.commands.applying import plan_conflicts

        return plan_conflicts(plan, self)


class MigrationOptions(PlanOptions):
    """How to run the migration: the plan options (when the run makes the plan), approval, timeouts, run folder."""

    auto_approve: bool = Field(default=False, title="Approve without asking",
                               description="Skip the approval form (like `apply --yes`). Leave off to approve each "
                                           "run in the UI after reviewing the plan and the predicted changes.")
    approval_timeout_hours: float = Field(default=72.0, gt=0, title="Approval timeout (hours)",
                                          description="A run waiting for approval longer than this fails.")
    stall_seconds: float = Field(default=0, ge=0, title="Stall timeout (s)",
                                        description="Seconds without reimage progress before the run pauses (like "
                                                    "`apply --stall-timeout`; 0: the plan's, 1800 by default).")
    notready_seconds: float = Field(default=0, ge=0, title="NotReady timeout (s)",
                                           description="Seconds a node may stay NotReady during the reimage before "
                                                       "the run pauses (like `apply --notready-timeout`; 0: the "
                                                       "plan's, 1500 by default).")
    pdb_block_seconds: float = Field(default=0, ge=0, title="PDB block timeout (s)",
                                            description="Seconds a PodDisruptionBudget may block a drain before the "
                                                        "run pauses (like `apply --pdb-timeout`; 0: the plan's, 900 "
                                                        "by default).")
    run_dir: str = Field(default="", title="Run folder",
                                description="Journal, backups, snapshots, report, Prefect results. Default: "
                                            "PLAN.run/ next to the plan.")


class PreflightOptions(PlanOptions):
    """The plan options (the plan the preflight makes), and what the run does with its result."""

    plan_out: str = Field(default="", title="Write the plan to",
                                 description="Also write the concrete plan here (review it, then give it to the "
                                             "migration deployment as its plan path).")
    fail_on_blocking: bool = Field(default=True, title="Fail on blocking checks",
                                   description="End the run Failed when a check fails and is not accepted (so "
                                               "failure alerts fire for a scheduled preflight).")


# CLI flags -> the form fields of a deployment run (the longest patterns first)
_UI_FIELDS: list[tuple[str, str]] = [
    (r"\brerun (?:aks-netmig )?apply with --yes\b", "set options.auto_approve and run the deployment again"),
    (r"(?:plan )?--accept ([\w.-]+)", r"options.accept: [\1]"),
    (r"(?:plan )?--accept\b", "options.accept"),
    (r"--set install-operator\.manifest=\S+", "options.operator_manifest"),
    (r"--set [\w.-]+=\S+", "options.step_params"),
    (r"--set\b", "options.step_params"),
    (r"(?:aks-netmig )?plan --budget (\d+)m\b", r"options.probe_budget_minutes: \1"),
    (r"(?:aks-netmig )?(?:plan )?--budget\b", "options.probe_budget_minutes"),
    (r"(?:aks-netmig )?(?:plan )?--no-budget\b", "options.probe_every_cell: true"),
    (r"(?:plan )?--pod-cidr\b", "options.pod_cidr"),
    (r"(?:plan )?--allow-fallback\b", "options.allow_fallback: true"),
    (r"(?:apply )?--stall-timeout\b", "options.stall_seconds"),
    (r"(?:apply )?--notready-timeout\b", "options.notready_seconds"),
    (r"(?:apply )?--pdb-timeout\b", "options.pdb_block_seconds"),
    (r"(?:apply )?--run-dir\b", "options.run_dir"),
    (r"(?:apply )?--yes\b", "options.auto_approve: true"),
    (r"\brerun (?:aks-netmig )?apply\b", "run the deployment again with the same plan_path"),
    (r"\bapply again\b", "run the deployment again"),
]


def ui_text(text: str) -> str:
    """A message written for the CLI, with the deployment form's field names instead of CLI flags (``plan --accept
    ID`` -> ``options.accept: [ID]``, ``--pod-cidr`` -> ``options.pod_cidr``, ``rerun apply`` -> run the deployment
    again, ...): what a run started from the Prefect UI says."""
    import re

    for pattern, repl in _UI_FIELDS:
        text = re.sub(pattern, repl, text)
    return text
