"""kubenet(+Calico) -> Azure CNI Overlay (plans/kubenet-to-overlay.yaml) on the sandbox, end to end.

- the direct path on ``kubenet-calico``: one PUT; ARM network profile azure/overlay with Calico kept; node labels
  (azure-cni-overlay, podnetwork-type, network-policy); DaemonSets azure-cns and calico-node; policies present;
  pods re-addressed, connectivity compared before/after keyed by workload identity with no change; one-way stated
  in the plan, at the approval gate and in the report;
- ``kubenet-overlap``: the preflight names the VNet ranges the kept pod CIDR overlaps; with ``--pod-cidr`` the
  ipBlock rule that selected pods by the old CIDR must be accepted; the report shows old and new pod CIDR and the
  predicted connectivity changes;
- the fallback on ``kubenet-calico-blocked``: without ``--allow-fallback`` apply stops after ARM's refusal with one
  line and the exact command to plan again; with it: three PUTs each exactly once (policy none -> overlay ->
  calico), the unenforced window in the plan and the report, policies restored and verified;
- SIGKILL (NETMIG_TEST_KILL_AT) of apply on a detached sandbox along both paths: every rerun resumes and the ARM
  log shows exactly one PUT per change; a NetworkPolicy deleted during the fallback's unenforced window is
  re-created by the restore step;
- preflight failing with a clear reason on scenarios built to fail it;
- ``aks-netmig demo --migration kubenet-to-overlay`` (here on the blocked scenario: the fallback path).
"""

from __future__ import annotations

import ipaddress
import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig_sandbox import scenarios
from tests.e2e.migrate_helpers import cli as run_cli
from tests.e2e.migrate_helpers import profile_puts, start_detached, stop

KIND = "kubenet-to-overlay"
POLICY = "kubernetes.azure.com/network-policy"
OVERLAY = "kubernetes.azure.com/azure-cni-overlay"
PODNET = "kubernetes.azure.com/podnetwork-type"
BLOCKED = "KubenetCalicoToOverlayMigrationNotSupported"


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def _plan(sb_dir: Path, out: Path, *extra: str) -> Any:
    return _run("plan", "--sandbox", str(sb_dir), "--migration", KIND, "--out", str(out), *extra)


def _journal(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (run_dir / "journal.jsonl").read_text().splitlines()]


def _value(events: list[dict[str, Any]], key: str) -> Any:
    return next(e["value"] for e in reversed(events) if e.get("key") == key)


