"""Plan variants (alternative paths) and several ARM changes per plan, on the engine:

- planning: every applicable path's steps in one list, each path with its own ARM changes (described against the
  previous change), whether the plan allows it, ``--pod-cidr`` on every change to overlay; paths and steps that do
  not apply to the cluster dropped; template validation of the variant rules;
- runner: steps of the other path recorded as skipped; a refused change switches to an allowed path (journaled) or
  stops with one line and the exact command to plan again with it allowed;
- update-network-profile: a change that follows another expects the previous target (not the plan's source) and
  sends the etag it just read; a refusal with a listed code becomes the switch;
- report: the path taken, every PUT with ARM's answer, step notes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from netmig.azure import errors as arm
from netmig.engine import catalog
from netmig.engine.planning import load_template, new_plan
from netmig.engine.runner import run_step
from netmig.errors import CheckFailed, UsageError
from netmig.journal import Journal
from netmig.model.cluster import ClusterInfo, ClusterRef, NetworkProfile, PoolInfo
from netmig.model.plan import Plan, PlanStep, PlanTemplate
from netmig.model.plan import validate_order as _validate_order
from netmig.stepkit import variants
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import register_step
from netmig.steps.network import update_network_profile
from netmig.steps.report import render

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
KUBENET_CALICO = NetworkProfile(plugin="kubenet", policy="calico", pod_cidr="10.244.0.0/16",
                                service_cidr="10.0.0.0/16")


def validate_order(template: PlanTemplate) -> list[str]:
    """``validate_order`` with the registry's cluster-changing kinds (what the plan loader passes)."""
    catalog.load_builtins()
    return _validate_order(template, catalog.changing_kinds())


def cluster(network: NetworkProfile = KUBENET_CALICO, etag: str = "etag-1", state: str = "Succeeded") -> ClusterInfo:
    return ClusterInfo(ref=ClusterRef("sub", "rg", "aks"), location="westeurope", kubernetes_version="1.31.2",
                       provisioning_state=state, network=network, etag=etag,
                       pools=(PoolInfo("system", "System", "Linux", 3, "Succeeded", max_surge="1"),
                              PoolInfo("user", "User", "Linux", 3, "Succeeded", max_surge="1")))


def overlay_plan(info: ClusterInfo | None = None, **kw: Any) -> Plan:
    return new_plan(load_template("kubenet-to-overlay"), info or cluster(), arm_endpoint="https://arm", now=NOW,
                    **kw)


def test_the_plan_lists_both_paths_with_their_own_arm_changes() -> None:
    p = overlay_plan(plan_command=["aks-netmig", "plan", "--out", "x.yaml"])
    assert [c.network_profile for c in p.arm_changes] == [{"networkPlugin": "azure", "networkPluginMode": "overlay"}]
    assert p.arm_changes[0].if_match == "etag-1"
    direct, fallback = p.variants
    assert direct.default and direct.allowed and direct.reimages == 1
    assert not fallback.allowed and fallback.allow_flag == "--allow-fallback" and fallback.reimages == 3
    assert [c.network_profile for c in fallback.arm_changes] == [
        {"networkPolicy": "none"}, {"networkPlugin": "azure", "networkPluginMode": "overlay"},
        {"networkPolicy": "calico"}]  # each against the profile the previous change leaves
    assert [c.if_match for c in fallback.arm_changes] == ["etag-1", None, None]
    assert "kubenet + none" in fallback.arm_changes[1].description
    assert fallback.expected_minutes == (3 * p.expected_minutes[0], 3 * p.expected_minutes[1])
    assert any("UNENFORCED WINDOW" in n for n in fallback.notes)
    assert fallback.steps[:7] == ["preflight", "snapshot", "backup", "backup-calico", "approval", "lock",
                                  "update-network"]
    assert "watch-reimage" not in fallback.steps and "policy-none" in fallback.steps
    assert "policy-none" not in direct.steps and direct.steps[-4:] == ["restore-policies", "verify", "report",
                                                                        "unlock"]
    assert p.step("update-network").params["switch_variant"] == {
        "fallback": ["KubenetCalicoToOverlayMigrationNotSupported"]}
    assert p.plan_command == ["aks-netmig", "plan", "--out", "x.yaml"]
    assert overlay_plan(allow_variants=["fallback"]).variants[1].allowed


