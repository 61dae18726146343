"""Concrete plans: a template (``plans/KIND.yaml``) made concrete for one cluster, like ``terraform plan``.

Contract:
- ``Plan`` is the reviewable document ``aks-netmig plan`` writes and ``apply`` executes: the cluster (resource id,
  ARM endpoint, etag at plan time), source and target network profiles, the exact ARM change(s), pools and node
  counts to be reimaged, preflight results, policy-analysis findings, accepted failures, expected duration range
  and the steps (kind + params) in order. ``load_plan(path)`` raises ``UsageError`` for a missing/malformed file.
- ``load_template(kind)`` reads ``plans/KIND.yaml`` or a template file given by path (``UsageError`` when unknown,
  unreadable, malformed, naming an unknown step kind or check id, with params its step kind's model refuses, or
  unsafely ordered): one line naming the step and the fix, before anything contacts a cluster.
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
from pydantic import ValidationError

from netmig.engine import catalog
from netmig.errors import UsageError
from netmig.inputs import read_text
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile, PoolInfo
from netmig.model.plan import (
    FORMAT,
    ArmChange,
    Plan,
    PlanConnection,
    PlanStep,
    PlanTemplate,
    PlanVariant,
    PoolPlan,
    ProfileSpec,
    StepSpec,
    apply_spec,
    drift,
    matches,
    step_target,
    surge_nodes,
    validate_order,
)

PLANS_DIR = Path(__file__).resolve().parents[2] / "plans"
__all__ = ["FORMAT", "PLANS_DIR", "ArmChange", "Plan", "PlanConnection", "PlanStep", "PlanTemplate", "PlanVariant",
           "PoolPlan", "ProfileSpec", "StepSpec", "apply_spec", "drift", "load_plan", "load_template", "matches",
           "new_plan", "parse_set", "set_step_params", "step_target", "surge_nodes", "template_problems"]


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
    bad = catalog.usage_problem(template.steps, template.checks)
    if bad is not None:
        raise UsageError(f"template {path}: {bad.problem}", bad.fix) from None
    problems = validate_order(template, catalog.changing_kinds())
    if problems:
        raise UsageError(f"template {path} is unsafely ordered: {'; '.join(problems)}", "fix the step order")
    return template


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


def _nullable(step: PlanStep, key: str) -> bool:
    """True when the step kind's params model lets ``key`` be null (e.g. ``budget_s``: null is no budget)."""
    import types
    import typing

    try:
        found = catalog.step_fn(step.kind).params.model_fields.get(key)
    except UsageError:
        return False
    return found is not None and types.NoneType in typing.get_args(found.annotation)


def number_param_problem(step: PlanStep) -> str | None:
    """A step parameter that must be a number of seconds (``*_s``, ``*_seconds``) or a count (``attempts``) but is
    not a finite positive number (hand-edited or ``--set``; null only where the step kind allows it), or None."""
    for key, value in step.params.items():
        if not (key.endswith(("_s", "_seconds")) or key == "attempts"):
            continue
        if value is None and _nullable(step, key):
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
    bad = catalog.usage_problem(plan.steps, plan.checks)
    if bad is not None:
        return [f"{bad.problem} ({bad.fix})"]
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
        number = number_param_problem(have)
        if number:
            out.append(number)
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
        wrong = catalog.usage_problem([step], [])
        if wrong is not None:
            raise UsageError(f"--set {wrong.problem}", wrong.fix)


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


PROBING_KINDS = ("connectivity-snapshot", "verify")
"""The step kinds that probe connectivity under a time budget (their ``budget_s`` parameter)."""


def budget_sets(kind: str, budget_s: float | None, given: list[str] | tuple[str, ...] = ()) -> list[str]:
    """``plan --budget`` / ``--no-budget`` as ``--set`` values: ``STEP.budget_s=SECONDS`` (``null`` for no budget)
    for every probing step of the ``kind`` template (``PROBING_KINDS``) that ``given`` (the other ``--set``
    values) does not already set to the same; ``UsageError`` when ``given`` sets one otherwise, or when the
    template has no probing step."""
    steps = [s.id for s in load_template(kind).steps if s.kind in PROBING_KINDS]
    if not steps:
        raise UsageError(f"the {kind} migration probes no connectivity: a probing budget does not apply",
                         "leave out --budget / --no-budget")
    value: float | int | None = None if budget_s is None else (int(budget_s) if budget_s == int(budget_s)
                                                                else budget_s)
    parsed = parse_set(given)
    out = []
    for sid in steps:
        if "budget_s" in parsed.get(sid, {}):
            have = parsed[sid]["budget_s"]
            if have != value:
                raise UsageError(f"the probing budget ({'none' if value is None else f'{value} s'}) and "
                                 f"--set {sid}.budget_s={have} disagree", "give the budget once")
            continue
        out.append(f"{sid}.budget_s={'null' if value is None else value}")
    return out


def budget_seconds(text: str) -> float | None:
    """A probing budget as given (``--budget`` text): ``none`` -> None (every cell), else ``parse_duration``'s
    seconds; ``ValueError`` when unreadable."""
    from netmig.verify.budget import parse_duration

    return None if text.strip().lower() == "none" else parse_duration(text)


def budget_text_sets(kind: str, text: str | None, given: list[str] | tuple[str, ...] = ()) -> list[str]:
    """``budget_sets`` for a budget as given (``budget_seconds``; None: no budget given, no values); ``UsageError``
    (one line) when the text is unreadable."""
    if text is None:
        return []
    try:
        seconds = budget_seconds(text)
    except ValueError as e:
        raise UsageError(f"--budget: {e}", "pass a duration like 10m, 90s or 1h, or --no-budget") from None
    return budget_sets(kind, seconds, given)


def order_problems(plan: Plan) -> list[str]:
    """``validate_order`` on a concrete plan's steps: a hand-edited plan is held to the template rules."""
    from netmig.model.plan import VariantSpec

    variants = [VariantSpec(name=v.name, title=v.title, default=v.default) for v in plan.variants]
    return validate_order(PlanTemplate(kind=plan.kind, title=plan.title, source=ProfileSpec(), target=ProfileSpec(),
                                       checks=[], steps=plan.steps, variants=variants),
                          catalog.changing_kinds())


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


def pool_summary(pools: tuple[PoolInfo, ...]) -> str:
    return ", ".join(f"{p.name} {p.count}" for p in pools)
