"""Unit tests of the sandbox object store and the pure pieces of the Kubernetes API (patching, tables,
protobuf decoding, the CRD controller)."""

from __future__ import annotations

import asyncio
import base64

import pytest

from netmig_sandbox.kube import patching, protobuf, tables
from netmig_sandbox.kube import store as store_mod
from netmig_sandbox.kube.crds import CRD_KEY, version_priority
from netmig_sandbox.kube.store import ApiError, Store
from netmig_sandbox.kube.types import register_builtin_types

NS = ("", "namespaces")
CM = ("", "configmaps")
PODS = ("", "pods")


@pytest.fixture
def store() -> Store:
    s = Store()
    register_builtin_types(s)
    s.create(NS, {"metadata": {"name": "demo"}})
    return s


def test_create_get_conflicts_and_resource_versions(store: Store) -> None:
    a = store.create(CM, {"metadata": {"name": "a"}}, "demo")
    assert a["kind"] == "ConfigMap" and a["apiVersion"] == "v1" and a["metadata"]["namespace"] == "demo"
    with pytest.raises(ApiError) as e:
        store.create(CM, {"metadata": {"name": "a"}}, "demo")
    assert e.value.code == 409 and e.value.reason == "AlreadyExists"
    b = store.replace(CM, {**a, "data": {"k": "v"}}, "demo")
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    with pytest.raises(ApiError) as e:
        store.replace(CM, a, "demo")  # stale
    assert e.value.code == 409 and e.value.reason == "Conflict"
    with pytest.raises(ApiError) as e:
        store.create(CM, {"metadata": {"name": "x"}}, "missing")
    assert e.value.code == 404
    assert store.get(CM, "demo", "a")["data"] == {"k": "v"}


def test_returned_objects_are_copies(store: Store) -> None:
    store.create(CM, {"metadata": {"name": "a"}, "data": {"k": "v"}}, "demo")
    got = store.get(CM, "demo", "a")
    got["data"]["k"] = "changed"
    assert store.get(CM, "demo", "a")["data"] == {"k": "v"}


def test_clone_is_a_deep_copy_sharing_only_immutable_values() -> None:
    obj = {"metadata": {"name": "a", "labels": {"k": "v"}}, "spec": {"ports": [{"port": 80}], "t": (1, [2])},
           "n": None, "f": 1.5, "b": True}
    c = store_mod.clone(obj)
    assert c == obj
    c["metadata"]["labels"]["k"] = "changed"
    c["spec"]["ports"][0]["port"] = 81
    c["spec"]["t"][1].append(3)
    assert obj["metadata"]["labels"] == {"k": "v"} and obj["spec"]["ports"] == [{"port": 80}]
    assert obj["spec"]["t"] == (1, [2])  # other types go through copy.deepcopy
    assert c["metadata"]["name"] is obj["metadata"]["name"]  # strings shared: no extra memory per copy


def test_subscribers_get_only_their_types_and_copies_they_own(store: Store) -> None:
    seen: list[tuple[str, str]] = []
    copies: list[dict[str, object]] = []

    def cb(event: str, key: tuple[str, str], obj: dict[str, object]) -> None:
        seen.append((event, key[1]))
        copies.append(obj)
        obj["data"] = {"mutated": "by the subscriber"}  # its own copy: the store must not see this

    store.subscribe(cb, [CM])
    store.create(CM, {"metadata": {"name": "a"}, "data": {"k": "v"}}, "demo")
    store.create(("", "secrets"), {"metadata": {"name": "s"}}, "demo")
    store.delete(CM, "demo", "a")
    assert seen == [("ADDED", "configmaps"), ("DELETED", "configmaps")]  # the secret was not handed over
    assert store.list(CM) == [] and copies[0]["metadata"]["name"] == "a"  # type: ignore[index]


def test_readonly_subscribers_get_the_stored_object_which_a_later_change_leaves_alone(store: Store) -> None:
    kept: list[dict[str, object]] = []
    store.subscribe_readonly(lambda event, key, obj: kept.append(obj), [CM])
    store.create(CM, {"metadata": {"name": "a"}, "data": {"k": "v1"}}, "demo")
    assert kept[0] is next(iter(store.iter_raw(CM)))  # no copy
    store.update(CM, "demo", "a", lambda o: o["data"].update(k="v2"))
    assert kept[0]["data"] == {"k": "v1"} and kept[1]["data"] == {"k": "v2"}  # copy-on-write: a snapshot each
    assert kept[1] is next(iter(store.iter_raw(CM))) and store.get(CM, "demo", "a")["data"] == {"k": "v2"}


