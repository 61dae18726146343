"""Logging: each structlog line is printed once (JSON off a TTY, context bound, secrets redacted) and reaches any
extra handler on the ``netmig`` logger (how a flow run's logs get it) without being printed again."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest
import structlog

from netmig import logs


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def test_one_json_line_per_event_with_context_and_redaction(capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure(json_output=True)
    with structlog.contextvars.bound_contextvars(cluster="c1", migration="m1", step="lock"):
        logs.get_logger("netmig.engine").info("step", outcome="done", duration_s=0.5, token="s3cret")
    out, err = capsys.readouterr()
    assert out == ""
    [line] = err.splitlines()
    d = json.loads(line)
    assert d["event"] == "step" and d["outcome"] == "done" and d["duration_s"] == 0.5
    assert (d["cluster"], d["migration"], d["step"], d["level"]) == ("c1", "m1", "lock", "info")
    assert d["token"] == "<redacted>" and "s3cret" not in err


def test_an_extra_handler_gets_each_line_once_and_nothing_is_printed_twice(capsys: pytest.CaptureFixture[str]
                                                                           ) -> None:
    logs.configure(json_output=True)
    root = logging.getLogger()
    before = len(root.handlers)
    spy = Collect()
    root.addHandler(spy)  # a root handler (Prefect's console handler lives there) must not see netmig lines
    extra = Collect()
    try:
        with logs.also_to(extra):
            logs.get_logger("netmig.steps.reimage").warning("reimage stalled", pdb="data/db")
            logs.get_logger("tasks.migrate").info("outside the netmig namespace")
        logs.get_logger("netmig.engine").info("after the block")
    finally:
        root.removeHandler(spy)
    err = capsys.readouterr().err.splitlines()
    assert [json.loads(x)["event"] for x in err] == ["reimage stalled", "outside the netmig namespace",
                                                     "after the block"]
    assert [json.loads(x)["event"] for x in extra.lines] == ["reimage stalled", "outside the netmig namespace"]
    assert extra.lines[0] == err[0]  # the same rendered line
    assert spy.lines == [] and len(root.handlers) == before
    assert logs.stdlib_logger("tasks.migrate").name == "netmig.tasks.migrate"


def test_reconfiguring_keeps_one_printer_and_a_closed_stream_is_harmless(monkeypatch: pytest.MonkeyPatch) -> None:
    logs.configure(json_output=True)
    logs.configure(json_output=False)
    printers = [h for h in logging.getLogger("netmig").handlers if type(h).__name__ == "_StderrHandler"]
    assert len(printers) == 1
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logs.get_logger("netmig.x").info("to the first stream")
    first.close()
    logs.get_logger("netmig.x").info("to a closed stream: dropped, no exception")
    monkeypatch.setattr(sys, "stderr", second)
    logs.get_logger("netmig.x").info("to the stream of the moment")
    assert "to the stream of the moment" in second.getvalue() and "closed" not in second.getvalue()
