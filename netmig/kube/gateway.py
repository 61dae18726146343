"""Cluster gateway: read the inventory a migration needs, as plain dicts.

Contract: read-only helpers here; writes (backups, leases, probes, cleanup) live in their own modules and take a
``KubeGateway``. Lists return the API's JSON objects (``apiVersion``/``kind`` filled in), read in pages of 500
(``netmig.kube.listing``: limit/continue, a 410 on a continue restarts once), never as one giant list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client

from netmig.kube.client import api_client, translated
from netmig.kube.listing import list_pages

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

    def version(self) -> str:
        with translated("reading the server version"):
            v = client.VersionApi(self.api).get_code()
        return str(v.git_version)

    def nodes(self, label_selector: str | None = None) -> list[Obj]:
        return list_pages(self.core.list_node, api_version="v1", kind="Node", label_selector=label_selector)

    def namespaces(self) -> list[Obj]:
        return list_pages(self.core.list_namespace, api_version="v1", kind="Namespace")

    def pods(self, namespace: str | None = None, label_selector: str | None = None) -> list[Obj]:
        if namespace:
            return list_pages(self.core.list_namespaced_pod, namespace, api_version="v1", kind="Pod",
                              label_selector=label_selector)
        return list_pages(self.core.list_pod_for_all_namespaces, api_version="v1", kind="Pod",
                          label_selector=label_selector)

    def services(self) -> list[Obj]:
        return list_pages(self.core.list_service_for_all_namespaces, api_version="v1", kind="Service")

    def network_policies(self, namespace: str | None = None) -> list[Obj]:
        if namespace:
            return list_pages(self.net.list_namespaced_network_policy, namespace,
                              api_version="networking.k8s.io/v1", kind="NetworkPolicy")
        return list_pages(self.net.list_network_policy_for_all_namespaces, api_version="networking.k8s.io/v1",
                          kind="NetworkPolicy")

    def daemonsets(self) -> list[Obj]:
        return list_pages(self.apps.list_daemon_set_for_all_namespaces, api_version="apps/v1", kind="DaemonSet")

    def pdbs(self) -> list[Obj]:
        return list_pages(self.policy.list_pod_disruption_budget_for_all_namespaces, api_version="policy/v1",
                          kind="PodDisruptionBudget")

    def inventory(self) -> list[Obj]:
        """Everything the policy engine reads: namespaces, nodes, pods, services, NetworkPolicies."""
        return [*self.namespaces(), *self.nodes(), *self.pods(), *self.services(), *self.network_policies()]