def test_namespace_defaults_and_terminating_with_finalized_content(store: Store) -> None:
    ns = store.get(NS, None, "demo")
    assert ns["spec"]["finalizers"] == ["kubernetes"] and ns["status"]["phase"] == "Active"
    store.create(CM, {"metadata": {"name": "held", "finalizers": ["x/y"]}}, "demo")
    store.create(CM, {"metadata": {"name": "free"}}, "demo")
    store.delete(NS, None, "demo")
    assert store.get(NS, None, "demo")["status"]["phase"] == "Terminating"
    assert [c["metadata"]["name"] for c in store.list(CM, "demo")] == ["held"]
    with pytest.raises(ApiError) as e:
        store.create(CM, {"metadata": {"name": "new"}}, "demo")
    assert e.value.code == 403

    def release(o: dict) -> None:  # type: ignore[type-arg]
        o["metadata"]["finalizers"] = []

    store.update(CM, "demo", "held", release)
    assert not store.exists(NS, None, "demo")


def test_watch_replays_from_resource_version_and_filters() -> None:
    async def run() -> None:
        s = Store()
        register_builtin_types(s)
        s.create(NS, {"metadata": {"name": "demo"}})
        rv = s.resource_version
        s.create(CM, {"metadata": {"name": "a", "labels": {"app": "x"}}}, "demo")
        s.create(CM, {"metadata": {"name": "b", "labels": {"app": "y"}}}, "demo")
        w = s.watch(CM, "demo", rv, label_selector="app=x")
        s.delete(CM, "demo", "a")
        events = []
        while not w.queue.empty():
            t, o = w.queue.get_nowait()
            events.append((t, o["metadata"]["name"]))
        assert events == [("ADDED", "a"), ("DELETED", "a")]
        s.unwatch(w)

    asyncio.run(run())


def test_watch_too_old_resource_version_is_410(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_mod, "HISTORY", 3)

    async def run() -> None:
        s = Store()
        register_builtin_types(s)
        s.create(NS, {"metadata": {"name": "demo"}})
        for i in range(6):
            s.create(CM, {"metadata": {"name": f"c{i}"}}, "demo")
        with pytest.raises(ApiError) as e:
            s.watch(CM, "demo", "1")
        assert e.value.code == 410 and e.value.reason == "Expired"
        with pytest.raises(ApiError) as e:
            s.watch(CM, "demo", "not-a-number")
        assert e.value.code == 400

    asyncio.run(run())


def test_crd_controller_registers_establishes_and_purges(store: Store) -> None:
    crd = {"metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Cluster",
                    "names": {"plural": "widgets", "kind": "Widget", "shortNames": ["wd"]},
                    "versions": [{"name": "v1beta1", "served": True, "storage": False},
                                 {"name": "v1", "served": True, "storage": True,
                                  "subresources": {"status": {}}}]}}
    store.create(CRD_KEY, crd)
    rt = store.types[("example.com", "widgets")]
    assert (rt.version, rt.other_versions, rt.namespaced, rt.subresources) == ("v1", ("v1beta1",), False,
                                                                               ("status",))
    status = store.get(CRD_KEY, None, "widgets.example.com")["status"]
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"NamesAccepted": "True",
                                                                      "Established": "True"}
    assert status["acceptedNames"]["kind"] == "Widget" and status["storedVersions"] == ["v1"]
    store.create(("example.com", "widgets"), {"metadata": {"name": "w", "finalizers": ["keep"]}})
    store.delete(CRD_KEY, None, "widgets.example.com")
    assert ("example.com", "widgets") not in store.types


def test_version_priority() -> None:
    assert sorted(["v1alpha1", "v2", "v1beta2", "v1", "v1beta1"], key=version_priority, reverse=True) == [
        "v2", "v1", "v1beta2", "v1beta1", "v1alpha1"]


