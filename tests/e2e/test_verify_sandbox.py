"""Connectivity verification against the sandbox: seed demo, NPM -> Cilium snapshot/compare, probe cleanup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from netmig.azure.gateway import AksGateway
from netmig.cli.main import cli
from netmig.connection import from_sandbox_dir
from netmig.kube.gateway import KubeGateway
from netmig.kube.probes import NAMESPACE_PREFIX, ProbeRun, raw_inventory
from netmig.model.cluster import NetworkProfile
from netmig.policy import from_objects, get_engine
from netmig.verify import snapshot as snapmod
from netmig.verify.run import take_snapshot
from netmig.verify.snapshot import expect
from tests.polling import until as _until

pytestmark = pytest.mark.e2e


def _gw(directory: Path) -> KubeGateway:
    return KubeGateway(AksGateway(from_sandbox_dir(directory), polling_interval=0.05).user_kubeconfig())


def _probe_leftovers(gw: KubeGateway) -> tuple[list[str], list[str]]:
    objs = raw_inventory(gw)
    ns = [o["metadata"]["name"] for o in objs if o["kind"] == "Namespace"
          and o["metadata"]["name"].startswith(NAMESPACE_PREFIX)]
    pods = [o["metadata"]["name"] for o in objs if o["kind"] == "Pod"
            and "netmig.io/probe-run" in (o["metadata"].get("labels") or {})]
    return ns, pods


def test_seed_demo_passes_through_the_cli(sandbox_factory: Any) -> None:
    sb = sandbox_factory("seed-demo")
    res = CliRunner().invoke(cli, ["verify", "--scenario", "seed-demo", "--sandbox", str(sb.directory)])
    assert res.exit_code == 0, res.output
    assert "4/4 expectations met" in res.output
    assert "TIMEOUT" in res.output
    res = CliRunner().invoke(cli, ["verify", "seed-demo", "--sandbox", str(sb.directory), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["passed"] and [e["observed"] for e in doc["expectations"]] == ["open", "timeout", "open", "deleted"]


def test_npm_to_cilium_compare_reports_exactly_the_predicted_cells(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm")
    d = sb.directory
    runner = CliRunner()
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    res = runner.invoke(cli, ["verify", "snapshot", "--sandbox", str(d), "--out", str(before), "--quiet"])
    assert res.exit_code == 0, res.output
    snap_b = snapmod.load(before)
    assert all(c.met for c in snap_b.cells), [c for c in snap_b.cells if not c.met]
    assert snap_b.stats["covered_cells"] == snap_b.stats["class_cells"]

    aks = AksGateway(from_sandbox_dir(d), polling_interval=0.05)
    aks.wait(aks.begin_network_update(NetworkProfile(plugin="azure", policy="cilium", dataplane="cilium")),
             timeout=300, tick=0.05)
    gw = _gw(d)

    def migrated() -> bool:
        objs = raw_inventory(gw)
        nodes = [o for o in objs if o["kind"] == "Node"]
        pods = [o for o in objs if o["kind"] == "Pod" and not o["metadata"]["namespace"].startswith("kube-")]
        return bool(nodes) and all(
            (n["metadata"].get("labels") or {}).get("kubernetes.azure.com/network-policy") == "cilium"
            and not n.get("spec", {}).get("unschedulable") for n in nodes
        ) and all((p.get("status") or {}).get("phase") == "Running" for p in pods)
    _until(migrated, 300, "every node on cilium and every pod Running")

    res = runner.invoke(cli, ["verify", "snapshot", "--sandbox", str(d), "--out", str(after), "--quiet",
                              "--baseline", str(before)])
    assert res.exit_code == 0, res.output
    snap_a = snapmod.load(after)
    assert snap_a.engine.startswith("cilium")
    assert all(c.met for c in snap_a.cells), [c for c in snap_a.cells if not c.met]

    # what the policy engine predicts for every cell probed in both, from the BEFORE objects alone (a cell key's
    # set of outcomes, as compare sees aggregated cells)
    cl = from_objects(snap_b.objects)
    npm, cilium = get_engine("npm"), get_engine("cilium")
    a_keys = set(snap_a.by_key())
    predicted = {k for k, cells in snap_b.by_key().items() if k in a_keys
                 and {expect(cl, c, npm)[0] for c in cells} != {expect(cl, c, cilium)[0] for c in cells}}
    assert predicted, "the npm scenario must contain cells that change under cilium"

    res = runner.invoke(cli, ["verify", "compare", str(before), str(after), "--json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    changed = {(c["src"], c["dst"], c["port"], c["protocol"]) for c in doc["changes"]}
    assert changed == predicted
    assert all(c["explanation"] for c in doc["changes"]), doc["changes"]
    causes = " ".join(c["explanation"] for c in doc["changes"])
    assert "ip-block" in causes and "named-port" in causes and "own-node egress" in causes
    assert doc["probes"] == len(set(snap_b.by_key()) & a_keys)
    assert doc["only_before"] == [], doc["only_before"]  # every before cell was probed again
    # the LoadBalancer path is predicted only: not an observed change, but listed apart, with its cause
    lb = [p for p in snap_b.predicted_only if p.service == "web/frontend"]
    assert lb and all(p.differs_between_engines for p in lb)
    assert [(v.engine, v.allowed) for v in lb[0].by_engine] == [("npm", True), ("cilium 1.17", False)]
    assert [(c["service"], c["backend"], c["before"], c["after"]) for c in doc["predicted_only_changes"]] == [
        ("web/frontend", "web/deployment/frontend", "allowed", "denied")]
    assert doc["predicted_only_changes"][0]["explanation"].startswith("service-traffic-policy")
    assert _probe_leftovers(gw) == ([], [])
    gw.close()


CANARY_FROM_API: Any = {  # policies add up: the canary pod is also reachable from namespace api
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "canary-from-api", "namespace": "web"},
    "spec": {"podSelector": {"matchLabels": {"track": "canary"}},
             "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": "api"}}}],
                          "ports": [{"port": 8080}]}]},
}
FRONTEND = "web/deployment/frontend"
CANARY = FRONTEND + "[track=canary]"


def test_label_patched_on_one_pod_of_a_deployment_changes_its_class(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm")
    d = sb.directory
    gw = _gw(d)
    runner = CliRunner()
    gw.net.create_namespaced_network_policy("web", CANARY_FROM_API)
    before, after = tmp_path / "before.json", tmp_path / "after.json"
    res = runner.invoke(cli, ["verify", "snapshot", "--sandbox", str(d), "--out", str(before), "--quiet"])
    assert res.exit_code == 0, res.output
    assert not any("[" in c.src + c.dst for c in snapmod.load(before).cells)

    # the pod sorting last by name: the Service's endpoint and the bare class's representative stay the same
    frontend = sorted(p["metadata"]["name"] for p in gw.pods() if p["metadata"]["namespace"] == "web"
                      and (p["metadata"].get("labels") or {}).get("app") == "frontend")
    assert len(frontend) == 3
    gw.core.patch_namespaced_pod(frontend[-1], "web", {"metadata": {"labels": {"track": "canary"}}})
    res = runner.invoke(cli, ["verify", "snapshot", "--sandbox", str(d), "--out", str(after), "--quiet",
                              "--baseline", str(before)])
    assert res.exit_code == 0, res.output
    snap = snapmod.load(after)
    assert {FRONTEND, CANARY} <= {c.src for c in snap.cells} and {FRONTEND, CANARY} <= {c.dst for c in snap.cells}
    assert all(len(cells) == 1 for cells in snap.by_key().values()) and snap.stats["aggregated_cells"] == 0
    assert all(c.met for c in snap.cells), [c for c in snap.cells if not c.met]
    assert {c.src_pod for c in snap.cells if c.src == CANARY} == {f"web/{frontend[-1]}"}
    seen = {(c.src, c.dst, c.port): c.outcome for c in snap.cells}
    assert seen[("api/deployment/orders", FRONTEND, 8080)] == "timeout"
    assert seen[("api/deployment/orders", CANARY, 8080)] == "open"
    assert seen[("web/deployment/gateway", CANARY, 8080)] == "open"

    res = runner.invoke(cli, ["verify", "compare", str(before), str(after), "--json"])
    assert res.exit_code == 1, res.output
    doc = json.loads(res.output)
    assert doc["changes"] == [] and doc["only_before"] == []
    assert doc["only_after"] and all(CANARY in (o["src"], o["dst"]) for o in doc["only_after"])
    assert [(c["backend"], c["before"], c["after"]) for c in doc["predicted_only_changes"]] == [
        (CANARY, "absent", "allowed")]
    gw.close()


class Boom(Exception):
    pass


@pytest.mark.parametrize("failure", [Boom, KeyboardInterrupt])
def test_probe_namespace_removed_on_failure_and_interruption(sandbox_factory: Any, failure: type) -> None:
    sb = sandbox_factory("npm")
    gw = _gw(sb.directory)
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        ns, _ = _probe_leftovers(gw)
        assert ns, "the run's namespace exists while probing"
        raise failure("injected")

    with pytest.raises(failure):
        take_snapshot(gw, "npm", on_progress=progress)
    assert calls == [1]
    assert _probe_leftovers(gw) == ([], [])
    gw.close()


def test_probe_namespace_removed_after_success_and_pod_failures(sandbox_factory: Any) -> None:
    from netmig_sandbox.faults import Fault

    sb = sandbox_factory("npm")
    gw = _gw(sb.directory)
    # every probe pod creation fails with a server error: the run reports errors, cleans up, does not raise
    sb.run(lambda ctx: ctx.faults.add(Fault(target="kube", method="POST", path=r"/pods$", times=None, status=500)))
    snap = take_snapshot(gw, "npm", include_services=False)
    assert snap.cells and all(c.outcome == "error" for c in snap.cells)
    assert _probe_leftovers(gw) == ([], [])
    sb.run(lambda ctx: ctx.faults.clear() if hasattr(ctx.faults, "clear") else None)
    gw.close()


def test_cleanup_command_removes_leftovers(sandbox_factory: Any) -> None:
    from netmig.kube.probes import ProbeRequest, SourceSpec

    sb = sandbox_factory("npm")
    gw = _gw(sb.directory)
    run = ProbeRun(gw, run_id="leftover1")
    run.start()  # simulate a run killed before its cleanup: namespace and ConfigMap stay behind
    body = run._pod_body("netmig-probe-leftover1-1", SourceSpec("web/x", "web", {"app": "frontend"}, None),
                         [ProbeRequest("p1", "10.0.0.1", 80)])
    gw.core.create_namespaced_pod("web", body)
    assert _probe_leftovers(gw) == ([NAMESPACE_PREFIX + "leftover1"], ["netmig-probe-leftover1-1"])
    res = CliRunner().invoke(cli, ["verify", "cleanup", "--sandbox", str(sb.directory)])
    assert res.exit_code == 0, res.output
    assert "removed 1 probe pods and 1 probe namespaces" in res.output
    _until(lambda: _probe_leftovers(gw) == ([], []), 60, "leftovers gone")
    gw.close()
