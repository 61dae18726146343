"""LIST pagination end to end: the sandbox API honours limit/continue like the apiserver, and the product reads big
namespaces in pages of 500 (verifier inventory, preflight inventory, ``policy`` live input), restarting once on a
410 Expired continue. Pages are counted in the sandbox's own list log."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kubernetes import client, config
from kubernetes.client.rest import ApiException

from netmig.cli.main import cli
from netmig.kube.gateway import KubeGateway
from netmig.kube.listing import Stats
from netmig.kube.probes import raw_inventory
from netmig.kube.resources import Rest
from netmig_sandbox.faults import Fault
from netmig_sandbox.runtime import Sandbox

pytestmark = pytest.mark.contract
N_PODS = 2000


def _seed(sb: Any, namespace: str = "big", n: int = N_PODS) -> None:
    """A namespace with ``n`` pods of two Deployments (written to the store directly: fast, and the API serves them as
    any other; no ownerReferences, which the simulated garbage collector would resolve, but generateName +
    pod-template-hash, which the workload identity recognises)."""
    def app(i: int) -> str:
        return "web" if i % 2 else "api"

    def go(ctx: Any) -> None:
        ctx.store.create(("", "namespaces"), {"apiVersion": "v1", "kind": "Namespace",
                                             "metadata": {"name": namespace, "labels": {"team": "t1"}}})
        for i in range(n):
            ctx.store.create(("", "pods"), {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{app(i)}-7c9f8d6b5-{i:05d}", "generateName": f"{app(i)}-7c9f8d6b5-",
                             "namespace": namespace, "labels": {"app": app(i), "pod-template-hash": "7c9f8d6b5"}},
                "spec": {"containers": [{"name": "c", "image": "agnhost",
                                         "ports": [{"name": "http", "containerPort": 8080}]}]},
                "status": {"phase": "Running", "podIP": f"10.250.{i // 250}.{i % 250 + 1}"}}, namespace)
        ctx.store.create(("networking.k8s.io", "networkpolicies"), {
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "api-from-web", "namespace": namespace},
            "spec": {"podSelector": {"matchLabels": {"app": "api"}},
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}}, namespace)
        ctx.services["list_log"] = []
    sb.run(go)


def _log(sb: Any, path: str = "/api/v1/pods") -> list[dict[str, Any]]:
    return [dict(e) for e in sb.run(lambda ctx: list(ctx.services.get("list_log", []))) if e["path"] == path]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One sandbox for the module (seeding 2,000 pods is the slow part); each test starts with an empty list log."""
    sb = Sandbox("empty", tmp_path_factory.mktemp("sandbox"), time_scale=0.001)
    sb.start()
    try:
        _seed(sb)
        yield sb
    finally:
        sb.stop()


@pytest.fixture(autouse=True)
def _fresh_log(big: Any) -> None:
    big.run(lambda ctx: ctx.services.__setitem__("list_log", []))


@pytest.fixture
def v1(big: Any) -> Iterator[Any]:
    api = config.new_client_from_config(config_file=big.info["kubeconfig"])
    yield client.CoreV1Api(api)
    api.close()


def test_limit_continue_and_remaining_item_count(big: Any, v1: Any) -> None:
    first = json.loads(v1.list_namespaced_pod("big", limit=500, _preload_content=False).data)
    assert len(first["items"]) == 500
    assert first["metadata"]["remainingItemCount"] == N_PODS - 500
    token = first["metadata"]["continue"]
    decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    assert decoded["v"] == "meta.k8s.io/v1" and decoded["start"].endswith("\x00")
    names = [p["metadata"]["name"] for p in first["items"]]
    while token:
        page = json.loads(v1.list_namespaced_pod("big", limit=500, _continue=token, _preload_content=False).data)
        assert page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        names += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
    assert names == sorted(f"{'web' if i % 2 else 'api'}-7c9f8d6b5-{i:05d}" for i in range(N_PODS))
    # a selector: pages still, but no remainingItemCount (the apiserver cannot count a filtered list)
    sel = json.loads(v1.list_namespaced_pod("big", limit=100, label_selector="app=web",
                                            _preload_content=False).data)
    assert len(sel["items"]) == 100 and "remainingItemCount" not in sel["metadata"] and sel["metadata"]["continue"]
    # without limit: everything, no continue
    whole = json.loads(v1.list_namespaced_pod("big", _preload_content=False).data)
    assert len(whole["items"]) == N_PODS and "continue" not in whole["metadata"]


