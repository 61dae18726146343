"""The seed article's demo ("Verify network policy setup" / "Test connectivity with network policies"), automated.

Contract: ``run_seed_demo(gateway)`` performs the article's steps exactly, in namespace ``demo``:
create the namespace; ``kubectl run server`` (agnhost serve-hostname on TCP 80, label ``app=server``,
containerPort 80); ``kubectl run client`` (label ``run=client``, as ``kubectl run`` sets it; it idles); check the
client reaches the server without a policy (the article's tip: success, no output); apply ``demo-policy``; check
the unlabelled client gets ``TIMEOUT``; ``kubectl label pod client app=client``; check it now succeeds; delete the
namespace. Each check is an expectation, reported met or not; ``SeedDemoResult.passed`` is True only when every
one is met, the cleanup included. Cleanup (namespace deletion) always runs, even when a step fails.

Without ``kubectl exec``, each connectivity check runs ``/agnhost connect SERVER_IP:80 --timeout=3s
--protocol=tcp`` as its own short-lived pod that carries the *client's current labels* and runs on the client's
node (``probes.connect_once``): the expectations are about the client's identity (its labels), which is exactly
what ``kubectl label pod client app=client`` changes in the article. A check that does not meet its expectation is
repeated (``attempts``, default 3) to allow for policy propagation on real clusters; the report says how many
attempts it took.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from netmig.errors import UsageError
from netmig.kube import errors
from netmig.kube.client import translated
from netmig.kube.gateway import KubeGateway
from netmig.kube.probes import DEFAULT_IMAGE, connect_once, delete_namespace, wait_pod

NAMESPACE = "demo"
DEMO_POLICY: Any = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "demo-policy", "namespace": NAMESPACE},
    "spec": {"podSelector": {"matchLabels": {"app": "server"}},
             "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}],
                          "ports": [{"port": 80, "protocol": "TCP"}]}]},
}


@dataclass
class Expectation:
    step: str
    expected: str
    observed: str
    met: bool
    detail: str = ""
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class SeedDemoResult:
    expectations: list[Expectation] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.expectations) and all(e.met for e in self.expectations)

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "expectations": [e.to_dict() for e in self.expectations]}


def _running(p: dict[str, Any]) -> bool:
    st = p.get("status") or {}
    return st.get("phase") == "Running" and bool(st.get("podIP"))


def _pod(name: str, labels: dict[str, str], command: list[str], image: str, port: int | None = None) -> Any:
    c: dict[str, Any] = {"name": name, "image": image, "command": command}
    if port:
        c["ports"] = [{"containerPort": port, "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE, "labels": labels},
            "spec": {"containers": [c], "terminationGracePeriodSeconds": 0}}


def run_seed_demo(
    gw: KubeGateway, *, image: str = DEFAULT_IMAGE, timeout_s: int = 3, attempts: int = 3, wait_s: float = 120.0,
    on_step: Callable[[Expectation], None] | None = None,
) -> SeedDemoResult:
    """See the module docstring. Raises ``UsageError`` when namespace ``demo`` already exists (nothing changed)."""
    result = SeedDemoResult()

    def record(e: Expectation) -> None:
        result.expectations.append(e)
        if on_step is not None:
            on_step(e)

    try:
        with translated("creating namespace demo"):
            gw.core.create_namespace({"metadata": {"name": NAMESPACE}})  # type: ignore[arg-type]
    except errors.Conflict:
        raise UsageError("namespace demo already exists", "delete it first: kubectl delete namespace demo") from None
    seq = [0]
    try:
        with translated("creating pod demo/server"):
            gw.core.create_namespaced_pod(NAMESPACE, _pod("server", {"app": "server"}, [
                "/agnhost", "serve-hostname", "--tcp", "--http=false", "--port", "80"], image, 80))
        with translated("creating pod demo/client"):
            gw.core.create_namespaced_pod(NAMESPACE, _pod("client", {"run": "client"}, ["/agnhost", "pause"], image))
        server = wait_pod(gw, NAMESPACE, "server", _running, wait_s, "Running")
        wait_pod(gw, NAMESPACE, "client", _running, wait_s, "Running")
        server_ip = str(server["status"]["podIP"])

        def check(step: str, expected: str) -> None:
            last = None
            tries = 0
            for _ in range(attempts):
                tries += 1
                client = wait_pod(gw, NAMESPACE, "client", _running, wait_s, "Running")
                labels = dict(client["metadata"].get("labels") or {})
                seq[0] += 1
                obs = connect_once(gw, NAMESPACE, f"client-connect-{seq[0]}", labels,
                                   client["spec"].get("nodeName"), server_ip, 80, timeout_s=timeout_s, image=image,
                                   wait_s=wait_s)
                last = obs
                if obs.outcome == expected:
                    break
            assert last is not None
            shown = "success (no output)" if last.outcome == "open" else (last.detail or last.outcome)
            record(Expectation(step, expected, last.outcome, last.outcome == expected, shown, tries))

        check("no policy: client connects to server:80", "open")
        with translated("applying demo-policy"):
            gw.net.create_namespaced_network_policy(NAMESPACE, DEMO_POLICY)
        check("demo-policy applied: unlabelled client gets TIMEOUT", "timeout")
        with translated("labelling pod demo/client app=client"):
            gw.core.patch_namespaced_pod("client", NAMESPACE, {"metadata": {"labels": {"app": "client"}}})
        check("client labelled app=client: connection succeeds", "open")
    except errors.KubeError as e:
        record(Expectation("run the demo steps", "no error", "error", False, str(e)))
    finally:
        try:
            delete_namespace(gw, NAMESPACE, wait_s)
            record(Expectation("clean up: namespace demo deleted", "deleted", "deleted", True))
        except errors.KubeError as e:
            record(Expectation("clean up: namespace demo deleted", "deleted", "still there", False, str(e)))
    return result
