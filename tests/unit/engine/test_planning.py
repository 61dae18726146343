"""Plans: the concrete contents for a cluster, the YAML round trip, drift (the refusal apply gives), and `plan`
against the sandbox (preflight results and findings in the written plan)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from netmig.engine.catalog import step_fn
from netmig.engine.planning import load_plan
from netmig.errors import CheckFailed, UsageError
from netmig.model.checks import CheckResult
from netmig.model.cluster import NetworkProfile
from netmig.model.plan import drift
from tests.unit.engine.values import NOW, REF, cluster, context, plan, pool

PROFILE_KEYS = ["plugin", "policy", "dataplane", "plugin_mode", "pod_cidr", "service_cidr"]


def test_the_plan_names_source_target_the_exact_arm_change_pools_and_duration() -> None:
    p = plan()
    assert p.migration_id == "npm-to-cilium-aks-prod-20250301-123000"
    assert (p.cluster, p.arm_endpoint, p.etag, p.kubernetes_version) == (
        REF.resource_id, "https://management.azure.com", 'W/"etag-1"', "1.32.3")
    assert p.source == {"plugin": "azure", "policy": "azure", "dataplane": "azure", "plugin_mode": None,
                        "pod_cidr": None, "service_cidr": "10.0.0.0/16"}
    assert p.target == {**p.source, "policy": "cilium", "dataplane": "cilium"}
    assert (p.source_profile().describe(), p.target_profile().describe()) == ("azure-cni + npm", "azure-cni + cilium")
    [change] = p.arm_changes
    assert change.method == "PUT" and change.resource == REF.resource_id and change.if_match == 'W/"etag-1"'
    assert change.network_profile == {"networkPolicy": "cilium", "networkDataplane": "cilium"}
    assert "one managed-cluster PUT: azure-cni + npm -> azure-cni + cilium" in change.description
    assert [(x.name, x.mode, x.os_type, x.nodes, x.max_surge, x.surge_nodes) for x in p.pools] == [
        ("system", "System", "Linux", 3, "33%", 1), ("user", "User", "Linux", 4, "1", 1)]
    assert p.nodes_to_reimage == 7
    # all pools at once; the slowest (user: 4 batches of 1) decides: 3 + 4*4 .. 6 + 4*12, plus 2 / 10 minutes
    assert p.expected_minutes == (21, 64)
    assert p.irreversible and "no way back" in (p.irreversible_reason or "")
    assert p.checks[:2] == ["permissions", "cluster-succeeded"] and "policy-analysis" in p.checks
    assert [s.id for s in p.steps][:5] == ["preflight", "snapshot", "backup", "approval", "lock"]
    assert p.step("update-network").irreversible and p.step("update-network").params == {
        "policy": "cilium", "dataplane": "cilium"}


def test_surge_percentages_round_up_and_shape_the_duration() -> None:
    p = plan(cluster(pools=(pool("system", count=10, max_surge="25%"),)))
    assert [(x.nodes, x.surge_nodes) for x in p.pools] == [(10, 3)]
    assert p.expected_minutes == (3 + 4 * 4 + 2, 6 + 4 * 12 + 10)


def test_the_yaml_round_trip_is_lossless(tmp_path: Path) -> None:
    p = plan(accepted=["policy-analysis"])
    p.preflight = [CheckResult.of({"check": "pdb-drain", "outcome": "fail", "reason": "data/db: needs 2",
                                   "fix": "scale up", "accepted": True})]
    p.findings = [{"severity": "error", "rule": "ip-block", "kind": "NetworkPolicy", "namespace": "data",
                   "name": "db", "message": "ipBlock: pod IPs"}]
    path = tmp_path / "p.yaml"
    path.write_text(p.to_yaml())
    assert path.read_text().startswith("# aks-netmig plan: ")
    assert load_plan(path) == p


def test_a_missing_or_malformed_plan_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist") as e:
        load_plan(tmp_path / "nope.yaml")
    assert e.value.exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text(plan().to_yaml().replace("migration_id:", "migration_idx:"))
    with pytest.raises(UsageError, match="malformed"):
        load_plan(bad)


def test_an_unchanged_cluster_has_no_drift() -> None:
    assert drift(plan(), cluster()) == []


@pytest.mark.parametrize(("changed", "expected"), [
    ({"etag": 'W/"etag-2"'}, ['the cluster\'s etag changed since the plan was made (W/"etag-1" -> W/"etag-2")']),
    ({"network": NetworkProfile(plugin="azure", policy="calico", service_cidr="10.0.0.0/16")},
     ["the network profile is now azure-cni + calico, the plan expects azure-cni + npm"]),
    ({"pools": (pool("system"), pool("user", count=5))},
     ["the node pools changed ({'system': 3, 'user': 4} -> {'system': 3, 'user': 5})"]),
    ({"ref": dataclasses.replace(REF, name="other")},
     [f"the plan is for {REF.resource_id}, not {dataclasses.replace(REF, name='other').resource_id}"]),
])
def test_drift_names_what_changed(changed: dict[str, Any], expected: list[str]) -> None:
    assert drift(plan(), cluster(**changed)) == expected


def test_apply_refuses_a_changed_cluster_in_one_line_before_any_check(tmp_path: Path) -> None:
    changed = cluster(etag='W/"etag-2"', network=NetworkProfile(plugin="azure", policy="cilium", dataplane="cilium"))
    ctx = context(tmp_path, plan(), info=changed)
    with pytest.raises(CheckFailed) as e:
        step_fn("preflight")(ctx, ctx.plan.step("preflight"))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("the cluster changed since the plan was made: ")
    assert "the network profile is now azure-cni + cilium, the plan expects azure-cni + npm" in msg
    assert 'W/"etag-1" -> W/"etag-2"' in msg and "make a new plan" in msg
    assert ctx.journal.value("preflight") is None  # refused before running any check


def test_plan_on_the_sandbox_records_preflight_and_findings(sandbox_factory: Any) -> None:
    from netmig.connection import from_sandbox_dir
    from netmig.engine.plan_build import make_plan

    sb = sandbox_factory("npm", time_scale=0.002)
    p = make_plan("npm-to-cilium", from_sandbox_dir(sb.directory), accepted=["policy-analysis"],
                  polling_interval=0.1)
    assert [r.check for r in p.preflight] == p.checks  # every check of the template, in order
    outcomes = {r.check: r.outcome for r in p.preflight}
    assert outcomes["cluster-succeeded"] == outcomes["azure-cni"] == outcomes["pdb-drain"] == "pass"
    assert outcomes["kubernetes-version"] == "warn"  # the npm scenario runs 1.31: Cilium < 1.17 ignores endPort
    assert outcomes["surge-capacity"] == "pass"
    [analysis] = [r for r in p.preflight if r.check == "policy-analysis"]
    assert analysis.outcome == "fail" and analysis.accepted is True
    assert p.findings and {"severity", "rule", "kind", "namespace", "name"} <= set(p.findings[0])
    assert any(f["severity"] == "error" and f["rule"] == "ip-block" for f in p.findings)
    assert p.nodes_to_reimage == sum(x.nodes for x in p.pools) == 6
    assert p.etag and p.created_at[:4] >= str(NOW.year)
