"""The real kubectl against the objects and APIs issue #15 item 7 added: ``auth can-i``, ``explain
networkpolicy``, ``create service clusterip`` / ``create role`` / ``create pdb`` (protobuf bodies), one Kubernetes
version, the ``kubernetes`` / ``kube-dns`` Services, default ServiceAccounts, ``kube-root-ca.crt``, node Leases
and EndpointSlices."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.polling import until

pytestmark = [
    pytest.mark.contract,
    pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed"),
]


class Kubectl:
    def __init__(self, kubeconfig: str, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "HOME": str(home), "KUBECACHEDIR": str(home / "cache"), "KUBECONFIG": kubeconfig}

    def __call__(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=self.env, timeout=60)
        if ok:
            assert proc.returncode == 0, f"kubectl {' '.join(args)} failed: {proc.stderr}"
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)


@pytest.fixture
def kubectl(kube_sandbox: Any, tmp_path: Path) -> Kubectl:
    return Kubectl(kube_sandbox.info["kubeconfig"], tmp_path / "home")


def test_auth_can_i_allows_the_admin_user(kubectl: Kubectl) -> None:
    assert kubectl("auth", "can-i", "create", "pods").stdout == "yes\n"
    assert kubectl("auth", "can-i", "delete", "nodes", "--all-namespaces").stdout == "yes\n"
    assert kubectl("auth", "can-i", "get", "/healthz").stdout == "yes\n"
    listed = kubectl("auth", "can-i", "--list", "-n", "default").stdout.splitlines()
    assert listed[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    assert listed[1].split() == ["*.*", "[]", "[]", "[*]"]


def test_explain_networkpolicy_and_its_spec(kubectl: Kubectl) -> None:
    top = kubectl("explain", "networkpolicy").stdout
    assert "KIND:       NetworkPolicy" in top and "VERSION:    v1" in top
    assert "spec\t<NetworkPolicySpec>" in top and "metadata\t<ObjectMeta>" in top
    spec = kubectl("explain", "networkpolicy.spec").stdout
    for field in ("egress\t<[]NetworkPolicyEgressRule>", "ingress\t<[]NetworkPolicyIngressRule>",
                  "podSelector\t<LabelSelector>", "policyTypes\t<[]string>"):
        assert field in spec, spec
    block = kubectl("explain", "networkpolicy.spec.ingress.from.ipBlock").stdout
    assert "cidr\t<string> -required-" in block and "except\t<[]string>" in block
    port = kubectl("explain", "networkpolicy.spec.egress.ports.protocol").stdout
    assert "FIELD: protocol <string>" in port and "ENUM:\n    SCTP\n    TCP\n    UDP" in port
    missing = kubectl("explain", "networkpolicy.spec.nosuchfield", ok=False)
    assert missing.returncode == 1 and 'field "nosuchfield" does not exist' in missing.stderr


def test_typed_create_service_role_pdb(kubectl: Kubectl) -> None:
    """kubectl's typed clients send these as protobuf bodies."""
    assert kubectl("create", "service", "clusterip", "my-cs", "--tcp=5678:8080").stdout == "service/my-cs created\n"
    svc = kubectl.json("get", "service", "my-cs")
    assert svc["spec"]["ports"] == [{"name": "5678-8080", "port": 5678, "protocol": "TCP", "targetPort": 8080}]
    assert svc["spec"]["selector"] == {"app": "my-cs"} and svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["clusterIP"].startswith("10.0.")
    kubectl("create", "service", "clusterip", "headless", "--clusterip=None")
    assert kubectl.json("get", "service", "headless")["spec"]["clusterIP"] == "None"

    out = kubectl("create", "role", "pod-reader", "--verb=get", "--verb=list", "--resource=pods",
                  "--resource-name=web").stdout
    assert out == "role.rbac.authorization.k8s.io/pod-reader created\n"
    role = kubectl.json("get", "role", "pod-reader")
    assert role["rules"] == [{"apiGroups": [""], "resourceNames": ["web"], "resources": ["pods"],
                              "verbs": ["get", "list"]}]

    assert kubectl("create", "pdb", "my-pdb", "--selector=app=rails", "--min-available=1").stdout == (
        "poddisruptionbudget.policy/my-pdb created\n")
    assert kubectl.json("get", "pdb", "my-pdb")["spec"] == {"minAvailable": 1,
                                                           "selector": {"matchLabels": {"app": "rails"}}}
    kubectl("create", "pdb", "pct", "--selector=app=web", "--max-unavailable=50%")
    assert kubectl.json("get", "pdb", "pct")["spec"]["maxUnavailable"] == "50%"