def test_expired_and_garbage_continue_tokens(big: Any, v1: Any) -> None:
    first = v1.list_namespaced_pod("big", limit=10)
    big.context.faults.add(Fault("kube", kind="expire-continue", path="/pods$"))
    with pytest.raises(ApiException) as ei:
        v1.list_namespaced_pod("big", limit=10, _continue=first.metadata._continue)
    assert ei.value.status == 410
    body = json.loads(ei.value.body)
    assert body["kind"] == "Status" and body["reason"] == "Expired" and "too old" in body["message"]
    with pytest.raises(ApiException) as ei:
        v1.list_namespaced_pod("big", limit=10, _continue="not-a-token!")
    assert ei.value.status == 400 and "continue key is not valid" in json.loads(ei.value.body)["message"]


def test_verifier_and_preflight_inventory_read_in_pages_with_one_410_restart(big: Any) -> None:
    gw = KubeGateway(big.info["kubeconfig"])
    try:
        objs = raw_inventory(gw)  # the verifier's and the policy-analysis preflight check's inventory
        pods = [o for o in objs if o["kind"] == "Pod"]
        assert len(pods) >= N_PODS and all(o["apiVersion"] == "v1" for o in pods)
        log = _log(big)
        assert [e["limit"] for e in log] == ["500"] * len(log)
        assert len(log) == -(-len(pods) // 500) and [e["continue"] for e in log] == [False] + [True] * (len(log) - 1)
        # an expired continue (etcd compaction) restarts the list once, from scratch
        big.run(lambda ctx: ctx.services.__setitem__("list_log", []))
        big.context.faults.add(Fault("kube", kind="expire-continue", path="^/api/v1/pods$", times=1))
        restarts = Stats.restarts
        again = [o for o in raw_inventory(gw) if o["kind"] == "Pod"]
        assert len(again) == len(pods) and Stats.restarts == restarts + 1
        statuses = [(e["continue"], e["status"]) for e in _log(big)]
        assert statuses[:2] == [(False, 200), (True, 410)]
        assert statuses[2:] == [(False, 200)] + [(True, 200)] * (len(statuses) - 3)
        # the generic REST lister (restore, cleanup, CRDs) pages the same way
        big.run(lambda ctx: ctx.services.__setitem__("list_log", []))
        rest = Rest(gw)
        listed = rest.list(rest.resource("v1", "Pod"), "big")
        assert len(listed) == N_PODS and len(_log(big, "/api/v1/namespaces/big/pods")) == 4
    finally:
        gw.close()


def test_policy_commands_read_a_live_cluster_in_pages(big: Any, tmp_path: Path) -> None:
    kc = big.info["kubeconfig"]
    runner = CliRunner()
    r = runner.invoke(cli, ["policy", "reachability", "--kubeconfig", kc, "--format", "json"])
    assert r.exit_code == 0, r.output
    live = json.loads(r.output)
    assert len(_log(big)) >= 4
    rows = {(x["src"], x["dst"], x["port"]): x for x in live["results"]}
    api, web = "big/deployment/api", "big/deployment/web"
    assert rows[(web, api, 8080)]["allowed"] is True and rows[(web, api, 8080)]["pairs"] == 1000 * 1000
    assert rows[(api, api, 8080)]["verdict"] == "partial"  # only the self pairs
    assert rows[(api, api, 8080)]["allowed_pairs"] == 1000
    # the same objects dumped to a file give the same answer
    gw = KubeGateway(kc)
    try:
        dump = tmp_path / "dump.json"
        dump.write_text(json.dumps({"kind": "List", "items": raw_inventory(gw)}))
    finally:
        gw.close()
    r2 = runner.invoke(cli, ["policy", "reachability", str(dump), "--format", "json"])
    assert r2.exit_code == 0 and json.loads(r2.output) == live
    r3 = runner.invoke(cli, ["policy", "analyze", "--kubeconfig", kc, "--target", "cilium", "--json"])
    assert r3.exit_code in (0, 1) and "findings" in json.loads(r3.output)
    r4 = runner.invoke(cli, ["policy", "diff", "--kubeconfig", kc, "--from", "npm", "--to", "cilium", "--json"])
    assert r4.exit_code == 0 and json.loads(r4.output)["by"] == "workload"
    bad = runner.invoke(cli, ["policy", "analyze", str(dump), "--kubeconfig", kc, "--target", "cilium"])
    assert bad.exit_code == 2 and "either manifests or a cluster" in bad.output


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_get_with_chunk_size(big: Any) -> None:
    big.run(lambda ctx: ctx.services.__setitem__("list_log", []))
    proc = subprocess.run(["kubectl", "--kubeconfig", big.info["kubeconfig"], "get", "pods", "-A", "--chunk-size",
                           "50", "--no-headers"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("big ")]
    assert len(lines) == N_PODS
    log = _log(big)
    assert len(log) >= N_PODS // 50 and {e["limit"] for e in log} == {"50"}
