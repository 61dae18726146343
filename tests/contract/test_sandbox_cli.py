"""The sandbox as a user drives it: `aks-netmig sandbox start --detach`, kubectl, `sandbox fault`, `sandbox stop`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from netmig_sandbox.control import process_alive
from netmig_sandbox.runtime import DEFAULT_POLL_SECONDS

AKS_NETMIG = [sys.executable, "-m", "netmig.cli.main"]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AKS_NETMIG, *args], capture_output=True, text=True, check=check, timeout=240)


@pytest.fixture
def detached(tmp_path: Path):  # type: ignore[no-untyped-def]
    directory = tmp_path / "sb"
    out = run("sandbox", "start", "--scenario", "npm", "--dir", str(directory), "--detach", "--time-scale", "0.001")
    assert "running" in out.stdout
    yield directory
    run("sandbox", "stop", "--dir", str(directory), check=False)


def test_start_detached_writes_the_contract_files(detached: Path) -> None:
    info = json.loads((detached / "sandbox.json").read_text())
    assert set(info) >= {"arm_endpoint", "subscription_id", "resource_group", "cluster_name", "ca_bundle", "token",
                         "kubeconfig", "poll_seconds"}
    assert info["poll_seconds"] == DEFAULT_POLL_SECONDS  # the sandbox's pace: what the product polls it at
    assert info["arm_endpoint"].startswith("https://127.0.0.1:")
    assert Path(info["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert Path(info["kubeconfig"]) == detached / "kubeconfig"
    assert (detached / "sandbox.pid").exists()


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_lists_the_nodes_of_a_detached_sandbox(detached: Path) -> None:
    out = subprocess.run(["kubectl", "--kubeconfig", str(detached / "kubeconfig"), "get", "nodes"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].split()[:2] == ["NAME", "STATUS"]
    names = [line.split()[0] for line in lines[1:]]
    assert len(names) == 6  # npm scenario: 3 system + 3 user nodes
    assert all(n.startswith("aks-") for n in names)
    assert all(line.split()[1] == "Ready" for line in lines[1:])


def test_stop_ends_the_process_and_removes_token_files(detached: Path) -> None:
    pid = int((detached / "sandbox.pid").read_text())
    out = run("sandbox", "stop", "--dir", str(detached))
    assert "stopped" in out.stdout
    assert not (detached / "sandbox.json").exists()
    assert not (detached / "kubeconfig").exists()
    assert not process_alive(pid)
    again = run("sandbox", "stop", "--dir", str(detached))
    assert "no sandbox was running" in again.stdout


def test_a_second_start_in_the_same_dir_is_refused_with_a_fix(detached: Path) -> None:
    out = run("sandbox", "start", "--scenario", "npm", "--dir", str(detached), "--detach", check=False)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "already running" in out.stderr and "sandbox stop" in out.stderr
    assert "Traceback" not in out.stderr


def test_unknown_scenario_is_a_one_line_error(tmp_path: Path) -> None:
    out = run("sandbox", "start", "--scenario", "nope", "--dir", str(tmp_path / "x"), "--detach", check=False)
    assert out.returncode == 2
    assert "unknown scenario 'nope'" in out.stderr and "npm" in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "x" / "sandbox.pid").exists()


def test_fault_command_injects_a_throttle_seen_in_the_request_log(detached: Path) -> None:
    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir

    run("sandbox", "fault", "--dir", str(detached), "--target", "arm", "--status", "429", "--code", "TooManyRequests",
        "--retry-after", "0", "--method", "GET", "--path", "managedClusters/[^/]+$", "--times", "1")
    info = AksGateway(from_sandbox_dir(detached), polling_interval=0.01).cluster()
    assert info.provisioning_state == "Succeeded"
    statuses = [json.loads(line)["status"] for line in (detached / "arm-requests.jsonl").read_text().splitlines()
                if json.loads(line)["method"] == "GET"]
    assert 429 in statuses  # the SDK retried past the injected throttle
