"""Concrete plans: a template (``plans/KIND.yaml``) made concrete for one cluster, like ``terraform plan``.

Contract:
- ``Plan`` is the reviewable document ``aks-netmig plan`` writes and ``apply`` executes: the cluster (resource id,
  ARM endpoint, etag at plan time), source and target network profiles, the exact ARM change(s), pools and node
  counts to be reimaged, preflight results, policy-analysis findings, accepted failures, expected duration range
  and the steps (kind + params) in order. ``load_plan(path)`` raises ``UsageError`` for a missing/malformed file.
- ``load_template(kind)`` reads ``plans/KIND.yaml`` or a template file given by path (``UsageError`` when unknown or
  unsafely ordered); ``load_plan`` holds a (possibly hand-edited) concrete plan to the same ordering rules.
- ``new_plan(template, cluster, ...)`` is pure; ``drift(plan, cluster)`` returns the reasons why the cluster no
  longer is the one the plan was made for (empty list: unchanged).
- Variants (``netmig.model.plan``): the plan keeps every step of every variant that applies to the cluster in one
  list (each with its ``variant``) and lists the variants with their own ARM changes, reimage count, duration and
  notes, and whether the plan allows them (``allow_variants``). ``arm_changes`` / ``nodes_to_reimage`` /
  ``expected_minutes`` describe the default path. Each ARM change is described against the profile the previous
  change on its path leaves (the first one carries the plan's etag as If-Match; later ones the etag read right
  before their PUT).
- Plan options: ``pod_cidr`` (templates listing it in ``plan_options``) sets the target pod CIDR and the pod CIDR
  of every network-profile change that moves the cluster to overlay; ``plan_command`` is the command line that
  made the plan (used to tell the exact command to re-plan, e.g. with a fallback allowed).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netmig.errors import UsageError
from netmig.model.cluster import ClusterInfo, NetworkProfile, PoolInfo
from netmig.model.plan import PlanTemplate, ProfileSpec, StepSpec, validate_order

PLANS_DIR = Path(__file__).resolve().parents[2] / "plans"
FORMAT = 1


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    irreversible: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    variant: str | None = None


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


class Plan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT
    migration_id: str
    kind: str
    title: str
    created_at: str
    cluster: str  # ARM resource id
    arm_endpoint: str
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
    preflight: list[dict[str, Any]] = Field(default_factory=list)
    findings: list[dict[str, Any]] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    options: dict[str, Any] = Field(default_factory=dict, description="plan-time options (e.g. pod_cidr)")
    plan_command: list[str] = Field(default_factory=list, description="the command line that made this plan")
    variants: list[PlanVariant] = Field(default_factory=list)
    steps: list[PlanStep]

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


def load_template(kind: str, plans_dir: Path | None = None) -> PlanTemplate:
    """``kind``: a migration kind (``plans/KIND.yaml``) or the path of a template file (``*.yaml``)."""
    path = (plans_dir or PLANS_DIR) / f"{kind}.yaml"
    if kind.endswith((".yaml", ".yml")) and Path(kind).is_file():
        path = Path(kind)
    if not path.is_file():
        known = sorted(p.stem for p in (plans_dir or PLANS_DIR).glob("*.yaml"))
        raise UsageError(f"unknown migration kind {kind!r}", f"choose one of: {', '.join(known)}")
    try:
        template = PlanTemplate.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as e:
        raise UsageError(f"template {path} is malformed ({str(e).splitlines()[0]})", "fix the file") from None
    problems = validate_order(template)
    if problems:
        raise UsageError(f"template {path} is unsafely ordered: {'; '.join(problems)}", "fix the step order")
    return template


def load_plan(path: str | Path) -> Plan:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise UsageError(f"plan {p} does not exist", "write one with: aks-netmig plan ... --out FILE") from None
    except yaml.YAMLError as e:
        raise UsageError(f"plan {p} is not valid YAML ({str(e).splitlines()[0]})", "fix or regenerate it") from None
    try:
        plan = Plan.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise UsageError(f"plan {p} is malformed ({where}: {err['msg']})", "fix or regenerate it") from None
    problems = order_problems(plan)
    if problems:
        raise UsageError(f"plan {p} is unsafely ordered: {'; '.join(problems)}",
                         "fix the step order or make a new plan; nothing was run")
    return plan


def set_step_params(plan: Plan, overrides: dict[str, dict[str, Any]]) -> None:
    """Override step params (``aks-netmig plan --set STEP.PARAM=VALUE``); ``UsageError`` for an unknown step id."""
    for step_id, params in overrides.items():
        try:
            plan.step(step_id).params.update(params)
        except KeyError:
            raise UsageError(f"--set names a step {step_id!r} the {plan.kind} plan does not have",
                             f"use one of: {', '.join(s.id for s in plan.steps)}") from None


def parse_set(values: list[str] | tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``STEP.PARAM=VALUE`` (VALUE read as YAML: numbers, booleans, lists) -> {step: {param: value}}."""
    out: dict[str, dict[str, Any]] = {}
    for text in values:
        name, eq, raw = text.partition("=")
        step_id, dot, param = name.partition(".")
        if not (eq and dot and step_id and param):
            raise UsageError(f"--set {text!r} is not STEP.PARAM=VALUE",
                             "write e.g. --set install-operator.manifest=FILE")
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        out.setdefault(step_id, {})[param] = value
    return out


