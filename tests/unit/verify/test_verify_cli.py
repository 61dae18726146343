"""``aks-netmig verify`` without a cluster: the no-cluster error, offline compare, and the probe progress output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.cli.verify_cmd import ProbeProgress
from netmig.verify.selection import plan
from netmig.verify.snapshot import save
from tests.unit.verify.objects import lb_objects, offline_snapshot


@pytest.mark.parametrize("args", [["snapshot", "--out", "x.json"], ["expect"], ["cleanup"],
                                  ["snapshot", "--out", "x.json", "--subscription", "s", "--name", "n"]])
def test_no_cluster_error_is_one_line_naming_kubeconfig(args: list[str]) -> None:
    res = CliRunner().invoke(cli, ["verify", *args])
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: no cluster given; pass --kubeconfig FILE, --sandbox DIR")


def test_missing_kubeconfig_file_is_a_usage_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["verify", "cleanup", "--kubeconfig", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.stderr


def test_compare_cli_json_lists_predicted_only_changes_apart(tmp_path: Path) -> None:
    objects = lb_objects()
    p = plan(objects, ("npm", "cilium"))
    before, after = tmp_path / "b.json", tmp_path / "a.json"
    save(offline_snapshot(objects, p, "npm"), before)
    save(offline_snapshot(objects, p, "cilium"), after)
    res = CliRunner().invoke(cli, ["verify", "compare", str(before), str(after), "--json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert doc["changes"] == [] and doc["probes"] == 4
    assert [(c["service"], c["before"], c["after"]) for c in doc["predicted_only_changes"]] == [
        ("web/fe", "allowed", "denied")]
    same = CliRunner().invoke(cli, ["verify", "compare", str(before), str(before)])
    assert same.exit_code == 0, same.output
    assert "0 changed of 4 cells" in same.stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_a_bar_on_a_terminal_with_probes_eta_and_budget() -> None:
    from netmig.verify.run import ProbeStatus

    term = _Terminal()
    with ProbeProgress(stream=term) as progress:
        progress(1, 2)
        progress.on_status(ProbeStatus(1, 2, 150, 300, 30.0, 600.0, "predicted"))
        progress(2, 2)
        progress.on_status(ProbeStatus(2, 2, 300, 300, 60.0, 600.0, "predicted"))
    out = term.getvalue()
    assert "probe pods" in out and "2/2" in out
    assert "predicted: probes 300/300, ETA 0 s; 60 s of 600 s budget" in out  # the last state stays
    assert ProbeStatus(0, 2, 0, 300, 1.0, None, "all").eta_s is None


def test_progress_is_plain_log_lines_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    with ProbeProgress() as progress:  # pytest's captured stderr is not a TTY
        progress(1, 2)
        progress(2, 2)
    err = capsys.readouterr().err
    assert "\r" not in err
    events = [json.loads(line) for line in err.splitlines()]
    assert [(e["event"], e["done"], e["total"]) for e in events] == [("probe pods finished", 1, 2),
                                                                     ("probe pods finished", 2, 2)]
    assert all(e["level"] == "info" and "timestamp" in e for e in events)
    with ProbeProgress(quiet=True) as quiet:
        quiet(1, 1)
    assert capsys.readouterr().err == ""
