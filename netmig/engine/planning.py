"""Concrete plans: a template (``plans/KIND.yaml``) made concrete for one cluster, like ``terraform plan``.

Contract:
- ``Plan`` is the reviewable document ``aks-netmig plan`` writes and ``apply`` executes: the cluster (resource id,
  ARM endpoint, etag at plan time), source and target network profiles, the exact ARM change(s), pools and node
  counts to be reimaged, preflight results, policy-analysis findings, accepted failures, expected duration range
  and the steps (kind + params) in order. ``load_plan(path)`` raises ``UsageError`` for a missing/malformed file.
- ``load_template(kind)`` reads ``plans/KIND.yaml`` or a template file given by path (``UsageError`` when unknown,
  unreadable, malformed, naming an unknown step kind, or unsafely ordered).
- ``load_plan`` holds a (possibly hand-edited) concrete plan to the same ordering rules, then to its kind's
  template (``template_problems``): the format this version writes, a known kind, the template's steps (ids, kinds,
  irreversible, variants) with the template's network-profile parameters, at least one step, and the derived parts
  -- target profile, ARM changes (with the etag as If-Match), variants -- equal to what ``new_plan`` derives from
  the plan's own source, pools and options. What apply executes is therefore what the plan shows; a hand edit that
  contradicts it is ``UsageError`` (exit 2, one line: make a new plan). Step parameters that ``plan --set`` may set
  (e.g. the operator manifest) stay editable.
- ``connection`` records how to reach the cluster without secrets (``PlanConnection``: the sandbox folder, or the
  CA bundle of the ARM endpoint); ``netmig.connection.for_plan`` uses it when no address flag is given.
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
from netmig.inputs import read_text
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile, PoolInfo
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
    if kind.endswith((".yaml", ".yml")):
        path = Path(kind)
    elif "/" in kind or not path.is_file():
        known = sorted(p.stem for p in (plans_dir or PLANS_DIR).glob("*.yaml"))
        raise UsageError(f"unknown migration kind {kind!r}", f"choose one of: {', '.join(known)}")
    text = read_text(path, "template", "pass a migration kind (plans/KIND.yaml) or a template YAML file")
    try:
        template = PlanTemplate.model_validate(yaml.safe_load(text))
    except (ValidationError, yaml.YAMLError) as e:
        first = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        raise UsageError(f"template {path} is malformed ({first})", "fix the file") from None
    problems = validate_order(template)
    if problems:
        raise UsageError(f"template {path} is unsafely ordered: {'; '.join(problems)}", "fix the step order")
    unknown = unknown_kinds([s.kind for s in template.steps])
    if unknown:
        raise UsageError(f"template {path} names unknown step kind(s): {', '.join(unknown)}",
                         f"use the step kinds aks-netmig has: {', '.join(known_kinds())}")
    return template


def known_kinds() -> list[str]:
    from netmig.engine import registry

    registry.load_builtins()
    return sorted(registry.STEPS)


def unknown_kinds(kinds: list[str]) -> list[str]:
    known = set(known_kinds())
    return sorted({k for k in kinds if k not in known})


REPLAN = "make a new plan with aks-netmig plan (nothing was run)"


def load_plan(path: str | Path) -> Plan:
    """The plan at ``path``, validated (see the module contract); ``UsageError`` naming the problem otherwise."""
    p = Path(path)
    text = read_text(p, "plan", f"pass a plan file written by aks-netmig plan; {REPLAN}",
                     missing_fix="write one with: aks-netmig plan ... --out FILE")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        first = str(e).splitlines()[0] if str(e) else e.__class__.__name__
        raise UsageError(f"plan {p} is not valid YAML ({first})", "fix or regenerate it") from None
    if not isinstance(data, dict):
        raise UsageError(f"plan {p} is not a plan (a YAML mapping written by aks-netmig plan; found "
                         f"{'nothing' if data is None else type(data).__name__})", REPLAN)
    if data.get("format", FORMAT) != FORMAT:
        raise UsageError(f"plan {p} has format {data.get('format')!r}; this aks-netmig reads format {FORMAT}",
                         REPLAN)
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
    try:
        problems = template_problems(plan)
    except UsageError as e:
        raise UsageError(f"plan {p}: {e.problem}", e.fix) from None
    if problems:
        raise UsageError(f"plan {p} contradicts its {plan.kind} template: {'; '.join(problems[:3])}", REPLAN)
    return plan


def number_param_problem(step: PlanStep) -> str | None:
    """A step parameter that must be a number of seconds (``*_s``, ``*_seconds``) or a count (``attempts``) but is
    not a finite positive number (hand-edited or ``--set``), or None."""
    for key, value in step.params.items():
        if not (key.endswith(("_s", "_seconds")) or key == "attempts"):
            continue
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
        if key == "attempts":
            ok = ok and float(value).is_integer()
        if not ok:
            return f"step {step.id}: {key}={value!r} is not a finite number > 0"
    return None


def plan_template(plan: Plan) -> PlanTemplate:
    """The template a plan was made from (its ``template`` file, else ``plans/KIND.yaml``)."""
    if plan.template:
        if not Path(plan.template).is_file():
            raise UsageError(f"the template {plan.template} this plan was made from is gone", REPLAN)
        template = load_template(plan.template)
        if template.kind != plan.kind:
            raise UsageError(f"the template {plan.template} is of kind {template.kind}, the plan {plan.kind}",
                             REPLAN)
        return template
    if not (PLANS_DIR / f"{plan.kind}.yaml").is_file() or "/" in plan.kind:
        known = sorted(x.stem for x in PLANS_DIR.glob("*.yaml"))
        raise UsageError(f"unknown migration kind {plan.kind!r} (known: {', '.join(known)})",
                         REPLAN)
    return load_template(plan.kind)


def template_problems(plan: Plan) -> list[str]:
    """How ``plan`` contradicts its kind's template (empty: it is what ``new_plan`` makes of the template for its
    own source profile, pools and options, up to what ``plan --set`` may change). Raises ``UsageError`` when the
    kind is unknown."""
    if not plan.steps:
        return ["it has no steps"]
    unknown = unknown_kinds([s.kind for s in plan.steps])
    if unknown:
        return [f"unknown step kind(s) {', '.join(unknown)} (known: {', '.join(known_kinds())})"]
    template = plan_template(plan)
    try:
        ref = ClusterRef.parse(plan.cluster)
        source = plan.source_profile()
    except (ValueError, TypeError) as e:
        return [f"its cluster or source profile is unusable ({str(e).splitlines()[0]})"]
    cluster = ClusterInfo(ref=ref, location="", kubernetes_version=plan.kubernetes_version,
                          provisioning_state="Succeeded", network=source, etag=plan.etag,
                          pools=tuple(PoolInfo(name=x.name, mode=x.mode, os_type=x.os_type, count=x.nodes,
                                               provisioning_state="Succeeded", max_surge=x.max_surge)
                                      for x in plan.pools))
    options = plan.options or {}
    try:
        want = new_plan(template, cluster, arm_endpoint=plan.arm_endpoint, pod_cidr=options.get("pod_cidr"),
                        allow_variants=list(options.get("allow_variants") or []))
    except UsageError as e:
        return [e.problem]
    out: list[str] = []
    have_ids = [(s.id, s.kind) for s in plan.steps]
    want_ids = [(s.id, s.kind) for s in want.steps]
    if have_ids != want_ids:
        extra = [f"{i} ({k})" for i, k in have_ids if (i, k) not in want_ids]
        missing = [f"{i} ({k})" for i, k in want_ids if (i, k) not in have_ids]
        what = "; ".join(x for x in (f"not in the template: {', '.join(extra)}" if extra else "",
                                     f"missing: {', '.join(missing)}" if missing else "") if x) or "another order"
        out.append(f"its steps are not the template's ({what})")
        return out
    for have, w in zip(plan.steps, want.steps, strict=True):
        bad = number_param_problem(have)
        if bad:
            out.append(bad)
        if (have.irreversible, have.variant) != (w.irreversible, w.variant):
            out.append(f"step {have.id}: irreversible/variant is {have.irreversible}/{have.variant}, the template "
                       f"says {w.irreversible}/{w.variant}")
        if have.kind == "update-network-profile":
            fields = [*ProfileSpec.model_fields, "switch_variant"]
            got = {k: have.params.get(k) for k in fields if have.params.get(k) is not None}
            exp = {k: w.params.get(k) for k in fields if w.params.get(k) is not None}
            if got != exp:
                out.append(f"step {have.id} asks for {got or 'no change'}, the template and the plan's ARM change "
                           f"for {exp}")
    if plan.target != want.target:
        out.append(f"the target profile {plan.target} is not the template's {want.target}")
    if want.arm_changes and not plan.etag:
        out.append("the etag is missing (it is the If-Match of the PUT and the drift check)")
    elif [c.model_dump() for c in plan.arm_changes] != [c.model_dump() for c in want.arm_changes]:
        out.append("the ARM change(s) " + ("are missing" if not plan.arm_changes else
                                           "differ from what the steps send") +
                   f" (the steps send {[c.network_profile for c in want.arm_changes] or 'none'})")
    if plan.irreversible != want.irreversible:
        out.append(f"irreversible is {plan.irreversible}, the template says {want.irreversible}")
    have_v = [(v.name, v.default, v.allowed, [c.model_dump() for c in v.arm_changes], v.steps) for v in plan.variants]
    want_v = [(v.name, v.default, v.allowed, [c.model_dump() for c in v.arm_changes], v.steps) for v in want.variants]
    if have_v != want_v:
        out.append("its variants (paths, their ARM changes or whether they are allowed) are not the template's")
    return out


def set_step_params(plan: Plan, overrides: dict[str, dict[str, Any]]) -> None:
    """Override step params (``aks-netmig plan --set STEP.PARAM=VALUE``); ``UsageError`` for an unknown step id, and
    for the network profile of an update-network-profile step (the template and its ARM change decide that)."""
    for step_id, params in overrides.items():
        try:
            step = plan.step(step_id)
        except KeyError:
            raise UsageError(f"--set names a step {step_id!r} the {plan.kind} plan does not have",
                             f"use one of: {', '.join(s.id for s in plan.steps)}") from None
        fixed = sorted(k for k in params if step.kind == "update-network-profile"
                       and k in (*ProfileSpec.model_fields, "switch_variant"))
        if fixed:
            raise UsageError(f"--set cannot change {step_id}.{fixed[0]}: the {plan.kind} template decides the "
                             "network profile (and the ARM change the plan shows)",
                             "choose another migration kind, or --pod-cidr for the overlay pod CIDR")
        step.params.update(params)
        bad = number_param_problem(step)
        if bad:
            raise UsageError(f"--set {bad}", "give a number of seconds (or a count) > 0")


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
        from netmig.inputs import cidr

        pod_cidr = cidr(pod_cidr)
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
