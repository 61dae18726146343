"""Issue #15 (items 2, 3, 6): the official ``kubernetes`` client against the sandbox -- server-side apply with
managedFields, conflicts, force and field removal; 422 Invalid bodies; events listed and watched by field selector.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

from tests.contract.test_kube_client import wait_until

pytestmark = pytest.mark.contract
APPLY = "application/apply-patch+yaml"


@pytest.fixture
def core(kube_sandbox: Any) -> Iterator[client.CoreV1Api]:
    api_client = config.new_client_from_config(config_file=kube_sandbox.info["kubeconfig"])
    try:
        yield client.CoreV1Api(api_client)
    finally:
        api_client.close()


def _cm(data: dict[str, str], labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "shared", "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def _apply(core: client.CoreV1Api, body: dict[str, Any], manager: str, force: bool = False) -> Any:
    return core.patch_namespaced_config_map("shared", "default", body, field_manager=manager, force=force,
                                            _content_type=APPLY)


def _owners(obj: Any) -> dict[str, dict[str, Any]]:
    return {(e.manager, e.operation): e.fields_v1 for e in obj.metadata.managed_fields or []}


def test_server_side_apply_conflicts_force_and_field_removal(core: client.CoreV1Api) -> None:
    created = _apply(core, _cm({"a": "1", "b": "2"}, {"team": "x"}), "alice")
    assert _owners(created) == {("alice", "Apply"): {"f:data": {"f:a": {}, "f:b": {}},
                                                      "f:metadata": {"f:labels": {"f:team": {}}}}}

    # bob applies a different value of a field alice owns: 409 naming alice and the field
    with pytest.raises(ApiException) as e:
        _apply(core, _cm({"a": "9"}), "bob")
    assert e.value.status == 409
    status = json.loads(e.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "alice": .data.a'
    assert status["details"]["causes"] == [{"reason": "FieldManagerConflict", "message": 'conflict with "alice"',
                                            "field": ".data.a"}]
    # the same value is shared ownership, not a conflict
    shared = _apply(core, _cm({"b": "2"}), "carol")
    assert ("carol", "Apply") in _owners(shared) and shared.data == {"a": "1", "b": "2"}

    # an Update (merge patch) by another manager takes the field; a later apply conflicts "using v1"
    core.patch_namespaced_config_map("shared", "default", {"data": {"b": "3"}}, field_manager="editor")
    with pytest.raises(ApiException) as e:
        _apply(core, _cm({"a": "1", "b": "2"}, {"team": "x"}), "alice")
    assert json.loads(e.value.body)["message"] == (
        'Apply failed with 1 conflict: conflict with "editor" using v1: .data.b')

    # force takes it over; the editor loses it
    forced = _apply(core, _cm({"a": "1", "b": "2"}, {"team": "x"}), "alice", force=True)
    assert forced.data == {"a": "1", "b": "2"}
    assert ("editor", "Update") not in _owners(forced)

    # alice stops applying the label and data.a: a (hers alone) goes, b stays (carol co-owns it)
    pruned = _apply(core, _cm({"b": "2"}), "alice")
    assert pruned.data == {"b": "2"}
    assert not (pruned.metadata.labels or {})
    assert _owners(pruned)[("alice", "Apply")] == {"f:data": {"f:b": {}}}
    # carol drops b too: now nobody else owns it, so alice's copy keeps it; alice dropping it removes it
    nothing = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared", "namespace": "default"}}
    _apply(core, nothing, "carol")
    assert core.read_namespaced_config_map("shared", "default").data == {"b": "2"}
    gone = _apply(core, nothing, "alice")
    assert not gone.data


def test_multiple_conflicts_list_fields_per_manager(core: client.CoreV1Api) -> None:
    _apply(core, _cm({"a": "1", "b": "2"}), "alice")
    core.patch_namespaced_config_map("shared", "default", {"metadata": {"labels": {"x": "1"}}},
                                     field_manager="labeler")
    with pytest.raises(ApiException) as e:
        _apply(core, _cm({"a": "7", "b": "8"}, {"x": "2"}), "bob")
    message = json.loads(e.value.body)["message"]
    assert message == ('Apply failed with 3 conflicts: conflicts with "alice":\n- .data.a\n- .data.b\n'
                       'conflicts with "labeler" using v1:\n- .metadata.labels.x')


def test_invalid_object_status_body(core: client.CoreV1Api) -> None:
    net = client.NetworkingV1Api(core.api_client)
    body = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"protocol": "XYZ", "port": 80}]}]}}
    with pytest.raises(ApiException) as e:
        net.create_namespaced_network_policy("default", body)
    assert e.value.status == 422
    status = json.loads(e.value.body)
    assert status["reason"] == "Invalid"
    assert status["message"] == ('NetworkPolicy.networking.k8s.io "bad" is invalid: spec.ingress[0].ports[0].'
                                 'protocol: Unsupported value: "XYZ": supported values: "TCP", "UDP", "SCTP"')
    assert status["details"] == {"name": "bad", "group": "networking.k8s.io", "kind": "NetworkPolicy",
                                 "causes": [{"reason": "FieldValueNotSupported",
                                             "message": 'Unsupported value: "XYZ": supported values: "TCP", '
                                                        '"UDP", "SCTP"',
                                             "field": "spec.ingress[0].ports[0].protocol"}]}
    apps = client.AppsV1Api(core.api_client)
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "mismatch", "namespace": "default"},
           "spec": {"selector": {"matchLabels": {"app": "b"}}, "replicas": -1,
                    "template": {"metadata": {"labels": {"app": "a"}},
                                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}
    with pytest.raises(ApiException) as e:
        apps.create_namespaced_deployment("default", dep)
    status = json.loads(e.value.body)
    assert status["message"] == (
        'Deployment.apps "mismatch" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal '
        'to 0, spec.template.metadata.labels: Invalid value: {"app":"a"}: `selector` does not match template '
        '`labels`]')
    assert [c["reason"] for c in status["details"]["causes"]] == ["FieldValueInvalid", "FieldValueInvalid"]


def test_events_listed_and_watched_by_involved_object(core: client.CoreV1Api) -> None:
    core.create_namespaced_pod("default", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ev"},
                                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
    pod = wait_until(lambda: (p := core.read_namespaced_pod("ev", "default")).status.phase == "Running" and p,
                     what="pod running")
    selector = (f"involvedObject.name=ev,involvedObject.namespace=default,involvedObject.uid={pod.metadata.uid},"
                "involvedObject.kind=Pod")
    listed = wait_until(lambda: len(items := core.list_namespaced_event("default", field_selector=selector).items)
                        >= 4 and items, what="pod events")
    assert [e.reason for e in sorted(listed, key=lambda e: e.metadata.resource_version)] == [
        "Scheduled", "Pulled", "Created", "Started"]
    assert all(e.involved_object.uid == pod.metadata.uid for e in listed)
    rv = core.list_namespaced_event("default").metadata.resource_version
    core.delete_namespaced_pod("ev", "default")
    w = watch.Watch()
    seen = []
    for ev in w.stream(core.list_namespaced_event, "default", field_selector="involvedObject.name=ev",
                       resource_version=rv, timeout_seconds=5):
        seen.append((ev["type"], ev["object"].reason, ev["object"].message))
        if ev["object"].reason == "Killing":
            w.stop()
    assert ("ADDED", "Killing", "Stopping container c") in seen
    v1 = client.EventsV1Api(core.api_client).list_namespaced_event("default", field_selector="regarding.name=ev")
    assert {e.reason for e in v1.items} == {"Scheduled", "Pulled", "Created", "Started", "Killing"}
    assert all(e.reporting_controller in ("kubelet", "default-scheduler") for e in v1.items)
