"""The real ``kubectl`` (Debian package) against the sandbox Kubernetes API, running the seed article's steps.

Pods are not Running here (no kubelet in the Kubernetes-only fixture): assertions are on what the API server
controls (tables, labels, policies, deletion).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]

IMAGE = "k8s.gcr.io/e2e-test-images/agnhost:2.33"
DEMO_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: demo-policy
  namespace: demo
spec:
  podSelector:
    matchLabels:
      app: server
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: client
    ports:
    - port: 80
      protocol: TCP
"""
CRD = """\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: felixconfigurations.crd.projectcalico.org
spec:
  group: crd.projectcalico.org
  scope: Cluster
  names: {plural: felixconfigurations, singular: felixconfiguration, kind: FelixConfiguration}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
"""


class Kubectl:
    def __init__(self, kubeconfig: str, home: Path) -> None:
        self.kubeconfig = kubeconfig
        home.mkdir(parents=True, exist_ok=True)
        # own HOME and discovery cache: parallel-safe, nothing leaks between sandboxes
        self.env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "cache")}
        self.env.pop("KUBECONFIG", None)

    def __call__(self, *args: str, ok: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], capture_output=True,
                              text=True, env=self.env, input=stdin, timeout=60)
        if ok:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {proc.stderr}"
        return proc


@pytest.fixture
def kubectl(kube_sandbox: Any, tmp_path: Path) -> Kubectl:
    return Kubectl(kube_sandbox.info["kubeconfig"], tmp_path / "home")


def _table(text: str) -> tuple[list[str], list[list[str]]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    header = lines[0].split("  ")
    return [h.strip() for h in header if h.strip()], [ln.split() for ln in lines[1:]]


def test_seed_article_network_policy_steps(kubectl: Kubectl, tmp_path: Path) -> None:
    assert kubectl("create", "namespace", "demo").stdout.strip() == "namespace/demo created"
    out = kubectl("run", "server", "-n", "demo", f"--image={IMAGE}", "--labels=app=server", "--port=80",
                  "--command", "--", "/agnhost", "serve-hostname", "--tcp", "--http=false", "--port", "80")
    assert out.stdout.strip() == "pod/server created"
    # the article runs `kubectl run -it client ... -- bash` (typed in a real terminal in test_streaming.py);
    # a non-interactive stand-in here:
    out = kubectl("run", "client", "-n", "demo", f"--image={IMAGE}", "--command", "--", "sleep", "infinity")
    assert out.stdout.strip() == "pod/client created"

    wide = kubectl("get", "pod", "--output=wide", "-n", "demo").stdout
    header, rows = _table(wide)
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                      "READINESS GATES"]
    assert sorted(r[0] for r in rows) == ["client", "server"]
    narrow_header, _ = _table(kubectl("get", "pod", "-n", "demo").stdout)
    assert narrow_header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]  # wide-only columns hidden

    policy = tmp_path / "demo-policy.yaml"
    policy.write_text(DEMO_POLICY)
    out = kubectl("apply", "-f", str(policy))  # default client-side validation settings
    assert out.stdout.strip() == "networkpolicy.networking.k8s.io/demo-policy created"
    assert kubectl("apply", "-f", str(policy)).stdout.strip() == (
        "networkpolicy.networking.k8s.io/demo-policy unchanged")
    header, rows = _table(kubectl("get", "netpol", "-n", "demo").stdout)
    assert header == ["NAME", "POD-SELECTOR", "AGE"] and rows[0][:2] == ["demo-policy", "app=server"]
    applied = json.loads(kubectl("get", "networkpolicy", "demo-policy", "-n", "demo", "-o", "json").stdout)
    assert applied["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"] == {"app": "client"}

    assert kubectl("label", "pod", "client", "-n", "demo", "app=client").stdout.strip() == "pod/client labeled"
    app = kubectl("get", "pod", "client", "-n", "demo", "-o", "jsonpath={.metadata.labels.app}").stdout
    assert app == "client"

    out = kubectl("delete", "namespace", "demo")  # waits for the namespace to be gone (kubectl's --wait)
    assert out.stdout.strip() == 'namespace "demo" deleted'
    gone = kubectl("get", "namespace", "demo", ok=False)
    assert gone.returncode != 0 and 'namespaces "demo" not found' in gone.stderr


def test_get_nodes(kubectl: Kubectl) -> None:
    header, rows = _table(kubectl("get", "nodes").stdout)
    assert header == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert rows and all(r[1] == "Ready" for r in rows)
    header, _ = _table(kubectl("get", "nodes", "-o", "wide").stdout)
    assert header[5:7] == ["INTERNAL-IP", "EXTERNAL-IP"]


