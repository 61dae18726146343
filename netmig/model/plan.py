"""Migration plans as data: a template per migration kind, made concrete for one cluster by ``aks-netmig plan``.

Contract:
- The models: ``PlanTemplate`` (``plans/KIND.yaml``), ``StepSpec`` (one step, of a template and of a plan:
  ``PlanStep`` is the same model), and the concrete ``Plan`` with its pools, ARM changes, variants, connection and
  preflight results (``CheckResult``). ``netmig.engine.planning`` makes and loads plans; ``step_target``,
  ``apply_spec``, ``matches``, ``surge_nodes`` and ``drift`` are the pure helpers steps and checks share.
- ``PlanTemplate.model_validate(yaml_dict)`` raises pydantic's ``ValidationError`` for a malformed file; the kinds,
  check ids and params are validated against the registry by the loader (``netmig.engine.catalog``).
- ``validate_order(template, changing_kinds)`` returns the list of ordering problems (empty when the plan is safe
  to run); ``changing_kinds`` comes from the registry (``netmig.stepkit.registry.changing_kinds()``):
- step ids are unique;
- an approval gate and a lock come before the first irreversible or cluster-changing step;
- no CRD cleanup step between a ``network-policy none`` change and the operator install (Tigera: Calico picks its
  mode from which CRDs exist, so cleaning CRDs in that window breaks it);
- variants (alternative paths, see below) are declared, exactly one is the default, and a variant that replaces
  the default is entered only through a declared ``switch_variant`` step that comes before all of its steps.

Variants: a template may list alternative paths (``variants``). A step with ``variant: NAME`` runs only when that
variant is the active one; steps without ``variant`` run on every path. The default variant is active until a step
whose params carry ``switch_variant: {NAME: [ARM error codes]}`` is refused by ARM with one of those codes: the
engine then switches to NAME (only if the plan allows it: ``allowed``, e.g. ``aks-netmig plan --allow-fallback``)
and runs NAME's steps. ``applies_if`` (a partial source profile) drops a variant and its steps at plan time when the
cluster does not match; ``only_if`` on a step does the same for one step.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from netmig.model.checks import CheckResult
from netmig.model.cluster import ClusterInfo, NetworkProfile

FORMAT = 1


class ProfileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plugin: str | None = None
    plugin_mode: str | None = None
    policy: str | None = None
    dataplane: str | None = None
    pod_cidr: str | None = None


class StepSpec(BaseModel):
    """One step, in a template and in a concrete plan (``PlanStep`` is the same model): ``kind`` names a registered
    step kind (``netmig.stepkit.registry``), ``params`` are the raw values its params model validates at load time.
    ``only_if`` is template-only: ``new_plan`` drops the step when the source profile does not match, and a
    concrete plan never carries it."""

    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    irreversible: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    variant: str | None = None  # runs only on this path (None: on every path)
    only_if: ProfileSpec | None = Field(default=None, exclude=True)  # template-only: dropped at plan time unless
    # the source profile matches; never written into a plan


PlanStep = StepSpec  # the step of a concrete plan: one model for both


class VariantSpec(BaseModel):
    """An alternative path of a template (see the module docstring)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    default: bool = False
    applies_if: ProfileSpec | None = None
    allow_flag: str | None = None  # the plan option that allows it, e.g. --allow-fallback
    notes: list[str] = Field(default_factory=list)


class PlanTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    title: str
    irreversible: bool = False
    irreversible_reason: str | None = None
    source: ProfileSpec
    target: ProfileSpec
    checks: list[str]
    steps: list[StepSpec]
    variants: list[VariantSpec] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    plan_options: list[str] = Field(default_factory=list, description="plan-time options the template accepts")