def test_strategic_merge_patch_merges_containers_ports_and_finalizers() -> None:
    doc = {"metadata": {"labels": {"a": "1"}, "finalizers": ["f1"]},
           "spec": {"containers": [{"name": "x", "image": "i1", "ports": [{"containerPort": 80}]},
                                   {"name": "y", "image": "i2"}],
                    "tolerations": [{"key": "k1"}]}}
    patch = {"metadata": {"labels": {"b": "2", "a": None}, "finalizers": ["f2"]},
             "spec": {"containers": [{"name": "x", "ports": [{"containerPort": 81}]},
                                     {"name": "y", "$patch": "delete"}],
                      "tolerations": [{"key": "k2"}]}}
    out = patching.strategic_merge_patch(doc, patch)
    assert out["metadata"] == {"labels": {"b": "2"}, "finalizers": ["f1", "f2"]}
    assert out["spec"]["containers"] == [{"name": "x", "image": "i1",
                                          "ports": [{"containerPort": 80}, {"containerPort": 81}]}]
    assert out["spec"]["tolerations"] == [{"key": "k2"}]  # no merge key: replaced
    assert doc["metadata"]["labels"] == {"a": "1"}  # input untouched
    out = patching.strategic_merge_patch(doc, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}})
    assert out["metadata"]["finalizers"] == []


def test_merge_and_json_patch() -> None:
    doc = {"a": {"b": 1, "c": [1, 2]}}
    assert patching.merge_patch(doc, {"a": {"b": None, "c": [3]}}) == {"a": {"c": [3]}}
    out = patching.json_patch(doc, [{"op": "add", "path": "/a/c/-", "value": 3},
                                    {"op": "replace", "path": "/a/b", "value": 2},
                                    {"op": "test", "path": "/a/b", "value": 2},
                                    {"op": "move", "from": "/a/b", "path": "/d"},
                                    {"op": "remove", "path": "/a/c/0"}])
    assert out == {"a": {"c": [2, 3]}, "d": 2}
    with pytest.raises(patching.PatchError):
        patching.json_patch(doc, [{"op": "test", "path": "/a/b", "value": 5}])
    with pytest.raises(patching.PatchError):
        patching.json_patch(doc, [{"op": "remove", "path": "/nope"}])


def _pb_field(num: int, payload: bytes) -> bytes:
    return bytes([num << 3 | 2, len(payload)]) + payload


def test_protobuf_namespace_decodes() -> None:
    meta = _pb_field(1, b"demo") + _pb_field(11, _pb_field(1, b"team") + _pb_field(2, b"a"))
    raw = _pb_field(1, meta) + _pb_field(2, b"")
    envelope = protobuf.MAGIC + _pb_field(1, _pb_field(1, b"v1") + _pb_field(2, b"Namespace")) + _pb_field(2, raw)
    assert protobuf.decode(envelope) == {"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": "demo", "labels": {"team": "a"}}, "spec": {}}
    other = protobuf.MAGIC + _pb_field(1, _pb_field(1, b"v1") + _pb_field(2, b"Pod")) + _pb_field(2, b"")
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(other)
    with pytest.raises(protobuf.ProtobufError):
        protobuf.decode(b"{}")
    assert base64.b64encode(b"x")  # (bytes fields are served base64, like JSON)


def test_pod_table_columns_and_status(store: Store) -> None:
    pod = store.create(PODS, {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]},
                              "status": {"phase": "Running", "podIP": "10.244.0.5",
                                         "containerStatuses": [{"name": "c", "ready": True, "restartCount": 2,
                                                                "state": {"running": {}}}]}}, "demo")
    t = tables.build_table(store, store.types[PODS], [pod])
    names = [(c["name"], c["priority"]) for c in t["columnDefinitions"]]
    assert names[:5] == [("Name", 0), ("Ready", 0), ("Status", 0), ("Restarts", 0), ("Age", 0)]
    assert all(p == 1 for _, p in names[5:]) and [n for n, _ in names[5:]] == [
        "IP", "Node", "Nominated Node", "Readiness Gates"]
    cells = t["rows"][0]["cells"]
    assert cells[:4] == ["p", "1/1", "Running", "2"] and cells[5:7] == ["10.244.0.5", "<none>"]
    assert t["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert tables.human_duration(30) == "30s" and tables.human_duration(3 * 3600) == "3h"
