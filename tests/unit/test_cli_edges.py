"""The CLI's edges (issue 10): Ctrl-C / SIGTERM become one ``Interrupt`` (a second one does not cut the clean-up
short); Prefect's and the SDKs' log lines go to the run's log file, not the terminal, unless verbose; a bug shows
its traceback and a line naming the log; deployment-run messages name form fields, not CLI flags."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netmig.cli.interrupts import Interrupt, interruptible
from netmig.logs import run_log, run_log_path


def test_sigterm_is_an_interrupt_and_a_second_signal_does_not_cut_the_cleanup(capsys: pytest.CaptureFixture[str]) \
        -> None:
    cleaned = []
    with pytest.raises(Interrupt) as got, interruptible():
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("no Interrupt raised")
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # during the clean-up: one line, no exception
            cleaned.append(True)
    assert got.value.signame == "SIGTERM" and cleaned == [True]
    assert "still stopping" in capsys.readouterr().err
    assert getattr(signal.getsignal(signal.SIGTERM), "__name__", None) != "handler"  # the old handler is back


def test_library_logs_go_to_the_run_log_not_the_terminal_unless_verbose(tmp_path: Path) -> None:
    root = logging.getLogger()
    console = logging.StreamHandler(sys.stderr)  # what Prefect installs on the root logger
    root.addHandler(console)
    lines: list[str] = []
    console.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    try:
        log = tmp_path / "p.run" / "apply.log"
        with run_log(log):
            assert run_log_path() == log
            logging.getLogger("azure.core.pipeline").warning("retrying GET (503)")
            logging.getLogger("prefect.task_runs").warning("Finished in state Cancelled()")
        assert lines == []
        text = log.read_text()
        assert "azure.core.pipeline: retrying GET (503)" in text and "Finished in state Cancelled()" in text
        with run_log(log, verbose=True):
            logging.getLogger("azure.core.pipeline").warning("shown with -v")
        assert lines == ["shown with -v"]
        assert run_log_path() == log and console in root.handlers  # the last one (named by a bug report)
    finally:
        root.removeHandler(console)


def test_a_bug_prints_its_traceback_and_names_the_log(tmp_path: Path) -> None:
    from netmig.cli.main import cli

    @cli.command("test-bug")
    def bug() -> None:
        with run_log(tmp_path / "apply.log"):
            raise ZeroDivisionError("boom")

    try:
        res = CliRunner().invoke(cli, ["test-bug"])
    finally:
        cli.commands.pop("test-bug")
    assert res.exit_code == 1
    assert "Traceback" in res.output and "ZeroDivisionError: boom" in res.output
    last = res.output.strip().splitlines()[-1]
    assert last.startswith("error: unexpected ZeroDivisionError: boom; this is a bug in aks-netmig")
    assert str(tmp_path / "apply.log") in last
    assert "ZeroDivisionError: boom" in (tmp_path / "apply.log").read_text()


@pytest.mark.parametrize(("cli_text", "ui"), [
    ("fix the policies, or accept the predicted changes (plan --accept RULE or 'accepted:' in the plan)",
     "fix the policies, or accept the predicted changes (options.accept: [RULE] or 'accepted:' in the plan)"),
    ("accept them (plan --accept policy-analysis) and run again", "accept them (options.accept: [policy-analysis])"
     " and run again"),
    ("wait longer: apply --stall-timeout 640", "wait longer: options.stall_seconds 640"),
    ("check the nodes, then rerun apply", "check the nodes, then run the deployment again with the same plan_path"),
    ("plan again with --allow-fallback or --pod-cidr", "plan again with options.allow_fallback: true or "
     "options.pod_cidr"),
    ("make the plan again with a larger probing budget (aks-netmig plan --budget 14m, or --no-budget) and apply it",
     "make the plan again with a larger probing budget (options.probe_budget_minutes: 14, or "
     "options.probe_every_cell: true) and apply it"),
])
def test_deployment_messages_name_form_fields(cli_text: str, ui: str) -> None:
    from flows.params import ui_text

    assert ui_text(cli_text) == ui
    assert "--" not in ui_text(cli_text)
