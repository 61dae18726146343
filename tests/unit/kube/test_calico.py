"""Calico leftovers on the sandbox: inventory, verified backup, cleanup (finalizers, APIService, namespaces) and the
restore round trip -- objects identical apart from server-set fields."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from netmig import backups
from netmig.backups import key, normalized
from netmig.checks.calico_cluster import calico_leftovers
from netmig.kube import calico, errors
from netmig.kube.gateway import KubeGateway
from netmig.kube.resources import Resource, Rest
from netmig.kube.restore import restore

ANP_CRD = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "adminnetworkpolicies.policy.networking.k8s.io"},
           "spec": {"group": "policy.networking.k8s.io", "scope": "Cluster",
                    "names": {"plural": "adminnetworkpolicies", "singular": "adminnetworkpolicy",
                              "kind": "AdminNetworkPolicy", "listKind": "AdminNetworkPolicyList"},
                    "versions": [{"name": "v1alpha1", "served": True, "storage": True,
                                  "subresources": {"status": {}},
                                  "schema": {"openAPIV3Schema": {"type": "object",
                                                                 "x-kubernetes-preserve-unknown-fields": True}}}]}}
ANP = {"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
       "metadata": {"name": "deny-to-db", "labels": {"team": "sec"}},
       "spec": {"priority": 10, "subject": {"namespaces": {}}, "ingress": []}}


def uninstall_by_hand(directory: Path) -> None:
    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir

    aks = AksGateway(from_sandbox_dir(directory), polling_interval=0.1)
    info = aks.cluster()
    aks.wait(aks.begin_network_update(replace(info.network, policy="none"), etag=info.etag))


def _wait_served(rest: Rest, api: str, kind: str) -> Resource:
    import time

    for _ in range(200):
        if rest.served(api, kind):
            return rest.resource(api, kind)
        time.sleep(0.02)
    raise AssertionError(f"{api} {kind} never served")


@pytest.fixture
def leftovers(sandbox_factory: Any) -> Any:
    """A managed-calico sandbox whose network policy was set to none by hand, plus an admin-policy CRD + object."""
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    uninstall_by_hand(sb.directory)
    gw = KubeGateway(sb.directory / "kubeconfig")
    rest = Rest(gw)
    rest.create(calico.CRD, ANP_CRD)
    rest.create(_wait_served(rest, ANP["apiVersion"], ANP["kind"]), ANP)
    yield sb, gw, rest
    gw.close()


def test_backup_cleanup_restore_round_trip(leftovers: Any, tmp_path: Path) -> None:
    _sb, gw, rest = leftovers
    assert calico.engine_pods(gw) == []  # AKS removed calico-node, typha, the operator
    check = calico_leftovers(SimpleNamespace(kube=gw))  # type: ignore[arg-type]
    assert check.outcome.value == "pass" and "26 CRDs, 10 custom resources" in check.reason
    inv = calico.inventory(rest)
    c = inv.counts()
    assert c["crds"] == 26 and c["apiservices"] == 1 and c["namespaces"] == 3 and c["rbac"] == 3
    assert any(i.obj["kind"] == "AdminNetworkPolicy" for i in inv.crs)  # the suffix rule would miss it
    assert {i.name for i in inv.apiservices} == {"v3.projectcalico.org"}
    assert {"tigera.io/operator-cleanup", "operator.tigera.io/apiserver-controller"} <= {
        f for i in inv.crs for f in i.finalizers}

    d, counts = calico.backup(rest, inv, tmp_path)
    assert sum(counts.values()) == len(inv.items()) and calico.verify(d, rest) == []
    backed = backups.read(d).objects()
    assert all("managedFields" not in o["metadata"] for o in backed)

    # a damaged copy is refused
    bad = tmp_path / "damaged"
    shutil.copytree(d, bad)
    (bad / "crs.yaml").write_text((bad / "crs.yaml").read_text().replace("deny-to-db", "deny-to-xx"))
    with pytest.raises(backups.BackupError, match="checksum"):
        backups.read(bad)

    # an object the backup lacks is named; a finalizer nobody owns is not stripped: the cleanup says what holds
    ippool = rest.resource("crd.projectcalico.org/v1", "IPPool")
    rest.create(ippool, {"apiVersion": "crd.projectcalico.org/v1", "kind": "IPPool",
                         "metadata": {"name": "extra", "finalizers": ["example.com/keep"]}, "spec": {}})
    assert "IPPool /extra" in " ".join(calico.verify(d, rest))
    with pytest.raises(calico.CleanupStuck, match=r"example\.com/keep"):
        calico.cleanup(rest, calico.inventory(rest), phases=["crs"], wait_s=0.3)
    rest.merge_patch(ippool, None, "extra", {"metadata": {"finalizers": None}})

    steps: list[str] = []
    result = calico.cleanup(rest, calico.inventory(rest), wait_s=60, on_progress=steps.append)
    assert [s.split(":")[0] for s in steps] == ["rbac", "apiservices", "crds", "namespaces"]  # crs: gone already
    assert any("tigera.io/cni-protector" in s for s in result.stripped)
    assert calico.inventory(rest).empty()
    leftovers_now = calico_leftovers(SimpleNamespace(kube=gw))  # type: ignore[arg-type]
    assert leftovers_now.outcome.value == "warn" and "nothing to clean up" in leftovers_now.reason
    with pytest.raises(errors.NotFound):  # the dangling APIService is gone: discovery answers again
        rest.request("GET", "/apis/projectcalico.org/v3")
    assert rest.get(calico.NAMESPACE, None, "calico-system") is None
    # rerunning the cleanup is a no-op
    assert sum(calico.cleanup(rest, calico.inventory(rest), wait_s=5).deleted.values()) == 0

    res = restore(Rest(gw), backed, wait_s=30)
    # the dangling APIService (its Service calico-apiserver/calico-api is gone) is never re-created (issue 10, #12)
    dangling = "apiregistration.k8s.io/v1 APIService /v3.projectcalico.org"
    assert [s.split(": ", 1)[0] for s in res.skipped] == [dangling]
    assert "its Service calico-apiserver/calico-api does not exist" in res.skipped[0]
    assert res.ok and len(res.created) == len(backed) - 1 and not res.present, (res.failed, res.mismatches)
    live = {key(i.obj): i for i in calico.inventory(rest).items()}
    assert set(live) == {key(o) for o in backed} - {dangling}
    for o in backed:  # identical apart from server-set fields
        if key(o) == dangling:
            continue
        item = live[key(o)]
        assert normalized(item.obj, not item.res.has_status) == normalized(o, not item.res.has_status), key(o)
    again = restore(Rest(gw), backed, wait_s=5)
    assert again.ok and not again.created and len(again.present) == len(backed) - 1 and not again.differs
    assert len(again.skipped) == 1


def test_leftover_markers_name_the_crd_groups_and_the_apiservice_not_the_admin_policy_group(leftovers: Any) -> None:
    _sb, _gw, rest = leftovers
    assert calico.leftover_markers(rest) == ["crd.projectcalico.org: 19 CRDs", "operator.tigera.io: 6 CRDs",
                                             "APIService v3.projectcalico.org"]
    calico.cleanup(rest, calico.inventory(rest), wait_s=60)
    assert calico.leftover_markers(rest) == []
    rest.create(calico.CRD, ANP_CRD)  # the admin-policy CRDs alone: others install them too
    _wait_served(rest, ANP["apiVersion"], ANP["kind"])
    assert calico.leftover_markers(rest) == []


def test_normalized_ignores_only_server_set_fields() -> None:
    obj = {"apiVersion": "v1", "kind": "ServiceAccount", "status": {"x": 1},
           "metadata": {"name": "a", "namespace": "n", "uid": "u1", "resourceVersion": "7", "generation": 2,
                        "creationTimestamp": "t", "managedFields": [{}], "labels": {"a": "b"},
                        "ownerReferences": [{"kind": "X", "name": "o", "uid": "u0"}]}}
    other = {**obj, "status": {"x": 2}, "metadata": {**obj["metadata"], "uid": "u2", "resourceVersion": "9",
                                                     "ownerReferences": [{"kind": "X", "name": "o", "uid": "u3"}]}}
    assert normalized(obj) == normalized(other)
    assert normalized(obj, keep_status=True) != normalized(other, keep_status=True)
    changed = {**obj, "metadata": {**obj["metadata"], "labels": {"a": "c"}}}
    assert normalized(obj) != normalized(changed)


def test_calico_groups() -> None:
    assert calico.is_calico_group("crd.projectcalico.org") and calico.is_calico_group("operator.tigera.io")
    assert calico.is_calico_group("projectcalico.org") and calico.is_calico_group("policy.networking.k8s.io")
    assert calico.is_calico_group("enterprise.tigera.io")
    assert not calico.is_calico_group("networking.k8s.io") and not calico.is_calico_group("cilium.io")
