"""A fleet rollout for real: the sandbox fleet, a Prefect server on PostgreSQL, two process workers, the CLI.

scan -> plan (canary, waves of 3) -> apply: the canary runs alone and first; wave 1 waits for its approval; the
parent (the CLI process running the netmig-fleet flow) is killed mid-wave and the rerun re-attaches to the same
child runs; two clusters' reimage windows overlap (their arm-requests.jsonl); the scripted failure (aks-npm-flaky)
halts the rollout at its wave with the dashboard saying why; a rerun excluding it finishes the rest; every cluster
got exactly one network PUT and has its report. The dashboard follows each cluster while it runs (its migration
step), and ends with each one's reimage progress per pool and verification result; the fleet report names the
wave approvals (approver, comment) and links its progress picture. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmig_sandbox.fleet import FleetSandbox
from tests.fleet.postgres import _free_port, postgres_server
from tests.flows.test_deployments import _stop_group, _wait

ROOT = Path(__file__).resolve().parents[2]
PREFECT = [sys.executable, "-m", "prefect"]
CLI = [sys.executable, "-m", "netmig.cli.main"]


@contextlib.contextmanager
def prefect_on_postgres(tmp: Path, db_url: str, workers: int) -> Iterator[dict[str, str]]:
    """A Prefect server on ``db_url`` and ``workers`` process workers; yields the env for CLI subprocesses."""
    import httpx

    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NETMIG_"))}
    env.update(PREFECT_HOME=str(tmp / "prefect-home"), PREFECT_API_URL=url, PREFECT_UI_ENABLED="false",
               PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="INFO",
               PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_CLI_PROMPT="false", NETMIG_STATE_DIR=str(tmp / "state"),
               PREFECT_API_DATABASE_CONNECTION_URL=db_url)
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(name: str, *args: str) -> None:
        with (tmp / f"{name}.log").open("wb") as log:
            procs.append(subprocess.Popen([*PREFECT, *args], stdout=log, stderr=subprocess.STDOUT, env=env,
                                          cwd=ROOT, start_new_session=True))

    spawn("server", "server", "start", "--host", "127.0.0.1", "--port", str(port))
    try:
        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        _wait("the Prefect server", healthy, 240)
        for args in (["work-pool", "create", "netmig-process", "--type", "process"],
                     ["--no-prompt", "deploy", "--name", "fleet-member"]):
            res = subprocess.run([*PREFECT, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=240)
            assert res.returncode == 0, (args, res.stdout[-2000:], res.stderr[-2000:])
        for i in range(workers):
            spawn(f"worker{i}", "worker", "start", "--pool", "netmig-process", "--type", "process",
                  "--name", f"fleet-worker-{i}")
        yield env
    except BaseException:
        for log in sorted(tmp.glob("*.log")):
            sys.stderr.write(f"--- {log.name} (tail) ---\n{log.read_text(errors='replace')[-4000:]}\n")
        raise
    finally:
        for p in reversed(procs):
            _stop_group(p)


def _cli(env: dict[str, str], *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _status(env: dict[str, str], waves: Path) -> dict[str, Any]:
    res = _cli(env, "fleet", "status", str(waves), "--json")
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


def _rows(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["cluster"]: r for r in doc["clusters"]}


def _window(member: Path) -> tuple[float, float]:
    """(network PUT time, last operation poll time) of a member cluster: its reimage window."""
    lines = [json.loads(x) for x in (member / "arm-requests.jsonl").read_text().splitlines() if x.strip()]
    put = [e["time"] for e in lines if e.get("network_profile_change")]
    polls = [e["time"] for e in lines if "/operations/" in e["path"].lower()]
    assert put and polls, member
    return put[0], max(polls)


@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_fleet_rollout_on_prefect_workers(tmp_path: Path) -> None:
    with postgres_server() as db, FleetSandbox(tmp_path / "fleet", time_scale=0.02) as fleet, \
            prefect_on_postgres(tmp_path, db, workers=2) as env:
        sb = fleet.directory
        waves = tmp_path / "rollout" / "waves.yaml"
        r = _cli(env, "fleet", "plan", "--sandbox", str(sb), "--out", str(waves), "--wave-size", "3",
                 "--accept", "policy-analysis")
        assert r.returncode == 0, r.stderr
        members = {c["cluster_name"]: Path(c["dir"]) for c in fleet.info["clusters"] if c.get("dir")}

        # 1. no approval: the canary runs alone, then the rollout stops before wave 1 (exit 3, paused)
        first = _cli(env, "fleet", "apply", str(waves), "--max-parallel", "2")
        assert first.returncode == 3, first.stdout[-3000:] + first.stderr[-3000:]
        doc = _status(env, waves)
        rows = _rows(doc)
        assert rows["aks-canary-dev"]["state"] == "completed" and doc["waiting_approval"] == 1
        assert all(not r["flow_run"] for n, r in rows.items() if n != "aks-canary-dev")

        # 2. wave 1 approved; the parent is killed once its clusters run
        proc = subprocess.Popen([*CLI, "fleet", "apply", str(waves), "--approve-wave", "1", "--max-parallel", "2",
                                 "--approver", "alice@example.com", "--comment", "CHG-4711"],
                                env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            def running() -> bool:  # two clusters running, the dashboard showing a migration step of each
                rs = _rows(_status(env, waves))
                live = [r for r in rs.values() if r["wave"] == "wave-1" and r["state"] == "running"]
                return len(live) >= 2 and all(r["step"].endswith(("(started)", "(pending)")) for r in live)
            _wait("two wave-1 clusters running", running, 400)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        before = {n: r["flow_run"] for n, r in _rows(_status(env, waves)).items() if r["flow_run"]}

        # 3. rerun: re-attaches (same child runs), the scripted failure halts the rollout at wave 1
        third = _cli(env, "fleet", "apply", str(waves), "--approve-wave", "1", "--approve-wave", "2",
                     "--max-parallel", "2")
        assert third.returncode != 0 and "Traceback" not in third.stderr, third.stderr[-3000:]
        doc = _status(env, waves)
        rows = _rows(doc)
        for name, run_id in before.items():
            assert rows[name]["flow_run"] == run_id, f"{name} was started again instead of re-attached"
        assert doc["halted"] and "aks-npm-flaky" in doc["halted"] and "wave-1" in doc["halted"]
        assert rows["aks-npm-flaky"]["state"] == "failed"
        assert all(r["state"] == "pending" for r in rows.values() if r["wave"] == "wave-2")

        # two clusters of wave 1 reimaged at the same time
        wave1 = [n for n, r in rows.items() if r["wave"] == "wave-1"]
        spans = {n: _window(members[n]) for n in wave1}
        overlapping = [(a, b) for a in wave1 for b in wave1 if a < b
                       and max(spans[a][0], spans[b][0]) < min(spans[a][1], spans[b][1])]
        assert overlapping, spans

        # 4. the failed cluster excluded: the rest finishes
        last = _cli(env, "fleet", "apply", str(waves), "--approve-wave", "2", "--exclude", "aks-npm-flaky",
                    "--max-parallel", "2")
        assert last.returncode == 0, last.stdout[-3000:] + last.stderr[-3000:]
        doc = _status(env, waves)
        rows = _rows(doc)
        assert rows["aks-npm-flaky"]["state"] == "excluded"
        done = [n for n, r in rows.items() if n != "aks-npm-flaky"]
        assert all(rows[n]["state"] == "completed" for n in done), rows
        for n in done:  # the dashboard's end: every pool reimaged, the verification's verdict with its counts
            row = rows[n]
            assert row["step"] == "done" and row["verification"].startswith("PASSED ("), (n, row)
            pools = row["reimage_pools"]
            assert pools and all(p["done"] == p["total"] > 0 for p in pools), (n, pools)
            assert row["reimage"] == ", ".join(f"{p['pool']} {p['done']}/{p['total']}" for p in pools)
            assert row["verification_counts"]["probes"] > 0 and row["verification_counts"]["unexplained"] == 0
            assert row["flow_run_url"] == env["PREFECT_API_URL"].removesuffix("/api") + "/runs/flow-run/" + \
                row["flow_run"]
        approvals = {a["wave"]: a for a in doc["approvals"]}
        assert approvals[1]["approved"] and approvals[1]["approver"] == "alice@example.com"
        assert approvals[1]["comment"] == "CHG-4711" and approvals[1]["via"] == "cli"
        report = (waves.with_name("waves.run") / "fleet-report.md").read_text()
        assert "**Done**" in report and "alice@example.com" in report and "CHG-4711" in report
        assert "![Fleet progress" in report and (waves.with_name("waves.run") / "fleet-progress.png").is_file()
        assert report.count("[report.md](") == len(done)
        plans = waves.with_name("waves-plans")
        for n in done:
            puts = [json.loads(x) for x in (members[n] / "arm-requests.jsonl").read_text().splitlines()
                    if x.strip() and json.loads(x).get("network_profile_change")]
            assert len(puts) == 1, (n, puts)
            assert (plans / f"{n}.run" / "report.md").is_file(), n