def order_problems(plan: Plan) -> list[str]:
    """``validate_order`` on a concrete plan's steps: a hand-edited plan is held to the template rules."""
    from netmig.model.plan import VariantSpec

    steps = [StepSpec(id=s.id, kind=s.kind, irreversible=s.irreversible, params=s.params, variant=s.variant)
             for s in plan.steps]
    variants = [VariantSpec(name=v.name, title=v.title, default=v.default) for v in plan.variants]
    return validate_order(PlanTemplate(kind=plan.kind, title=plan.title, source=ProfileSpec(), target=ProfileSpec(),
                                       checks=[], steps=steps, variants=variants))


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


NO_REIMAGE_MINUTES = (2, 10)  # a plan without an ARM change: backup, cleanup and verification only


def expected_minutes(pools: list[PoolPlan]) -> tuple[int, int]:
    """All pools are reimaged at once; per pool: surge provisioning, then batches of (drain + reimage)."""
    lo = hi = 0
    for p in pools:
        batches = math.ceil(p.nodes / max(1, p.surge_nodes)) if p.nodes else 0
        lo = max(lo, 3 + batches * 4)
        hi = max(hi, 6 + batches * 12)
    return (lo + 2, hi + 10)  # plus snapshot, backup, Cilium start-up and verification


def _arm_profile(target: NetworkProfile, source: NetworkProfile) -> dict[str, Any]:
    names = {"plugin": "networkPlugin", "plugin_mode": "networkPluginMode", "policy": "networkPolicy",
             "dataplane": "networkDataplane", "pod_cidr": "podCidr"}
    return {arm: getattr(target, f) for f, arm in names.items() if getattr(target, f) != getattr(source, f)}


def matches(profile: NetworkProfile, spec: ProfileSpec | None) -> bool:
    """True when every field ``spec`` sets has that value in ``profile`` (None / empty spec: always)."""
    if spec is None:
        return True
    return all(getattr(profile, k) == v for k, v in spec.model_dump().items() if v is not None)


def step_target(source: NetworkProfile, step: StepSpec | PlanStep) -> NetworkProfile:
    """The network profile an update-network-profile step asks for: the plan's source with the step's fields."""
    return apply_spec(source, ProfileSpec(**{k: v for k, v in step.params.items() if k in ProfileSpec.model_fields}))


def _changes(steps: list[PlanStep], source: NetworkProfile, cluster: ClusterInfo) -> list[ArmChange]:
    out: list[ArmChange] = []
    prev = source
    for s in steps:
        if s.kind != "update-network-profile":
            continue
        to = step_target(source, s)
        first = not out
        out.append(ArmChange(
            resource=cluster.ref.resource_id, if_match=cluster.etag if first else None,
            description=f"one managed-cluster PUT: {prev.describe()} -> {to.describe()}; reimages every node pool "
                        f"at once (step {s.id})" + ("" if first else "; If-Match: the etag read right before it"),
            network_profile=_arm_profile(to, prev)))
        prev = to
    return out


