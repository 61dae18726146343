"""The wizard's probing budget: asked (real keystrokes) only on a cluster of more than ``BUDGET_NODES`` nodes,
given as ``--budget`` / ``--no-budget`` without a terminal; either way it becomes the ``--set STEP.budget_s=...``
values of the plan's probing steps, and the printed ``aks-netmig plan`` line makes the same plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.cli.wizard.migration import BUDGET_NODES
from netmig_sandbox import scenarios
from tests.cli.keys import CTRL_U, DOWN, ENTER, SPACE
from tests.cli.test_wizard import PRINT_AND_SAVE, _printed, _wizard
from tests.cli.test_wizard_kinds import _same_as_printed_plan_command


def _budgets(plan: Path) -> dict[str, Any]:
    doc = yaml.safe_load(plan.read_text())
    return {s["id"]: s["params"].get("budget_s", "unset") for s in doc["steps"]
            if s["kind"] in ("connectivity-snapshot", "verify")}


def test_a_large_cluster_is_asked_for_the_budget_and_the_plan_carries_it(sandbox_factory: Any,
                                                                         tmp_path: Path) -> None:
    scenario = scenarios.load("npm")
    scenario["cluster"]["pools"][1]["count"] = BUDGET_NODES  # 3 system + 50 user nodes: more than BUDGET_NODES
    sb = sandbox_factory(scenario, time_scale=0.002)
    plans = tmp_path / "plans"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        ("Migration", DOWN + ENTER),
        ("Probing time budget", CTRL_U + "20x" + ENTER),  # refused under the prompt ...
        ("not a duration", CTRL_U + "20m" + ENTER),  # ... corrected
        ("These checks fail", SPACE + ENTER),
        *PRINT_AND_SAVE,
    ])
    assert typist.errors == [] and len(typist.typed) == 8, typist.errors
    assert res.exit_code == 0, res.output + res.stderr
    assert f"{BUDGET_NODES + 3} nodes" in typist.screen_text
    saved = plans / "aks-npm-npm-to-cilium.yaml"
    assert _budgets(saved) == {"snapshot": 1200, "verify": 1200}
    plan_cmd = _same_as_printed_plan_command(res.output, saved, tmp_path)
    assert "snapshot.budget_s=1200" in plan_cmd and "verify.budget_s=1200" in plan_cmd


def test_without_a_terminal_budget_flags_set_it_and_a_small_cluster_is_not_asked(sandbox_factory: Any,
                                                                                tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    base = ["wizard", "--sandbox", str(sb.directory), "--migration", "npm-to-cilium", "--accept", "policy-analysis",
            "--then", "print", "--approve-at-gate"]
    res = CliRunner().invoke(cli, [*base, "--no-budget", "--out", str(tmp_path / "all.yaml")])
    assert res.exit_code == 0, res.output
    assert _budgets(tmp_path / "all.yaml") == {"snapshot": None, "verify": None}
    one_go = _printed(res.output, "# or in one go:")
    assert "snapshot.budget_s=null" in one_go  # the one-go command carries it
    res = CliRunner().invoke(cli, [*base, "--out", str(tmp_path / "default.yaml")])
    assert res.exit_code == 0, res.output  # 6 nodes: not asked (without a terminal it would have to stop)
    assert _budgets(tmp_path / "default.yaml") == {"snapshot": "unset", "verify": "unset"}  # the plan's 10 min
    res = CliRunner().invoke(cli, [*base, "--budget", "5x", "--out", str(tmp_path / "bad.yaml")])
    assert res.exit_code == 2 and "--budget" in res.output and not (tmp_path / "bad.yaml").exists()



def test_a_budget_given_for_the_journey_goes_into_its_plan_command(sandbox_factory: Any, tmp_path: Path) -> None:
    import shlex

    sb = sandbox_factory("npm", time_scale=0.002)
    out = tmp_path / "journey.yaml"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(tmp_path / "runs"), "--out", str(out),
                           "--budget", "15m"],
                          [("Migration", ENTER),  # the recommended journey
                           ("Overlay pod CIDR for the journey", "192.168.0.0/16" + ENTER),
                           ("These checks fail", SPACE + ENTER)])
    assert typist.errors == [] and res.exit_code == 0, res.output
    line = next(ln.strip() for ln in res.output.splitlines() if ln.strip().startswith("aks-netmig journey plan"))
    printed = shlex.split(line)
    assert printed[printed.index("--budget") + 1] == "15m"
    res = CliRunner().invoke(cli, printed[1:], catch_exceptions=False)  # verbatim
    assert res.exit_code == 0, res.output
    journey = yaml.safe_load(out.read_text())
    assert journey["options"]["budget"] == "15m" and "--budget" in journey["command"]
    for stage in journey["stages"]:  # the concrete first plan and the provisional ones alike
        budgets = {s["id"]: s["params"].get("budget_s") for s in stage["plan"]["steps"]
                   if s["kind"] in ("connectivity-snapshot", "verify")}
        assert budgets and set(budgets.values()) == {900}, (stage["kind"], budgets)
    first = tmp_path / journey["stages"][0]["plan_file"]
    assert _budgets(first) == {"snapshot": 900, "verify": 900}
