"""The typed step/check registry: metadata, params validated into the kind's model, derived cluster-changing kinds,
load-time problems named in one line."""

from __future__ import annotations

import pytest
from pydantic import Field

from netmig.engine import catalog
from netmig.errors import UsageError
from netmig.model.plan import PlanStep
from netmig.stepkit import registry
from netmig.stepkit.registry import NoParams, StepParams, seconds, step


def test_the_cluster_changing_kinds_come_from_the_registry() -> None:
    catalog.load_builtins()
    assert catalog.changing_kinds() == {"update-network-profile", "crd-cleanup", "install-operator",
                                        "apply-manifests", "restore-policies", "restore-verify-policies"}


def test_every_builtin_kind_and_check_carries_its_metadata() -> None:
    catalog.load_builtins()
    for kind, sk in registry.STEPS.items():
        assert sk.kind == kind and issubclass(sk.params, StepParams)
    assert all(ck.id == cid for cid, ck in registry.CHECKS.items())


def test_params_are_validated_into_the_model_with_one_line_naming_step_and_param() -> None:
    catalog.load_builtins()
    ds = registry.step_kind("wait-daemonset")
    p = ds.parse(PlanStep(id="cilium-ready", kind="wait-daemonset", params={"name": "cilium", "timeout_s": 60}))
    assert (p.name, p.timeout_s, p.poll_s) == ("cilium", 60.0, 1.0)  # type: ignore[attr-defined]
    for params, words in (({"name": "cilium", "timeout_s": "soon"}, "param timeout_s input should be a valid number"),
                          ({"name": "cilium", "timeout_s": -1}, "param timeout_s input should be greater than 0"),
                          ({}, "param name field required"),
                          ({"name": "cilium", "timeut_s": 5}, "param timeut_s is not a param of this kind")):
        with pytest.raises(UsageError) as e:
            ds.parse(PlanStep(id="cilium-ready", kind="wait-daemonset", params=params))
        assert words in str(e.value) and str(e.value).startswith("step cilium-ready (wait-daemonset)")
        assert "\n" not in str(e.value) and e.value.exit_code == 2


def test_unknown_kinds_and_checks_are_usage_errors() -> None:
    bad = catalog.usage_problem([PlanStep(id="x", kind="no-such-kind")], [])
    assert bad is not None and bad.problem == "step x: unknown step kind 'no-such-kind'"
    bad = catalog.usage_problem([], ["no-such-check"])
    assert bad is not None and bad.problem == "unknown check 'no-such-check'"
    with pytest.raises(UsageError):
        registry.check_kind("no-such-check")


def test_a_kind_registered_twice_is_refused() -> None:
    class ToyParams(StepParams):
        wait_s: float = seconds(1)
        label: str = Field(default="a")

    @step("registry-test-toy", params=ToyParams)
    def toy(ctx: object, s: PlanStep, params: ToyParams) -> dict[str, object]:
        """A toy."""
        return {"label": params.label, "wait_s": params.wait_s}

    try:
        assert toy(None, PlanStep(id="t", kind="registry-test-toy", params={"label": "b"})) == {  # type: ignore[arg-type]
            "label": "b", "wait_s": 1.0}
        assert toy.summary == "A toy." and not toy.changes_cluster

        with pytest.raises(ValueError, match="registered twice"):
            @step("registry-test-toy", params=NoParams)
            def other(ctx: object, s: PlanStep, params: NoParams) -> None:
                return None
    finally:
        registry.STEPS.pop("registry-test-toy", None)
