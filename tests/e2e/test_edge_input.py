"""Issue 10, findings 4, 9 and 11, reproduced as a user meets them (``aks-netmig`` subprocesses on a sandbox):

- 4: a plan made with ``--sandbox`` remembers its connection (the folder, never the token): ``apply PLAN --yes``
  with no address flag runs (as the Prefect flow), and ``status`` / ``abort`` / ``restore`` use it too; with no
  usable credential, or an ARM endpoint that does not answer, apply stops in one line naming what was tried and
  the fix -- before any Prefect server starts.
- 9: ``apply --dry-run`` shows the very request apply then sends (method, path, api-version, If-Match, the body's
  networkProfile), as the sandbox's ARM log records it. (The hand-edited plans are in tests/cli/test_bad_input.py
  and tests/unit/engine/test_plan_integrity.py.)
- 11: ARM 500s on GET cluster after the PUT, Kubernetes 500s on nodes and 403 on leases end in one line naming the
  cluster's state and the next command, after the retries, on the library and the Prefect paths; the rerun then
  completes with exactly one network-profile PUT.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig_sandbox.faults import Fault
from tests.e2e.migrate_helpers import EXE, ROOT, cli, make_plan, profile_puts

CLUSTER_PATH = r"/managedClusters/aks-npm$"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A Prefect-capable environment with its own PREFECT_HOME and no Azure credential in it."""
    home = tmp_path / "prefect-home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "PREFECT_API_URL", "IDENTITY_",
                                                                    "MSI_"))}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", NETMIG_ORCHESTRATOR="prefect",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180", HOME=str(tmp_path), **extra)
    return env


