"""Issue 18, least privilege: each migration kind runs end to end on the sandbox under exactly the role
``aks-netmig permissions --migration KIND`` prints (the sandbox enforcing it: ARM 403 AuthorizationFailed, Kubernetes
RBAC), every request it sends is covered by the declaration of the step or check that sent it (the sandbox's request
logs are the evidence), and with any one declared permission removed, apply's preflight blocks naming it and nothing
is changed (no PUT, no Kubernetes write)."""

from __future__ import annotations

import copy
import dataclasses
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmig.engine import permissions as perms
from netmig.engine.catalog import load_builtins
from netmig.model.permissions import KubeRule, Permissions
from netmig.stepkit import registry
from netmig_sandbox.runtime import Sandbox
from tests.e2e.calico_helpers import uninstall_by_hand
from tests.e2e.permission_helpers import KINDS, Kind, attribute, plan_args, requests, run_cli, step_windows

WRITES = {"create", "update", "patch", "delete", "deletecollection"}
REVIEWS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}


def role(kind: str) -> dict[str, Any]:
    res = run_cli("permissions", "--migration", kind, "--json")
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.output)
    return doc


def restrict(sb: Sandbox, doc: dict[str, Any] | None) -> None:
    def set_identity(ctx: Any) -> None:
        if doc is None:
            ctx.services.pop("identity", None)
        else:
            ctx.services["identity"] = doc
    sb.run(set_identity)


@pytest.fixture
def check_windows(monkeypatch: pytest.MonkeyPatch) -> list[tuple[float, float, str]]:
    """Every check run records (start, end, check id): the plan's requests are attributed to the check sending
    them."""
    load_builtins()
    windows: list[tuple[float, float, str]] = []
    for cid, ck in list(registry.CHECKS.items()):
        def timed(ctx: Any, fn: Any = ck.fn, cid: str = cid) -> Any:
            start = time.time()
            try:
                return fn(ctx)
            finally:
                windows.append((start, time.time(), cid))
        monkeypatch.setitem(registry.CHECKS, cid, dataclasses.replace(ck, fn=timed))
    return windows


def _covered(p: Permissions, e: dict[str, Any], arm: bool) -> bool:
    if arm:
        return e.get("action") is None or p.covers_arm(str(e["action"]))
    if e.get("verb") is None or (e.get("group") == "authorization.k8s.io" and e.get("resource") in REVIEWS):
        return True  # discovery / version, and asking what one may do: every authenticated user may
    return p.covers_kube(e["verb"], e["group"], e["resource"], e.get("namespace"))


def _describe(e: dict[str, Any]) -> str:
    if "action" in e:
        return f"{e['method']} {e['path']} ({e['action']})"
    return f"{e['verb']} {e['resource']}.{e['group']} ns={e.get('namespace')} ({e['method']} {e['path']})"