def test_pod_cidr_goes_to_the_target_and_every_change_to_overlay() -> None:
    p = overlay_plan(pod_cidr="192.168.0.0/16", allow_variants=["fallback"])
    assert p.target["pod_cidr"] == "192.168.0.0/16" and p.options["pod_cidr"] == "192.168.0.0/16"
    assert p.arm_changes[0].network_profile["podCidr"] == "192.168.0.0/16"
    assert [s.params.get("pod_cidr") for s in p.steps if s.kind == "update-network-profile"] == [
        "192.168.0.0/16", None, "192.168.0.0/16", "192.168.0.0/16"]
    assert [c.network_profile.get("podCidr") for c in p.variants[1].arm_changes] == [None, "192.168.0.0/16", None]
    with pytest.raises(UsageError, match="does not take a pod CIDR"):
        new_plan(load_template("npm-to-cilium"), cluster(NetworkProfile(plugin="azure", policy="azure")),
                 arm_endpoint="https://arm", pod_cidr="192.168.0.0/16")


def test_a_kubenet_cluster_without_calico_has_no_fallback_and_no_calico_steps() -> None:
    p = overlay_plan(cluster(dataclasses.replace(KUBENET_CALICO, policy="none")))
    assert [v.name for v in p.variants] == ["direct"]
    ids = [s.id for s in p.steps]
    assert "policy-none" not in ids and "calico-ready" not in ids and "backup-calico" not in ids
    assert "switch_variant" not in p.step("update-network").params


def _template(steps: list[dict[str, Any]], variants_: list[dict[str, Any]]) -> PlanTemplate:
    head = [{"id": "approval", "kind": "approval-gate"}, {"id": "lock", "kind": "acquire-lock"}]
    return PlanTemplate.model_validate({"kind": "x", "title": "x", "source": {}, "target": {}, "checks": [],
                                        "steps": head + steps, "variants": variants_})


def test_template_variant_rules() -> None:
    two = [{"name": "a", "title": "a", "default": True}, {"name": "b", "title": "b"}]
    switch = {"id": "s", "kind": "update-network-profile", "variant": "a", "params": {"switch_variant": {"b": ["X"]}}}
    assert validate_order(_template([switch, {"id": "b1", "kind": "report", "variant": "b"}], two)) == []
    assert "names an undeclared variant 'c'" in validate_order(_template(
        [switch, {"id": "c1", "kind": "report", "variant": "c"}], two))[0]
    assert validate_order(_template([{"id": "b1", "kind": "report", "variant": "b"}, switch], two)) == [
        "variant 'b' has steps before the step 's' that switches to it"]
    assert validate_order(_template([{"id": "b1", "kind": "report", "variant": "b"}], two)) == [
        "variant 'b': no step switches to it"]
    no_default = [{"name": "a", "title": "a"}, {"name": "b", "title": "b"}]
    assert "exactly one variant must be the default" in validate_order(_template([switch], no_default))
    to_default = {**switch, "params": {"switch_variant": {"a": ["X"]}}}
    assert any("not a declared non-default variant" in x for x in validate_order(_template([to_default], two)))


# ------------------------------------------------------------------------------------------------ runner
TRACE: list[str] = []


@register_step("test-variant-ok")
def _ok(ctx: Any, step: PlanStep) -> dict[str, Any]:
    TRACE.append(step.id)
    return {"ran": True}


@register_step("test-variant-refused")
def _refused(ctx: Any, step: PlanStep) -> dict[str, Any]:
    TRACE.append(step.id)
    raise variants.SwitchVariant("fallback", "Blocked", "Blocked: not supported")


