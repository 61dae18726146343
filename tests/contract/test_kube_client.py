"""The official ``kubernetes`` Python client against the sandbox Kubernetes API over HTTPS (no mocks)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from netmig_sandbox.faults import Fault

pytestmark = pytest.mark.contract


def wait_until(cond: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll ``cond`` until it returns a truthy value (bounded); returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def api(kube_sandbox: Any) -> Iterator[client.ApiClient]:
    api_client = config.new_client_from_config(config_file=kube_sandbox.info["kubeconfig"])
    try:
        yield api_client
    finally:
        api_client.close()


@pytest.fixture
def v1(api: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api)


def _ns(v1: client.CoreV1Api, name: str) -> None:
    v1.create_namespace({"metadata": {"name": name}})


def _pod(name: str, labels: dict[str, str] | None = None, containers: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [
            {"name": f"c{i}", "image": "k8s.gcr.io/e2e-test-images/agnhost:2.33",
             "ports": [{"containerPort": 80 + i}]} for i in range(containers)
        ]},
    }


def test_version_and_discovery(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")
    groups = {g.name for g in client.ApisApi(api).get_api_versions().groups}
    assert {"apps", "networking.k8s.io", "apiextensions.k8s.io", "coordination.k8s.io"} <= groups
    core = client.CoreApi(api).get_api_versions()
    assert core.versions == ["v1"]
    resources = {r.name: r for r in client.CoreV1Api(api).get_api_resources().resources}
    assert resources["pods"].short_names == ["po"] and resources["pods"].namespaced
    assert "pods/log" in resources and "pods/eviction" in resources


def test_namespace_crud(v1: client.CoreV1Api) -> None:
    created = v1.create_namespace({"metadata": {"name": "team-a", "labels": {"tier": "x"}}})
    assert created.metadata.uid and created.status.phase == "Active"
    assert created.metadata.labels["kubernetes.io/metadata.name"] == "team-a"
    with pytest.raises(ApiException) as exc:
        v1.create_namespace({"metadata": {"name": "team-a"}})
    assert exc.value.status == 409
    patched = v1.patch_namespace("team-a", {"metadata": {"labels": {"tier": "y"}}})
    assert patched.metadata.labels["tier"] == "y"
    names = {n.metadata.name for n in v1.list_namespace(label_selector="tier=y").items}
    assert names == {"team-a"}
    v1.delete_namespace("team-a")
    wait_until(lambda: "team-a" not in {n.metadata.name for n in v1.list_namespace().items}, what="ns gone")
    with pytest.raises(ApiException) as exc:
        v1.read_namespace("team-a")
    assert exc.value.status == 404


def test_pod_crud_conflict_and_strategic_merge(v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    pod = v1.create_namespaced_pod("demo", _pod("server", {"app": "server"}, containers=2))
    assert pod.status.phase == "Pending" and pod.metadata.resource_version
    with pytest.raises(ApiException) as exc:
        v1.create_namespaced_pod("demo", _pod("server"))
    assert exc.value.status == 409
    assert '"reason":"AlreadyExists"' in exc.value.body.replace(" ", "")

    # strategic merge: the container list is merged by name, labels merge
    patched = v1.patch_namespaced_pod("server", "demo", {
        "metadata": {"labels": {"extra": "1"}},
        "spec": {"containers": [{"name": "c1", "image": "agnhost:2.40"}]},
    })
    images = {c.name: c.image for c in patched.spec.containers}
    assert images == {"c0": "k8s.gcr.io/e2e-test-images/agnhost:2.33", "c1": "agnhost:2.40"}
    assert patched.metadata.labels == {"app": "server", "extra": "1"}

    # JSON patch
    patched = v1.patch_namespaced_pod("server", "demo", [
        {"op": "replace", "path": "/metadata/labels/extra", "value": "2"}])
    assert patched.metadata.labels["extra"] == "2"

    # replace with the current resourceVersion works, with a stale one is a 409 Conflict
    stale = pod
    current = v1.read_namespaced_pod("server", "demo")
    current.metadata.annotations = {"note": "fresh"}
    replaced = v1.replace_namespaced_pod("server", "demo", current)
    assert replaced.metadata.annotations == {"note": "fresh"}
    with pytest.raises(ApiException) as exc:
        v1.replace_namespaced_pod("server", "demo", stale)
    assert exc.value.status == 409

    # status subresource: replacing status does not touch the spec, the main resource ignores status
    current = v1.read_namespaced_pod("server", "demo")
    current.status.phase = "Running"
    current.status.pod_ip = "10.244.0.7"
    v1.replace_namespaced_pod_status("server", "demo", current)
    assert v1.read_namespaced_pod_status("server", "demo").status.pod_ip == "10.244.0.7"
    v1.patch_namespaced_pod("server", "demo", {"status": {"podIP": "1.2.3.4"}})
    assert v1.read_namespaced_pod("server", "demo").status.pod_ip == "10.244.0.7"

    v1.delete_namespaced_pod("server", "demo")
    with pytest.raises(ApiException) as exc:
        v1.read_namespaced_pod("server", "demo")
    assert exc.value.status == 404


def test_services_configmaps_leases_networkpolicies(api: client.ApiClient, v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    svc = v1.create_namespaced_service("demo", {
        "metadata": {"name": "server"},
        "spec": {"selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": 8080}]}})
    assert svc.spec.cluster_ip and svc.spec.type == "ClusterIP"
    svc = v1.patch_namespaced_service("server", "demo", {"spec": {"ports": [{"port": 80, "name": "http"}]}})
    assert [(p.port, p.name, p.target_port) for p in svc.spec.ports] == [(80, "http", 8080)]

    v1.create_namespaced_config_map("demo", {"metadata": {"name": "cfg"}, "data": {"a": "1"}})
    v1.patch_namespaced_config_map("cfg", "demo", {"data": {"b": "2"}})
    assert v1.read_namespaced_config_map("cfg", "demo").data == {"a": "1", "b": "2"}
    # every namespace also gets the cluster's root CA (the root-ca-cert-publisher controller, asynchronous)
    wait_until(lambda: len(v1.list_namespaced_config_map("demo").items) == 2, 30, "kube-root-ca.crt in demo")
    names = [c.metadata.name for c in v1.list_namespaced_config_map("demo").items]
    assert names == ["cfg", "kube-root-ca.crt"]
    v1.delete_namespaced_config_map("cfg", "demo")
    assert [c.metadata.name for c in v1.list_namespaced_config_map("demo").items] == ["kube-root-ca.crt"]

    coord = client.CoordinationV1Api(api)
    lease = coord.create_namespaced_lease("demo", {
        "metadata": {"name": "netmig-lock"}, "spec": {"holderIdentity": "run-1", "leaseDurationSeconds": 30}})
    lease.spec.holder_identity = "run-2"
    coord.replace_namespaced_lease("netmig-lock", "demo", lease)
    with pytest.raises(ApiException) as exc:  # the first holder's copy is stale now
        lease.spec.holder_identity = "run-3"
        coord.replace_namespaced_lease("netmig-lock", "demo", lease)
    assert exc.value.status == 409
    assert coord.read_namespaced_lease("netmig-lock", "demo").spec.holder_identity == "run-2"
    coord.delete_namespaced_lease("netmig-lock", "demo")

    net = client.NetworkingV1Api(api)
    net.create_namespaced_network_policy("demo", {
        "metadata": {"name": "demo-policy"},
        "spec": {"podSelector": {"matchLabels": {"app": "server"}},
                 "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                              "ports": [{"port": 80, "protocol": "TCP"}]}]}})
    np = net.read_namespaced_network_policy("demo-policy", "demo")
    assert np.spec.policy_types == ["Ingress"]
    assert np.spec.ingress[0].ports[0].port == 80
    assert [p.metadata.name for p in net.list_network_policy_for_all_namespaces().items] == ["demo-policy"]
    net.delete_namespaced_network_policy("demo-policy", "demo")
    assert net.list_namespaced_network_policy("demo").items == []


def test_label_and_field_selectors(v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    _ns(v1, "other")
    v1.create_namespaced_pod("demo", _pod("server", {"app": "server", "tier": "web"}))
    v1.create_namespaced_pod("demo", _pod("client", {"app": "client"}))
    v1.create_namespaced_pod("other", _pod("server", {"app": "server"}))

    def names(**kw: Any) -> set[str]:  # only ours: a full sandbox also runs system pods
        return {f"{p.metadata.namespace}/{p.metadata.name}" for p in v1.list_pod_for_all_namespaces(**kw).items
                if p.metadata.namespace in ("demo", "other")}

    assert names(label_selector="app=server") == {"demo/server", "other/server"}
    assert names(label_selector="app in (client,nothing)") == {"demo/client"}
    assert names(label_selector="app!=server") == {"demo/client"}
    assert names(label_selector="tier") == {"demo/server"}
    assert names(label_selector="!tier,app=server") == {"other/server"}
    assert names(field_selector="metadata.namespace=other") == {"other/server"}
    assert names(field_selector="metadata.name=server,metadata.namespace!=other") == {"demo/server"}
    assert names(field_selector="spec.restartPolicy=Always") == {"demo/server", "demo/client", "other/server"}
    assert names(field_selector="spec.restartPolicy!=Always") == set()
    with pytest.raises(ApiException) as exc:
        v1.list_pod_for_all_namespaces(label_selector="app in (a")
    assert exc.value.status == 400


def test_watch_from_resource_version_with_timeout(v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    v1.create_namespaced_config_map("demo", {"metadata": {"name": "before"}})
    rv = v1.list_namespaced_config_map("demo").metadata.resource_version
    events: list[tuple[str, str]] = []
    started = threading.Event()

    def consume() -> None:
        w = watch.Watch()
        started.set()
        for ev in w.stream(v1.list_namespaced_config_map, "demo", resource_version=rv, timeout_seconds=2):
            events.append((ev["type"], ev["object"].metadata.name))

    t = threading.Thread(target=consume)
    t.start()
    started.wait(5)
    v1.create_namespaced_config_map("demo", {"metadata": {"name": "after"}})
    v1.patch_namespaced_config_map("after", "demo", {"data": {"k": "v"}})
    v1.delete_namespaced_config_map("after", "demo")
    t.join(15)  # the server ends the stream after timeoutSeconds
    assert not t.is_alive(), "the watch did not end after timeoutSeconds"
    # replayed from rv: only the changes after it, never "before"
    assert events == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "after")]


def test_watch_without_resource_version_lists_first(v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    v1.create_namespaced_pod("demo", _pod("a", {"app": "x"}))
    v1.create_namespaced_pod("demo", _pod("b", {"app": "y"}))
    w = watch.Watch()
    seen = []
    for ev in w.stream(v1.list_namespaced_pod, "demo", label_selector="app=x", timeout_seconds=5):
        seen.append((ev["type"], ev["object"].metadata.name))
        w.stop()
    assert seen == [("ADDED", "a")]


def test_finalizers_hold_deletion_until_removed(v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    v1.create_namespaced_config_map("demo", {"metadata": {"name": "held", "finalizers": ["netmig.io/hold"]}})
    v1.delete_namespaced_config_map("held", "demo")
    held = v1.read_namespaced_config_map("held", "demo")
    assert held.metadata.deletion_timestamp is not None
    assert held.metadata.finalizers == ["netmig.io/hold"]
    v1.patch_namespaced_config_map("held", "demo", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as exc:
        v1.read_namespaced_config_map("held", "demo")
    assert exc.value.status == 404


def test_namespace_deletion_cascades_and_waits_for_finalizers(v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    v1.create_namespaced_pod("demo", _pod("server"))
    v1.create_namespaced_config_map("demo", {"metadata": {"name": "held", "finalizers": ["netmig.io/hold"]}})
    v1.delete_namespace("demo")
    ns = v1.read_namespace("demo")
    assert ns.status.phase == "Terminating" and ns.metadata.deletion_timestamp is not None
    assert v1.list_namespaced_pod("demo").items == []  # content without finalizers is gone already
    with pytest.raises(ApiException) as exc:
        v1.create_namespaced_config_map("demo", {"metadata": {"name": "new"}})
    assert exc.value.status == 403
    # removing the last finalizer lets the namespace go (strategic merge: finalizers merge as a set, so an
    # empty list would change nothing -- like the real server; null removes them)
    v1.patch_namespaced_config_map("held", "demo", {"metadata": {"finalizers": None}})
    wait_until(lambda: "demo" not in {n.metadata.name for n in v1.list_namespace().items}, what="ns gone")


def test_pod_log(kube_sandbox: Any, v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    v1.create_namespaced_pod("demo", _pod("single"))
    v1.create_namespaced_pod("demo", _pod("double", containers=2))

    def put_logs(ctx: Any) -> None:
        ctx.logs[("demo", "single", "c0")] = "line 1\nline 2\n"
        ctx.logs[("demo", "double", "c1")] = "from c1\n"

    # a simulated kubelet (full runtime) resets a container's log when it starts it: write until it sticks
    def logs_stick() -> bool:
        kube_sandbox.run(put_logs)
        return bool(v1.read_namespaced_pod_log("single", "demo") == "line 1\nline 2\n" and
                    v1.read_namespaced_pod_log("double", "demo", container="c1") == "from c1\n")

    wait_until(logs_stick, what="pod logs served")
    assert v1.read_namespaced_pod_log("single", "demo") == "line 1\nline 2\n"
    assert v1.read_namespaced_pod_log("single", "demo", tail_lines=1) == "line 2\n"
    assert v1.read_namespaced_pod_log("double", "demo", container="c1") == "from c1\n"
    with pytest.raises(ApiException) as exc:
        v1.read_namespaced_pod_log("double", "demo")
    assert exc.value.status == 400 and "a container name must be specified" in exc.value.body
    with pytest.raises(ApiException) as exc:
        v1.read_namespaced_pod_log("missing", "demo")
    assert exc.value.status == 404


def test_eviction_deletes_pod_or_calls_hook(kube_sandbox: Any, v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    v1.create_namespaced_pod("demo", _pod("a"))
    v1.create_namespaced_pod_eviction("a", "demo", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                    "metadata": {"name": "a", "namespace": "demo"}})
    assert v1.list_namespaced_pod("demo").items == []
    calls: list[tuple[str, str]] = []
    kube_sandbox.run(lambda ctx: ctx.services.__setitem__("evict", lambda ns, n: calls.append((ns, n))))
    v1.create_namespaced_pod("demo", _pod("b"))
    v1.create_namespaced_pod_eviction("b", "demo", {"apiVersion": "policy/v1", "kind": "Eviction",
                                                    "metadata": {"name": "b", "namespace": "demo"}})
    assert calls == [("demo", "b")]


CRD_NS = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "networkpolicies.crd.projectcalico.org"},
    "spec": {
        "group": "crd.projectcalico.org", "scope": "Namespaced",
        "names": {"plural": "networkpolicies", "singular": "networkpolicy", "kind": "NetworkPolicy"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}},
                      "subresources": {"status": {}}}],
    },
}
CRD_CLUSTER = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "installations.operator.tigera.io"},
    "spec": {
        "group": "operator.tigera.io", "scope": "Cluster",
        "names": {"plural": "installations", "singular": "installation", "kind": "Installation"},
        "versions": [{"name": "v1", "served": True, "storage": True,
                      "schema": {"openAPIV3Schema": {"type": "object",
                                                     "x-kubernetes-preserve-unknown-fields": True}},
                      "subresources": {"status": {}}}],
    },
}


def test_crds_and_custom_objects(api: client.ApiClient, v1: client.CoreV1Api) -> None:
    ext = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    _ns(v1, "demo")
    for crd in (CRD_NS, CRD_CLUSTER):
        ext.create_custom_resource_definition(crd)
    established = wait_until(lambda: {
        c.type: c.status for c in (ext.read_custom_resource_definition(
            "networkpolicies.crd.projectcalico.org").status.conditions or [])
    }, what="CRD conditions")
    assert established == {"NamesAccepted": "True", "Established": "True"}
    crd = ext.read_custom_resource_definition("installations.operator.tigera.io")
    assert crd.status.accepted_names.kind == "Installation"
    assert {c.metadata.name for c in ext.list_custom_resource_definition().items} == {
        "networkpolicies.crd.projectcalico.org", "installations.operator.tigera.io"}

    # namespaced custom objects
    g, v = "crd.projectcalico.org", "v1"
    obj = custom.create_namespaced_custom_object(g, v, "demo", "networkpolicies", {
        "apiVersion": f"{g}/{v}", "kind": "NetworkPolicy", "metadata": {"name": "allow-dns"},
        "spec": {"selector": "all()", "order": 100}})
    assert obj is not None and obj["metadata"]["namespace"] == "demo"  # POST answered 201
    with pytest.raises(ApiException) as exc:
        custom.create_namespaced_custom_object(g, v, "demo", "networkpolicies", obj)
    assert exc.value.status == 409
    custom.patch_namespaced_custom_object(g, v, "demo", "networkpolicies", "allow-dns", {"spec": {"order": 50}})
    got = custom.get_namespaced_custom_object(g, v, "demo", "networkpolicies", "allow-dns")
    assert got["spec"] == {"selector": "all()", "order": 50}
    got["status"] = {"programmed": True}
    custom.replace_namespaced_custom_object_status(g, v, "demo", "networkpolicies", "allow-dns", got)
    custom.patch_namespaced_custom_object_status(g, v, "demo", "networkpolicies", "allow-dns",
                                                 {"status": {"nodes": 3}})
    got = custom.get_namespaced_custom_object_status(g, v, "demo", "networkpolicies", "allow-dns")
    assert got["status"] == {"programmed": True, "nodes": 3}
    listed = custom.list_namespaced_custom_object(g, v, "demo", "networkpolicies")
    assert listed["kind"] == "NetworkPolicyList" and [i["metadata"]["name"] for i in listed["items"]] == [
        "allow-dns"]
    custom.create_namespaced_custom_object(g, v, "demo", "networkpolicies", {
        "apiVersion": f"{g}/{v}", "kind": "NetworkPolicy", "metadata": {"name": "deny-all"}, "spec": {}})
    custom.delete_namespaced_custom_object(g, v, "demo", "networkpolicies", "deny-all")
    assert len(custom.list_cluster_custom_object(g, v, "networkpolicies")["items"]) == 1

    # cluster-scoped custom objects with status
    inst = custom.create_cluster_custom_object("operator.tigera.io", "v1", "installations", {
        "apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"},
        "spec": {"cni": {"type": "Calico"}}})
    assert "namespace" not in inst["metadata"]
    custom.patch_cluster_custom_object_status("operator.tigera.io", "v1", "installations", "default",
                                              {"status": {"variant": "Calico"}})
    inst = custom.get_cluster_custom_object("operator.tigera.io", "v1", "installations", "default")
    assert inst["status"] == {"variant": "Calico"} and inst["spec"] == {"cni": {"type": "Calico"}}

    # deleting the CRD deletes its objects and stops serving the type
    ext.delete_custom_resource_definition("networkpolicies.crd.projectcalico.org")
    with pytest.raises(ApiException) as exc:
        custom.list_cluster_custom_object(g, v, "networkpolicies")
    assert exc.value.status == 404
    ext.create_custom_resource_definition(CRD_NS)
    wait_until(lambda: ext.read_custom_resource_definition("networkpolicies.crd.projectcalico.org").status,
               what="CRD re-established")
    assert custom.list_cluster_custom_object(g, v, "networkpolicies")["items"] == []
    # the built-in networking.k8s.io NetworkPolicy is a different type, untouched
    assert client.NetworkingV1Api(api).list_network_policy_for_all_namespaces().items == []


def test_crd_with_finalizer_deletes_objects_once_released(api: client.ApiClient) -> None:
    ext = client.ApiextensionsV1Api(api)
    custom = client.CustomObjectsApi(api)
    body = dict(CRD_CLUSTER, metadata={"name": "installations.operator.tigera.io",
                                       "finalizers": ["netmig.io/hold"]})
    ext.create_custom_resource_definition(body)
    custom.create_cluster_custom_object("operator.tigera.io", "v1", "installations", {
        "apiVersion": "operator.tigera.io/v1", "kind": "Installation", "metadata": {"name": "default"}})
    ext.delete_custom_resource_definition("installations.operator.tigera.io")
    # held by the finalizer: the type and objects are still served
    assert len(custom.list_cluster_custom_object("operator.tigera.io", "v1", "installations")["items"]) == 1
    ext.patch_custom_resource_definition("installations.operator.tigera.io", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as exc:
        custom.list_cluster_custom_object("operator.tigera.io", "v1", "installations")
    assert exc.value.status == 404


def test_apiservices(api: client.ApiClient) -> None:
    reg = client.ApiregistrationV1Api(api)
    reg.create_api_service({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v3.projectcalico.org"},
        "spec": {"group": "projectcalico.org", "version": "v3", "groupPriorityMinimum": 1500,
                 "versionPriority": 200, "service": {"name": "calico-api", "namespace": "calico-apiserver",
                                                     "port": 443}}})
    reg.create_api_service({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1.netmig.io"},
        "spec": {"group": "netmig.io", "version": "v1", "groupPriorityMinimum": 100, "versionPriority": 10}})
    local = reg.read_api_service("v1.netmig.io")
    assert [(c.type, c.status) for c in local.status.conditions] == [("Available", "True")]
    remote = reg.read_api_service("v3.projectcalico.org")
    assert [(c.type, c.status) for c in remote.status.conditions] == [("Available", "False")]
    reg.patch_api_service_status("v3.projectcalico.org", {"status": {"conditions": [
        {"type": "Available", "status": "True", "reason": "Passed", "lastTransitionTime": "2026-01-01T00:00:00Z"}
    ]}})
    assert reg.read_api_service("v3.projectcalico.org").status.conditions[0].status == "True"
    assert {a.metadata.name for a in reg.list_api_service().items} == {"v3.projectcalico.org", "v1.netmig.io"}
    reg.delete_api_service("v3.projectcalico.org")
    assert {a.metadata.name for a in reg.list_api_service().items} == {"v1.netmig.io"}


def test_injected_5xx_fault_is_seen_by_the_client(kube_sandbox: Any, v1: client.CoreV1Api) -> None:
    faults = kube_sandbox.context.faults
    faults.add(Fault(target="kube", method="GET", path=r"^/api/v1/namespaces/default/pods$",
                     status=500, code="InternalError", message="etcd is sad", times=1))
    with pytest.raises(ApiException) as exc:
        v1.list_namespaced_pod("default")
    assert exc.value.status == 500
    assert "etcd is sad" in exc.value.body
    assert v1.list_namespaced_pod("default").items == []  # the fault was used up


def test_503_with_retry_after_is_retried_by_urllib3(kube_sandbox: Any, v1: client.CoreV1Api) -> None:
    """Measured: the client's urllib3 pool honours Retry-After on 503 (and 429/413) and retries by itself."""
    faults = kube_sandbox.context.faults
    faults.add(Fault(target="kube", method="GET", path=r"^/api/v1/namespaces/default/pods$",
                     status=503, code="ServiceUnavailable", retry_after=1, times=1))
    assert v1.list_namespaced_pod("default").items == []
    assert faults.active() == []  # the 503 was served (and retried past)


