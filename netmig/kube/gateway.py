"""Cluster gateway: read the inventory a migration needs, as plain dicts.

Contract: read-only helpers here; writes (backups, leases, probes, cleanup) live in their own modules and take a
``KubeGateway``. Lists return the API's JSON objects (``apiVersion``/``kind`` filled in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client

from netmig.kube.client import api_client, translated

Obj = dict[str, Any]


class KubeGateway:
    def __init__(self, kubeconfig: bytes | str | Path) -> None:
        self.api = api_client(kubeconfig)
        self.core = client.CoreV1Api(self.api)
        self.apps = client.AppsV1Api(self.api)
        self.net = client.NetworkingV1Api(self.api)
        self.policy = client.PolicyV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)
        self.coordination = client.CoordinationV1Api(self.api)
        self.ext = client.ApiextensionsV1Api(self.api)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> KubeGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _plain(self, items: list[Any], api_version: str, kind: str) -> list[Obj]:
        out = []
        for it in items:
            d = self.api.sanitize_for_serialization(it)
            d.setdefault("apiVersion", api_version)
            d.setdefault("kind", kind)
            out.append(d)
        return out

    def version(self) -> str:
        with translated("reading the server version"):
            v = client.VersionApi(self.api).get_code()
        return str(v.git_version)

    def nodes(self, label_selector: str | None = None) -> list[Obj]:
        with translated("listing nodes"):
            res = self.core.list_node(label_selector=label_selector or "")
        return self._plain(res.items, "v1", "Node")

    def namespaces(self) -> list[Obj]:
        with translated("listing namespaces"):
            res = self.core.list_namespace()
        return self._plain(res.items, "v1", "Namespace")

    def pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        with translated("listing pods"):
            if namespace:
                res = self.core.list_namespaced_pod(namespace, label_selector=label_selector or "")
            else:
                res = self.core.list_pod_for_all_namespaces(label_selector=label_selector or "")
        return self._plain(res.items, "v1", "Pod")

    def services(self) -> list[Obj]:
        with translated("listing services"):
            res = self.core.list_service_for_all_namespaces()
        return self._plain(res.items, "v1", "Service")

    def network_policies(self, namespace: str | None = None) -> list[Obj]:
        with translated("listing NetworkPolicies"):
            if namespace:
                res = self.net.list_namespaced_network_policy(namespace)
            else:
                res = self.net.list_network_policy_for_all_namespaces()
        return self._plain(res.items, "networking.k8s.io/v1", "NetworkPolicy")

    def daemonsets(self) -> list[Obj]:
        with translated("listing DaemonSets"):
            res = self.apps.list_daemon_set_for_all_namespaces()
        return self._plain(res.items, "apps/v1", "DaemonSet")

    def pdbs(self) -> list[Obj]:
        with translated("listing PodDisruptionBudgets"):
            res = self.policy.list_pod_disruption_budget_for_all_namespaces()
        return self._plain(res.items, "policy/v1", "PodDisruptionBudget")

    def inventory(self) -> list[Obj]:
        """Everything the policy engine reads: namespaces, nodes, pods, services, NetworkPolicies."""
        return [*self.namespaces(), *self.nodes(), *self.pods(), *self.services(), *self.network_policies()]