def _runner_plan(tmp_path: Path, allowed: bool, refuse: bool = True) -> StepContext:
    template = PlanTemplate.model_validate({
        "kind": "x", "title": "x", "source": {}, "target": {}, "checks": [],
        "variants": [{"name": "direct", "title": "one PUT", "default": True},
                     {"name": "fallback", "title": "three PUTs", "allow_flag": "--allow-fallback"}],
        "steps": [{"id": "approval", "kind": "test-variant-ok"}, {"id": "lock", "kind": "test-variant-ok"},
                  {"id": "change", "kind": "test-variant-refused" if refuse else "test-variant-ok",
                   "variant": "direct", "params": {"switch_variant": {"fallback": ["Blocked"]}}},
                  {"id": "watch", "kind": "test-variant-ok", "variant": "direct"},
                  {"id": "none", "kind": "test-variant-ok", "variant": "fallback"},
                  {"id": "overlay", "kind": "test-variant-ok", "variant": "fallback"},
                  {"id": "verify", "kind": "test-variant-ok"}]})
    p = new_plan(template, cluster(), arm_endpoint="https://arm", now=NOW,
                 allow_variants=["fallback"] if allowed else [],
                 plan_command=["aks-netmig", "plan", "--sandbox", "/sb", "--out", "/plans/p.yaml"])
    return StepContext(plan=p, aks=None, journal=Journal(tmp_path / "j.jsonl"), run_dir=tmp_path)  # type: ignore[arg-type]


def test_a_refused_change_switches_to_the_allowed_path(tmp_path: Path) -> None:
    TRACE.clear()
    ctx = _runner_plan(tmp_path, allowed=True)
    results = {s.id: run_step(ctx, s) for s in ctx.plan.steps}
    assert TRACE == ["approval", "lock", "change", "none", "overlay", "verify"]
    assert results["change"] == {"sent": False, "refused": "Blocked", "variant": "fallback"}
    assert results["watch"]["skipped"] == "on the direct path; this run takes the fallback path"
    assert variants.active(ctx) == "fallback" and ctx.journal.completed("watch")
    assert variants.previous_change(ctx, ctx.plan.step("overlay")) is None  # only update-network-profile steps
    TRACE.clear()
    assert [run_step(ctx, s) for s in ctx.plan.steps] == list(results.values()) and TRACE == []  # a rerun: no-op


def test_a_refused_change_stops_when_the_plan_does_not_allow_the_path(tmp_path: Path) -> None:
    TRACE.clear()
    ctx = _runner_plan(tmp_path, allowed=False)
    for s in ctx.plan.steps[:2]:
        run_step(ctx, s)
    with pytest.raises(CheckFailed) as e:
        run_step(ctx, ctx.plan.step("change"))
    text = str(e.value)
    assert "\n" not in text and "ARM refused change (Blocked); the cluster is unchanged" in text
    assert text.endswith("re-plan with it allowed: aks-netmig plan --sandbox /sb --out /plans/p-fallback.yaml "
                         "--allow-fallback")
    assert variants.active(ctx) == "direct" and ctx.journal.last_error()["step"] == "change"  # type: ignore[index]


def test_without_a_refusal_the_other_path_is_skipped(tmp_path: Path) -> None:
    TRACE.clear()
    ctx = _runner_plan(tmp_path, allowed=True, refuse=False)
    for s in ctx.plan.steps:
        run_step(ctx, s)
    assert TRACE == ["approval", "lock", "change", "watch", "verify"]
    assert ctx.journal.value("variant") is None


# --------------------------------------------------------------------------------- update-network-profile
@dataclasses.dataclass
class Op:
    continuation_token: str


class StubAks:
    def __init__(self, info: ClusterInfo, refuse: str | None = None) -> None:
        self.info, self.refuse = info, refuse
        self.puts: list[tuple[NetworkProfile, str | None]] = []

    def cluster(self) -> ClusterInfo:
        return self.info

    def begin_network_update(self, target: NetworkProfile, etag: str | None = None) -> Op:
        if self.refuse:
            raise arm.Rejected(f"{self.refuse}: no", self.refuse, 400)
        self.puts.append((target, etag))
        return Op(f"token-{len(self.puts)}")


def _fallback_ctx(tmp_path: Path, aks: StubAks) -> StepContext:
    ctx = StepContext(plan=overlay_plan(allow_variants=["fallback"]), aks=aks,  # type: ignore[arg-type]
                      journal=Journal(tmp_path / "j.jsonl"), run_dir=tmp_path)
    ctx.journal.set("nodes-before", ["n1"])
    return ctx