@pytest.mark.parametrize("case", list(KINDS))
def test_runs_end_to_end_under_the_printed_role_and_every_request_is_declared(
        case: str, tmp_path: Path, check_windows: list[tuple[float, float, str]]) -> None:
    kind = KINDS[case]
    sb = Sandbox(kind.scenario, tmp_path / "sandbox", time_scale=0.002)
    sb.start()
    try:
        if kind.uninstall_first:
            uninstall_by_hand(sb.directory)  # by hand, before the tool runs (with the default identity)
        restrict(sb, role(kind.name))
        started = time.time()
        plan = tmp_path / "p.yaml"
        res = run_cli(*plan_args(kind, sb.directory, plan))
        assert res.exit_code == 0, res.output
        assert "[ok  ] permissions:" in res.output
        applying = time.time()
        res = run_cli("apply", plan, "--sandbox", sb.directory, "--no-prefect", "--yes")
        assert res.exit_code == 0, res.output[-3000:]
    finally:
        sb.stop()

    from netmig.engine.planning import load_plan

    planned = load_plan(plan).steps  # the template's steps that apply to this cluster (only_if settled)
    windows = step_windows(tmp_path / "p.run")
    ran = {k for _, _, _, k in windows}
    assert ran >= {s.kind for s in planned if s.kind != "update-network-profile"} - {
        "backup-calico-policies", "restore-verify-policies"} or kind.case.endswith("fallback")
    all_checks = registry.needed([], perms.load_template(kind.name).checks)
    problems: list[str] = []
    denied: list[str] = []
    for log, arm in (("arm-requests.jsonl", True), ("kube-requests.jsonl", False)):
        entries = [e for e in requests(sb.directory, log) if e["time"] >= started]
        denied += [_describe(e) for e in entries if e["status"] in (401, 403)]
        for e, step_kind in attribute(entries, windows):
            if e["time"] < applying:  # plan: the check that ran, else the planning reads
                cid = next((c for s, end, c in check_windows if s <= e["time"] <= end), None)
                allowed = registry.ALWAYS_ON | (registry.CHECKS[cid].permissions if cid else registry.PLANNING)
                who = f"check {cid}" if cid else "plan"
            elif step_kind is None:  # the runner's own reads, or the last step's background poll ending
                last = max((w for w in windows if w[1] <= e["time"]), default=None, key=lambda w: w[1])
                allowed = registry.ALWAYS_ON | registry.PLANNING | (
                    registry.STEPS[last[3]].permissions if last else registry.PLANNING)
                who = f"apply (after step {last[3] if last else None})"
            else:
                allowed = registry.ALWAYS_ON | registry.STEPS[step_kind].permissions
                if step_kind == "preflight":
                    allowed = allowed | all_checks
                who = f"step {step_kind}"
            if not _covered(allowed, e, arm):
                problems.append(f"{who}: {_describe(e)}")
    assert denied == []
    assert sorted(set(problems)) == []


# ---------------------------------------------------------------- any one permission removed -> preflight blocks
def _without_action(doc: dict[str, Any], action: str) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    out["azure_role"]["Actions"] = [a for a in out["azure_role"]["Actions"] if a != action]
    return out


def _without_rule(doc: dict[str, Any], rule: KubeRule) -> dict[str, Any]:
    """``doc`` with one verb on one resource removed from the (Cluster)Role that grants it."""
    out = copy.deepcopy(doc)
    kind = "Role" if rule.namespace else "ClusterRole"
    for obj in out["kubernetes"]:
        if obj["kind"] != kind or (rule.namespace and obj["metadata"].get("namespace") != rule.namespace):
            continue
        new_rules = []
        for r in obj["rules"]:
            if r["apiGroups"] == [rule.api_group] and rule.resources[0] in r["resources"] and rule.verbs[0] in r[
                    "verbs"]:
                rest = [x for x in r["resources"] if x != rule.resources[0]]
                if rest:
                    new_rules.append({**r, "resources": rest})
                verbs = [v for v in r["verbs"] if v != rule.verbs[0]]
                if verbs:
                    new_rules.append({**r, "resources": [rule.resources[0]], "verbs": verbs})
            else:
                new_rules.append(r)
        obj["rules"] = new_rules
    return out


def _cases() -> Iterator[Any]:
    load_builtins()
    for case, kind in KINDS.items():
        if case.endswith("fallback"):
            continue  # the same template as kubenet-to-overlay
        need = perms.for_kind(kind.name)
        for action in need.arm:
            yield pytest.param(case, action, None, id=f"{case}-{action}")
        for rule in need.kube:  # one verb on one resource each (minimal)
            yield pytest.param(case, None, rule, id=f"{case}-{rule.line()}")


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[Sandbox, Path]]]:
    """One started sandbox and one plan (made with the full role) per migration kind, reused by every case."""
    made: dict[str, tuple[Sandbox, Path]] = {}
    yield made
    for sb, _ in made.values():
        sb.stop()


