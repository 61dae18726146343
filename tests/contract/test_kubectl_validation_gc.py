"""Issue #15 (items 2, 3, 5): the real ``kubectl`` sees the apiserver's validation, events, rollout history and
garbage collection on the sandbox, with the real apiserver's wording.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.contract.arm_fixtures import arm_sandbox, client, wait_for
from tests.contract.test_kubectl import Kubectl, kubectl

__all__ = ["arm_sandbox", "kubectl"]

pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

BAD_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: xyz, namespace: default}
spec:
  podSelector: {}
  ingress:
  - ports:
    - {protocol: XYZ, port: 80}
"""
MISMATCHED_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: web, image: nginx}]
"""
POLICY_MANY_ERRORS = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: many, namespace: default}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In}]}
  policyTypes: [Ingress, Sideways]
  egress:
  - ports:
    - {port: http, endPort: 90}
    - {port: 70000}
    to:
    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}
    - {}
"""
CONFIGMAP_UNKNOWN = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: default}
data: {a: b}
spec: {foo: 1}
"""


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_invalid_objects_are_refused_with_the_apiservers_messages(kubectl: Kubectl, tmp_path: Path) -> None:
    out = kubectl("apply", "-f", _write(tmp_path, "np.yaml", BAD_POLICY), ok=False)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'The NetworkPolicy "xyz" is invalid: spec.ingress[0].ports[0].protocol: Unsupported value: "XYZ": '
        'supported values: "TCP", "UDP", "SCTP"')

    out = kubectl("apply", "-f", _write(tmp_path, "dep.yaml", MISMATCHED_DEPLOYMENT), ok=False)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        'The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: {"app":"other"}: '
        "`selector` does not match template `labels`")

    out = kubectl("run", "Bad_Name", "--image=nginx", ok=False)
    assert out.returncode == 1
    assert out.stderr.startswith('The Pod "Bad_Name" is invalid: \n* metadata.name: Invalid value: "Bad_Name": '
                                 "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                                 "characters, '-' or '.', and must start and end with an alphanumeric character "
                                 "(e.g. 'example.com', regex used for validation is "
                                 r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
    # kubectl run names the container after the pod: the container name is a DNS-1123 label
    assert '* spec.containers[0].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label' in out.stderr

    out = kubectl("apply", "-f", _write(tmp_path, "many.yaml", POLICY_MANY_ERRORS), ok=False)
    lines = set(out.stderr.splitlines())
    for expected in (
        "* spec.podSelector.matchExpressions[0].values: Required value: must be specified when `operator` is "
        "'In' or 'NotIn'",
        '* spec.egress[0].ports[0].endPort: Invalid value: 90: may not be specified when `port` is non-numeric',
        "* spec.egress[0].ports[1].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        '* spec.egress[0].to[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a strict subset of `cidr`',
        "* spec.egress[0].to[1]: Required value: must specify a peer",
        '* spec.policyTypes[1]: Unsupported value: "Sideways": supported values: "Ingress", "Egress"',
    ):
        assert expected in lines, out.stderr
    assert "No resources found" in kubectl("get", "netpol,deploy,pods", "-n", "default").stderr

    svc = "apiVersion: v1\nkind: Service\nmetadata: {name: 9svc, namespace: default}\nspec: {type: Cluster}\n"
    out = kubectl("apply", "-f", _write(tmp_path, "svc.yaml", svc), ok=False)
    lines = set(out.stderr.splitlines())
    assert ('* metadata.name: Invalid value: "9svc": a DNS-1035 label must consist of lower case alphanumeric '
            "characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. "
            "'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')") in lines
    assert '* spec.type: Unsupported value: "Cluster": supported values: "ClusterIP", "ExternalName", ' \
           '"LoadBalancer", "NodePort"' in lines
    assert "* spec.ports: Required value" in lines


def test_unknown_fields_under_each_field_validation_mode(kubectl: Kubectl, tmp_path: Path) -> None:
    path = _write(tmp_path, "cm.yaml", CONFIGMAP_UNKNOWN)
    strict = kubectl("create", "-f", path, ok=False)  # kubectl 1.32 sends fieldValidation=Strict by default
    assert strict.returncode == 1
    assert strict.stderr.strip() == (
        f'Error from server (BadRequest): error when creating "{path}": ConfigMap in version "v1" cannot be '
        'handled as a ConfigMap: strict decoding error: unknown field "spec"')
    ssa = kubectl("apply", "--server-side", "-f", path, ok=False)
    assert ssa.returncode == 1
    assert ".spec: field not declared in schema" in ssa.stderr
    assert 'configmaps "cfg" not found' in kubectl("get", "cm", "cfg", ok=False).stderr

    warn = kubectl("create", "-f", path, "--validate=warn")
    assert warn.stdout.strip() == "configmap/cfg created"
    assert 'Warning: unknown field "spec"' in warn.stderr
    stored = json.loads(kubectl("get", "cm", "cfg", "-o", "json").stdout)
    assert "spec" not in stored and stored["data"] == {"a": "b"}  # dropped, as the apiserver's decoder does

    kubectl("delete", "cm", "cfg")
    ignore = kubectl("create", "-f", path, "--validate=ignore")
    assert ignore.stdout.strip() == "configmap/cfg created" and "Warning" not in ignore.stderr
    assert "spec" not in json.loads(kubectl("get", "cm", "cfg", "-o", "json").stdout)


def test_rollout_history_and_undo(kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "web", "--image=nginx:1.26", "--replicas=2")
    kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    kubectl("set", "image", "deploy/web", "nginx=nginx:1.27")
    kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    kubectl("annotate", "deploy/web", "kubernetes.io/change-cause=pin 1.28")
    kubectl("set", "image", "deploy/web", "nginx=nginx:1.28")
    kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    history = kubectl("rollout", "history", "deploy/web").stdout.splitlines()
    assert [ln.split(None, 1) for ln in history[2:] if ln.strip()] == [["1", "<none>"], ["2", "<none>"],
                                                                       ["3", "pin 1.28"]]
    rs = json.loads(kubectl("get", "rs", "-o", "json").stdout)["items"]
    by_image = {r["spec"]["template"]["spec"]["containers"][0]["image"]: r for r in rs}
    assert by_image["nginx:1.26"]["spec"]["replicas"] == 0 and by_image["nginx:1.27"]["spec"]["replicas"] == 0
    assert by_image["nginx:1.28"]["spec"]["replicas"] == 2

    assert kubectl("rollout", "undo", "deploy/web").stdout.strip() == "deployment.apps/web rolled back"
    kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    image = kubectl("get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}").stdout
    assert image == "nginx:1.27"
    rs = json.loads(kubectl("get", "rs", "-o", "json").stdout)["items"]
    assert len(rs) == 3  # the undo reused revision 2's ReplicaSet, now revision 4
    back = next(r for r in rs if r["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27")
    assert back["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "4"
    assert back["spec"]["replicas"] == 2
    history = kubectl("rollout", "history", "deploy/web").stdout.splitlines()
    assert [ln.split(None, 1)[0] for ln in history[2:] if ln.strip()] == ["1", "3", "4"]
    detail = kubectl("rollout", "history", "deploy/web", "--revision=1").stdout
    assert "nginx:1.26" in detail
    described = "\n".join(_events_section(kubectl("describe", "deploy", "web").stdout))
    new_rs = back["metadata"]["name"]
    assert "ScalingReplicaSet" in described and "deployment-controller" in described
    assert f"Scaled up replica set {new_rs} to 2 from 0" in described
    assert any(f"Scaled down replica set {r['metadata']['name']} to 0 from 2" in described for r in rs)
    rs_events = "\n".join(_events_section(kubectl("describe", "rs", new_rs).stdout))
    assert "SuccessfulCreate" in rs_events and f"Created pod: {new_rs}-" in rs_events

    kubectl("patch", "deploy", "web", "-p", '{"spec":{"revisionHistoryLimit":1}}')
    kubectl("set", "image", "deploy/web", "nginx=nginx:1.29")
    kubectl("rollout", "status", "deploy/web", "--timeout=30s")
    wait_for(lambda: len(json.loads(kubectl("get", "rs", "-o", "json").stdout)["items"]) == 2,
             what="old ReplicaSets pruned to revisionHistoryLimit")


def _names(kubectl: Kubectl, kind: str) -> list[str]:
    return sorted(i["metadata"]["name"] for i in json.loads(kubectl("get", kind, "-o", "json").stdout)["items"])


def test_delete_cascades_background_orphan_and_foreground(kubectl: Kubectl) -> None:
    for name in ("bg", "orphan", "fg"):
        kubectl("create", "deployment", name, "--image=nginx", "--replicas=2")
    for name in ("bg", "orphan", "fg"):
        kubectl("rollout", "status", f"deploy/{name}", "--timeout=30s")

    assert kubectl("delete", "deploy", "bg").stdout.strip() == 'deployment.apps "bg" deleted'
    wait_for(lambda: not [n for n in _names(kubectl, "rs") + _names(kubectl, "pods") if n.startswith("bg-")],
             what="background cascade")

    kubectl("delete", "deploy", "orphan", "--cascade=orphan")
    rs = [r for r in json.loads(kubectl("get", "rs", "-o", "json").stdout)["items"]
          if r["metadata"]["name"].startswith("orphan-")]
    assert len(rs) == 1 and "ownerReferences" not in rs[0]["metadata"]
    assert len([n for n in _names(kubectl, "pods") if n.startswith("orphan-")]) == 2

    out = kubectl("delete", "deploy", "fg", "--cascade=foreground")  # kubectl waits until the owner is gone
    assert out.stdout.strip() == 'deployment.apps "fg" deleted'
    assert not [n for n in _names(kubectl, "rs") + _names(kubectl, "pods") if n.startswith("fg-")]
    assert "fg" not in _names(kubectl, "deploy")


def _events_section(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Events:"))
    return lines[start:]


def test_describe_shows_node_and_pod_events_during_a_reimage(arm_sandbox: Any, tmp_path: Path) -> None:
    sb = arm_sandbox("npm", time_scale=0.01)
    k = Kubectl(sb.info["kubeconfig"], tmp_path / "home")
    nodes = _names(k, "nodes")
    k("run", "probe", "-n", "default", "--image=nginx")
    wait_for(lambda: k("get", "pod", "probe", "-o", "jsonpath={.status.phase}").stdout == "Running", what="probe")
    pod_events = _events_section(k("describe", "pod", "probe").stdout)
    reasons = [ln.split()[1] for ln in pod_events[3:] if ln.strip()]
    assert reasons == ["Scheduled", "Pulled", "Created", "Started"], pod_events
    assert "default-scheduler  Successfully assigned default/probe to" in "\n".join(pod_events)

    c = client(sb)
    rg, name = sb.info["resource_group"], sb.info["cluster_name"]
    mc = c.managed_clusters.get(rg, name)
    mc.network_profile.network_dataplane = "cilium"
    mc.network_profile.network_policy = "cilium"
    c.managed_clusters.begin_create_or_update(rg, name, mc).result(timeout=120)

    first = nodes[0]
    text = "\n".join(_events_section(k("describe", "node", first).stdout))
    for reason, source, message in (
        ("NodeNotSchedulable", "kubelet", f"Node {first} status is now: NodeNotSchedulable"),
        ("Drain", "aks-upgrade", f"Draining node: {first}"),
        ("Upgrade", "aks-upgrade", f"Reimaging node {first}"),
        ("NodeNotReady", "node-controller", f"Node {first} status is now: NodeNotReady"),
        ("Rebooted", "kubelet", f"Node {first} has been rebooted, boot id: "),
        ("NodeReady", "kubelet", f"Node {first} status is now: NodeReady"),
        ("NodeSchedulable", "kubelet", f"Node {first} status is now: NodeSchedulable"),
    ):
        assert any(reason in ln and source in ln and message in ln for ln in text.splitlines()), (reason, text)
    surge = [n for n in _names(k, "nodes") if n not in nodes]
    assert not surge  # surge nodes are gone at the end; their events stay listable
    all_events = json.loads(k("get", "events", "-A", "-o", "json").stdout)["items"]
    assert {"Surge", "RemovingNode", "RegisteredNode", "Killing", "SandboxChanged"} <= {
        e["reason"] for e in all_events}
    # the probe pod was evicted by the drain of its node: the kubelet stopped its container
    assert any(e["reason"] == "Killing" and e["involvedObject"]["name"] == "probe" for e in all_events)
    # the same events through events.k8s.io/v1
    v1 = json.loads(k("get", "events.v1.events.k8s.io", "-A", "-o", "json").stdout)["items"]
    assert {e["metadata"]["name"] for e in v1} == {e["metadata"]["name"] for e in all_events}
    one = next(e for e in v1 if e["reason"] == "NodeNotReady" and e["regarding"]["name"] == first)
    assert one["reportingController"] == "node-controller" and one["note"].endswith("NodeNotReady")
