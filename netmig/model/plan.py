"""Migration plans as data: a template per migration kind, made concrete for one cluster by ``aks-netmig plan``.

Contract: ``PlanTemplate.model_validate(yaml_dict)`` raises pydantic's ``ValidationError`` for a malformed file;
``validate_order(template)`` returns the list of ordering problems (empty when the plan is safe to run):
- step ids are unique;
- an approval gate and a lock come before the first irreversible or cluster-changing step;
- no CRD cleanup step between a ``network-policy none`` change and the operator install (Tigera: Calico picks its
  mode from which CRDs exist, so cleaning CRDs in that window breaks it).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CHANGING_KINDS = {"update-network-profile", "crd-cleanup", "install-operator", "apply-manifests", "restore-policies"}


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
    return problems
