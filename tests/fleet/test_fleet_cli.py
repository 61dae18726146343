"""``fleet scan`` and ``fleet plan`` through the CLI against the sandbox fleet (real SDKs over HTTPS)."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig_sandbox.fleet import CLUSTER_QUERY, FleetSandbox

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "netmig.cli.main"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetSandbox]:
    with FleetSandbox(tmp_path_factory.mktemp("fleet"), time_scale=0.001) as f:
        yield f


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=ROOT)


def _post(f: FleetSandbox, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    ctx = ssl.create_default_context(cafile=f.info["ca_bundle"])
    req = urllib.request.Request(f.endpoint + "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01",
                                 data=json.dumps(body).encode(), method="POST",
                                 headers={"Authorization": f"Bearer {f.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_scan_json_shape_on_the_fleet_scenario(fleet: FleetSandbox) -> None:
    r = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--json", "--today", "2026-12-02")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["source"] == "resource-graph"
    by = {c["name"]: c for c in doc["clusters"]}
    assert len(by) >= 12 and len({c["subscription"] for c in by.values()}) == 2
    for c in by.values():
        assert {"id", "subscription", "name", "network", "kubernetes_version", "migrations", "recommended"} <= set(c)
        assert set(c["network"]) == {"plugin", "mode", "policy", "dataplane"}
        for m in c["migrations"]:
            assert set(m) >= {"kind", "retirement", "deadline", "days_left", "blockers"}
    assert by["aks-canary-dev"]["recommended"] == "kubenet-to-overlay"
    assert by["aks-kubenet-prod"]["migrations"][0]["days_left"] == 485
    assert by["aks-npm-dev"]["recommended"] == "npm-to-cilium"
    assert by["aks-npm-windows"]["migrations"][0]["retirement"] == "npm-windows"
    assert by["aks-npm-windows"]["migrations"][0]["days_left"] < 0
    assert [b["id"] for b in by["aks-npm-windows"]["migrations"][0]["blockers"]] == ["no-windows-pools"]
    assert [b["id"] for b in by["aks-stopped-dev"]["migrations"][0]["blockers"]] == ["cluster-running"]
    assert [b["id"] for b in by["aks-kubenet-old"]["migrations"][0]["blockers"]] == ["overlay-kubernetes-version"]
    assert by["aks-cilium-done"]["migrations"] == [] and by["aks-cilium-done"]["recommended"] is None
    one = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--json",
               "--subscription", "00000000-0000-0000-0000-00000000f1b2")
    assert {c["subscription"] for c in json.loads(one.stdout)["clusters"]} == {"00000000-0000-0000-0000-00000000f1b2"}


def test_scan_renders_table_csv_markdown(fleet: FleetSandbox) -> None:
    table = _cli("fleet", "scan", "--sandbox", str(fleet.directory))
    assert table.returncode == 0 and "aks-npm-windows" in table.stdout and "resource-graph" in table.stdout
    csv = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--csv")
    assert csv.stdout.splitlines()[0].startswith("id,name,subscription") and len(csv.stdout.splitlines()) == 13
    md = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--markdown")
    assert md.stdout.startswith("# AKS fleet scan") and "## Blockers" in md.stdout
    both = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--csv", "--json")
    assert both.returncode == 2 and len(both.stderr.strip().splitlines()) == 1 and "Traceback" not in both.stderr


def test_resource_graph_pages_and_refuses_other_queries(fleet: FleetSandbox) -> None:
    seen, token = [], None
    while True:
        status, page = _post(fleet, {"query": CLUSTER_QUERY, "options": {"$top": 5, "$skipToken": token}})
        assert status == 200
        seen += [row["name"] for row in page["data"]]
        token = page.get("$skipToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 12
    status, err = _post(fleet, {"query": "Resources | project id"})
    assert status == 400 and err["error"]["code"] == "UnsupportedQuery"


def test_scan_falls_back_to_arm_listing(fleet: FleetSandbox) -> None:
    fleet.resource_graph = False
    try:
        r = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--json")
    finally:
        fleet.resource_graph = True
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["source"] == "arm-listing" and len(doc["clusters"]) == 12
    assert {c["name"]: c["recommended"] for c in doc["clusters"]}["aks-npm-dev"] == "npm-to-cilium"


def test_fleet_plan_writes_waves_and_each_clusters_plan(fleet: FleetSandbox, tmp_path: Path) -> None:
    scan = tmp_path / "scan.json"
    scan.write_text(_cli("fleet", "scan", "--sandbox", str(fleet.directory), "--json").stdout)
    out = tmp_path / "waves.yaml"
    r = _cli("fleet", "plan", "--sandbox", str(fleet.directory), "--scan", str(scan), "--out", str(out),
             "--accept", "policy-analysis", "--wave-size", "2")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(out.read_text())
    waves = doc["waves"]
    assert waves[0]["canary"] and [c["name"] for c in waves[0]["clusters"]] == ["aks-canary-dev"]
    prod_seen = False
    for w in waves[1:]:
        assert len(w["clusters"]) <= 2 and w["approval_required"]
        prods = {c["production"] for c in w["clusters"]}
        assert len(prods) == 1
        assert not (prod_seen and prods == {False}), "non-production after production"
        prod_seen = prod_seen or prods == {True}
    planned = {c["name"] for w in waves for c in w["clusters"]}
    assert planned == {"aks-canary-dev", "aks-kubenet-dev", "aks-kubenet-prod", "aks-npm-dev", "aks-npm-prod",
                       "aks-npm-flaky"}
    for w in waves:
        for c in w["clusters"]:
            plan = yaml.safe_load(Path(c["plan_file"]).read_text())
            assert plan["kind"] == c["kind"] and c["name"] in plan["cluster"]
            assert Path(c["connection"]["sandbox"], "sandbox.json").is_file()
    skipped = {s["name"]: s["reason"] for s in doc["skipped"]}
    assert skipped["aks-npm-windows"] == "blocked: no-windows-pools"
    assert skipped["aks-cilium-done"] == "nothing to migrate"
    bad = _cli("fleet", "plan", "--scan", str(out), "--out", str(tmp_path / "x.yaml"))
    assert bad.returncode == 2 and "is not a fleet scan" in bad.stderr and "Traceback" not in bad.stderr


def test_deep_scan_runs_each_recommended_preflight(fleet: FleetSandbox) -> None:
    r = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--json", "--deep", "--parallel", "3")
    assert r.returncode == 0, r.stderr
    by = {c["name"]: c for c in json.loads(r.stdout)["clusters"]}
    assert by["aks-canary-dev"]["preflight"] == {"kind": "kubenet-to-overlay", "ok": True, "blocking": []}
    npm = by["aks-npm-dev"]["preflight"]  # the npm scenario's policies change under Cilium: the analysis blocks
    assert npm["kind"] == "npm-to-cilium" and not npm["ok"] and "policy-analysis" in npm["blocking"]
    assert "preflight" not in by["aks-npm-windows"]  # blocked by ARM data: nothing recommended, nothing run
    table = _cli("fleet", "scan", "--sandbox", str(fleet.directory), "--deep")
    assert "PREFLIGHT" in table.stdout.splitlines()[0] and "fails: policy-analysis" in table.stdout


def test_one_arm_endpoint_serves_a_members_long_running_put(fleet: FleetSandbox) -> None:
    """The fleet endpoint proxies a member's cluster PUT and its operation polling (the real SDK): the change lands
    on that member alone, logged by both the fleet endpoint and the member. (Last: it changes aks-mcalico-prod.)"""
    from netmig.azure.gateway import AksGateway
    from netmig.connection import ArmTarget
    from netmig.model.cluster import ClusterRef, NetworkProfile

    entry = next(c for c in fleet.info["clusters"] if c["cluster_name"] == "aks-mcalico-prod")
    target = ArmTarget(ref=ClusterRef.parse(entry["id"]), endpoint=fleet.endpoint,
                       ca_bundle=fleet.info["ca_bundle"], static_token=fleet.token, poll_seconds=0.05)
    gw = AksGateway(target)
    assert gw.cluster().network.policy == "calico"
    op = gw.begin_network_update(NetworkProfile(plugin="azure", policy="none"))
    gw.wait(op, timeout=120)
    assert gw.cluster().network.policy == "none"
    member = Path(entry["dir"]) / "arm-requests.jsonl"
    puts = [json.loads(x) for x in member.read_text().splitlines() if json.loads(x).get("network_profile_change")]
    assert len(puts) == 1
    front = [json.loads(x) for x in (fleet.directory / "arm-requests.jsonl").read_text().splitlines()]
    assert any(e["method"] == "PUT" and e["path"].endswith("/aks-mcalico-prod") for e in front)
    assert any("/operations/" in e["path"] and e["status"] == 200 for e in front)


def test_sandbox_start_fleet_detached_light_clusters(tmp_path: Path) -> None:
    bad = _cli("sandbox", "start", "--scenario", "npm", "--clusters", "3", "--dir", str(tmp_path / "x"))
    assert bad.returncode == 2 and "--clusters applies to --scenario fleet" in bad.stderr
    folder = tmp_path / "light"
    up = _cli("sandbox", "start", "--scenario", "fleet", "--clusters", "25", "--dir", str(folder), "--detach")
    try:
        assert up.returncode == 0, up.stderr
        assert "25 clusters in 2 subscriptions" in up.stdout
        info = json.loads((folder / "sandbox.json").read_text())
        assert info["kind"] == "fleet" and all(c["light"] for c in info["clusters"])
        doc = json.loads(_cli("fleet", "scan", "--sandbox", str(folder), "--json").stdout)
        assert len(doc["clusters"]) == 25 and doc["source"] == "resource-graph"
    finally:
        down = _cli("sandbox", "stop", "--dir", str(folder))
    assert down.returncode == 0 and not (folder / "sandbox.json").exists()