def _sandbox_and_plan(made: dict[str, tuple[Sandbox, Path]], kind: Kind, base: Path) -> tuple[Sandbox, Path]:
    if kind.case not in made:
        d = base / kind.case
        sb = Sandbox(kind.scenario, d / "sandbox", time_scale=0.002)
        sb.start()
        made[kind.case] = (sb, d / "p.yaml")
        if kind.uninstall_first:
            uninstall_by_hand(sb.directory)
        restrict(sb, role(kind.name))
        res = run_cli(*plan_args(kind, sb.directory, d / "p.yaml"))
        assert res.exit_code == 0, res.output
    return made[kind.case]


def _needed_by(plan: Path, kind: Kind, action: str | None, rule: KubeRule | None) -> bool:
    """Whether the kind's role without ``action`` / ``rule`` would miss something this cluster's plan needs (the
    role covers every path of the template; a plan's conditional steps may not include the ones that need it)."""
    from netmig.engine.planning import load_plan

    p = load_plan(plan)
    need = registry.needed([s.kind for s in p.steps], p.checks)
    full = perms.for_kind(kind.name)
    if action:
        rest = Permissions(arm=tuple(a for a in full.arm if a != action), kube=full.kube)
        return not all(rest.covers_arm(a) for a in need.arm)
    assert rule is not None
    rest = Permissions(arm=full.arm, kube=tuple(r for r in full.kube if r != rule))
    return not all(rest.covers_kube(s.verbs[0], s.api_group, s.resources[0], s.namespace)
                   for r in need.kube for s in r.singles())


