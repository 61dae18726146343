"""The generated ``large`` scenario: 250 nodes, 20,000 pods, 2,000 NetworkPolicies (Azure CNI + NPM).

Deterministic (seeded): 200 namespaces in 8 teams, each with 10 deployments of 10 replicas serving one of a few
ports, and 10 policies mixing default-deny, selector allows, namespace allows, named ports and ipBlocks.
"""

from __future__ import annotations

import random
from typing import Any

NAMESPACES = 200
DEPLOYMENTS_PER_NS = 10
REPLICAS = 10
POLICIES_PER_NS = 10
NODES = 250
TIERS = ("web", "api", "worker", "db", "cache")
PORTS = {"web": (8080, "http"), "api": (8080, "http"), "worker": (9090, "metrics"), "db": (5432, "sql"),
         "cache": (6379, "redis")}


def generate(seed: int = 7) -> dict[str, Any]:
    rnd = random.Random(seed)
    objects: list[dict[str, Any]] = []
    for n in range(NAMESPACES):
        ns = f"team{n % 8}-app{n:03d}"
        labels = {"team": f"team{n % 8}", "env": rnd.choice(["prod", "dev"])}
        objects.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns, "labels": labels}})
        for d in range(DEPLOYMENTS_PER_NS):
            tier = TIERS[d % len(TIERS)]
            port, pname = PORTS[tier]
            labels = {"app": f"{tier}{d}", "tier": tier}
            objects.append({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": f"{tier}{d}", "namespace": ns, "labels": labels},
                "spec": {"replicas": REPLICAS, "selector": {"matchLabels": dict(labels)},
                         "template": {"metadata": {"labels": dict(labels)}, "spec": {"containers": [{
                             "name": "main", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                             "command": ["/agnhost", "serve-hostname", "--tcp", "--http=false", "--port", str(port)],
                             "ports": [{"name": pname, "containerPort": port, "protocol": "TCP"}]}]}}},
            })
        objects.extend(_policies(rnd, ns, n))
    return {
        "name": "large",
        "description": "250 nodes, 20,000 pods, 2,000 NetworkPolicies under Azure NPM (generated, for benchmarks).",
        "cluster": {
            "name": "aks-large", "kubernetes_version": "1.31.2",
            "subscription_id": "00000000-0000-0000-0000-000000000001", "resource_group": "rg-netmig-sandbox",
            "location": "westeurope", "identity": "UserAssigned", "node_provisioning_mode": "Manual",
            "network_profile": {"networkPlugin": "azure", "networkPolicy": "azure", "networkDataplane": "azure",
                                "networkPluginMode": None, "serviceCidr": "10.0.0.0/16", "dnsServiceIP": "10.0.0.10",
                                "ipFamilies": ["IPv4"]},
            "pools": [
                {"name": "system", "mode": "System", "count": 10, "osType": "Linux", "vmSize": "Standard_D8s_v5",
                 "maxSurge": "1", "availabilitySet": False, "orchestratorVersion": "1.31.2"},
                {"name": "user", "mode": "User", "count": NODES - 10, "osType": "Linux", "vmSize": "Standard_D8s_v5",
                 "maxSurge": "10%", "availabilitySet": False, "orchestratorVersion": "1.31.2"},
            ],
        },
        "objects": objects,
        "faults": [],
    }


def _policies(rnd: random.Random, ns: str, n: int) -> list[dict[str, Any]]:
    def pol(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": name, "namespace": ns}, "spec": spec}

    out = [pol("default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]})]
    for i in range(POLICIES_PER_NS - 1):
        tier = TIERS[i % len(TIERS)]
        port, pname = PORTS[tier]
        src_tier = TIERS[(i + 1) % len(TIERS)]
        choice = (n + i) % 4
        if choice == 0:
            peer: dict[str, Any] = {"podSelector": {"matchLabels": {"tier": src_tier}}}
        elif choice == 1:
            peer = {"namespaceSelector": {"matchLabels": {"team": f"team{rnd.randrange(8)}"}}}
        elif choice == 2:
            expr = {"key": "tier", "operator": "In", "values": [src_tier, "web"]}
            peer = {"namespaceSelector": {"matchLabels": {"env": "prod"}},
                    "podSelector": {"matchExpressions": [expr]}}
        else:
            peer = {"ipBlock": {"cidr": "10.224.0.0/16", "except": ["10.224.0.0/24"]}}
        port_spec: dict[str, Any] = {"port": pname} if i % 2 else {"port": port, "protocol": "TCP"}
        out.append(pol(f"allow-{tier}-{i}", {"podSelector": {"matchLabels": {"tier": tier}},
                                             "ingress": [{"from": [peer], "ports": [port_spec]}]}))
    return out