def _refused(sb_dir: Path) -> list[dict[str, Any]]:
    out = []
    for line in (sb_dir / "arm-requests.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["method"] == "PUT" and "/managedClusters/" in e["path"] and e["status"] == 400:
            out.append(e)
    return out


def _state(sb: Any) -> dict[str, Any]:
    """ARM profile, nodes, DaemonSets, NetworkPolicies and pods of an in-process sandbox."""
    def read(ctx: Any) -> dict[str, Any]:
        return {"profile": dict(ctx.arm.profile), "route_table": ctx.arm.network.route_table_id,
                "nodes": ctx.store.list(("", "nodes")), "ds": ctx.store.list(("apps", "daemonsets")),
                "netpols": ctx.store.list(("networking.k8s.io", "networkpolicies")),
                "pods": ctx.store.list(("", "pods"))}
    state: dict[str, Any] = sb.run(read)
    return state


def _assert_overlay_end_state(state: dict[str, Any], pod_cidr: str, policy: str = "calico") -> None:
    p = state["profile"]
    assert (p["networkPlugin"], p.get("networkPluginMode"), p["networkPolicy"], p["podCidr"]) == (
        "azure", "overlay", policy, pod_cidr)
    nodes = state["nodes"]
    assert len(nodes) == 6
    for n in nodes:
        labels = n["metadata"]["labels"]
        assert (labels[OVERLAY], labels[PODNET], labels[POLICY]) == ("true", "overlay", policy), n["metadata"]["name"]
        assert ipaddress.ip_network(n["spec"]["podCIDR"]).subnet_of(ipaddress.ip_network(pod_cidr))  # type: ignore[arg-type]
    ready = {f"{d['metadata']['namespace']}/{d['metadata']['name']}": d.get("status") or {} for d in state["ds"]}
    for name in ("kube-system/azure-cns", "calico-system/calico-node", "kube-system/kube-proxy"):
        assert ready[name].get("numberReady") == 6, (name, ready[name])
    workload_ips = [pod["status"]["podIP"] for pod in state["pods"]
                    if not (pod["spec"].get("hostNetwork")) and (pod.get("status") or {}).get("podIP")
                    and not pod["metadata"]["namespace"].startswith("netmig-")]
    assert workload_ips and all(ipaddress.ip_address(ip) in ipaddress.ip_network(pod_cidr) for ip in workload_ips)


def _identity_keyed(run_dir: Path) -> tuple[set[tuple[str, str, int]], list[tuple[str, str]]]:
    """The (src, dst, port) cell keys probed before and after (identical sets: cells are workload identities) and,
    per pod cell, the destination address probed before and after (pods were re-created with new addresses)."""
    before = json.loads((run_dir / "snapshot-before.json").read_text())
    after = json.loads((run_dir / "snapshot-after.json").read_text())
    keys = {(c["src"], c["dst"], c["port"]) for c in before["cells"]}
    assert keys == {(c["src"], c["dst"], c["port"]) for c in after["cells"]}
    hosts = {(c["src"], c["dst"], c["port"]): c["host"] for c in after["cells"] if c["kind"] == "pod"}
    return keys, [(c["host"], hosts[(c["src"], c["dst"], c["port"])]) for c in before["cells"] if c["kind"] == "pod"
                  and not c["dst"].startswith("monitoring/daemonset/")]  # hostNetwork: node addresses


def test_direct_path_kubenet_calico_to_overlay(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("kubenet-calico", time_scale=0.002)
    plan = tmp_path / "overlay.yaml"
    res = _plan(sb.directory, plan)
    assert res.exit_code == 0, res.output
    assert "ONE-WAY" in res.output and "NOT allowed (plan again with --allow-fallback" in res.output
    doc = yaml.safe_load(plan.read_text())
    assert doc["irreversible"] and "ONE-WAY" in doc["irreversible_reason"]
    assert doc["arm_changes"][0]["network_profile"] == {"networkPlugin": "azure", "networkPluginMode": "overlay"}
    assert doc["target"]["pod_cidr"] == doc["source"]["pod_cidr"] == "10.244.0.0/16"  # kept: no --pod-cidr
    fallback = next(v for v in doc["variants"] if v["name"] == "fallback")
    assert not fallback["allowed"] and len(fallback["arm_changes"]) == 3

    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect")  # no TTY, no --yes
    assert res.exit_code == 3 and "awaiting approval" in res.output
    assert "ONE-WAY, there is no way back" in res.output  # the approval gate says so in words
    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output[-3000:]
    assert len(profile_puts(sb.directory)) == 1 and _refused(sb.directory) == []

    state = _state(sb)
    _assert_overlay_end_state(state, "10.244.0.0/16")
    assert state["route_table"] is None  # AKS's own kubenet route table is gone
    assert sorted(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in state["netpols"]) == [
        "api/allow-http-from-web", "api/ledger-port-range", "data/db-allow-pod-cidr", "data/default-deny",
        "monitoring/prober-egress", "web/frontend-from-gateway"]

    run_dir = tmp_path / "overlay.run"
    result = _value(_journal(run_dir), "verify-result")
    assert result["probes"] > 50 and (result["changes"], result["unexplained"], result["mismatches"]) == (0, 0, 0)
    keys, hosts = _identity_keyed(run_dir)
    assert ("web/deployment/gateway", "data/deployment/db", 5432) in keys
    assert sum(b != a for b, a in hosts) > len(hosts) // 2  # most probed pods have a new address
    report = (run_dir / "report.md").read_text()
    assert "**PASSED**" in report and "**direct**" in report and "ONE-WAY" in report
    assert "- pod CIDR: 10.244.0.0/16 (kubenet) -> 10.244.0.0/16 (azure-cni-overlay)" in report
    assert "no unenforced window" in report


def test_overlapping_pod_cidr_is_named_then_a_new_pod_cidr_migrates(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("kubenet-overlap", time_scale=0.002)
    plan = tmp_path / "overlap.yaml"
    res = _plan(sb.directory, plan)
    assert res.exit_code == 1
    assert ("overlay-pod-cidr: pod CIDR 10.244.0.0/16 overlaps the subnet rg-network/vnet-spoke/snet-shared "
            "10.244.240.0/24; the address space of the VNet rg-network/vnet-spoke 10.244.0.0/16") in res.output

    res = _plan(sb.directory, plan, "--pod-cidr", "192.168.0.0/16")
    assert res.exit_code == 1 and "[ok  ] overlay-pod-cidr: pod CIDR 192.168.0.0/16" in res.output
    assert ("overlay-ipblock-pod-cidr: pods move from 10.244.0.0/16 to 192.168.0.0/16, so these ipBlock rules stop "
            "matching them: data/db-allow-pod-cidr (ipBlock 10.244.0.0/16)") in res.output
    res = _plan(sb.directory, plan, "--pod-cidr", "192.168.0.0/16", "--accept", "overlay-ipblock-pod-cidr")
    assert res.exit_code == 0, res.output
    doc = yaml.safe_load(plan.read_text())
    assert doc["arm_changes"][0]["network_profile"] == {
        "networkPlugin": "azure", "networkPluginMode": "overlay", "podCidr": "192.168.0.0/16"}

    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output[-3000:]
    assert len(profile_puts(sb.directory)) == 1
    state = _state(sb)
    _assert_overlay_end_state(state, "192.168.0.0/16")
    assert state["route_table"].endswith("/routeTables/rt-aks")  # a BYO route table stays attached

    run_dir = tmp_path / "overlap.run"
    result = _value(_journal(run_dir), "verify-result")
    assert result["changes"] > 0 and result["unexplained"] == 0 and result["mismatches"] == 0
    assert {c["dst"] for c in result["changes_detail"]} == {"data/deployment/db", "data/service/db"}
    assert all("data/db-allow-pod-cidr" in c["explanation"] for c in result["changes_detail"])
    _, hosts = _identity_keyed(run_dir)
    old_net, new_net = ipaddress.ip_network("10.244.0.0/16"), ipaddress.ip_network("192.168.0.0/16")
    assert hosts and all(ipaddress.ip_address(b) in old_net and ipaddress.ip_address(a) in new_net for b, a in hosts)
    report = (run_dir / "report.md").read_text()
    assert "- pod CIDR: 10.244.0.0/16 (kubenet) -> 192.168.0.0/16 (azure-cni-overlay)" in report
    assert "**PASSED**" in report


def test_fallback_path_when_arm_refuses_the_direct_change(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("kubenet-calico-blocked", time_scale=0.002)
    plan = tmp_path / "blocked.yaml"
    assert _plan(sb.directory, plan).exit_code == 0
    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")
    assert res.exit_code == 1
    error = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and f"ARM refused update-network ({BLOCKED}); the cluster is unchanged" in error[0]
    plan = tmp_path / "blocked-fallback.yaml"  # a new plan, a new run folder
    assert error[0].endswith(f"re-plan with it allowed: aks-netmig plan --sandbox {sb.directory} --migration {KIND} "
                             f"--out {plan} --allow-fallback")
    assert profile_puts(sb.directory) == [] and len(_refused(sb.directory)) == 1
    assert _state(sb)["profile"]["networkPlugin"] == "kubenet"

    res = _plan(sb.directory, plan, "--allow-fallback")
    assert res.exit_code == 0, res.output
    assert "fallback: network policy none -> Azure CNI Overlay -> network policy calico" in res.output
    assert "ALLOWED by this plan" in res.output and "UNENFORCED WINDOW" in res.output
    doc = yaml.safe_load(plan.read_text())
    fallback = next(v for v in doc["variants"] if v["name"] == "fallback")
    assert fallback["allowed"] and fallback["reimages"] == 3
    assert [c["network_profile"] for c in fallback["arm_changes"]] == [
        {"networkPolicy": "none"}, {"networkPlugin": "azure", "networkPluginMode": "overlay"},
        {"networkPolicy": "calico"}]

    res = _run("apply", str(plan), "--sandbox", str(sb.directory), "--no-prefect", "--yes")
    assert res.exit_code == 0, res.output[-3000:]
    assert len(profile_puts(sb.directory)) == 3 and len(_refused(sb.directory)) == 2  # one refusal per apply
    events = _journal(tmp_path / "blocked-fallback.run")
    puts = [(e["step"], e["target"]["plugin"], e["target"]["policy"]) for e in events if e["event"] == "arm-put"]
    assert puts == [("update-network", "azure", "calico"), ("policy-none", "kubenet", "none"),
                    ("overlay", "azure", "none"), ("policy-calico", "azure", "calico")]
    assert _value(events, "variant") == "fallback"
    state = _state(sb)
    _assert_overlay_end_state(state, "10.244.0.0/16")
    assert len(state["netpols"]) == 6
    window = _value(events, "unenforced-window")
    assert window["from_step"] == "policy-none" and window["to_step"] == "fallback-calico-ready"
    assert window["seconds"] > 0
    report = (tmp_path / "blocked-fallback.run" / "report.md").read_text()
    assert "**fallback**" in report and f"refused ({BLOCKED}), cluster unchanged" in report
    assert "**Unenforced window**: NetworkPolicies were not enforced from" in report and "UNENFORCED WINDOW" in report
    assert "all 6 are present with the same spec and labels" in report and "**PASSED**" in report


# Kill points (README "Test hooks"); a watch event point follows a point before its PUT, so the rerun that sends
# the PUT is the one killed in the middle of that reimage.
CHAINS = {
    "direct": ("kubenet-calico", [], ["watch-reimage:event=5", "verify:before"]),
    "fallback": ("kubenet-calico-blocked", ["--allow-fallback"],
                 ["update-network:after", "watch-policy-none:event=4", "overlay:before", "watch-overlay:event=3",
                  "policy-calico:after", "restore-policies:before"]),
}


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_sigkill_at_steps_and_mid_reimage_then_rerun_sends_each_change_once(chain: str, tmp_path: Path) -> None:
    scenario, extra, points = CHAINS[chain]
    sb = tmp_path / "sb"
    start_detached(sb, scenario)
    try:
        plan = tmp_path / "p.yaml"
        res = run_cli("plan", "--sandbox", str(sb), "--migration", KIND, "--out", str(plan), *extra)
        assert res.returncode == 0, res.stdout + res.stderr
        for point in points:
            res = run_cli("apply", str(plan), "--sandbox", str(sb), "--yes", env={"NETMIG_TEST_KILL_AT": point})
            assert res.returncode == -signal.SIGKILL, (point, res.returncode, res.stderr[-2000:])
            if point == "watch-overlay:event=3":  # mid-window someone deletes a policy; the restore re-creates it
                _delete_networkpolicy(sb, "data", "default-deny")
        res = run_cli("apply", str(plan), "--sandbox", str(sb), "--yes")
        assert res.returncode == 0, res.stderr[-3000:]
        assert len(profile_puts(sb)) == (3 if chain == "fallback" else 1)
        journal = (tmp_path / "p.run" / "journal.jsonl").read_text()
        assert journal.count('"event": "run-start"') == len(points) + 1
        report = (tmp_path / "p.run" / "report.md").read_text()
        assert "**PASSED**" in report
        if chain == "fallback":
            assert "re-created: data/default-deny" in report and "**Unenforced window**" in report
        assert "Lock: free" in run_cli("status", str(plan), "--sandbox", str(sb)).stdout
    finally:
        stop(sb)


def _delete_networkpolicy(sb: Path, namespace: str, name: str) -> None:
    from netmig.kube.gateway import KubeGateway

    with KubeGateway(sb / "kubeconfig") as kube:
        kube.net.delete_namespaced_network_policy(name, namespace)


def _variant(**cluster: Any) -> dict[str, Any]:
    sc = scenarios.load("kubenet-calico")
    sc["cluster"].update(cluster)
    return sc


WINDOWS = _variant(pools=[{"name": "system", "mode": "System", "count": 3},
                          {"name": "npwin", "mode": "User", "count": 2, "osType": "Windows"}])
AVSET = _variant(pools=[{"name": "system", "mode": "System", "count": 3},
                        {"name": "legacy", "mode": "User", "count": 2, "availabilitySet": True}])
MASQ = _variant()
MASQ["objects"] = [*MASQ["objects"], {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "azure-ip-masq-agent-config", "namespace": "kube-system"},
    "data": {"ip-masq-agent": "nonMasqueradeCIDRs:\n  - 10.244.0.0/16\n  - 10.50.0.0/16\nmasqLinkLocal: true\n"}}]
PREFLIGHT_FAILS: dict[str, tuple[Any, str]] = {
    "overlapping-pod-cidr": ("kubenet-overlap", "overlay-pod-cidr: pod CIDR 10.244.0.0/16 overlaps the subnet "
                             "rg-network/vnet-spoke/snet-shared"),
    "kubernetes-1.26": ("kubenet-calico-k126", "overlay-kubernetes-version: Kubernetes 1.26.12 (control plane): "
                        "the migration to Azure CNI Overlay needs 1.27 or later"),
    "windows-pool": (WINDOWS, "overlay-windows-pools: Windows node pools: npwin"),
    "system-assigned-identity": ("kubenet-system-identity", "overlay-identity: the control plane uses a "
                                 "system-assigned managed identity"),
    "availability-set": (AVSET, "overlay-availability-set: availability-set node pools: legacy"),
    "custom-ip-masq-agent": (MASQ, "overlay-ip-masq-agent: custom ip-masq-agent configuration: "
                             "kube-system/azure-ip-masq-agent-config keeps pod traffic to 10.50.0.0/16 "
                             "unmasqueraded"),
}


@pytest.mark.parametrize("case", sorted(PREFLIGHT_FAILS))
def test_preflight_fails_with_a_clear_reason(case: str, sandbox_factory: Any, tmp_path: Path) -> None:
    scenario, reason = PREFLIGHT_FAILS[case]
    sb = sandbox_factory(scenario, time_scale=0.002)
    res = _plan(sb.directory, tmp_path / "p.yaml")
    assert res.exit_code == 1
    assert f"[FAIL] {reason}" in res.output, res.output
    check = reason.split(":", 1)[0]
    blocking = [line for line in res.output.splitlines() if line.startswith("error:")]
    assert blocking and check in blocking[0] and "apply would refuse this plan" in blocking[0]
    assert profile_puts(sb.directory) == []


def test_demo_runs_the_fallback_on_the_blocked_scenario(tmp_path: Path) -> None:
    res = _run("demo", "--migration", KIND, "--scenario", "kubenet-calico-blocked", "--no-prefect", "--yes",
               "--keep-dir", str(tmp_path / "demo"))
    assert res.exit_code == 0, res.output[-3000:]
    assert "fallback: network policy none -> Azure CNI Overlay -> network policy calico" in res.output
    assert "**fallback**" in res.output and "**Unenforced window**" in res.output and "**PASSED**" in res.output
    assert len(profile_puts(tmp_path / "demo" / "sandbox")) == 3