def test_one_version_for_kubectl_and_the_nodes(kubectl: Kubectl) -> None:
    server = json.loads(kubectl("version", "-o", "json").stdout)["serverVersion"]
    kubelets = {n["status"]["nodeInfo"]["kubeletVersion"] for n in kubectl.json("get", "nodes")["items"]}
    assert kubelets == {server["gitVersion"]} == {"v1.31.2"}
    assert (server["major"], server["minor"]) == ("1", "31")


def test_system_services_service_accounts_root_ca_slices_and_leases(kubectl: Kubectl, kube_sandbox: Any) -> None:
    api = kubectl.json("get", "service", "kubernetes", "-n", "default")
    assert api["spec"]["clusterIP"] == "10.0.0.1" and api["spec"]["ports"][0]["port"] == 443
    assert kubectl.json("get", "endpoints", "kubernetes", "-n", "default")["subsets"][0]["ports"][0]["port"] == 443
    dns = kubectl.json("get", "service", "kube-dns", "-n", "kube-system")
    assert dns["spec"]["clusterIP"] == "10.0.0.10" and dns["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert sorted((p["port"], p["protocol"]) for p in dns["spec"]["ports"]) == [(53, "TCP"), (53, "UDP")]
    coredns = kubectl.json("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns")["items"]
    assert len(coredns) == 2
    slices = kubectl.json("get", "endpointslices", "-n", "kube-system", "-l",
                          "kubernetes.io/service-name=kube-dns")["items"]
    assert len(slices) == 1 and slices[0]["addressType"] == "IPv4"
    assert sorted(e["addresses"][0] for e in slices[0]["endpoints"]) == sorted(
        p["status"]["podIP"] for p in coredns)

    kubectl("create", "namespace", "team")
    until(lambda: kubectl("get", "serviceaccount", "default", "-n", "team", ok=False).returncode == 0, 30,
          "the default ServiceAccount of a new namespace")
    until(lambda: kubectl("get", "configmap", "kube-root-ca.crt", "-n", "team", ok=False).returncode == 0, 30,
          "kube-root-ca.crt in a new namespace")
    ca = kubectl.json("get", "configmap", "kube-root-ca.crt", "-n", "team")["data"]["ca.crt"]
    assert ca == Path(kube_sandbox.info["ca_bundle"]).read_text()
    kubectl("delete", "serviceaccount", "default", "-n", "team")
    until(lambda: kubectl("get", "serviceaccount", "default", "-n", "team", ok=False).returncode == 0, 30,
          "the default ServiceAccount re-created")

    nodes = sorted(n["metadata"]["name"] for n in kubectl.json("get", "nodes")["items"])
    leases = kubectl.json("get", "leases", "-n", "kube-node-lease")["items"]
    assert sorted(le["metadata"]["name"] for le in leases) == nodes
    assert {le["spec"]["holderIdentity"] for le in leases} == set(nodes)
    first = {le["metadata"]["name"]: le["spec"]["renewTime"] for le in leases}

    def renewed() -> bool:
        now = kubectl.json("get", "leases", "-n", "kube-node-lease")["items"]
        return all(le["spec"]["renewTime"] > first[le["metadata"]["name"]] for le in now)

    until(renewed, 60, "node leases renewed by the kubelets")


FAILING_JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: fails}
spec:
  backoffLimit: 1
  template:
    spec:
      restartPolicy: Never
      containers:
      - {name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.53, command: ["sh", "-c", "echo bad >&2; exit 3"]}
"""


def test_jobs_run_to_completion(kubectl: Kubectl, tmp_path: Path) -> None:
    assert kubectl("create", "job", "hello", "--image=busybox", "--", "sh", "-c", "echo hello; hostname").stdout == (
        "job.batch/hello created\n")
    kubectl("wait", "--for=condition=complete", "job/hello", "--timeout=60s")
    job = kubectl.json("get", "job", "hello")
    assert job["status"]["succeeded"] == 1 and job["status"].get("active", 0) == 0
    assert job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == job["metadata"]["uid"]
    pods = kubectl.json("get", "pods", "-l", "job-name=hello")["items"]
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Succeeded"
    assert kubectl("logs", "job/hello").stdout == f"hello\n{pods[0]['metadata']['name']}\n"
    header, row = kubectl("get", "job", "hello").stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert row.split()[:3] == ["hello", "Complete", "1/1"]

    (tmp_path / "job.yaml").write_text(FAILING_JOB)
    kubectl("apply", "-f", str(tmp_path / "job.yaml"))
    kubectl("wait", "--for=condition=failed", "job/fails", "--timeout=60s")
    failed = kubectl.json("get", "job", "fails")
    assert failed["status"]["failed"] == 2  # the first try and backoffLimit 1 retry
    assert [c["reason"] for c in failed["status"]["conditions"] if c["type"] == "Failed"] == ["BackoffLimitExceeded"]
    exit_codes = {p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]
                  for p in kubectl.json("get", "pods", "-l", "job-name=fails")["items"]}
    assert exit_codes == {3}
