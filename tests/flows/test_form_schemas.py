"""Every deployment's run form (the parameter schema Prefect renders) has real choices and real optional fields:
no property anywhere (top level or nested model) may be null-typed -- the form would show a 'Property is type
"None"' toggle -- and a null from an API caller still reads as "not given"."""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINTS = sorted({d["entrypoint"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]})


def _null_typed(schema: dict[str, Any]) -> list[str]:
    """Paths of properties (top level and in definitions) that accept null."""
    found: list[str] = []
    tables = {"": schema.get("properties", {})}
    for name, d in (schema.get("definitions") or {}).items():
        tables[name] = d.get("properties", {})
    for where, props in tables.items():
        for key, p in props.items():
            if p.get("type") == "null" or any(x.get("type") == "null" for x in p.get("anyOf", [])):
                found.append(f"{where}.{key}" if where else key)
    return found


@pytest.mark.parametrize("entrypoint", ENTRYPOINTS)
def test_no_form_field_is_a_none_toggle(entrypoint: str) -> None:
    schema = parameter_schema(load_flow_from_entrypoint(str(ROOT / entrypoint))).model_dump()
    assert _null_typed(schema) == [], entrypoint


def test_choices_are_selects_and_null_reads_as_not_given() -> None:
    from flows.journey import journey
    from flows.params import GoalChoice
    from flows.preflight import preflight
    from netmig.model.profiles import all_states

    assert sorted(get_args(GoalChoice)) == sorted(s.name for s in all_states())
    goal = parameter_schema(journey).model_dump()["properties"]["goal"]
    assert goal["enum"] == list(get_args(GoalChoice)) and goal["default"] == "overlay-cilium"
    assert "enum" in parameter_schema(preflight).model_dump()["properties"]["migration"]
    given = journey.validate_parameters({"journey_path": "j.yaml", "pod_cidr": None, "accept": None})
    assert given["pod_cidr"] == "" and tuple(given["accept"]) == ()
    with pytest.raises(Exception, match=r"overlay-weave|goal"):
        journey.validate_parameters({"journey_path": "j.yaml", "goal": "overlay-weave"})


def test_fleet_lists_default_to_none_given() -> None:
    from flows.fleet import fleet

    given = fleet.validate_parameters({"wave_plan": "w.yaml", "approve_waves": None, "exclude": ["c0"]})
    assert tuple(given["approve_waves"]) == () and tuple(given["exclude"]) == ("c0",)