def validate_order(template: PlanTemplate, changing_kinds: Collection[str]) -> list[str]:
    """The ordering problems of ``template`` (see the module contract); ``changing_kinds`` are the step kinds that
    change the cluster (``netmig.stepkit.registry.changing_kinds()``: the registry derives them)."""
    problems: list[str] = []
    ids = [s.id for s in template.steps]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"duplicate step ids: {', '.join(dupes)}")
    seen_kinds: set[str] = set()
    policy_none_pending = False
    for step in template.steps:
        changing = step.irreversible or step.kind in changing_kinds
        if changing and "approval-gate" not in seen_kinds:
            problems.append(f"step {step.id!r} changes the cluster before any approval-gate step")
        if changing and "acquire-lock" not in seen_kinds:
            problems.append(f"step {step.id!r} changes the cluster before the acquire-lock step")
        if step.kind == "update-network-profile" and step.params.get("policy") == "none":
            policy_none_pending = True
        if step.kind == "install-operator":
            policy_none_pending = False
        if step.kind == "crd-cleanup" and policy_none_pending and any(
                s.kind == "install-operator" for s in template.steps):
            problems.append(
                f"step {step.id!r} cleans up Calico CRDs between the network-policy none change and the operator "
                "install; Calico would pick the wrong mode. Move it after the install-operator step or drop it")
        seen_kinds.add(step.kind)
    return problems + _variant_problems(template)


def _variant_problems(template: PlanTemplate) -> list[str]:
    problems: list[str] = []
    names = [v.name for v in template.variants]
    if not names:  # no paths declared: no step may name one (a stray switch_variant only fails at apply time)
        return [f"step {s.id!r} names an undeclared variant {s.variant!r}" for s in template.steps if s.variant]
    if len(set(names)) != len(names):
        problems.append("duplicate variant names")
    if template.variants and sum(v.default for v in template.variants) != 1:
        problems.append("exactly one variant must be the default")
    default = next((v.name for v in template.variants if v.default), None)
    for i, step in enumerate(template.steps):
        if step.variant is not None and step.variant not in names:
            problems.append(f"step {step.id!r} names an undeclared variant {step.variant!r}")
        for name in (step.params.get("switch_variant") or {}):
            if name not in names or name == default:
                problems.append(f"step {step.id!r} switches to {name!r}, which is not a declared non-default variant")
            elif step.variant not in (None, default):
                problems.append(f"step {step.id!r} switches variants but is not on the default path")
            elif any(s.variant == name for s in template.steps[:i]):
                problems.append(f"variant {name!r} has steps before the step {step.id!r} that switches to it")
    for v in template.variants:
        if v.default:
            continue
        if any(v.name in (s.params.get("switch_variant") or {}) for s in template.steps):
            continue
        problems.append(f"variant {v.name!r}: no step switches to it")
    return problems


class PoolPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    mode: str
    os_type: str
    nodes: int
    max_surge: str | None = None
    surge_nodes: int = 1


class ArmChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str = "PUT"
    resource: str
    description: str
    network_profile: dict[str, Any]
    if_match: str | None = None


class PlanVariant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    title: str
    default: bool = False
    allowed: bool = True
    allow_flag: str | None = None
    notes: list[str] = Field(default_factory=list)
    arm_changes: list[ArmChange] = Field(default_factory=list)
    reimages: int = 0
    expected_minutes: tuple[int, int] = (0, 0)
    steps: list[str] = Field(default_factory=list, description="ids of the steps this path runs, in order")


