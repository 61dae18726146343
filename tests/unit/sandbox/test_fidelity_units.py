"""Unit tests of the sandbox's apiserver fidelity pieces (issue #15): validation messages, unknown fields,
managedFields / server-side apply, the garbage collector and the event recorder, on a bare store (no loop: the
collector and recorder then act synchronously)."""

from __future__ import annotations

import pytest

from netmig_sandbox.kube import admission, events, gc, known_fields, managed_fields, validation
from netmig_sandbox.kube.store import ApiError, Store
from netmig_sandbox.kube.types import BUILTIN_TYPES, register_builtin_types

NS = ("", "namespaces")
CM = ("", "configmaps")
PODS = ("", "pods")
NODES = ("", "nodes")
RS = ("apps", "replicasets")
DEPLOY = ("apps", "deployments")
RT = {rt.key: rt for rt in BUILTIN_TYPES}


@pytest.fixture
def store() -> Store:
    s = Store()
    register_builtin_types(s)
    s.create(NS, {"metadata": {"name": "default"}})
    return s


def _messages(key: tuple[str, str], obj: dict) -> list[str]:  # type: ignore[type-arg]
    return [e.message() for e in validation.validate(key, obj)]


def test_names_per_kind() -> None:
    assert _messages(NS, {"metadata": {"name": "a.b"}}) == [
        'metadata.name: Invalid value: "a.b": a lowercase RFC 1123 label must consist of lower case alphanumeric '
        "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
        "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
    assert _messages(CM, {"metadata": {"name": "a.b"}}) == []  # subdomain
    assert _messages(CM, {"metadata": {"name": "x" * 254}})[0].endswith("must be no more than 253 characters")
    assert _messages(CM, {"metadata": {}}) == ["metadata.name: Required value: name or generateName is required"]
    bad_labels = _messages(CM, {"metadata": {"name": "c", "labels": {"a/b/c": "v", "ok": "-x"}}})
    assert bad_labels[0].startswith('metadata.labels: Invalid value: "a/b/c": a qualified name must consist of')
    assert bad_labels[1].startswith('metadata.labels: Invalid value: "-x": a valid label must be an empty string')
    assert _messages(CM, {"metadata": {"name": "c"}, "data": {"a b": "x"}})[0].startswith(
        'data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric characters')


def test_network_policy_rules() -> None:
    def np(spec: dict) -> list[str]:  # type: ignore[type-arg]
        return _messages(("networking.k8s.io", "networkpolicies"), {"metadata": {"name": "p"}, "spec": spec})

    assert np({"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 70}]}]}) == [
        "spec.ingress[0].ports[0].endPort: Invalid value: 70: must be greater than or equal to `port`"]
    assert np({"podSelector": {}, "ingress": [{"ports": [{"port": "Web--x"}]}]}) == [
        'spec.ingress[0].ports[0].port: Invalid value: "Web--x": must contain only alpha-numeric characters '
        "(a-z, 0-9), and hyphens (-)",
        'spec.ingress[0].ports[0].port: Invalid value: "Web--x": must not contain consecutive hyphens']
    assert np({"podSelector": {}, "ingress": [{"ports": [{"endPort": 9}]}]}) == [
        "spec.ingress[0].ports[0].endPort: Invalid value: 9: may not be specified when `port` is not specified"]
    assert np({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}) == [
        'spec.egress[0].to[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": not a valid CIDR']
    assert np({"podSelector": {}, "egress": [{"to": [{"ipBlock": {"cidr": "10.0.0.0/8"},
                                                       "podSelector": {}}]}]}) == [
        "spec.egress[0].to[0]: Forbidden: may not specify both ipBlock and another peer"]
    assert np({"podSelector": {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]},
                                                    {"key": "b", "operator": "Is"}]}}) == [
        "spec.podSelector.matchExpressions[0].values: Forbidden: may not be specified when `operator` is "
        "'Exists' or 'DoesNotExist'",
        'spec.podSelector.matchExpressions[1].operator: Invalid value: "Is": not a valid selector operator']
    assert np({"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP", "port": 1, "endPort": 65535}],
                                               "from": [{"ipBlock": {"cidr": "10.0.0.0/8",
                                                                     "except": ["10.1.0.0/16"]}}]}],
               "policyTypes": ["Ingress"]}) == []


