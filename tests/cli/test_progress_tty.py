"""Terminal progress (``netmig.cli.progress``) in a real pseudo-terminal and off a terminal: on a TTY rich bars per
pool (with ETA), a probe bar with ETA and a spinner; through a pipe the plain log lines, as before (JSON lines)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import sys
from netmig import logs
from netmig.cli.progress import probe_progress, sink_for, spinner
from netmig.stepkit.monitor import PoolProgress

logs.configure()
sink = sink_for()
sink.pools([PoolProgress("system", 3), PoolProgress("user", 3)])
sink.pools([PoolProgress("system", 3, done=1, surge=1, engines={"cilium": 1, "azure": 2}),
            PoolProgress("user", 3, done=3, engines={"cilium": 3})])
from netmig.verify.run import ProbeStatus
for i in (1, 10):  # the migration's snapshot/verify steps report through the sink
    sink.probes(ProbeStatus(i, 10, 50 * i, 500, 6.0 * i, 600.0, "predicted"))
sink.close()
bar = probe_progress()
if bar is not None:
    for i in range(1, 11):
        bar(i, 10)
        bar.on_status(ProbeStatus(i, 10, 100 * i, 1000, 3.0 * i, 600.0, "sampled"))
    bar.close()
with spinner("waiting for tigerastatus Available"):
    pass
print("END", file=sys.stderr)
"""


def _run_in_pty() -> str:
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], stdin=slave, stdout=slave, stderr=slave, cwd=ROOT,
                            env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "160"})
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert proc.wait(timeout=60) == 0, out.decode(errors="replace")
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.decode(errors="replace"))  # colours and cursor moves


def test_on_a_terminal_bars_per_pool_with_eta_and_a_probe_bar() -> None:
    out = _run_in_pty()
    assert "pool system" in out and "pool user" in out and "ETA" in out
    assert "━" in out  # a drawn bar
    assert "3/3" in out and "[cilium=3]" in out and "probe pods" in out and "10/10" in out
    assert "predicted: probes 500/500, ETA 0 s; 60 s of 600 s budget" in out  # the steps' bar, last state
    assert "sampled: probes 1,000/1,000, ETA 0 s; 30 s of 600 s budget" in out  # verify snapshot's bar
    assert '"event": "reimage progress"' not in out and '"event": "probe progress"' not in out
    assert "END" in out


def test_off_a_terminal_the_plain_log_lines_as_before() -> None:
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         check=True, stdin=subprocess.DEVNULL)
    lines = [json.loads(x) for x in res.stderr.splitlines() if x.startswith("{")]
    progress = [x["pools"] for x in lines if x["event"] == "reimage progress"]
    assert progress == [
        "system 0/3 done, surge 0, cordoned 0, NotReady 0 [no node seen yet]; "
        "user 0/3 done, surge 0, cordoned 0, NotReady 0 [no node seen yet]",
        "system 1/3 done, surge 1, cordoned 0, NotReady 0 [azure=2,cilium=1]; "
        "user 3/3 done, surge 0, cordoned 0, NotReady 0 [cilium=3]"]
    assert any(x["event"] == "waiting for tigerastatus Available" for x in lines)
    assert [(x["phase"], x["pods"], x["probes"]) for x in lines if x["event"] == "probe progress"] == [
        ("predicted", "1/10", "50/500"), ("predicted", "10/10", "500/500")]
    assert "━" not in res.stderr
