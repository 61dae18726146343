"""Migration plans as data: a template per migration kind, made concrete for one cluster by ``aks-netmig plan``.

Contract: ``PlanTemplate.model_validate(yaml_dict)`` raises pydantic's ``ValidationError`` for a malformed file;
``validate_order(template)`` returns the list of ordering problems (empty when the plan is safe to run):
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

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CHANGING_KINDS = {"update-network-profile", "crd-cleanup", "install-operator", "apply-manifests", "restore-policies",
                  "restore-verify-policies"}


class ProfileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plugin: str | None = None
    plugin_mode: str | None = None
    policy: str | None = None
    dataplane: str | None = None
    pod_cidr: str | None = None


class StepSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    irreversible: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    variant: str | None = None  # runs only on this path (None: on every path)
    only_if: ProfileSpec | None = None  # dropped at plan time unless the source profile matches


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


def validate_order(template: PlanTemplate) -> list[str]:
    problems: list[str] = []
    ids = [s.id for s in template.steps]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        problems.append(f"duplicate step ids: {', '.join(dupes)}")
    seen_kinds: set[str] = set()
    policy_none_pending = False
    for step in template.steps:
        changing = step.irreversible or step.kind in CHANGING_KINDS
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