def test_invalid_status_aggregates_like_the_apiserver() -> None:
    errs = validation.validate(DEPLOY, {"metadata": {"name": "d"}, "spec": {"template": {"spec": {}}}})
    err = validation.invalid(RT[DEPLOY], "d", errs)
    assert err.code == 422 and err.reason == "Invalid"
    assert err.message == ('Deployment.apps "d" is invalid: [spec.selector: Required value, '
                           "spec.template.spec.containers: Required value]")
    assert err.details["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.selector"},
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.template.spec.containers"}]
    svc = validation.invalid(RT[("", "services")], "s", validation.validate(
        ("", "services"), {"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80, "protocol": "ICMP"}]}}))
    assert svc.message == ('Service "s" is invalid: spec.ports[0].protocol: Unsupported value: "ICMP": '
                           'supported values: "SCTP", "TCP", "UDP"')
    assert "group" not in svc.details


def test_workload_selectors_are_immutable() -> None:
    old = {"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
                                                 "template": {"metadata": {"labels": {"app": "a", "v": "1"}},
                                                              "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
    new = {**old, "spec": {**old["spec"], "selector": {"matchLabels": {"app": "a", "v": "1"}}}}
    assert [e.message() for e in validation.validate_update(DEPLOY, new, old)] == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"a","v":"1"}}: field is immutable']
    assert validation.validate_update(DEPLOY, old, old) == []


def test_unknown_fields_by_mode() -> None:
    rt = RT[PODS]
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i", "colour": "red"}],
                                               "$setElementOrder/containers": [{"name": "c"}]}}
    with pytest.raises(ApiError) as e:
        admission.check_unknown("Strict", rt, dict(pod), "create", "v1")
    assert e.value.code == 400 and e.value.message == (
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field '
        '"spec.containers[0].colour"')
    with pytest.raises(ApiError) as e:
        admission.check_unknown("Strict", rt, dict(pod), "patch", "v1")
    assert e.value.message == 'strict decoding error: unknown field "spec.containers[0].colour"'
    warned = admission.check_unknown("Warn", rt, pod, "create", "v1")
    assert warned == ['unknown field "spec.containers[0].colour"']
    assert "colour" not in pod["spec"]["containers"][0]
    with pytest.raises(ApiError):
        admission.field_validation({"fieldValidation": "Loud"})
    assert admission.field_validation({}) == "Warn"
    assert known_fields.unknown_fields(("crd.projectcalico.org", "felixconfigurations"), {"anything": 1}) == []


def test_server_side_apply_and_updates_track_owners() -> None:
    obj = managed_fields.server_side_apply(None, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "d", "labels": {"a": "1"}}, "spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}]}}}}, "mgr", "apps/v1", False)
    entry = obj["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("mgr", "Apply", "FieldsV1")
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:a": {}}},
        "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {
            ".": {}, "f:image": {}, "f:name": {},
            "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}}}}
    new = {**obj, "spec": {**obj["spec"], "replicas": 5}}
    managed_fields.record_update(obj, new, "kubectl-scale", "apps/v1")
    owners = {e["manager"]: managed_fields.from_fields_v1(e["fieldsV1"]) for e in new["metadata"]["managedFields"]}
    assert owners["kubectl-scale"] == {("f:spec", "f:replicas")}
    assert ("f:spec", "f:replicas") not in owners["mgr"]
    with pytest.raises(ApiError) as e:
        managed_fields.server_side_apply(new, {"spec": {"replicas": 2, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:2"}]}}}}, "other", "apps/v1", False)
    assert e.value.code == 409
    assert e.value.message == ('Apply failed with 2 conflicts: conflicts with "kubectl-scale" using apps/v1:\n'
                               '- .spec.replicas\nconflicts with "mgr":\n'
                               '- .spec.template.spec.containers[name="web"].image')
    assert managed_fields.path_string(("f:spec", 'k:{"port":80,"protocol":"TCP"}', "f:name")) == (
        '.spec[port=80,protocol="TCP"].name')


def test_garbage_collector_policies(store: Store) -> None:
    gc.install(store, services := {})
    owner = store.create(DEPLOY, {"metadata": {"name": "d", "namespace": "default"}, "spec": {}})
    ref = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": owner["metadata"]["uid"],
            "controller": True}]
    rs = store.create(RS, {"metadata": {"name": "d-1", "namespace": "default", "ownerReferences": ref}})
    rs_ref = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "d-1", "uid": rs["metadata"]["uid"]}]
    store.create(PODS, {"metadata": {"name": "d-1-a", "namespace": "default", "ownerReferences": rs_ref}})
    # foreground: the owner waits (finalizer) until its dependents are gone, then goes
    gc.prepare_delete(store, services, DEPLOY, "default", "d", "Foreground")
    store.delete(DEPLOY, "default", "d")
    assert not store.exists(DEPLOY, "default", "d")
    assert not store.exists(RS, "default", "d-1") and not store.exists(PODS, "default", "d-1-a")
    # orphan: dependents stay without the reference
    owner = store.create(DEPLOY, {"metadata": {"name": "e", "namespace": "default"}, "spec": {}})
    ref[0].update(name="e", uid=owner["metadata"]["uid"])
    store.create(RS, {"metadata": {"name": "e-1", "namespace": "default", "ownerReferences": ref}})
    gc.prepare_delete(store, services, DEPLOY, "default", "e", "Orphan")
    store.delete(DEPLOY, "default", "e")
    assert "ownerReferences" not in store.get(RS, "default", "e-1")["metadata"]
    # background, with a second owner that still exists: only the reference goes
    a = store.create(CM, {"metadata": {"name": "a", "namespace": "default"}})
    b = store.create(CM, {"metadata": {"name": "b", "namespace": "default"}})
    refs = [{"apiVersion": "v1", "kind": "ConfigMap", "name": n, "uid": o["metadata"]["uid"]} for n, o in
            (("a", a), ("b", b))]
    store.create(CM, {"metadata": {"name": "child", "namespace": "default", "ownerReferences": refs}})
    store.delete(CM, "default", "a")
    assert [r["name"] for r in store.get(CM, "default", "child")["metadata"]["ownerReferences"]] == ["b"]
    store.delete(CM, "default", "b")
    assert not store.exists(CM, "default", "child")


def test_event_recorder_derives_node_events_and_counts_repeats(store: Store) -> None:
    rec = events.install(store, {})
    ready = {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"bootID": "1"}}
    store.create(NODES, {"metadata": {"name": "n1"}, "status": ready})
    reasons = [e["reason"] for e in store.list(("", "events"))]
    assert reasons[-1] == "RegisteredNode" and "NodeReady" in reasons and "Starting" in reasons

    def notready(o: dict) -> None:  # type: ignore[type-arg]
        o["status"] = {"conditions": [{"type": "Ready", "status": "False"}], "nodeInfo": {"bootID": "2"}}
        o.setdefault("spec", {})["unschedulable"] = True
    store.update(NODES, None, "n1", notready)
    got = {e["reason"]: e for e in store.list(("", "events"))}
    assert {"NodeNotSchedulable", "Rebooted", "NodeNotReady"} <= set(got)
    assert got["NodeNotReady"]["source"] == {"component": "node-controller"}
    assert got["NodeNotReady"]["involvedObject"]["uid"] == "n1"  # node events carry the node name as uid
    node = store.get(NODES, None, "n1")
    rec.record(node, "Drain", "Draining node: n1", component="aks-upgrade")
    rec.record(node, "Drain", "Draining node: n1", component="aks-upgrade")
    drains = [e for e in store.list(("", "events")) if e["reason"] == "Drain"]
    assert len(drains) == 1 and drains[0]["count"] == 2
    v1 = {e["metadata"]["name"]: e for e in store.list(events.V1)}
    assert v1[drains[0]["metadata"]["name"]]["deprecatedCount"] == 2
    assert v1[drains[0]["metadata"]["name"]]["regarding"]["name"] == "n1"