def test_watch_cut_by_fault(kube_sandbox: Any, v1: client.CoreV1Api) -> None:
    _ns(v1, "demo")
    for i in range(5):
        v1.create_namespaced_config_map("demo", {"metadata": {"name": f"cm{i}"}})
    kube_sandbox.context.faults.add(Fault(target="kube", kind="cut-watch", path="/namespaces/demo/configmaps",
                                          params={"after_events": 2}))
    t0 = time.monotonic()
    seen = [ev["object"].metadata.name
            for ev in watch.Watch().stream(v1.list_namespaced_config_map, "demo", timeout_seconds=60)]
    assert seen == ["cm0", "cm1"]
    assert time.monotonic() - t0 < 30, "the stream was not cut by the fault"


def test_unauthorized_without_the_token(kube_sandbox: Any) -> None:
    cfg = client.Configuration()
    cfg.host = kube_sandbox.info["kube_server"]
    cfg.ssl_ca_cert = kube_sandbox.info["ca_bundle"]
    cfg.api_key = {"authorization": "Bearer wrong"}
    with client.ApiClient(cfg) as bad, pytest.raises(ApiException) as exc:
        client.CoreV1Api(bad).list_namespace()
    assert exc.value.status == 401


def test_deployment_scale_and_status(api: client.ApiClient, v1: client.CoreV1Api) -> None:
    apps = client.AppsV1Api(api)
    _ns(v1, "demo")
    apps.create_namespaced_deployment("demo", {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    assert apps.read_namespaced_deployment("web", "demo").spec.replicas == 1
    apps.patch_namespaced_deployment_scale("web", "demo", {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment_scale("web", "demo").spec.replicas == 3
    # the answer to a write is the stored result of that write (a deployment controller may move on later)
    dep = apps.patch_namespaced_deployment_status("web", "demo", {"status": {"observedGeneration": 7}})
    assert dep.spec.replicas == 3 and dep.status.observed_generation == 7 and dep.metadata.generation == 2
    dep = apps.patch_namespaced_deployment("web", "demo", {"status": {"observedGeneration": 9}})
    assert dep.status.observed_generation != 9  # the main resource ignores status
