"""The permission model (netmig.model.permissions), the registry's declarations and the roles built from them."""

from __future__ import annotations

import json

import yaml
from click.testing import CliRunner

from netmig.cli.main import cli
from netmig.engine import permissions as perms
from netmig.engine.catalog import load_builtins
from netmig.model.permissions import KubeRule, Permissions, action_allowed, arm, kube, rule_covers, rules
from netmig.stepkit import registry

CS = "Microsoft.ContainerService/managedClusters"


def test_azure_evaluation_wildcards_case_and_not_actions() -> None:
    assert action_allowed(f"{CS}/write", ["Microsoft.ContainerService/*"], [])
    assert action_allowed(f"{CS}/WRITE", [f"{CS}/write"], [])
    assert not action_allowed(f"{CS}/write", ["*"], ["Microsoft.ContainerService/*/write"])
    assert action_allowed(f"{CS}/read", ["*"], ["Microsoft.ContainerService/*/write"])
    assert not action_allowed(f"{CS}/write", [f"{CS}/read"], [])


def test_kube_rules_match_verbs_groups_resources_and_namespaces() -> None:
    lease = kube("get,update", "leases", "coordination.k8s.io", namespace="kube-system")
    assert rule_covers(lease, "get", "coordination.k8s.io", "leases", "kube-system")
    assert not rule_covers(lease, "get", "coordination.k8s.io", "leases", "default")
    assert not rule_covers(lease, "delete", "coordination.k8s.io", "leases", "kube-system")
    anywhere = kube("list", "*", "crd.projectcalico.org")
    assert rule_covers(anywhere, "list", "crd.projectcalico.org", "ippools", "ns1")
    assert not rule_covers(anywhere, "list", "operator.tigera.io", "installations", None)
    assert lease.line() == "get,update leases.coordination.k8s.io in namespace kube-system"
    assert kube("get", "pods/log").line() == "get pods/log (cluster-wide)"


def test_union_read_only_and_minimal() -> None:
    p = arm(f"{CS}/read", f"{CS}/write") | rules(kube("get,create", "configmaps"),
                                                 kube("get", "configmaps", namespace="kube-system"),
                                                 kube("list", "*", "g"), kube("list", "things", "g"))
    assert p.arm == (f"{CS}/read", f"{CS}/write")
    ro = p.read_only()
    assert ro.arm == (f"{CS}/read",) and all(set(r.verbs) <= {"get", "list", "watch"} for r in ro.kube)
    m = p.minimal()
    assert KubeRule(verbs=("get",), resources=("configmaps",), namespace="kube-system") not in m.kube
    assert KubeRule(verbs=("list",), resources=("things",), api_group="g") not in m.kube
    assert m.covers_kube("get", "", "configmaps", "kube-system") and m.covers_kube("list", "g", "things", None)
    assert len(m.kube) == 3  # get configmaps, create configmaps, list g/*


def test_every_step_kind_and_check_that_touches_the_cluster_declares_it() -> None:
    load_builtins()
    silent_steps = {"preflight", "approval-gate", "report"}  # the checks / nothing / the run folder only
    for kind, sk in registry.STEPS.items():
        if kind.startswith("test-") or kind in silent_steps:
            continue
        assert sk.permissions != Permissions(), f"step kind {kind} declares no permissions"
    assert f"{CS}/write" in registry.STEPS["update-network-profile"].permissions.arm
    assert registry.ALWAYS_ON.covers_kube("update", "coordination.k8s.io", "leases", "kube-system")


def test_permissions_json_prints_the_azure_role_and_kubernetes_rbac() -> None:
    res = CliRunner().invoke(cli, ["permissions", "--migration", "npm-to-cilium", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    role = doc["azure_role"]
    assert role["IsCustom"] is True and role["Name"] == "aks-netmig-npm-to-cilium"
    assert f"{CS}/write" in role["Actions"] and role["NotActions"] == [] and role["AssignableScopes"]
    kinds = [o["kind"] for o in doc["kubernetes"]]
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
    role_ns = next(o for o in doc["kubernetes"] if o["kind"] == "Role")
    assert role_ns["metadata"]["namespace"] == "kube-system"
    assert {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
            "verbs": ["get", "create", "update", "delete"]} in role_ns["rules"]
    cluster_role = doc["kubernetes"][0]
    assert any("pods" in r["resources"] and "create" in r["verbs"] for r in cluster_role["rules"])  # probes


def test_read_only_roles_write_nothing_and_plain_output_is_applyable_yaml() -> None:
    ro = perms.for_kind("calico-crd-cleanup", read_only=True)
    assert all(a.endswith("/read") or a.endswith("listClusterUserCredential/action") for a in ro.arm)
    assert all(set(r.verbs) <= {"get", "list", "watch"} for r in ro.kube)
    res = CliRunner().invoke(cli, ["permissions", "--migration", "uninstall", "--read-only"])
    assert res.exit_code == 0, res.output
    yaml_part = res.output.split("# Kubernetes RBAC:", 1)[1].split("\n", 1)[1]
    objs = list(yaml.safe_load_all(yaml_part))
    assert objs[0]["kind"] == "ClusterRole" and objs[0]["metadata"]["name"] == "aks-netmig-uninstall-read-only"


def test_unknown_kind_is_one_line_exit_2() -> None:
    res = CliRunner().invoke(cli, ["permissions", "--migration", "nope"])
    assert res.exit_code == 2 and "unknown migration kind 'nope'" in res.output
    assert "Traceback" not in res.output