def test_pod_events_scheduling_lifecycle_and_owner(store: Store) -> None:
    events.install(store, {})
    ref = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "uid": "rs-uid", "controller": True}]
    store.create(PODS, {"metadata": {"name": "web-1-a", "namespace": "default", "ownerReferences": ref},
                        "spec": {"containers": [{"name": "c", "image": "nginx:1"}]}})

    def unschedulable(o: dict) -> None:  # type: ignore[type-arg]
        o["status"] = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                                                           "message": "0/3 nodes are available"}]}
    store.update(PODS, "default", "web-1-a", unschedulable)

    def run(o: dict) -> None:  # type: ignore[type-arg]
        o["spec"]["nodeName"] = "n1"
        o["status"] = {"phase": "Running", "containerStatuses": [{"name": "c", "state": {"running": {}}}]}
    store.update(PODS, "default", "web-1-a", run)
    store.delete(PODS, "default", "web-1-a")
    got = [(e["involvedObject"]["kind"], e["reason"], e["message"], e["type"], e["source"]["component"])
           for e in sorted(store.list(("", "events")), key=lambda e: int(e["metadata"]["resourceVersion"]))]
    assert got == [
        ("ReplicaSet", "SuccessfulCreate", "Created pod: web-1-a", "Normal", "replicaset-controller"),
        ("Pod", "FailedScheduling", "0/3 nodes are available", "Warning", "default-scheduler"),
        ("Pod", "Scheduled", "Successfully assigned default/web-1-a to n1", "Normal", "default-scheduler"),
        ("Pod", "Pulled", 'Container image "nginx:1" already present on machine', "Normal", "kubelet"),
        ("Pod", "Created", "Created container c", "Normal", "kubelet"),
        ("Pod", "Started", "Started container c", "Normal", "kubelet"),
        ("Pod", "Killing", "Stopping container c", "Normal", "kubelet"),
    ]