def new_plan(template: PlanTemplate, cluster: ClusterInfo, *, arm_endpoint: str, accepted: list[str] | None = None,
             now: dt.datetime | None = None, pod_cidr: str | None = None,
             allow_variants: list[str] | tuple[str, ...] = (), plan_command: list[str] | None = None) -> Plan:
    now = now or dt.datetime.now(dt.UTC)
    source = cluster.network
    target_spec = template.target
    options: dict[str, Any] = {}
    if pod_cidr:
        if "pod_cidr" not in template.plan_options:
            raise UsageError(f"the {template.kind} migration does not take a pod CIDR",
                             "drop --pod-cidr (only migrations to Azure CNI Overlay set one)")
        target_spec = target_spec.model_copy(update={"pod_cidr": pod_cidr})
        options["pod_cidr"] = pod_cidr
    target = apply_spec(source, target_spec)
    pools = [PoolPlan(name=p.name, mode=p.mode, os_type=p.os_type, nodes=p.count, max_surge=p.max_surge,
                      surge_nodes=surge_nodes(p.max_surge, p.count)) for p in cluster.pools]
    variants = [v for v in template.variants if matches(source, v.applies_if)]
    kept = {v.name for v in variants}
    steps = []
    for s in template.steps:
        if (s.variant is not None and s.variant not in kept) or not matches(source, s.only_if):
            continue
        params = dict(s.params)
        if "switch_variant" in params:
            params["switch_variant"] = {k: v for k, v in params["switch_variant"].items() if k in kept}
            if not params["switch_variant"]:
                del params["switch_variant"]
        if pod_cidr and s.kind == "update-network-profile" and params.get("plugin_mode") == "overlay":
            params["pod_cidr"] = pod_cidr
        steps.append(PlanStep(id=s.id, kind=s.kind, irreversible=s.irreversible, params=params, variant=s.variant))
    default = next((v.name for v in variants if v.default), None)
    main = [s for s in steps if s.variant in (None, default)]
    changes = _changes(main, source, cluster)
    if allow_variants:
        options["allow_variants"] = sorted(allow_variants)
    plan_variants = []
    for v in variants:
        path, own = main, main
        if not v.default:  # a non-default path starts after the step that switches to it
            switch = next(i for i, s in enumerate(steps) if v.name in (s.params.get("switch_variant") or {}))
            own = [s for s in steps[switch + 1:] if s.variant in (None, v.name)]
            path = [s for s in steps[:switch + 1] if s.variant in (None, default)] + own
        v_changes = _changes(own, source, cluster)
        lo, hi = expected_minutes(pools)
        reimages = max(1, len(v_changes))
        plan_variants.append(PlanVariant(
            name=v.name, title=v.title, default=v.default, allowed=v.default or v.name in allow_variants,
            allow_flag=v.allow_flag, notes=[x.strip() for x in v.notes], arm_changes=v_changes,
            reimages=len(v_changes), expected_minutes=(lo * reimages, hi * reimages), steps=[s.id for s in path]))
    return Plan(
        migration_id=f"{template.kind}-{cluster.ref.name}-{now:%Y%m%d-%H%M%S}",
        kind=template.kind, title=template.title, created_at=now.isoformat(timespec="seconds"),
        cluster=cluster.ref.resource_id, arm_endpoint=arm_endpoint, etag=cluster.etag,
        kubernetes_version=cluster.kubernetes_version, irreversible=template.irreversible,
        irreversible_reason=(template.irreversible_reason or "").strip() or None,
        source=source.to_dict(), target=target.to_dict(), arm_changes=changes, pools=pools,
        nodes_to_reimage=sum(p.nodes for p in pools) if changes else 0,
        expected_minutes=expected_minutes(pools) if changes else NO_REIMAGE_MINUTES,
        checks=list(template.checks), accepted=list(accepted or []),
        notes=[n.strip() for n in template.notes], options=options, plan_command=list(plan_command or []),
        variants=plan_variants, steps=steps,
    )


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


def pool_summary(pools: tuple[PoolInfo, ...]) -> str:
    return ", ".join(f"{p.name} {p.count}" for p in pools)
