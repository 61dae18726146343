from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from netmig.engine import catalog
from netmig.model.plan import PlanTemplate
from netmig.model.plan import validate_order as _validate_order

PLANS = Path(__file__).resolve().parents[2] / "plans"


def validate_order(template: PlanTemplate) -> list[str]:
    """``validate_order`` with the registry's cluster-changing kinds (what the plan loader passes)."""
    catalog.load_builtins()
    return _validate_order(template, catalog.changing_kinds())


@pytest.mark.parametrize("path", sorted(PLANS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_template_is_valid_and_safely_ordered(path: Path) -> None:
    template = PlanTemplate.model_validate(yaml.safe_load(path.read_text()))
    assert template.kind == path.stem
    assert validate_order(template) == []


def _template(steps: list[dict]) -> PlanTemplate:  # type: ignore[type-arg]
    return PlanTemplate.model_validate({"kind": "x", "title": "x", "source": {}, "target": {}, "checks": [],
                                        "steps": steps})


def test_a_change_before_approval_and_lock_is_refused() -> None:
    problems = validate_order(_template([
        {"id": "update", "kind": "update-network-profile", "params": {"policy": "cilium"}},
        {"id": "approval", "kind": "approval-gate"},
    ]))
    assert any("before any approval-gate" in p for p in problems)
    assert any("before the acquire-lock" in p for p in problems)


def test_crd_cleanup_between_policy_none_and_operator_install_is_refused() -> None:
    problems = validate_order(_template([
        {"id": "approval", "kind": "approval-gate"},
        {"id": "lock", "kind": "acquire-lock"},
        {"id": "none", "kind": "update-network-profile", "params": {"policy": "none"}},
        {"id": "cleanup", "kind": "crd-cleanup"},
        {"id": "install", "kind": "install-operator"},
    ]))
    assert len(problems) == 1 and "cleans up Calico CRDs" in problems[0]


def test_crd_cleanup_after_operator_install_is_fine() -> None:
    assert validate_order(_template([
        {"id": "approval", "kind": "approval-gate"},
        {"id": "lock", "kind": "acquire-lock"},
        {"id": "none", "kind": "update-network-profile", "params": {"policy": "none"}},
        {"id": "install", "kind": "install-operator"},
        {"id": "cleanup", "kind": "crd-cleanup"},
    ])) == []


def test_duplicate_ids_and_unknown_fields() -> None:
    assert validate_order(_template([{"id": "a", "kind": "preflight"}, {"id": "a", "kind": "report"}])) == [
        "duplicate step ids: a"]
    with pytest.raises(ValidationError):
        _template([{"id": "a", "kind": "preflight", "irreversable": True}])
