"""The Prefect path of `aks-netmig apply` (a temporary local Prefect server) at its edges (issue 10, findings 2, 3,
14 and "no tracebacks for expected outcomes"):

- without --yes and no terminal: exit 3 with one line; the flow run ends Paused (not Failed); no Prefect log line,
  no traceback on the terminal (they are in PLAN.run/apply.log);
- Ctrl-C (SIGINT to the process group, as a terminal sends it) during the reimage watch: exit 130 within 5 s, the
  flow run Cancelled, the journal and the kept lease as with --no-prefect, and the temporary server (by pid) gone;
  the rerun completes with one network-profile PUT;
- SIGKILL of the CLI while its temporary server runs: the server dies with it (parent-death signal), by pid; and a
  server record left by a dead owner is reaped by the next start.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.interrupt_helpers import BOUND_S, interrupt_at, journal, lease_exists, running, server_pids
from tests.e2e.migrate_helpers import cli_group, make_plan, profile_puts, start_detached, stop
from tests.polling import until

PREFECT_CONSOLE = re.compile(r"\| (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\|")


def _clean_terminal(err: str) -> None:
    assert "Traceback" not in err, err[-3000:]
    assert not PREFECT_CONSOLE.search(err), err[-3000:]
    assert "Finished in state" not in err and "Crash detected" not in err, err[-3000:]


@pytest.mark.e2e
@pytest.mark.timeout(1200)
def test_prefect_apply_pauses_and_interrupts_truthfully_and_leaves_no_server(tmp_path: Path) -> None:
    sb, plan, home = tmp_path / "sb", tmp_path / "p.yaml", tmp_path / "prefect"
    env = {"NETMIG_ORCHESTRATOR": "prefect", "PREFECT_HOME": str(home)}
    start_detached(sb, time_scale=0.04)  # the reimage watch must outlast the Prefect task hand-over
    try:
        make_plan(sb, plan)
        log = tmp_path / "p.run" / "apply.log"

        rc, _, err = cli_group("apply", str(plan), "--sandbox", str(sb), env=env, cwd=tmp_path, timeout=500)
        assert rc == 3, err[-3000:]
        _clean_terminal(err)
        assert err.strip().splitlines()[-1].startswith("error: paused awaiting approval"), err[-2000:]
        assert '"event": "migration paused"' in log.read_text()  # the state itself: tests/flows/test_flow_states.py
        assert "Failed(" not in log.read_text() and "Crashed(" not in log.read_text()
        assert server_pids(home) == []

        seen: list[int] = []
        res = interrupt_at(["apply", str(plan), "--sandbox", str(sb), "--yes"], "watch-reimage:event=3", env=env,
                           cwd=tmp_path, timeout=500, on_stop=lambda _: seen.extend(server_pids(home)))
        assert res.rc == 130, res.stderr[-3000:]
        assert res.elapsed < BOUND_S, res.elapsed
        _clean_terminal(res.stderr)
        last = res.stderr.strip().splitlines()[-1]
        assert last.startswith("error: interrupted (SIGINT) in step watch-reimage"), last
        assert "lock kube-system/aks-netmig-lock is kept" in last
        assert "Finished in state Cancelled(" in log.read_text()
        assert "Crashed(" not in log.read_text()
        events = journal(tmp_path / "p.run")
        assert events[-1]["event"] == "run-interrupted" and events[-1]["lease"] == "kept"
        assert lease_exists(sb)
        assert len(seen) == 1, seen  # the server that ran the flow, by pid: gone with the command
        assert not running(seen[0])
        assert server_pids(home) == []

        rc, _, err = cli_group("apply", str(plan), "--sandbox", str(sb), "--yes", env=env, cwd=tmp_path, timeout=500)
        assert rc == 0, err[-3000:]
        _clean_terminal(err)
        assert len(profile_puts(sb)) == 1
        events = journal(tmp_path / "p.run")  # the interrupted steps ran again (never Cached as done)
        for step in ("approval", "watch-reimage"):
            assert sum(1 for e in events if e["event"] == "step-start" and e.get("step") == step) == 2, step
        assert "**PASSED**" in (tmp_path / "p.run" / "report.md").read_text()
        assert not lease_exists(sb)
    finally:
        stop(sb)


@pytest.mark.e2e
@pytest.mark.timeout(800)
def test_sigkill_of_apply_takes_its_temporary_prefect_server_with_it(tmp_path: Path) -> None:
    sb, plan, home = tmp_path / "sb", tmp_path / "p.yaml", tmp_path / "prefect"
    env = {"NETMIG_ORCHESTRATOR": "prefect", "PREFECT_HOME": str(home)}
    start_detached(sb)
    try:
        make_plan(sb, plan)
        # kill -9 of the CLI alone (NETMIG_TEST_KILL_AT), while the flow runs on its temporary server
        rc, _, err = cli_group("apply", str(plan), "--sandbox", str(sb), "--yes", cwd=tmp_path, timeout=500,
                               env={**env, "NETMIG_TEST_KILL_AT": "snapshot:before"})
        assert rc == -signal.SIGKILL, err[-3000:]
        seen = server_pids(home)  # its record stays behind (nobody removed it): the server's pid
        assert len(seen) == 1, seen
        until(lambda: not running(seen[0]), timeout=30, what="the orphaned temporary server to exit")
    finally:
        stop(sb)


def test_a_server_left_by_a_dead_owner_is_reaped_at_the_next_start(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from flows import local_server

    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    port = 1
    fake = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()", local_server.APP, "--port",
                             str(port)], stdin=subprocess.PIPE, start_new_session=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    other = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE,
                             start_new_session=True)
    try:
        d = local_server.registry_dir()
        d.mkdir(parents=True)
        (d / f"{fake.pid}.json").write_text(json.dumps({"pid": fake.pid, "owner": dead.pid, "port": port}))
        # a recycled pid that is not a server is never touched, only its record is dropped
        (d / f"{other.pid}.json").write_text(json.dumps({"pid": other.pid, "owner": dead.pid, "port": port}))
        assert local_server.reap() == [fake.pid]
        assert fake.wait(timeout=10) is not None
        assert other.poll() is None
        assert list(d.glob("*.json")) == []
    finally:
        for p in (fake, other):
            p.kill()
            p.wait()