@pytest.mark.parametrize(("case", "action", "rule"), list(_cases()))
def test_preflight_blocks_naming_a_missing_permission_and_nothing_changes(
        case: str, action: str | None, rule: KubeRule | None, planned: dict[str, tuple[Sandbox, Path]],
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    kind = KINDS[case]
    sb, plan = _sandbox_and_plan(planned, kind, tmp_path_factory.getbasetemp() / "planned")
    if not _needed_by(plan, kind, action, rule):
        pytest.skip("only steps for another source profile need it (only_if), not this cluster's plan")
    doc = role(kind.name)
    restrict(sb, _without_action(doc, action) if action else _without_rule(doc, rule))  # type: ignore[arg-type]
    mine = tmp_path / "p.yaml"
    shutil.copy(plan, mine)  # a run folder of its own
    since = time.time()
    try:
        res = run_cli("apply", mine, "--sandbox", sb.directory, "--no-prefect", "--yes")
    finally:
        restrict(sb, doc)
    assert res.exit_code != 0, res.output[-2000:]
    if action:
        assert action in res.output, res.output[-2000:]
    else:
        assert rule is not None
        assert rule.line() in res.output or f"resources: [{rule.resources[0]}], verbs: [{rule.verbs[0]}]" in (
            res.output), res.output[-2000:]
    puts = [e for e in requests(sb.directory, "arm-requests.jsonl") if e["time"] >= since and e["method"] == "PUT"]
    writes = [e for e in requests(sb.directory, "kube-requests.jsonl") if e["time"] >= since
              and e.get("verb") in WRITES and e.get("resource") not in REVIEWS]  # not even attempted
    assert puts == [] and writes == [], (puts, writes)


def test_a_read_only_identity_plans_with_a_warning_and_apply_blocks(tmp_path: Path) -> None:
    """``sandbox start --role FILE`` with the ``--read-only`` role: plan works (the permissions check warns what the
    run will need), apply's preflight blocks naming a missing write, and nothing is changed."""
    from tests.e2e.migrate_helpers import cli, stop

    role_file = tmp_path / "ro.json"
    res = run_cli("permissions", "--migration", "npm-to-cilium", "--json", "--read-only")
    assert res.exit_code == 0, res.output
    role_file.write_text(res.output)
    d = tmp_path / "sb"
    started = cli("sandbox", "start", "--dir", str(d), "--detach", "--scenario", "npm", "--time-scale", "0.002",
                  "--role", str(role_file))
    assert started.returncode == 0, started.stderr
    try:
        plan = tmp_path / "p.yaml"
        res = run_cli("plan", "--sandbox", d, "--out", plan, "--accept", "policy-analysis")
        assert res.exit_code == 0, res.output
        assert "[warn] permissions: the run will need permissions this identity lacks: Azure action " \
               "Microsoft.ContainerService/managedClusters/write" in res.output
        res = run_cli("apply", plan, "--sandbox", d, "--no-prefect", "--yes")
        assert res.exit_code != 0 and "missing permissions: Azure action " \
            "Microsoft.ContainerService/managedClusters/write" in res.output
        assert "nothing was changed" in res.output
        assert [e for e in requests(d, "arm-requests.jsonl") if e["method"] == "PUT"] == []
    finally:
        stop(d)
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    res = cli("sandbox", "start", "--dir", str(tmp_path / "sb2"), "--role", str(bad))
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "is not {" in res.stderr


def test_verify_runs_under_the_printed_verify_role(sandbox: Sandbox, tmp_path: Path) -> None:
    """``aks-netmig verify snapshot`` (the connectivity probes) under ``permissions --verify``: nothing denied."""
    res = run_cli("permissions", "--migration", "npm-to-cilium", "--json", "--verify")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert all(a.endswith("/read") or a.endswith("listClusterUserCredential/action")
               for a in doc["azure_role"]["Actions"])
    restrict(sandbox, doc)
    since = time.time()
    res = run_cli("verify", "snapshot", "--sandbox", sandbox.directory, "--out", tmp_path / "snap.json", "--quiet")
    assert res.exit_code == 0, res.output[-2000:]
    denied = [e for log in ("arm-requests.jsonl", "kube-requests.jsonl") for e in requests(sandbox.directory, log)
              if e["time"] >= since and e["status"] in (401, 403)]
    assert denied == []
    assert any(e["verb"] == "create" and e["resource"] == "pods" and e["time"] >= since
               for e in requests(sandbox.directory, "kube-requests.jsonl"))  # it did probe


def test_abort_the_documented_recovery_runs_under_the_printed_run_role(sandbox_factory: Any, tmp_path: Path) -> None:
    """The run role of a kind includes ``managedClusters/abort/action`` (RECOVERY): a run that stalls with the
    cluster's reimage in flight is aborted by ``aks-netmig abort`` under exactly that role, nothing denied."""
    from netmig_sandbox import scenarios
    from netmig_sandbox.faults import Fault

    doc = role("npm-to-cilium")
    assert "Microsoft.ContainerService/managedClusters/abort/action" in doc["azure_role"]["Actions"]
    scenario = scenarios.load("npm")
    scenario["arm_behaviour"] = {"node_ready_timeout_seconds": 1e7}  # ARM would give up much later than apply
    sb = sandbox_factory(scenario, time_scale=0.002)
    restrict(sb, doc)
    plan = tmp_path / "p.yaml"
    res = run_cli("plan", "--sandbox", sb.directory, "--out", plan, "--accept", "policy-analysis")
    assert res.exit_code == 0, res.output
    sb.run(lambda ctx: ctx.faults.add(Fault("node", kind="stuck-notready", params={"pool": "user"})))
    res = run_cli("apply", plan, "--sandbox", sb.directory, "--yes", "--no-prefect", "--stall-timeout", "3")
    assert res.exit_code == 3, res.output[-2000:]  # stalled, the reimage still in flight
    since = time.time()
    res = run_cli("abort", plan, "--sandbox", sb.directory, "--yes", "--json")
    assert res.exit_code == 0, res.output[-2000:]
    out = json.loads(res.output)
    assert out["in_flight"] and out["aborted"], out
    entries = [e for log in ("arm-requests.jsonl", "kube-requests.jsonl") for e in requests(sb.directory, log)
               if e["time"] >= since]
    assert [e for e in entries if e["status"] in (401, 403)] == []
    sent = [e for e in entries if e.get("action") == "Microsoft.ContainerService/managedClusters/abort/action"]
    assert sent and all(e["status"] < 300 for e in sent), sent
    assert all(e.get("action") is None or Permissions(arm=tuple(doc["azure_role"]["Actions"])).covers_arm(
        e["action"]) for e in entries if "action" in e)
