"""The wizard's review fixes, driven by real keystrokes (prompt_toolkit pipe input) on the sandbox: an empty accept
checklist asks what next (choose again, or stop with exit 0 and nothing written) instead of ending the wizard;
y/n prompts need Enter; plans go to ``runs/`` by default (not the template folder ``plans/``); the maintenance
window is in an explicit time zone; the printed one-go command runs without a single prompt; the recommended
journey is the first choice of the migration selection."""

from __future__ import annotations

import datetime as dt
import shlex
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.cli.wizard.when import next_window, parse_when
from tests.cli.keys import DOWN, ENTER, SPACE, keyboard
from tests.cli.test_wizard import _arm_requests, _printed, _wizard


def test_empty_accept_selection_asks_again_then_the_one_go_command_prompts_nothing(sandbox_factory: Any,
                                                                                    tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "runs"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        ("Migration", DOWN + ENTER),  # below the recommended journey: npm-to-cilium
        ("These checks fail", ENTER),  # nothing selected
        ("Nothing was selected", ENTER),  # back to the list
        ("These checks fail", SPACE + ENTER),  # accept policy-analysis
        ("When should it run", ENTER),
        ("Approve the migration now", "n" + ENTER),
        ("Save the plan as", ENTER),
        ("Write ", "y" + ENTER),
    ])
    assert typist.errors == [] and len(typist.typed) == 8, typist.errors
    assert res.exit_code == 0, res.output
    saved = plans / "aks-npm-npm-to-cilium.yaml"
    assert saved.is_file()

    one_go = _printed(res.output, "# or in one go:")
    assert one_go[:2] == ["aks-netmig", "wizard"] and "--out" in one_go and "--then" in one_go
    with keyboard([("?", "\x03")], timeout=20) as again:  # any prompt ("? ...") would be answered with Ctrl-C
        res2 = CliRunner().invoke(cli, one_go[1:], obj={"interactive": True}, catch_exceptions=False)
    assert again.typed == [] and res2.exit_code == 0, res2.output
    assert saved.is_file()


def test_empty_accept_selection_can_stop_with_nothing_written(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "runs"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(plans)], [
        ("Migration", DOWN + ENTER),  # below the recommended journey: npm-to-cilium
        ("These checks fail", ENTER),
        ("Nothing was selected", DOWN + ENTER),  # stop here
    ])
    assert typist.errors == [] and res.exit_code == 0, res.output
    assert "Stopped: nothing was written. Check again with: aks-netmig preflight" in res.output
    assert not plans.exists()


def test_plans_default_to_runs_and_the_window_is_in_an_explicit_time_zone() -> None:
    res = CliRunner().invoke(cli, ["wizard", "--help"])
    assert "[default: runs]" in res.output and "[default: Europe/Amsterdam]" in res.output
    now = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)  # a Wednesday
    w = next_window(now, tz="Europe/Amsterdam")
    assert w.isoformat(timespec="minutes") == "2026-12-05T02:00+01:00"  # Saturday 02:00 in Amsterdam (CET)
    assert next_window(now, tz="America/New_York").isoformat(timespec="minutes") == "2026-12-05T02:00-05:00"
    naive = parse_when("2026-12-05T02:00", now=now, tz="Europe/Amsterdam")
    assert naive.utcoffset() == dt.timedelta(hours=1)
    res = CliRunner().invoke(cli, ["wizard", "--sandbox", "/nonexistent", "--tz", "Mars/Olympus", "--then",
                                   "schedule", "--start-at", "2030-01-01T02:00"])
    assert res.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in res.output


def test_the_recommended_journey_is_the_first_choice_and_enter_takes_it(sandbox_factory: Any,
                                                                         tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    out = tmp_path / "journey.yaml"
    res, typist = _wizard(["--sandbox", str(sb.directory), "--plans-dir", str(tmp_path / "runs"), "--out", str(out)],
                          [("Migration", ENTER),  # the pointer starts on the first choice
                           ("Overlay pod CIDR for the journey", "192.168.0.0/16" + ENTER),  # its overlay stage
                           ("These checks fail", SPACE + ENTER)])  # stage 1 (npm-to-cilium): policy-analysis
    assert typist.errors == [] and res.exit_code == 0, res.output
    screen = typist.screen_text
    assert screen.index("journey (recommended)") < screen.index("npm-to-cilium: ")
    assert "Stage 1 of the journey: npm-to-cilium" in res.output and "[FAIL] policy-analysis" in res.output
    printed = [shlex.split(ln.strip()) for ln in res.output.split("The journey, non-interactive", 1)[1].splitlines()
               if ln.strip().startswith("aks-netmig journey")]
    assert [c[:3] for c in printed] == [["aks-netmig", "journey", "plan"], ["aks-netmig", "journey", "apply"]]
    assert printed[0][printed[0].index("--to") + 1] == "overlay-cilium" and printed[1][3] == str(out)
    assert printed[0][printed[0].index("--pod-cidr") + 1] == "192.168.0.0/16"  # everything the plan needs
    assert printed[0][printed[0].index("--accept") + 1] == "policy-analysis"
    assert not out.exists()  # the wizard prints the journey's commands; the first one writes it
    res2 = CliRunner().invoke(cli, printed[0][1:], catch_exceptions=False)  # verbatim
    assert res2.exit_code == 0, res2.output  # stage 1's preflight passes with what was accepted
    assert out.is_file() and yaml.safe_load(out.read_text())["options"]["accept"] == ["policy-analysis"]
    assert not any(r["method"] == "PUT" for r in _arm_requests(sb.directory))