def _run(args: list[str], env: dict[str, str], timeout: float = 600) -> tuple[int, str, str]:
    """An ``aks-netmig`` process in its own session, killed with its group afterwards (no Prefect server left)."""
    proc = subprocess.Popen([*EXE, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=ROOT, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out, err


def _error_line(err: str) -> str:
    """The error line (a failure after a change adds the cluster's state as the last line after it)."""
    lines = [x for x in err.splitlines() if x.startswith("error: ")]
    assert lines, err[-3000:]
    return lines[-1]


# ------------------------------------------------------------------------------------------------- finding 4
def test_a_plan_remembers_its_sandbox_and_apply_status_abort_restore_use_it(sandbox_factory: Any,
                                                                            tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "p.yaml"
    make_plan(sb.directory, plan)
    doc = yaml.safe_load(plan.read_text())
    assert doc["connection"] == {"sandbox": str(Path(sb.directory).resolve()), "ca_bundle": None}
    token = json.loads((Path(sb.directory) / "sandbox.json").read_text())["token"]
    assert token not in plan.read_text()

    code, out, err = _run(["apply", str(plan), "--yes"], _env(tmp_path))  # the Prefect flow, no address flag
    assert code == 0, err[-4000:]
    assert "Migration" in out and "done" in out
    assert len(profile_puts(Path(sb.directory))) == 1
    assert token not in (tmp_path / "p.run" / "journal.jsonl").read_text()

    res = cli("status", str(plan), "--json")  # no address flag: the cluster is read through the plan
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["done"] is True and doc["cluster"]["provisioning_state"] == "Succeeded"
    assert doc["cluster"]["network"] == "azure-cni + cilium"
    res = cli("abort", str(plan), "--yes", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["in_flight"] is False, res.stderr
    [backup] = sorted((tmp_path / "p.run").glob("backup-*"))
    res = cli("restore", str(backup), "--dry-run")
    assert res.returncode == 0, res.stderr
    assert "would create 0" in res.stdout
    assert len(profile_puts(Path(sb.directory))) == 1


def test_no_credential_or_an_unreachable_endpoint_is_one_line_before_any_prefect_server(
        sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "p.yaml"
    make_plan(sb.directory, plan)
    real = tmp_path / "real.yaml"  # the same plan as for a real cluster: no sandbox remembered
    doc = yaml.safe_load(plan.read_text())
    doc["connection"] = {"sandbox": None, "ca_bundle": None}
    real.write_text(yaml.safe_dump(doc, sort_keys=False))
    env = _env(tmp_path)
    code, out, err = _run(["apply", str(real), "--yes"], env, timeout=180)
    assert code == 2, err
    [line] = [x for x in err.splitlines() if x.strip()]
    assert "no Azure credential is available (DefaultAzureCredential tried environment variables" in line
    assert "az login" in line and "nothing was changed" in line and "Traceback" not in err + out
    assert "Starting temporary server" not in err + out
    assert list(Path(env["PREFECT_HOME"]).iterdir()) == []  # no Prefect server (and no database) was started

    dead = tmp_path / "dead"
    dead.mkdir()
    info = json.loads((Path(sb.directory) / "sandbox.json").read_text())
    (dead / "sandbox.json").write_text(json.dumps({**info, "arm_endpoint": "https://127.0.0.1:9"}))
    code, out, err = _run(["apply", str(plan), "--yes", "--sandbox", str(dead)], env, timeout=180)
    assert code == 2, err
    [line] = [x for x in err.splitlines() if x.strip()]
    assert line.startswith("error: cannot reach rg-netmig-sandbox/aks-npm at https://127.0.0.1:9") and \
        "unreachable" in line and "nothing was changed" in line
    assert list(Path(env["PREFECT_HOME"]).iterdir()) == []
    assert profile_puts(Path(sb.directory)) == [] and not (tmp_path / "p.run").exists()


# ------------------------------------------------------------------------------------------------- finding 9
def test_dry_run_shows_the_request_apply_sends(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "p.yaml"
    make_plan(sb.directory, plan)
    res = cli("apply", str(plan), "--dry-run")
    assert res.returncode == 0, res.stderr
    m = re.search(r"ARM request \(step update-network\): PUT (\S+)\?api-version=(\S+)\n\s+If-Match: (\S+)\n\s+"
                  r"body.properties.networkProfile: (\{.*\})", res.stdout)
    assert m is not None, res.stdout
    path, api_version, if_match, body = m.group(1), m.group(2), m.group(3), json.loads(m.group(4))
    assert if_match == f'"{yaml.safe_load(plan.read_text())["etag"]}"'  # the plan's etag, quoted on the wire
    assert (body["networkPolicy"], body["networkDataplane"]) == ("cilium", "cilium")
    assert profile_puts(Path(sb.directory)) == []

    res = cli("apply", str(plan), "--yes", "--no-prefect")
    assert res.returncode == 0, res.stderr[-3000:]
    [put] = profile_puts(Path(sb.directory))
    assert (put["path"], put["api_version"], put["if_match"], put["network_profile"]) == (
        path, api_version, if_match, body)


# ------------------------------------------------------------------------------------------------ finding 11
def _wait(proc: subprocess.Popen[bytes], timeout: float = 300) -> str:
    watchdog = threading.Timer(timeout, lambda: proc.poll() is None and proc.send_signal(signal.SIGKILL))
    watchdog.start()
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
    finally:
        watchdog.cancel()
    if os.WIFSTOPPED(status):
        return "stopped"
    proc.returncode = os.waitstatus_to_exitcode(status)
    return f"exit {proc.returncode}"


@pytest.mark.parametrize("orchestrator", ["no-prefect", "prefect"])
def test_arm_500s_on_get_cluster_after_the_put_end_in_one_line_with_state_and_next_command(
        sandbox_factory: Any, tmp_path: Path, orchestrator: str) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "p.yaml"
    make_plan(sb.directory, plan)
    args = ["apply", str(plan), "--yes", f"--{orchestrator}"]
    env = _env(tmp_path, NETMIG_TEST_PAUSE_AT="update-network:after")
    err_file = tmp_path / "apply.err"
    with err_file.open("wb") as err:
        proc = subprocess.Popen([*EXE, *args], stdout=subprocess.DEVNULL, stderr=err, env=env, cwd=ROOT,
                                start_new_session=True)
    try:
        assert _wait(proc) == "stopped"  # the PUT was answered; the reimage runs on ARM
        assert len(profile_puts(Path(sb.directory))) == 1
        # ARM 500 x20 on GET cluster (the library path: one watch read after the SDK's retries); the Prefect path
        # retries the step twice more, so there the fault lasts until cleared
        times = 20 if orchestrator == "no-prefect" else None
        sb.run(lambda ctx: ctx.faults.add(Fault(target="arm", method="GET", path=CLUSTER_PATH, times=times)))
        proc.send_signal(signal.SIGCONT)
        outcome = _wait(proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    stderr = err_file.read_text()
    assert outcome in ("exit 1", "exit 4"), stderr[-3000:]  # 4: "failed after the cluster was changed" (#10)
    line = _error_line(stderr)
    assert line.startswith("error: ARM: reading cluster rg-netmig-sandbox/aks-npm: InternalServerError"), line
    assert "(after retries)" in line
    assert "cluster state: the network-profile change of step update-network was sent" in line
    assert f"next: see aks-netmig status {plan}, then rerun aks-netmig apply {plan} --yes --{orchestrator}" in line
    if orchestrator == "no-prefect":
        assert "Traceback" not in stderr
        others = [x for x in stderr.splitlines() if x.strip() and not x.startswith("{")]
        # the one error line, then (exit 4, #10) the last line: the cluster's state and the resume command
        assert others[0] == line and len(others) == 2, stderr[-3000:]
        assert others[1].startswith("cluster is ") and "azure-cni + cilium" in others[1], others[1]
        assert "resume with: aks-netmig apply" in others[1]

    sb.run(lambda ctx: ctx.faults.clear())
    code, _, err = _run(args, _env(tmp_path))
    assert code == 0, err[-3000:]
    assert len(profile_puts(Path(sb.directory))) == 1  # re-attached, never re-sent


@pytest.mark.parametrize(("fault", "expected"), [
    (Fault(target="kube", method="GET", path=r"^/api/v1/nodes$", times=5), "error: Kubernetes API: "),
    (Fault(target="kube", path=r"/leases", times=None, status=403, code="Forbidden",
           message="leases.coordination.k8s.io is forbidden"), "error: Kubernetes API: "),
], ids=["kube-500x5-nodes", "kube-403-leases"])
def test_kubernetes_faults_end_in_one_line_and_change_nothing(sandbox_factory: Any, tmp_path: Path, fault: Fault,
                                                              expected: str) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    plan = tmp_path / "p.yaml"
    make_plan(sb.directory, plan)
    sb.run(lambda ctx: ctx.faults.add(fault))
    res = cli("apply", str(plan), "--yes", "--no-prefect")
    assert res.returncode == 1, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip() and not x.startswith("{")]
    # one error line; when the fault hits a preflight check (nodes are read there) the check "could not run" and a
    # last line names the cluster's state and the next command (#10: "the last line of every failure")
    assert 1 <= len(lines) <= 2, res.stderr[-3000:]
    line = lines[0]
    if fault.status == 403:
        assert line.startswith(expected), line
        assert "(permission:" in line
        assert "cluster state: nothing was changed on the cluster" in line
        assert f"next: rerun aks-netmig apply {plan} --yes --no-prefect once the cause is fixed" in line
    else:
        assert line.startswith("error: preflight failed: policy-analysis: the check could not run"), line
        assert "listing Nodes: injected fault" in line and "cannot be accepted" in line
        assert lines[-1] == (f"cluster unchanged (azure-cni + npm), nothing was changed; next: aks-netmig apply "
                             f"{plan} --yes --no-prefect")
    assert profile_puts(Path(sb.directory)) == []
