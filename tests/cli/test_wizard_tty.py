"""The wizard on a real pseudo-terminal (the way tmux send-keys drives it): ``aks-netmig wizard`` as a process whose
stdin/stdout are a pty, keys written to the pty master once each question is on screen. Proves the terminal
detection (no test hook) and the process exit code of Ctrl-C."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r")


class Terminal:
    def __init__(self, args: list[str], cwd: Path) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "40", "NETMIG_ORCHESTRATOR": "local"}
        self.proc = subprocess.Popen([sys.executable, "-m", "netmig.cli.main", *args], stdin=slave, stdout=slave,
                                     stderr=slave, cwd=cwd, env=env, start_new_session=True)
        os.close(slave)
        self.raw = b""

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.raw += os.read(self.master, 65536)
            except OSError:  # the child closed the pty
                time.sleep(timeout)

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.raw.decode(errors="replace"))

    def expect(self, text: str, after: int = 0, timeout: float = 90) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            i = self.screen.find(text, after)
            if i >= 0:
                return i + len(text)
            self._read(0.2)
        raise AssertionError(f"{text!r} never appeared; screen tail: {self.screen[-800:]!r}")

    def type(self, keys: str) -> None:
        time.sleep(0.1)
        os.write(self.master, keys.encode())

    def wait(self, timeout: float = 120) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        self._read(0.2)
        rc = self.proc.wait(timeout=5)
        os.close(self.master)
        return rc


def test_wizard_on_a_real_terminal_then_ctrl_c_exits_130(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "plans"
    term = Terminal(["wizard", "--sandbox", str(sb.directory), "--plans-dir", str(plans)], tmp_path)
    pos = term.expect("Migration")
    term.type("\x1b[B\r")  # one below the recommended journey (the first choice): npm-to-cilium
    pos = term.expect("These checks fail", pos)
    term.type(" \r")  # accept policy-analysis
    pos = term.expect("When should it run", pos)
    term.type("\r")  # print the runbook commands
    pos = term.expect("Approve the migration now", pos)
    term.type("n\r")  # y/n needs Enter: "n" alone answers nothing
    pos = term.expect("Save the plan as", pos)
    term.type("\x03")  # Ctrl-C
    assert term.wait() == 130
    assert "error: interrupted: nothing was written and the cluster was not changed" in term.screen
    assert not plans.exists()
    requests = [json.loads(x) for x in (sb.directory / "arm-requests.jsonl").read_text().splitlines()]
    assert not any(r["method"] == "PUT" for r in requests)


def test_wizard_on_a_real_terminal_saves_the_plan(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plans = tmp_path / "plans"
    term = Terminal(["wizard", "--sandbox", str(sb.directory), "--plans-dir", str(plans), "--migration",
                     "npm-to-cilium", "--accept", "policy-analysis", "--then", "print"], tmp_path)
    pos = term.expect("Approve the migration now")  # the flags answered the other questions
    term.type("y\r")
    pos = term.expect("Save the plan as", pos)
    term.type("\r")
    pos = term.expect("Write ", pos)
    term.type("y\r")
    assert term.wait() == 0, term.screen[-2000:]
    assert (plans / "aks-npm-npm-to-cilium.yaml").is_file()
    assert "aks-netmig wizard --sandbox" in term.screen and "--yes" in term.screen.split("in one go:", 1)[1]