def test_the_second_change_expects_the_first_ones_target_and_sends_a_fresh_etag(tmp_path: Path) -> None:
    after_none = cluster(dataclasses.replace(KUBENET_CALICO, policy="none"), etag="etag-2")
    aks = StubAks(after_none)
    ctx = _fallback_ctx(tmp_path, aks)
    ctx.journal.set("variant", "fallback")
    ctx.journal.record("variant-switch", step="update-network", variant="fallback", code="X")
    assert variants.previous_change(ctx, ctx.plan.step("policy-none")) is None
    assert variants.previous_change(ctx, ctx.plan.step("overlay")).id == "policy-none"  # type: ignore[union-attr]
    result = update_network_profile(ctx, ctx.plan.step("overlay"))
    assert result["sent"] and aks.puts[0][1] == "etag-2"  # not the plan's etag-1: the cluster changed on purpose
    assert (aks.puts[0][0].plugin, aks.puts[0][0].plugin_mode, aks.puts[0][0].policy) == ("azure", "overlay", "none")
    assert ctx.journal.value("overlay.continuation_token") == "token-1"
    assert update_network_profile(ctx, ctx.plan.step("overlay"))["sent"] is False and len(aks.puts) == 1

    aks.info = cluster(etag="etag-3")  # back at kubenet + calico: not where overlay left it
    with pytest.raises(CheckFailed, match="but step overlay left it azure-cni-overlay \\+ none"):
        update_network_profile(ctx, ctx.plan.step("policy-calico"))


def test_a_refusal_with_a_listed_code_becomes_the_switch(tmp_path: Path) -> None:
    ctx = _fallback_ctx(tmp_path, StubAks(cluster(), refuse="KubenetCalicoToOverlayMigrationNotSupported"))
    with pytest.raises(variants.SwitchVariant) as e:
        update_network_profile(ctx, ctx.plan.step("update-network"))
    assert e.value.name == "fallback"
    ctx = _fallback_ctx(tmp_path / "b", StubAks(cluster(), refuse="SomethingElse"))
    with pytest.raises(CheckFailed, match="ARM rejected the change"):
        update_network_profile(ctx, ctx.plan.step("update-network"))


def test_the_report_shows_the_path_the_puts_and_step_notes() -> None:
    p = overlay_plan(allow_variants=["fallback"])
    t = "2026-03-01T12:0{}:00.000+00:00"
    events = [
        {"time": t.format(1), "event": "arm-put", "step": "update-network", "target": {"plugin": "azure"}},
        {"time": t.format(1), "event": "variant-switch", "step": "update-network", "variant": "fallback",
         "code": "KubenetCalicoToOverlayMigrationNotSupported"},
        {"time": t.format(1), "event": "set", "key": "variant", "value": "fallback"},
        {"time": t.format(2), "event": "arm-put", "step": "policy-none", "target": {"policy": "none"}},
        {"time": t.format(2), "event": "set", "key": "policy-none.continuation_token", "value": "x"},
        {"time": t.format(3), "event": "arm-put", "step": "overlay", "target": {"plugin": "azure"}},
        {"time": t.format(4), "event": "report-note", "title": "Network policies", "lines": ["- all 6 present"]},
    ]
    md = render(p, events)
    assert "**fallback**: network policy none -> Azure CNI Overlay" in md
    assert ("| 2026-03-01 12:01:00 | update-network | plugin=azure | refused "
            "(KubenetCalicoToOverlayMigrationNotSupported), cluster unchanged |") in md
    assert "| 2026-03-01 12:02:00 | policy-none | policy=none | accepted |" in md
    assert "| overlay | plugin=azure | sent, no answer recorded |" in md
    assert md.rstrip().endswith("## Network policies\n\n- all 6 present")
    assert "- ONE-WAY: This migration is ONE-WAY" in md


def test_the_prefect_plan_view_lists_the_fallback_path_for_the_approver() -> None:
    from tasks.migrate import plan_markdown

    md = plan_markdown(overlay_plan())
    assert "- **irreversible**: This migration is ONE-WAY" in md
    assert "- **fallback path**, used only if ARM refuses the direct change, not allowed (plan again with " \
           "`--allow-fallback`)" in md
    assert "  - ARM change: PUT networkProfile `{'networkPolicy': 'none'}`" in md and "UNENFORCED WINDOW" in md
