"""Helpers for the Calico migration e2e tests: the cluster's end state read through the product's own gateways
(ARM profile, node labels, DaemonSets, CRDs, TigeraStatus, NetworkPolicies), and a hand-made uninstall."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netmig_sandbox import manifest_path

MANIFEST = manifest_path("tigera-operator.yaml")
LABEL = "kubernetes.azure.com/network-policy"
MANAGED_BY = "kubernetes.azure.com/managedby"
POLICIES = {"web/frontend-from-gateway", "api/allow-http-from-web", "api/ledger-port-range", "data/default-deny",
            "data/db-allow-pod-cidr", "monitoring/prober-egress"}  # the managed-calico scenario's


@dataclass
class State:
    profile: dict[str, Any]
    node_labels: set[str]
    daemonsets: dict[str, tuple[int, int, str | None]]  # ns/name -> desired, ready, managedby label
    crd_groups: dict[str, int]
    namespaces: set[str]
    apiservices: set[str]
    tigerastatus: dict[str, str]  # name -> Available status
    policies: set[str]
    engine_pods: list[str]
    deployments: dict[str, str | None]  # ns/name -> managedby label


def uninstall_by_hand(sandbox: Path) -> None:
    """``az aks update --network-policy none``: how the clusters calico-crd-cleanup is for were uninstalled."""
    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir

    aks = AksGateway(from_sandbox_dir(sandbox), polling_interval=0.1)
    info = aks.cluster()
    aks.wait(aks.begin_network_update(replace(info.network, policy="none"), etag=info.etag))


def state(sandbox: Path) -> State:
    from netmig.azure.gateway import AksGateway
    from netmig.connection import from_sandbox_dir
    from netmig.kube import calico
    from netmig.kube.gateway import KubeGateway
    from netmig.kube.resources import Rest

    info = AksGateway(from_sandbox_dir(sandbox), polling_interval=0.1).cluster()
    with KubeGateway(sandbox / "kubeconfig") as gw:
        rest = Rest(gw)
        crds = rest.list(calico.CRD)
        groups: dict[str, int] = {}
        for c in crds:
            g = c["spec"]["group"]
            if calico.is_calico_group(g):
                groups[g] = groups.get(g, 0) + 1
        ts: dict[str, str] = {}
        if rest.served("operator.tigera.io/v1", "TigeraStatus"):
            for t in rest.list(rest.resource("operator.tigera.io/v1", "TigeraStatus")):
                avail = next((c for c in (t.get("status") or {}).get("conditions") or []
                              if c.get("type") == "Available"), {})
                ts[t["metadata"]["name"]] = str(avail.get("status"))
        dss = {f"{d['metadata']['namespace']}/{d['metadata']['name']}":
               (int(d["status"].get("desiredNumberScheduled") or 0), int(d["status"].get("numberReady") or 0),
                (d["metadata"].get("labels") or {}).get(MANAGED_BY)) for d in gw.daemonsets()}
        deps = {f"{d['metadata']['namespace']}/{d['metadata']['name']}": (d["metadata"].get("labels") or {}).get(
            MANAGED_BY) for d in rest.list(rest.resource("apps/v1", "Deployment"))}
        return State(
            profile={"plugin": info.network.plugin, "policy": info.network.policy,
                     "state": info.provisioning_state},
            node_labels={(n["metadata"].get("labels") or {}).get(LABEL, "") for n in gw.nodes()},
            daemonsets=dss, crd_groups=groups, namespaces={n["metadata"]["name"] for n in gw.namespaces()},
            apiservices={a["metadata"]["name"] for a in rest.list(calico.APISERVICE)},
            tigerastatus=ts,
            policies={f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in gw.network_policies()},
            engine_pods=calico.engine_pods(gw), deployments=deps)


def journal_value(run_dir: Path, key: str) -> Any:
    found = None
    for line in (run_dir / "journal.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e.get("event") == "set" and e.get("key") == key:
            found = e.get("value")
    return found


def assert_self_managed(s: State) -> None:
    """Tigera's end state: AKS says none, the operator's own Calico runs and enforces, the policies are back."""
    assert s.profile == {"plugin": "azure", "policy": "none", "state": "Succeeded"}
    assert s.node_labels == {"none"}  # AKS no longer manages a policy engine on the nodes
    desired, ready, managed = s.daemonsets["calico-system/calico-node"]
    assert desired == ready == 6 and managed is None  # self-managed: not AKS's
    assert "kube-system/azure-npm" not in s.daemonsets
    assert s.deployments["tigera-operator/tigera-operator"] is None  # the manifest's operator, not AKS's
    assert s.crd_groups["crd.projectcalico.org"] == 19 and s.crd_groups["operator.tigera.io"] == 6
    assert s.tigerastatus == dict.fromkeys(("apiserver", "calico", "goldmane", "ippools", "whisker"), "True")
    assert s.policies == POLICIES


def assert_uninstalled(s: State) -> None:
    """Network policy none, Calico gone without a trace, the NetworkPolicies still there (unenforced)."""
    assert s.profile == {"plugin": "azure", "policy": "none", "state": "Succeeded"}
    assert s.node_labels == {"none"}
    assert not [d for d in s.daemonsets if d.endswith(("/calico-node", "/azure-npm"))]
    assert s.engine_pods == []
    assert s.crd_groups == {}  # no crd.projectcalico.org / operator.tigera.io CRDs left
    assert not {"calico-system", "tigera-operator", "calico-apiserver"} & s.namespaces
    assert "v3.projectcalico.org" not in s.apiservices
    assert s.policies == POLICIES
