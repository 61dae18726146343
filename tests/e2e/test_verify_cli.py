"""``aks-netmig verify`` as a user runs it: every command with ``--kubeconfig FILE`` alone (no ARM), and SIGTERM
sent to a real ``verify snapshot`` process while it probes a detached sandbox."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.kube.gateway import KubeGateway
from netmig.kube.probes import NAMESPACE_PREFIX
from netmig.verify import snapshot as snapmod
from netmig.verify.identity import PROBE_RUN_LABEL
from tests.polling import until as _until

pytestmark = pytest.mark.e2e
AKS_NETMIG = [sys.executable, "-m", "netmig.cli.main"]


def _arm_requests(directory: Path) -> int:
    log = directory / "arm-requests.jsonl"
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_every_verify_command_works_with_kubeconfig_alone(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm")
    kc = tmp_path / "elsewhere" / "kubeconfig"  # away from sandbox.json: nothing could lead to ARM
    kc.parent.mkdir()
    shutil.copy(sb.directory / "kubeconfig", kc)
    arm_before = _arm_requests(sb.directory)
    runner = CliRunner()
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    def run(*args: str, code: int = 0) -> Any:
        res = runner.invoke(cli, ["verify", *args])
        assert res.exit_code == code, (args, res.output, res.stderr)
        return res

    assert "4/4 expectations met" in run("seed-demo", "--kubeconfig", str(kc)).stdout
    assert "4/4 expectations met" in run("--kubeconfig", str(kc), "--scenario", "seed-demo").stdout
    res = run("snapshot", "--kubeconfig", str(kc), "--out", str(first))
    assert "0 cells differ from npm" in res.stdout  # the engine comes from the nodes' labels
    progress = [json.loads(line) for line in res.stderr.splitlines()]  # stderr is not a TTY: log lines, no \r
    assert progress and progress[-1]["event"] == "probe pods finished"
    assert progress[-1]["done"] == progress[-1]["total"] == snapmod.load(first).stats["probe_pods"]
    run("--kubeconfig", str(kc), "snapshot", "--out", str(second), "--quiet", "--baseline", str(first))
    assert snapmod.load(second).engine == "npm"
    doc = json.loads(run("expect", "--kubeconfig", str(kc), "--json").stdout)
    assert doc["engine"] == "npm" and doc["mismatches"] == [] and doc["probes"] > 0
    assert "0 of" in run("expect", "--snapshot", str(first), "--engine", "npm").stdout
    cmp = run("compare", str(first), str(second)).stdout  # the same cluster twice: nothing changed, exit 0
    assert "0 changed" in cmp and "0 cells only before, 0 only after" in cmp
    assert "removed 0 probe pods and 0 probe namespaces" in run("cleanup", "--kubeconfig", str(kc)).stdout
    assert _arm_requests(sb.directory) == arm_before


def _aks_netmig(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AKS_NETMIG, *args], capture_output=True, text=True, timeout=240, check=False)


@pytest.fixture
def detached(tmp_path: Path) -> Iterator[Path]:
    """A sandbox of scenario npm in its own process (``sandbox start --detach``), stopped at the end."""
    d = tmp_path / "sb"
    res = _aks_netmig("sandbox", "start", "--dir", str(d), "--detach", "--time-scale", "0.001")
    assert res.returncode == 0, res.stderr
    try:
        yield d
    finally:
        _aks_netmig("sandbox", "stop", "--dir", str(d))


def _hold_new_pods(gw: KubeGateway) -> None:
    """Mark every node NotReady: running workloads stay Running, but a new pod bound to a node (as probe pods are,
    through spec.nodeName) stays Pending, so the probe run is still waiting for its pods when the signal comes."""
    for name in [n["metadata"]["name"] for n in gw.nodes()]:
        node = gw.api.sanitize_for_serialization(gw.core.read_node_status(name))
        conditions = [c for c in node["status"].get("conditions") or [] if c["type"] != "Ready"]
        node["status"]["conditions"] = [*conditions, {"type": "Ready", "status": "False", "reason": "KubeletNotReady",
                                                      "message": "held by the test"}]
        gw.core.replace_node_status(name, node)


def _probe_state(gw: KubeGateway) -> tuple[list[str], list[str]]:
    namespaces = [n["metadata"]["name"] for n in gw.namespaces() if n["metadata"]["name"].startswith(NAMESPACE_PREFIX)]
    pods = [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in gw.pods(label_selector=PROBE_RUN_LABEL)]
    return namespaces, pods


def test_sigterm_during_a_probe_run_removes_probe_pods_and_namespace(detached: Path, tmp_path: Path) -> None:
    gw = KubeGateway(detached / "kubeconfig")
    try:
        _hold_new_pods(gw)
        proc = subprocess.Popen([*AKS_NETMIG, "verify", "snapshot", "--sandbox", str(detached), "--out",
                                 str(tmp_path / "snap.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            def probing() -> bool:
                namespaces, pods = _probe_state(gw)
                return bool(namespaces and pods) or proc.poll() is not None
            _until(probing, 120, "the probe namespace and probe pods")
            assert proc.poll() is None, proc.communicate()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("error: SIGTERM received while probing: the probe pods and the probe namespace "
                                   "were removed"), err
        assert _probe_state(gw) == ([], [])  # checked once: the command waited for the cleanup before exiting
        assert not (tmp_path / "snap.json").exists()
    finally:
        gw.close()


def test_target_and_budget_cover_every_predicted_change_and_say_so(sandbox_factory: Any, tmp_path: Path) -> None:
    """npm scenario, NPM -> Cilium: a roomy budget probes everything; a budget the predicted cells alone cannot fit
    stops up front with one line (exit 2) and leaves no probe pod behind."""
    sb = sandbox_factory("npm")
    runner = CliRunner()
    out = tmp_path / "s.json"
    res = runner.invoke(cli, ["verify", "snapshot", "--sandbox", str(sb.directory), "--target", "cilium",
                              "--budget", "10m", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    cov = snapmod.load(out).coverage
    assert cov["predicted_changes"]["cells"] > 0
    assert cov["predicted_changes"]["probed"] == cov["predicted_changes"]["cells"]
    assert cov["stable"]["probed"] == cov["stable"]["cells"] and cov["stable"]["method"] == "all"
    assert cov["probes"] == len(snapmod.load(out).cells) and cov["budget_s"] == 600
    assert f"all {cov['predicted_changes']['cells']} predicted changes probed" in res.stdout
    tight = runner.invoke(cli, ["verify", "snapshot", "--sandbox", str(sb.directory), "--target", "cilium",
                                "--budget", "0.01s", "--concurrency", "1", "--out", str(tmp_path / "t.json"),
                                "--quiet"])
    assert tight.exit_code == 2, tight.output
    line = tight.output.strip()
    assert "predicted-change/baseline cells need about" in line and "--no-budget" in line
    assert "Traceback" not in line and len(line.splitlines()) == 1
    assert not (tmp_path / "t.json").exists()
    gw = KubeGateway(sb.directory / "kubeconfig")
    try:
        assert gw.pods(label_selector=PROBE_RUN_LABEL) == []
    finally:
        gw.close()


def test_api_rate_limiting_slows_probe_pod_creation_and_loses_nothing(sandbox_factory: Any, tmp_path: Path) -> None:
    """429 + Retry-After on creating probe pods: the run waits as told, lowers its concurrency and still probes
    every planned cell."""
    from netmig_sandbox.faults import Fault

    sb = sandbox_factory("npm")
    sb.run(lambda ctx: ctx.faults.add(Fault("kube", status=429, code="TooManyRequests", method="POST",
                                            path="/pods$", times=3, retry_after=0.05)))
    out = tmp_path / "s.json"
    res = CliRunner().invoke(cli, ["verify", "snapshot", "--sandbox", str(sb.directory), "--target", "cilium",
                                   "--concurrency", "8", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.stdout)["stats"]
    assert st["throttled"] == 3 and st["concurrency_end"] == st["concurrency"] - 3
    cov = snapmod.load(out).coverage
    assert cov["predicted_changes"]["probed"] == cov["predicted_changes"]["cells"]
    assert cov["stable"]["probed"] == cov["stable"]["cells"]
    assert all(c.outcome != "error" for c in snapmod.load(out).cells)
