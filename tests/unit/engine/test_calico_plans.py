"""The Calico migration templates and their safety rules (plan/apply refuse a CRD cleanup between the policy-none
change and the operator install), ``--set``, and the Calico preflight verdicts (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from netmig.checks.calico_cluster import addon_verdict
from netmig.checks.calico_profile import (
    calico_managed_verdict,
    engine_present_verdict,
    policy_none_verdict,
    version_verdict,
)
from netmig.engine.planning import PLANS_DIR, load_plan, load_template, parse_set, set_step_params
from netmig.errors import UsageError
from netmig.model.checks import Outcome
from netmig.model.cluster import NetworkProfile
from netmig.model.plan import Plan


def _steps(t: object) -> list[dict]:  # type: ignore[type-arg]
    return [{"id": s.id, "kind": s.kind, "irreversible": s.irreversible, "params": dict(s.params)}
            for s in t.steps]  # type: ignore[attr-defined]


def _moved_cleanup(doc: dict) -> dict:  # type: ignore[type-arg]
    """The self-managed template with a crd-cleanup step right after the policy-none change."""
    steps = doc["steps"]
    at = next(i for i, s in enumerate(steps) if s["id"] == "policy-none")
    steps.insert(at + 1, {"id": "early-cleanup", "kind": "crd-cleanup"})
    return doc


def test_the_calico_templates_load_in_the_documented_order() -> None:
    t = load_template("calico-to-self-managed")
    kinds = [s.kind for s in t.steps]
    assert kinds.index("export-policies") < kinds.index("approval-gate") < kinds.index("update-network-profile")
    assert kinds.index("confirm-network-profile") < kinds.index("install-operator") < kinds.index("apply-manifests") \
        < kinds.index("wait-tigerastatus") < kinds.index("restore-policies") < kinds.index("verify")
    assert "crd-cleanup" not in kinds
    u = [s.kind for s in load_template("uninstall").steps]
    assert u.index("confirm-network-profile") < u.index("calico-backup") < u.index("crd-cleanup")
    c = load_template("calico-crd-cleanup")
    assert "update-network-profile" not in [s.kind for s in c.steps]


def test_a_hand_edited_template_with_an_early_crd_cleanup_is_refused_in_one_line(tmp_path: Path) -> None:
    doc = _moved_cleanup(yaml.safe_load((PLANS_DIR / "calico-to-self-managed.yaml").read_text()))
    path = tmp_path / "edited.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(UsageError) as e:
        load_template(str(path))
    assert "early-cleanup" in str(e.value) and "\n" not in str(e.value)
    assert e.value.exit_code == 2


def test_a_hand_edited_concrete_plan_is_refused_by_load_plan(tmp_path: Path) -> None:
    import dataclasses

    from netmig.engine.planning import new_plan
    from tests.unit.engine.values import ENDPOINT, cluster

    t = load_template("calico-to-self-managed")
    calico = dataclasses.replace(cluster(), network=NetworkProfile(plugin="azure", policy="calico"))
    plan = new_plan(t, calico, arm_endpoint=ENDPOINT)  # a real plan: load_plan holds it to its template too
    good = tmp_path / "good.yaml"
    good.write_text(plan.to_yaml())
    assert load_plan(good).kind == "calico-to-self-managed"
    doc = _moved_cleanup(yaml.safe_load(good.read_text()))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(UsageError, match=r"unsafely ordered.*early-cleanup.*install-operator"):
        load_plan(bad)


def test_set_parses_step_params_and_refuses_unknown_steps() -> None:
    got = parse_set(["install-operator.manifest=/tmp/op.yaml", "tigerastatus.timeout_s=30",
                     "installation.objects=[]"])
    assert got == {"install-operator": {"manifest": "/tmp/op.yaml"}, "tigerastatus": {"timeout_s": 30},
                   "installation": {"objects": []}}
    with pytest.raises(UsageError):
        parse_set(["no-dot=1"])
    t = load_template("calico-to-self-managed")
    plan = Plan(migration_id="m", kind=t.kind, title=t.title, created_at="now", cluster="/x", arm_endpoint="e",
                source={}, target={}, steps=_steps(t))
    set_step_params(plan, got)
    assert plan.step("install-operator").params["manifest"] == "/tmp/op.yaml"
    assert plan.step("install-operator").params["timeout_s"] == 600  # the others stay
    with pytest.raises(UsageError, match="nope"):
        set_step_params(plan, {"nope": {"x": 1}})


def test_profile_verdicts() -> None:
    calico = NetworkProfile(plugin="azure", policy="calico")
    assert calico_managed_verdict(calico).outcome is Outcome.PASS
    kubenet = NetworkProfile(plugin="kubenet", policy="calico")
    assert calico_managed_verdict(kubenet).outcome is Outcome.FAIL and "kubenet" in calico_managed_verdict(
        kubenet).reason
    assert calico_managed_verdict(NetworkProfile(plugin="azure", policy="azure")).outcome is Outcome.FAIL
    assert engine_present_verdict(NetworkProfile(plugin="azure", policy="azure")).outcome is Outcome.PASS
    assert engine_present_verdict(calico).outcome is Outcome.PASS
    cilium = NetworkProfile(plugin="azure", policy="cilium", dataplane="cilium")
    assert engine_present_verdict(cilium).outcome is Outcome.FAIL
    none = NetworkProfile(plugin="azure", policy="none")
    assert engine_present_verdict(none).outcome is Outcome.FAIL
    assert policy_none_verdict(none, "Succeeded").outcome is Outcome.PASS
    assert policy_none_verdict(none, "Updating").outcome is Outcome.FAIL
    assert policy_none_verdict(calico, "Succeeded").outcome is Outcome.FAIL
    assert version_verdict("1.29.9").outcome is Outcome.FAIL and version_verdict("1.30.0").outcome is Outcome.PASS


def test_addon_verdict_names_the_annotated_objects() -> None:
    deploy = {"kind": "Deployment", "metadata": {"name": "tigera-operator", "namespace": "tigera-operator",
                                                 "annotations": {"addonmanager.kubernetes.io/mode": "Reconcile"}}}
    ds = {"kind": "DaemonSet", "metadata": {"name": "calico-node", "namespace": "calico-system",
                                            "labels": {"addonmanager.kubernetes.io/mode": "EnsureExists"}}}
    r = addon_verdict([deploy, ds])
    assert r.outcome is Outcome.FAIL and r.fix
    assert "Deployment tigera-operator/tigera-operator" in r.reason
    assert "DaemonSet calico-system/calico-node" in r.reason
    clean = addon_verdict([{"kind": "Deployment", "metadata": {"name": "tigera-operator",
                                                                "namespace": "tigera-operator"}}])
    assert clean.outcome is Outcome.PASS


def test_a_cleanup_only_plan_reimages_nothing(sandbox_factory) -> None:  # type: ignore[no-untyped-def]
    """calico-crd-cleanup sends no ARM change: the plan (and the preflight summary) must not promise a reimage."""
    from netmig.cli.preflight_cmd import render_report
    from netmig.connection import from_sandbox_dir
    from netmig.engine.plan_build import make_plan

    sb = sandbox_factory("empty")
    plan = make_plan("calico-crd-cleanup", from_sandbox_dir(sb.directory), polling_interval=0.01)
    assert plan.arm_changes == [] and plan.nodes_to_reimage == 0
    assert "reimage  none (no ARM change)" in render_report(plan)
