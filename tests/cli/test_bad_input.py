"""Bad input at every edge (issue 10, findings 7, 9, 11): each command run as a user runs it (a subprocess), with a
malformed, empty, binary, huge, not-UTF-8, directory-for-file or FIFO file, wrong kinds and fields, invalid flag
values or wrong addresses, must exit 2 with exactly one line on stderr (``error: <problem>; <fix>``), no
traceback, and change nothing: no PUT/POST/DELETE in the sandbox's ARM request log (listClusterUserCredential, a
read, aside), the same namespaces, leases, pods and network profile before and after, and the sandbox still
answering (a bad fault must not break it).

One sandbox for the module; ``--no-prefect`` where a Prefect server is not the point (the credential and plan
checks run before any orchestrator starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig_sandbox.runtime import Sandbox

ROOT = Path(__file__).resolve().parents[2]
PLAN_OPTS = ("--accept", "policy-analysis")


def cli(*args: str | Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMIG_ORCHESTRATOR": "local", "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    return subprocess.run([sys.executable, "-m", "netmig.cli.main", *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False)


@dataclass
class World:
    sb: Sandbox
    dir: Path  # the sandbox folder
    files: Path  # bad files live here
    plan: Path  # a good plan made by `aks-netmig plan --sandbox`

    def arm_writes(self) -> list[dict[str, Any]]:
        lines = (self.dir / "arm-requests.jsonl").read_text().splitlines()
        return [e for e in map(json.loads, lines) if e["method"] in ("PUT", "POST", "DELETE", "PATCH")
                and not e["path"].endswith("/listClusterUserCredential")]

    def objects(self) -> dict[str, Any]:
        """What a bad input must not change: namespaces, leases, pods (name + phase), the network profile."""
        from kubernetes import client, config

        api = config.new_client_from_config(str(self.dir / "kubeconfig"))
        try:
            core, coord = client.CoreV1Api(api), client.CoordinationV1Api(api)
            out = {"namespaces": sorted(n.metadata.name for n in core.list_namespace().items),
                   "leases": sorted(f"{x.metadata.namespace}/{x.metadata.name}"
                                    for x in coord.list_lease_for_all_namespaces().items),
                   "pods": sorted(f"{p.metadata.namespace}/{p.metadata.name}/{p.status.phase}"
                                  for p in core.list_pod_for_all_namespaces().items)}
        finally:
            api.close()
        state = self.sb.run(lambda ctx: ctx.arm.cluster_json())
        out["network_profile"] = state["properties"]["networkProfile"]
        out["provisioning_state"] = state["properties"]["provisioningState"]
        return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    sb = Sandbox("npm", tmp_path_factory.mktemp("sb"), time_scale=0.002)
    sb.start()
    try:
        files = tmp_path_factory.mktemp("bad")
        plan = files / "good.yaml"
        res = cli("plan", "--sandbox", sb.directory, "--out", plan, *PLAN_OPTS)
        assert res.returncode == 0, res.stderr
        _make_files(files, plan, sb.directory)
        yield World(sb=sb, dir=sb.directory, files=files, plan=plan)
    finally:
        sb.stop()


def _edited(plan: Path, out: Path, edit: Callable[[dict[str, Any]], Any]) -> None:
    doc = yaml.safe_load(plan.read_text())
    edit(doc)
    out.write_text(yaml.safe_dump(doc, sort_keys=False))


def _step(doc: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["id"] == step_id)


def _make_files(d: Path, plan: Path, sandbox: Path) -> None:
    rnd = bytes((i * 7919 + 13) % 256 for i in range(4096))  # deterministic "random bytes" (NULs included)
    (d / "random.yaml").write_bytes(rnd)
    (d / "latin1.yaml").write_bytes("kind: npm-to-cilium\ntitle: caf\xe9\n".encode("latin-1"))
    (d / "empty.yaml").write_text("")
    (d / "list.yaml").write_text("- a\n- b\n")
    (d / "scalar.yaml").write_text("just some words\n")
    (d / "broken.yaml").write_text("kind: [unclosed\n")
    (d / "dir.yaml").mkdir()
    os.mkfifo(d / "fifo.yaml")
    with (d / "huge.yaml").open("wb") as f:  # over the 16 MiB limit, text all the way
        f.write(b"# " + b"x" * (17 * 1024 * 1024) + b"\n")
    (d / "manifests").mkdir()
    (d / "manifests" / "ns.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    # hand-edited plans (finding 9)
    _edited(plan, d / "kind-foo.yaml", lambda p: p.update(kind="foo-to-bar"))
    _edited(plan, d / "format-99.yaml", lambda p: p.update(format=99))
    _edited(plan, d / "no-etag.yaml", lambda p: p.pop("etag"))
    _edited(plan, d / "no-steps.yaml", lambda p: p.update(steps=[]))
    _edited(plan, d / "params-none.yaml",
            lambda p: _step(p, "update-network").update(params={"policy": "none", "dataplane": "azure"}))
    _edited(plan, d / "unknown-kind-step.yaml", lambda p: _step(p, "report").update(kind="frobnicate"))
    _edited(plan, d / "dropped-step.yaml", lambda p: p.update(steps=[s for s in p["steps"] if s["id"] != "verify"]))
    _edited(plan, d / "arm-change-edited.yaml",
            lambda p: p["arm_changes"][0].update(network_profile={"networkPolicy": "none"}))
    _edited(plan, d / "nan-param.yaml", lambda p: _step(p, "cilium-ready").setdefault("params", {}).update(
        timeout_s=float("nan")))
    _edited(plan, d / "extra-field.yaml", lambda p: p.update(surprise=True))
    # sandbox folders that are not usable
    (d / "no-sandbox").mkdir()
    (d / "sb-json-dir" / "sandbox.json").mkdir(parents=True)
    (d / "sb-json-binary").mkdir()
    (d / "sb-json-binary" / "sandbox.json").write_bytes(rnd)
    info = json.loads((sandbox / "sandbox.json").read_text())
    (d / "sb-dead").mkdir()
    (d / "sb-dead" / "sandbox.json").write_text(json.dumps({**info, "arm_endpoint": "https://127.0.0.1:9"}))
    (d / "sb-other").mkdir()
    (d / "sb-other" / "sandbox.json").write_text(json.dumps({**info, "cluster_name": "aks-other"}))
    # backups and snapshots
    (d / "backup-empty").mkdir()
    (d / "backup-binary").mkdir()
    (d / "backup-binary" / "manifest.json").write_bytes(rnd)
    (d / "backup-list").mkdir()
    (d / "backup-list" / "manifest.json").write_text('{"files": ["a", "b"]}')
    (d / "snap.json").write_bytes(rnd)


CLUSTER_ID = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/" \
             "Microsoft.ContainerService/managedClusters/c"

# (case id, arguments; {F} is the bad-files folder, {SB} the sandbox folder, {P} the good plan)
CASES: list[tuple[str, list[str]]] = [
    # plan
    ("plan-unknown-kind", ["plan", "--sandbox", "{SB}", "--migration", "foo-to-bar", "--out", "{F}/o1.yaml"]),
    ("plan-template-binary", ["plan", "--sandbox", "{SB}", "--migration", "{F}/random.yaml", "--out", "{F}/o.yaml"]),
    ("plan-template-empty", ["plan", "--sandbox", "{SB}", "--migration", "{F}/empty.yaml", "--out", "{F}/o.yaml"]),
    ("plan-template-dir", ["plan", "--sandbox", "{SB}", "--migration", "{F}/dir.yaml", "--out", "{F}/o.yaml"]),
    ("plan-template-fifo", ["plan", "--sandbox", "{SB}", "--migration", "{F}/fifo.yaml", "--out", "{F}/o.yaml"]),
    ("plan-template-latin1", ["plan", "--sandbox", "{SB}", "--migration", "{F}/latin1.yaml", "--out", "{F}/o.yaml"]),
    ("plan-template-huge", ["plan", "--sandbox", "{SB}", "--migration", "{F}/huge.yaml", "--out", "{F}/o.yaml"]),
    ("plan-pod-cidr-abc", ["plan", "--sandbox", "{SB}", "--migration", "kubenet-to-overlay", "--pod-cidr", "abc",
                           "--out", "{F}/o.yaml"]),
    ("plan-pod-cidr-host-bits", ["plan", "--sandbox", "{SB}", "--migration", "kubenet-to-overlay", "--pod-cidr",
                                 "10.244.0.1/16", "--out", "{F}/o.yaml"]),
    ("plan-set-profile", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", *PLAN_OPTS, "--set",
                          "update-network.policy=none"]),
    ("plan-set-negative", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", *PLAN_OPTS, "--set",
                           "cilium-ready.timeout_s=-5"]),
    ("plan-set-syntax", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", "--set", "nodot=1"]),
    ("plan-set-timeout-null", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", *PLAN_OPTS, "--set",
                               "snapshot.timeout_s=null"]),
    ("plan-budget-unreadable", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", *PLAN_OPTS, "--budget", "3x"]),
    ("plan-budget-and-no-budget", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", *PLAN_OPTS, "--budget",
                                   "3m", "--no-budget"]),
    ("plan-budget-disagrees-with-set", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", *PLAN_OPTS,
                                        "--budget", "3m", "--set", "verify.budget_s=100"]),
    ("plan-no-sandbox", ["plan", "--sandbox", "{F}/no-sandbox", "--out", "{F}/o.yaml"]),
    ("plan-sandbox-json-dir", ["plan", "--sandbox", "{F}/sb-json-dir", "--out", "{F}/o.yaml"]),
    ("plan-sandbox-json-binary", ["plan", "--sandbox", "{F}/sb-json-binary", "--out", "{F}/o.yaml"]),
    ("plan-sandbox-is-file", ["plan", "--sandbox", "{F}/snap.json", "--out", "{F}/o.yaml"]),
    ("plan-bad-cluster-id", ["plan", "--cluster", "not-a-resource-id", "--out", "{F}/o.yaml"]),
    ("plan-ca-bundle-missing", ["plan", "--cluster", CLUSTER_ID, "--ca-bundle", "{F}/nope.pem", "--out",
                                "{F}/o.yaml"]),
    ("plan-ca-bundle-binary", ["plan", "--cluster", CLUSTER_ID, "--ca-bundle", "{F}/random.yaml", "--out",
                               "{F}/o.yaml"]),
    ("plan-arm-endpoint-not-https", ["plan", "--cluster", CLUSTER_ID, "--arm-endpoint", "ftp://x", "--out",
                                     "{F}/o.yaml"]),
    ("plan-unknown-option", ["plan", "--sandbox", "{SB}", "--out", "{F}/o.yaml", "--frobnicate"]),
    # apply: files
    ("apply-random-bytes", ["apply", "{F}/random.yaml", "--yes", "--no-prefect"]),
    ("apply-latin1", ["apply", "{F}/latin1.yaml", "--yes", "--no-prefect"]),
    ("apply-empty", ["apply", "{F}/empty.yaml", "--yes", "--no-prefect"]),
    ("apply-list", ["apply", "{F}/list.yaml", "--yes", "--no-prefect"]),
    ("apply-scalar", ["apply", "{F}/scalar.yaml", "--yes", "--no-prefect"]),
    ("apply-broken-yaml", ["apply", "{F}/broken.yaml", "--yes", "--no-prefect"]),
    ("apply-dir", ["apply", "{F}/dir.yaml", "--yes", "--no-prefect"]),
    ("apply-fifo", ["apply", "{F}/fifo.yaml", "--yes", "--no-prefect"]),
    ("apply-huge", ["apply", "{F}/huge.yaml", "--yes", "--no-prefect"]),
    ("apply-missing", ["apply", "{F}/nope.yaml", "--yes", "--no-prefect"]),
    # apply: hand-edited plans (finding 9)
    ("apply-kind-foo", ["apply", "{F}/kind-foo.yaml", "--yes", "--no-prefect"]),
    ("apply-format-99", ["apply", "{F}/format-99.yaml", "--yes", "--no-prefect"]),
    ("apply-no-etag", ["apply", "{F}/no-etag.yaml", "--yes", "--no-prefect"]),
    ("apply-no-steps", ["apply", "{F}/no-steps.yaml", "--yes", "--no-prefect"]),
    ("apply-params-none", ["apply", "{F}/params-none.yaml", "--yes", "--no-prefect"]),
    ("apply-params-none-dry-run", ["apply", "{F}/params-none.yaml", "--dry-run"]),
    ("apply-unknown-step-kind", ["apply", "{F}/unknown-kind-step.yaml", "--yes", "--no-prefect"]),
    ("apply-dropped-step", ["apply", "{F}/dropped-step.yaml", "--yes", "--no-prefect"]),
    ("apply-arm-change-edited", ["apply", "{F}/arm-change-edited.yaml", "--yes", "--no-prefect"]),
    ("apply-nan-param", ["apply", "{F}/nan-param.yaml", "--yes", "--no-prefect"]),
    ("apply-extra-field", ["apply", "{F}/extra-field.yaml", "--yes", "--no-prefect"]),
    # apply: flag values and addresses
    ("apply-stall-negative", ["apply", "{P}", "--yes", "--no-prefect", "--stall-timeout", "-5"]),
    ("apply-stall-nan", ["apply", "{P}", "--yes", "--no-prefect", "--stall-timeout", "nan"]),
    ("apply-notready-inf", ["apply", "{P}", "--yes", "--no-prefect", "--notready-timeout", "inf"]),
    ("apply-pdb-abc", ["apply", "{P}", "--yes", "--no-prefect", "--pdb-timeout", "abc"]),
    ("apply-stall-zero", ["apply", "{P}", "--yes", "--stall-timeout", "0"]),
    ("apply-unreachable-arm", ["apply", "{P}", "--yes", "--sandbox", "{F}/sb-dead"]),
    ("apply-wrong-cluster", ["apply", "{P}", "--yes", "--no-prefect", "--sandbox", "{F}/sb-other"]),
    ("apply-no-sandbox", ["apply", "{P}", "--yes", "--no-prefect", "--sandbox", "{F}/no-sandbox"]),
    # status / abort
    ("status-binary-plan", ["status", "{F}/random.yaml"]),
    ("status-nothing", ["status"]),
    ("status-params-none", ["status", "{F}/params-none.yaml"]),
    ("status-sandbox-json-dir", ["status", "--sandbox", "{F}/sb-json-dir"]),
    ("abort-binary-plan", ["abort", "{F}/random.yaml", "--yes"]),
    ("abort-format-99", ["abort", "{F}/format-99.yaml", "--yes"]),
    ("abort-bad-cluster-id", ["abort", "--cluster", "/subscriptions/x", "--yes"]),
    # restore
    ("restore-no-manifest", ["restore", "{F}/backup-empty", "--sandbox", "{SB}"]),
    ("restore-binary-manifest", ["restore", "{F}/backup-binary", "--sandbox", "{SB}"]),
    ("restore-list-manifest", ["restore", "{F}/backup-list", "--sandbox", "{SB}"]),
    ("restore-wait-negative", ["restore", "{F}/backup-empty", "--sandbox", "{SB}", "--wait", "-1"]),
    ("restore-wait-nan", ["restore", "{F}/backup-empty", "--sandbox", "{SB}", "--wait", "nan"]),
    ("restore-file-for-dir", ["restore", "{F}/snap.json", "--sandbox", "{SB}"]),
    # preflight
    ("preflight-unknown-kind", ["preflight", "--sandbox", "{SB}", "--migration", "foo-to-bar"]),
    ("preflight-pod-cidr-abc", ["preflight", "--sandbox", "{SB}", "--migration", "kubenet-to-overlay",
                                "--pod-cidr", "abc"]),
    ("preflight-template-binary", ["preflight", "--sandbox", "{SB}", "--migration", "{F}/random.yaml"]),
    # verify
    ("verify-compare-binary", ["verify", "compare", "{F}/snap.json", "{F}/snap.json"]),
    ("verify-compare-dir", ["verify", "compare", "{F}/dir.yaml", "{F}/dir.yaml"]),
    ("verify-compare-fifo", ["verify", "compare", "{F}/fifo.yaml", "{F}/fifo.yaml"]),
    ("verify-snapshot-no-kubeconfig", ["verify", "snapshot", "--kubeconfig", "{F}/nope", "--out", "{F}/s.json"]),
    ("verify-cleanup-no-cluster", ["verify", "cleanup"]),
    # policy
    ("policy-analyze-plan-file", ["policy", "analyze", "{P}", "--target", "cilium"]),
    ("policy-analyze-cilium-banana", ["policy", "analyze", "{F}/manifests", "--target", "cilium",
                                      "--cilium-version", "banana"]),
    ("policy-analyze-banana-not-cilium", ["policy", "analyze", "{F}/manifests", "--target", "npm", "--source",
                                          "calico", "--cilium-version", "banana"]),
    ("policy-reachability-binary", ["policy", "reachability", "{F}/random.yaml"]),
    ("policy-reachability-port", ["policy", "reachability", "{F}/manifests", "--port", "99999"]),
    ("policy-diff-engine", ["policy", "diff", "{F}/manifests", "--from", "npm", "--to", "frobnicator"]),
    # sandbox
    ("sandbox-fault-dead", ["sandbox", "fault", "--dir", "{F}/sb-dead", "--target", "arm"]),
    ("sandbox-fault-no-sandbox", ["sandbox", "fault", "--dir", "{F}/no-sandbox", "--target", "arm"]),
    ("sandbox-fault-bad-regex", ["sandbox", "fault", "--dir", "{SB}", "--target", "arm", "--path", "("]),
    ("sandbox-fault-status-999", ["sandbox", "fault", "--dir", "{SB}", "--target", "arm", "--status", "999"]),
    ("sandbox-fault-kind-target", ["sandbox", "fault", "--dir", "{SB}", "--target", "lro", "--kind", "status"]),
    ("sandbox-fault-retry-nan", ["sandbox", "fault", "--dir", "{SB}", "--target", "arm", "--retry-after", "nan"]),
    ("sandbox-start-binary-scenario", ["sandbox", "start", "--scenario", "{F}/random.yaml", "--dir", "{F}/x1"]),
    ("sandbox-start-dir-scenario", ["sandbox", "start", "--scenario", "{F}/dir.yaml", "--dir", "{F}/x2"]),
    ("sandbox-start-list-scenario", ["sandbox", "start", "--scenario", "{F}/list.yaml", "--dir", "{F}/x3"]),
    ("sandbox-start-time-scale-nan", ["sandbox", "start", "--time-scale", "nan", "--dir", "{F}/x4"]),
    # wizard (non-interactive flags) and demo
    ("wizard-pod-cidr-abc", ["wizard", "--sandbox", "{SB}", "--migration", "kubenet-to-overlay", "--pod-cidr",
                             "abc", "--then", "print"]),
    ("wizard-start-at-past", ["wizard", "--sandbox", "{SB}", "--start-at", "2001-01-01T00:00"]),
    ("wizard-then-bogus", ["wizard", "--sandbox", "{SB}", "--then", "bogus"]),
    ("demo-time-scale-negative", ["demo", "--time-scale", "-1"]),
    ("demo-unknown-migration", ["demo", "--migration", "foo-to-bar"]),
]


def _args(case: list[str], w: World) -> list[str]:
    return [a.replace("{F}", str(w.files)).replace("{SB}", str(w.dir)).replace("{P}", str(w.plan)) for a in case]


@pytest.mark.parametrize(("case", "args"), CASES, ids=[c for c, _ in CASES])
def test_bad_input_exits_2_in_one_line_and_changes_nothing(world: World, case: str, args: list[str]) -> None:
    writes, objects = len(world.arm_writes()), world.objects()
    res = cli(*_args(args, world))
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert res.returncode == 2, f"{case}: exit {res.returncode}\n{res.stderr[-3000:]}\n{res.stdout[-1000:]}"
    assert len(lines) == 1 and lines[0].startswith("error: ") and "; " in lines[0], f"{case}:\n{res.stderr[-3000:]}"
    assert "Traceback" not in res.stderr + res.stdout
    assert world.arm_writes()[writes:] == [], f"{case} wrote to ARM"
    assert world.objects() == objects, f"{case} changed the cluster"
    assert not (world.files / "o.yaml").exists() and not (world.files / "o1.yaml").exists()
    if case.startswith("apply-"):
        assert not any(world.files.glob("*.run")), f"{case} created a run folder"


def test_there_are_at_least_40_cases_across_every_command() -> None:
    commands = {args[0] if args[0] not in ("verify", "policy", "sandbox") else " ".join(args[:2])
                for _, args in CASES}
    assert len(CASES) >= 40
    assert {"plan", "apply", "status", "abort", "restore", "preflight", "wizard", "demo", "verify compare",
            "verify snapshot", "verify cleanup", "policy analyze", "policy reachability", "policy diff",
            "sandbox fault", "sandbox start"} <= commands


def test_a_bad_fault_regex_is_refused_by_the_sandbox_itself_and_it_keeps_serving(world: World) -> None:
    """Finding 11: ``sandbox fault --path "("`` made the sandbox answer 500 to every ARM GET until restarted. The
    CLI refuses it (above); the sandbox's admin endpoint refuses it too, and ARM GETs keep working."""
    from netmig_sandbox.control import SandboxControlError, post_fault

    with pytest.raises(SandboxControlError, match="not a valid regular expression"):
        post_fault(world.dir, {"target": "arm", "path": "(", "times": None})
    res = cli("status", "--sandbox", world.dir, "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["cluster"]["provisioning_state"] == "Succeeded"
