"""``aks-netmig status`` on a plan with variants (alternative paths), from the journal alone (no cluster read):
the steps of the path not taken are ``skipped`` with the reason -- in the text and in ``--json`` -- never ``done``;
once the path is settled they are shown skipped before the run reaches them; until then they are pending and say
when they would run; a refusal the plan does not allow gives the command to plan again with the path allowed."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from netmig.cli.status_cmd import render_status, status_dict
from netmig.engine.planning import new_plan
from netmig.engine.runner import run_step
from netmig.engine.session import run_dir_for
from netmig.errors import CheckFailed
from netmig.journal import Journal
from netmig.model.plan import Plan, PlanStep, PlanTemplate
from netmig.stepkit import variants
from netmig.stepkit.context import StepContext
from netmig.stepkit.registry import register_step
from tests.unit.engine.values import cluster

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
DIRECT_SKIPPED = "on the direct path; this run takes the fallback path"
FALLBACK_SKIPPED = "on the fallback path; this run takes the direct path"


@register_step("test-status-ok")
def _ok(ctx: Any, step: PlanStep) -> dict[str, Any]:
    return {"ran": step.id}


@register_step("test-status-refused")
def _refused(ctx: Any, step: PlanStep) -> dict[str, Any]:
    raise variants.SwitchVariant("fallback", "Blocked", "Blocked: not supported")


def _plan(tmp_path: Path, allowed: bool, refuse: bool) -> tuple[Path, StepContext]:
    doc = {
        "kind": "x", "title": "x", "source": {}, "target": {}, "checks": [],
        "variants": [{"name": "direct", "title": "one PUT", "default": True},
                     {"name": "fallback", "title": "three PUTs", "allow_flag": "--allow-fallback"}],
        "steps": [{"id": "approval", "kind": "test-status-ok"},
                  {"id": "change", "kind": "test-status-refused" if refuse else "test-status-ok",
                   "variant": "direct", "params": {"switch_variant": {"fallback": ["Blocked"]}}},
                  {"id": "watch", "kind": "test-status-ok", "variant": "direct"},
                  {"id": "none", "kind": "test-status-ok", "variant": "fallback"},
                  {"id": "overlay", "kind": "test-status-ok", "variant": "fallback"},
                  {"id": "verify", "kind": "test-status-ok"}]}
    template = PlanTemplate.model_validate(doc)
    path = tmp_path / "plans" / "p.yaml"
    path.parent.mkdir(parents=True)
    template_file = tmp_path / "plans" / "x-template.yaml"  # load_plan holds the plan to its template file
    template_file.write_text(yaml.safe_dump(doc))
    p: Plan = new_plan(template, cluster(), arm_endpoint="https://127.0.0.1:9", now=NOW,  # sandbox-like: no read
                       allow_variants=["fallback"] if allowed else [],
                       plan_command=["aks-netmig", "plan", "--sandbox", "/sb", "--out", str(path)])
    p.template = str(template_file)
    path.write_text(p.to_yaml())
    run_dir = run_dir_for(path)
    ctx = StepContext(plan=p, aks=None, journal=Journal(run_dir / "journal.jsonl"),  # type: ignore[arg-type]
                      run_dir=run_dir)
    return path, ctx


def _run(ctx: StepContext, until: str | None = None) -> None:
    for s in ctx.plan.steps:
        run_step(ctx, s)
        if s.id == until:
            return


def _states(d: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {s["id"]: (s["state"], s["detail"]) for s in d["steps"]}


def _status(path: Path, *json_flag: str) -> str:
    from netmig.cli.status_cmd import status

    res = CliRunner().invoke(status, [str(path), *json_flag], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_the_path_not_taken_is_skipped_with_its_reason_in_text_and_json(tmp_path: Path) -> None:
    path, ctx = _plan(tmp_path, allowed=True, refuse=True)
    _run(ctx)
    d = json.loads(_status(path, "--json"))  # a sandbox plan without --sandbox: the journal only
    states = _states(d)
    assert states["watch"] == ("skipped", DIRECT_SKIPPED)
    assert states["change"][0] == "done"  # it ran: ARM refused it and the run switched paths
    assert {states[s][0] for s in ("approval", "none", "overlay", "verify")} == {"done"}
    assert d["variant"] == "fallback" and d["done"] is True and d["current_step"] is None
    assert d["resume_command"] is None and d["replan_command"] is None
    text = _status(path)
    line = next(x for x in text.splitlines() if x.strip().startswith("watch "))
    assert line.split()[1] == "skipped" and line.endswith(DIRECT_SKIPPED) and " done " not in line
    assert "  path: fallback" in text and "Done. Report:" in text


def test_once_the_path_is_settled_the_other_paths_steps_are_skipped_before_the_run_reaches_them(
        tmp_path: Path) -> None:
    path, ctx = _plan(tmp_path, allowed=True, refuse=False)
    _run(ctx, until="approval")
    d = status_dict(path, None, {}, read_cluster=False)
    states = _states(d)
    # not settled: ARM may still refuse `change`; the fallback steps say when they would run
    assert states["none"] == ("pending", "on the fallback path: runs only if ARM refuses change")
    assert d["current_step"]["id"] == "change" and d["variant"] == "direct"

    run_step(ctx, ctx.plan.step("change"))  # accepted: the direct path is settled
    d = status_dict(path, None, {}, read_cluster=False)
    states = _states(d)
    assert states["none"] == states["overlay"] == ("skipped", FALLBACK_SKIPPED)
    assert states["watch"][0] == "pending" and d["current_step"]["id"] == "watch" and d["done"] is False
    assert "p.yaml" in d["resume_command"]

    _run(ctx)  # the runner records the same reason when it reaches them
    d = status_dict(path, None, {}, read_cluster=False)
    assert _states(d)["none"] == ("skipped", FALLBACK_SKIPPED) and d["done"] is True
    recorded = [e["result"] for e in ctx.journal.events() if e["event"] == "step-done" and e["step"] == "none"]
    assert recorded == [{"skipped": FALLBACK_SKIPPED}]


def test_mid_fallback_the_direct_steps_are_skipped_and_the_current_step_is_on_the_fallback(tmp_path: Path) -> None:
    path, ctx = _plan(tmp_path, allowed=True, refuse=True)
    _run(ctx, until="none")
    d = status_dict(path, None, {}, read_cluster=False)
    states = _states(d)
    assert states["watch"] == ("skipped", DIRECT_SKIPPED) and states["overlay"][0] == "pending"
    assert d["current_step"]["id"] == "overlay" and d["done"] is False
    text = render_status(d)
    assert "skipped  " + DIRECT_SKIPPED in text and "Resume with: aks-netmig apply" in text


def test_a_refusal_the_plan_does_not_allow_gives_the_replan_command(tmp_path: Path) -> None:
    path, ctx = _plan(tmp_path, allowed=False, refuse=True)
    run_step(ctx, ctx.plan.step("approval"))
    with pytest.raises(CheckFailed):
        run_step(ctx, ctx.plan.step("change"))
    d = status_dict(path, None, {}, read_cluster=False)
    states = _states(d)
    replan = f"aks-netmig plan --sandbox /sb --out {path.with_name('p-fallback.yaml')} --allow-fallback"
    assert states["change"][0] == "failed" and d["replan_command"] == replan
    assert states["none"] == ("pending", "on the fallback path: runs only if ARM refuses change and the plan "
                                         "allows it (--allow-fallback)")
    text = render_status(d)
    assert f"Plan again with the other path allowed (review it first): {replan}" in text
    assert "Or retry this plan (ARM may refuse it again): aks-netmig apply" in text
