"""APIService availability, discovery failures and what they do to namespace deletion (kube.crds + kube.store)."""

from __future__ import annotations

import pytest

from netmig_sandbox.kube.crds import APISERVICE_KEY, aggregated_group_versions, unavailable_group_versions
from netmig_sandbox.kube.store import Store
from netmig_sandbox.kube.types import register_builtin_types

NS = ("", "namespaces")
SVC = ("", "services")
EP = ("", "endpoints")
SA = ("", "serviceaccounts")
CALICO_API = {"metadata": {"name": "v3.projectcalico.org"},
              "spec": {"group": "projectcalico.org", "version": "v3", "groupPriorityMinimum": 1500,
                       "versionPriority": 200,
                       "service": {"name": "calico-api", "namespace": "calico-apiserver", "port": 443}}}


@pytest.fixture
def store() -> Store:
    s = Store()
    register_builtin_types(s)
    for ns in ("calico-apiserver", "calico-system"):
        s.create(NS, {"metadata": {"name": ns}})
    return s


def available(store: Store) -> tuple[str, str]:
    cond = store.get(APISERVICE_KEY, None, "v3.projectcalico.org")["status"]["conditions"][0]
    return cond["status"], cond["reason"]


def conditions(store: Store, ns: str) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["message"])
            for c in store.get(NS, None, ns)["status"].get("conditions") or []}


def test_availability_follows_the_service_and_its_endpoints(store: Store) -> None:
    store.create(APISERVICE_KEY, CALICO_API)
    assert available(store) == ("False", "ServiceNotFound")
    assert unavailable_group_versions(store) == ["projectcalico.org/v3"]
    assert aggregated_group_versions(store) == {("projectcalico.org", "v3"): False}
    store.create(SVC, {"metadata": {"name": "calico-api"}, "spec": {"ports": [{"port": 443}]}}, "calico-apiserver")
    assert available(store) == ("False", "MissingEndpoints")
    store.create(EP, {"metadata": {"name": "calico-api"}, "subsets": [
        {"addresses": [{"ip": "10.224.128.9"}], "ports": [{"port": 5443}]}]}, "calico-apiserver")
    assert available(store) == ("True", "Passed")
    assert unavailable_group_versions(store) == []
    store.delete(SVC, "calico-apiserver", "calico-api")
    assert available(store) == ("False", "ServiceNotFound")


def test_dangling_apiservice_blocks_namespace_deletion_until_deleted(store: Store) -> None:
    store.create(APISERVICE_KEY, CALICO_API)
    store.create(("", "configmaps"), {"metadata": {"name": "c"}}, "calico-apiserver")
    store.delete(NS, None, "calico-apiserver")
    ns = store.get(NS, None, "calico-apiserver")
    assert ns["status"]["phase"] == "Terminating" and ns["spec"]["finalizers"] == ["kubernetes"]
    assert store.list(("", "configmaps"), "calico-apiserver") == []  # content is deleted all the same
    cond = conditions(store, "calico-apiserver")
    assert cond["NamespaceDeletionDiscoveryFailure"][0] == "True"
    assert "projectcalico.org/v3: the server is currently unable to handle the request" in \
        cond["NamespaceDeletionDiscoveryFailure"][1]
    assert cond["NamespaceContentRemaining"][0] == "False"
    store.delete(APISERVICE_KEY, None, "v3.projectcalico.org")
    assert not store.exists(NS, None, "calico-apiserver")


def test_recovered_discovery_also_releases_the_namespace(store: Store) -> None:
    store.create(APISERVICE_KEY, CALICO_API)
    store.delete(NS, None, "calico-system")
    assert store.exists(NS, None, "calico-system")
    store.create(SVC, {"metadata": {"name": "calico-api"}, "spec": {}}, "calico-apiserver")
    store.create(EP, {"metadata": {"name": "calico-api"}, "subsets": [{"addresses": [{"ip": "10.1.1.1"}]}]},
                 "calico-apiserver")
    assert not store.exists(NS, None, "calico-system")


def test_finalizer_held_content_is_reported_and_released_when_stripped(store: Store) -> None:
    store.create(SA, {"metadata": {"name": "calico-node", "finalizers": ["tigera.io/cni-protector"]}},
                 "calico-system")
    store.delete(NS, None, "calico-system")
    cond = conditions(store, "calico-system")
    assert cond["NamespaceDeletionDiscoveryFailure"][0] == "False"
    assert cond["NamespaceContentRemaining"] == ("True", "Some resources are remaining: serviceaccounts has 1 "
                                                         "resource instances")
    assert cond["NamespaceFinalizersRemaining"] == ("True", "Some content in the namespace has finalizers "
                                                            "remaining: tigera.io/cni-protector in 1 resource "
                                                            "instances")
    sa = store.get(SA, "calico-system", "calico-node")
    assert sa["metadata"]["deletionTimestamp"]

    def strip(o: dict) -> None:  # type: ignore[type-arg]
        o["metadata"]["finalizers"] = []

    store.update(SA, "calico-system", "calico-node", strip)
    assert not store.exists(SA, "calico-system", "calico-node")
    assert not store.exists(NS, None, "calico-system")


def test_a_client_written_status_sticks_until_the_service_changes(store: Store) -> None:
    store.create(APISERVICE_KEY, CALICO_API)

    def ok(o: dict) -> None:  # type: ignore[type-arg]
        o["status"]["conditions"][0].update(status="True", reason="Passed")

    store.update(APISERVICE_KEY, None, "v3.projectcalico.org", ok)
    assert available(store) == ("True", "Passed")
    store.create(SVC, {"metadata": {"name": "calico-api"}, "spec": {}}, "calico-apiserver")
    assert available(store) == ("False", "MissingEndpoints")