class PlanConnection(BaseModel):
    """How to reach the plan's cluster again, without secrets: a sandbox folder (its sandbox.json holds the
    endpoint, CA bundle and token), or the CA bundle to trust for ``Plan.arm_endpoint`` (the cluster id and the
    endpoint are the plan's own fields). Never a token."""

    model_config = ConfigDict(extra="forbid")

    sandbox: str | None = Field(default=None, description="absolute path of the sandbox folder")
    ca_bundle: str | None = Field(default=None, description="absolute path of the PEM bundle for the ARM endpoint")


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    migration_id: str
    kind: str
    title: str
    created_at: str
    cluster: str  # ARM resource id
    arm_endpoint: str
    connection: PlanConnection = Field(default_factory=PlanConnection)
    template: str | None = Field(default=None, description="the template file, when not a built-in kind")
    etag: str | None = None
    kubernetes_version: str = ""
    irreversible: bool = False
    irreversible_reason: str | None = None
    source: dict[str, Any]
    target: dict[str, Any]
    arm_changes: list[ArmChange] = Field(default_factory=list)
    pools: list[PoolPlan] = Field(default_factory=list)
    nodes_to_reimage: int = 0
    expected_minutes: tuple[int, int] = (0, 0)
    checks: list[str] = Field(default_factory=list)
    accepted: list[str] = Field(default_factory=list, description="check ids or analysis rule ids accepted")
    preflight: list[CheckResult] = Field(default_factory=list)
    findings: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict, description="plan-time options (e.g. pod_cidr)")
    plan_command: list[str] = Field(default_factory=list, description="the command line that made this plan")
    variants: list[PlanVariant] = Field(default_factory=list)
    steps: list[PlanStep]

    def blocking(self) -> list[CheckResult]:
        """The preflight results that block this plan (``CheckResult.blocking``: apply refuses such a plan)."""
        return [r for r in self.preflight if r.blocking]

    def source_profile(self) -> NetworkProfile:
        return NetworkProfile(**self.source)

    def target_profile(self) -> NetworkProfile:
        return NetworkProfile(**self.target)

    def step(self, step_id: str) -> PlanStep:
        for s in self.steps:
            if s.id == step_id:
                return s
        raise KeyError(step_id)

    def variant(self, name: str) -> PlanVariant | None:
        return next((v for v in self.variants if v.name == name), None)

    @property
    def default_variant(self) -> str | None:
        return next((v.name for v in self.variants if v.default), None)

    def to_yaml(self) -> str:
        head = (f"# aks-netmig plan: {self.title}\n# cluster {self.cluster}\n"
                f"# review it, then: aks-netmig apply THIS_FILE  (apply refuses it if the cluster changed since)\n")
        return head + yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, width=120)


def apply_spec(profile: NetworkProfile, spec: ProfileSpec) -> NetworkProfile:
    d = profile.to_dict()
    for k, v in spec.model_dump().items():
        if v is not None:
            d[k] = v
    return NetworkProfile(**d)


def surge_nodes(max_surge: str | None, count: int) -> int:
    text = str(max_surge or "1").strip()
    if text.endswith("%"):
        return max(1, math.ceil(count * float(text[:-1]) / 100))
    try:
        return max(1, int(float(text)))
    except ValueError:
        return 1


def matches(profile: NetworkProfile, spec: ProfileSpec | None) -> bool:
    """True when every field ``spec`` sets has that value in ``profile`` (None / empty spec: always)."""
    if spec is None:
        return True
    return all(getattr(profile, k) == v for k, v in spec.model_dump().items() if v is not None)


def step_target(source: NetworkProfile, step: StepSpec) -> NetworkProfile:
    """The network profile an update-network-profile step asks for: the plan's source with the step's fields."""
    return apply_spec(source, ProfileSpec(**{k: v for k, v in step.params.items() if k in ProfileSpec.model_fields}))


def drift(plan: Plan, cluster: ClusterInfo) -> list[str]:
    """Why ``cluster`` is no longer the cluster ``plan`` was made for (empty: unchanged)."""
    out = []
    if cluster.ref.resource_id.lower() != plan.cluster.lower():
        out.append(f"the plan is for {plan.cluster}, not {cluster.ref.resource_id}")
        return out
    if cluster.network.to_dict() != plan.source:
        out.append(f"the network profile is now {cluster.network.describe()}, the plan expects "
                   f"{plan.source_profile().describe()}")
    if plan.etag and cluster.etag and cluster.etag != plan.etag:
        out.append(f"the cluster's etag changed since the plan was made ({plan.etag} -> {cluster.etag})")
    planned = {p.name: p.nodes for p in plan.pools}
    now = {p.name: p.count for p in cluster.pools}
    if planned != now:
        out.append(f"the node pools changed ({planned} -> {now})")
    return out