def test_api_resources(kubectl: Kubectl) -> None:
    out = kubectl("api-resources").stdout
    header, rows = _table(out)
    assert header == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    by_name = {r[0]: r for r in rows}
    for name, short, gv in [("pods", "po", "v1"), ("networkpolicies", "netpol", "networking.k8s.io/v1"),
                            ("customresourcedefinitions", "crd,crds", "apiextensions.k8s.io/v1"),
                            ("daemonsets", "ds", "apps/v1"), ("poddisruptionbudgets", "pdb", "policy/v1")]:
        assert by_name[name][1:3] == [short, gv]
    assert "leases" in by_name and "apiservices" in by_name


def test_get_crds_and_custom_objects(kubectl: Kubectl, tmp_path: Path) -> None:
    assert "No resources found" in kubectl("get", "crds").stderr
    crd = tmp_path / "crd.yaml"
    crd.write_text(CRD)
    kubectl("apply", "-f", str(crd))
    kubectl("wait", "--for=condition=Established", "crd/felixconfigurations.crd.projectcalico.org",
            "--timeout=10s")
    header, rows = _table(kubectl("get", "crds").stdout)
    assert header == ["NAME", "CREATED AT"]
    assert [r[0] for r in rows] == ["felixconfigurations.crd.projectcalico.org"]

    obj = tmp_path / "felix.yaml"
    obj.write_text("apiVersion: crd.projectcalico.org/v1\nkind: FelixConfiguration\n"
                   "metadata: {name: default}\nspec: {bpfEnabled: false}\n")
    kubectl("apply", "-f", str(obj))
    obj.write_text(obj.read_text().replace("false", "true"))
    assert "configured" in kubectl("apply", "-f", str(obj)).stdout  # client-side apply -> merge patch
    got = json.loads(kubectl("get", "felixconfiguration", "default", "-o", "json").stdout)
    assert got["spec"] == {"bpfEnabled": True}
    kubectl("delete", "crd", "felixconfigurations.crd.projectcalico.org")
    deadline = time.monotonic() + 10
    while "No resources found" not in kubectl("get", "crds").stderr:
        assert time.monotonic() < deadline, "CRD still listed"


def test_watch_streams_changes(kubectl: Kubectl) -> None:
    """``kubectl get -w`` consumes Table watch events; a bounded request timeout ends it."""
    kubectl("create", "configmap", "one", "-n", "default", "--from-literal=a=b")
    proc = kubectl("get", "configmaps", "-n", "default", "-w", "--request-timeout=2s", ok=False)
    assert "one" in proc.stdout


def test_typed_protobuf_commands_create_deployment_scale_drain(kubectl: Kubectl, kube_sandbox: Any) -> None:
    """``kubectl create deployment|configmap`` and ``drain``'s eviction send protobuf bodies (typed clients)."""
    assert kubectl("create", "deployment", "web", "--image=nginx:1.27", "--port=8080", "--replicas=2",
                   "-n", "default").stdout.strip() == "deployment.apps/web created"
    dep = json.loads(kubectl("get", "deploy", "web", "-n", "default", "-o", "json").stdout)
    assert dep["spec"]["replicas"] == 2 and dep["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = dep["spec"]["template"]["spec"]["containers"][0]
    assert (container["image"], container["ports"][0]["containerPort"]) == ("nginx:1.27", 8080)
    assert kubectl("scale", "deploy", "web", "-n", "default", "--replicas=3").stdout.strip() == (
        "deployment.apps/web scaled")
    assert kubectl("get", "deploy", "web", "-n", "default", "-o", "jsonpath={.spec.replicas}").stdout == "3"
    kubectl("create", "configmap", "cfg", "-n", "default", "--from-literal=a=b")
    cm = json.loads(kubectl("get", "cm", "cfg", "-n", "default", "-o", "json").stdout)
    assert cm["data"] == {"a": "b"}
    node = kubectl("get", "nodes", "-o", "jsonpath={.items[0].metadata.name}").stdout
    kubectl("run", "lonely", "-n", "default", "--image=nginx", f'--overrides={{"spec":{{"nodeName":"{node}"}}}}')
    drained = kubectl("drain", node, "--force", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=30s")
    assert "pod/lonely evicted" in drained.stdout
    assert kubectl("get", "node", node, "-o", "jsonpath={.spec.unschedulable}").stdout == "true"
    kubectl("uncordon", node)
