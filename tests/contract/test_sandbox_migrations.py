"""Issue #6 on the sandbox: kubenet -> Azure CNI Overlay, managed -> self-managed Calico, uninstall + CRD cleanup.

Every change goes through the REAL ``ContainerServiceClient`` (GET-modify-PUT, like ``az aks update``) and every
observation through the REAL ``kubernetes`` client on ``DIR/kubeconfig`` (no mocks, no store pokes except to record
transitions).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest
from kubernetes import client as k8s
from kubernetes import config, utils
from kubernetes.client.rest import ApiException

from netmig_sandbox import manifest_path
from tests.contract.arm_fixtures import arm_sandbox, client, requests, scenario, wait_for

__all__ = ["arm_sandbox"]

pytestmark = pytest.mark.contract

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.53"
OVERLAY = {"network_plugin": "azure", "network_plugin_mode": "overlay"}
CILIUM = {"network_dataplane": "cilium", "network_policy": "cilium"}
OP = "operator.tigera.io"
CALICO_CRD_GROUP = "crd.projectcalico.org"
NET_API = "2024-05-01"


# ------------------------------------------------------------------ helpers
class Cluster:
    """One sandbox seen through the real SDK and the real Kubernetes client."""

    def __init__(self, sb: Any) -> None:
        self.sb = sb
        self.arm = client(sb)
        self.rg, self.name = sb.info["resource_group"], sb.info["cluster_name"]
        self.api = config.new_client_from_config(config_file=sb.info["kubeconfig"])
        self.v1 = k8s.CoreV1Api(self.api)
        self.apps = k8s.AppsV1Api(self.api)
        self.custom = k8s.CustomObjectsApi(self.api)
        self.ext = k8s.ApiextensionsV1Api(self.api)
        self.reg = k8s.ApiregistrationV1Api(self.api)
        self.rbac = k8s.RbacAuthorizationV1Api(self.api)
        self.net = k8s.NetworkingV1Api(self.api)

    def close(self) -> None:
        self.api.close()

    # ARM
    def mc(self) -> Any:
        return self.arm.managed_clusters.get(self.rg, self.name)

    def begin(self, **fields: Any) -> Any:
        mc = self.mc()
        for key, value in fields.items():
            setattr(mc.network_profile, key, value)
        return self.arm.managed_clusters.begin_create_or_update(self.rg, self.name, mc)

    def update(self, **fields: Any) -> Any:
        result = self.begin(**fields).result(timeout=120)
        assert result.provisioning_state == "Succeeded"
        return result

    def refused(self, **fields: Any) -> HttpResponseError:
        with pytest.raises(HttpResponseError) as e:
            self.begin(**fields)
        assert e.value.status_code == 400
        assert self.mc().provisioning_state == "Succeeded"
        return e.value

    def arm_get(self, resource_id: str) -> dict[str, Any]:
        resp = self.arm.send_request(HttpRequest("GET", f"{resource_id}?api-version={NET_API}"))
        assert resp.status_code == 200, resp.text()
        body: dict[str, Any] = resp.json()
        return body

    def reimage_puts(self) -> int:
        return sum(1 for r in requests(self.sb) if r["method"] == "PUT" and r.get("reimage"))

    # Kubernetes
    def nodes(self) -> list[Any]:
        return list(self.v1.list_node().items)

    def policy_labels(self) -> set[str]:
        return {n.metadata.labels.get("kubernetes.azure.com/network-policy") for n in self.nodes()}

    def daemonsets(self) -> set[tuple[str, str]]:
        return {(d.metadata.namespace, d.metadata.name) for d in self.apps.list_daemon_set_for_all_namespaces().items}

    def deployments(self, *namespaces: str) -> set[tuple[str, str]]:
        return {(d.metadata.namespace, d.metadata.name) for d in self.apps.list_deployment_for_all_namespaces().items
                if not namespaces or d.metadata.namespace in namespaces}

    def crds(self, group: str) -> set[str]:
        return {c.metadata.name for c in self.ext.list_custom_resource_definition().items if c.spec.group == group}

    def settled(self) -> bool:
        deps = self.apps.list_deployment_for_all_namespaces().items
        dss = self.apps.list_daemon_set_for_all_namespaces().items
        return (all((d.status.ready_replicas or 0) >= (d.spec.replicas or 0) for d in deps)
                and all((d.status.number_ready or 0) == (d.status.desired_number_scheduled or 0) for d in dss))

    def running_pods(self) -> list[Any]:
        return [p for p in self.v1.list_pod_for_all_namespaces().items if p.status.phase == "Running"]

    def tigerastatus(self) -> dict[str, dict[str, tuple[str, str, str]]]:
        items = self.custom.list_cluster_custom_object(OP, "v1", "tigerastatuses")["items"]
        return {i["metadata"]["name"]: {c["type"]: (c["status"], c.get("reason", ""), c.get("message", ""))
                                        for c in (i.get("status") or {}).get("conditions") or []} for i in items}

    def apply_manifest(self, text: str) -> None:
        """Create-or-keep every document (kubectl apply semantics for what already exists)."""
        for doc in yaml.safe_load_all(text):
            if not doc:
                continue
            try:
                utils.create_from_dict(self.api, doc)
            except utils.FailToCreateError as e:
                assert all(x.status == 409 for x in e.api_exceptions), e

    def install_self_managed_calico(self, extra: tuple[str, ...] = ()) -> None:
        """Tigera's steps 4 and 5: the operator manifest, then Installation default (+ optional CRs)."""
        self.apply_manifest(manifest_path("tigera-operator.yaml").read_text())
        wait_for(lambda: self.crds(OP) >= {f"installations.{OP}", f"tigerastatuses.{OP}"}, timeout=30,
                 what="the operator's CRDs")
        spec = {"kubernetesProvider": "AKS", "cni": {"type": "AzureVNET"}}
        try:
            self.custom.patch_cluster_custom_object(OP, "v1", "installations", "default", {"spec": spec})
        except ApiException as e:
            assert e.status == 404
            self.custom.create_cluster_custom_object(OP, "v1", "installations", {
                "apiVersion": f"{OP}/v1", "kind": "Installation", "metadata": {"name": "default"}, "spec": spec})
        for kind, plural in (("Goldmane", "goldmanes"), ("Whisker", "whiskers"), ("APIServer", "apiservers")):
            if kind not in extra:
                continue
            try:
                self.custom.create_cluster_custom_object(OP, "v1", plural, {
                    "apiVersion": f"{OP}/v1", "kind": kind, "metadata": {"name": "default"}, "spec": {}})
            except ApiException as e:
                assert e.status == 409

    def connect(self, ns: str, name: str, target_ip: str, port: int, labels: dict[str, str] | None = None) -> str:
        """An agnhost connect pod: "open", or its stderr (TIMEOUT / REFUSED ...)."""
        self.v1.create_namespaced_pod(ns, {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"restartPolicy": "Never", "containers": [{
                "name": "c", "image": AGNHOST,
                "command": ["/agnhost", "connect", f"{target_ip}:{port}", "--timeout=5s", "--protocol=tcp"]}]}})
        phase = wait_for(lambda: self.v1.read_namespaced_pod(name, ns).status.phase in ("Succeeded", "Failed")
                         and self.v1.read_namespaced_pod(name, ns).status.phase, timeout=30, what=f"pod {name}")
        if phase == "Succeeded":
            return "open"
        return str(self.v1.read_namespaced_pod_log(name, ns, container="c")).strip()

    def pod_ip(self, ns: str, selector: str) -> str:
        pods = [p for p in self.v1.list_namespaced_pod(ns, label_selector=selector).items
                if p.status.phase == "Running" and p.status.pod_ip]
        assert pods, f"no running pod {selector} in {ns}"
        return str(pods[0].status.pod_ip)


@pytest.fixture
def cluster(arm_sandbox: Any) -> Iterator[Any]:
    """``open(scenario_or_dict) -> Cluster`` (API clients closed at the end)."""
    opened: list[Cluster] = []

    def open_(sc: Any = "npm") -> Cluster:
        c = Cluster(arm_sandbox(sc))
        opened.append(c)
        return c

    yield open_
    for c in opened:
        c.close()


class Recorder:
    """TigeraStatus condition sets in the order the store saw them."""

    def __init__(self, sb: Any) -> None:
        self.seen: list[tuple[str, str, str]] = []  # (name, Available, Degraded)
        self.lock = threading.Lock()

        def install(ctx: Any) -> None:
            def cb(event: str, key: tuple[str, str], obj: dict[str, Any]) -> None:
                if key != (OP, "tigerastatuses") or event == "DELETED":
                    return
                conds = {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}
                with self.lock:
                    self.seen.append((obj["metadata"]["name"], conds.get("Available", ""), conds.get("Degraded", "")))
            ctx.store.subscribe(cb)

        sb.run(install)

    def of(self, name: str) -> list[str]:
        with self.lock:
            return [a for n, a, _ in self.seen if n == name]


# ------------------------------------------------------------------ 1. kubenet(+Calico) -> Azure CNI Overlay
def test_kubenet_calico_to_overlay_with_a_new_pod_cidr_end_state(cluster: Any) -> None:
    c = cluster("kubenet-calico")
    old_ips = {p.metadata.name: p.status.pod_ip for p in c.running_pods() if not p.spec.host_network}
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.0.0/16") for ip in old_ips.values())
    result = c.update(**OVERLAY, pod_cidr="192.168.0.0/16")
    assert (result.network_profile.network_plugin, result.network_profile.network_plugin_mode,
            result.network_profile.network_policy, result.network_profile.pod_cidr) == (
        "azure", "overlay", "calico", "192.168.0.0/16")
    assert c.reimage_puts() == 1

    new_range = ipaddress.ip_network("192.168.0.0/16")
    for node in c.nodes():
        labels = node.metadata.labels
        assert labels["kubernetes.azure.com/azure-cni-overlay"] == "true"
        assert labels["kubernetes.azure.com/podnetwork-type"] == "overlay"
        assert labels["kubernetes.azure.com/network-policy"] == "calico"  # Calico stays, policy-only
        assert ipaddress.ip_network(node.spec.pod_cidr).subnet_of(new_range)
    wait_for(c.settled, timeout=30, what="workloads to settle")
    assert {("kube-system", "azure-cns"), ("calico-system", "calico-node")} <= c.daemonsets()
    assert ("tigera-operator", "tigera-operator") in c.deployments()
    # every pod network pod was recreated (deployments) or restarted (daemonsets) with an IP of the new range
    pods = [p for p in c.running_pods() if not p.spec.host_network]
    assert pods and all(ipaddress.ip_address(p.status.pod_ip) in new_range for p in pods)
    # AKS's own route table is detached from the (AKS-managed) node subnet once the migration is done
    node_rg = c.mc().node_resource_group
    vnets = c.arm_get(f"/subscriptions/{c.sb.info['subscription_id']}/resourceGroups/{node_rg}/providers/"
                      "Microsoft.Network/virtualNetworks")["value"]
    assert [s["properties"]["addressPrefix"] for s in vnets[0]["properties"]["subnets"]] == ["10.224.0.0/16"]
    assert "routeTable" not in vnets[0]["properties"]["subnets"][0]["properties"]
    # one-way
    back = c.refused(network_plugin="kubenet", network_plugin_mode=None)
    assert back.error.code == "OverlayMigrationNotReversible"


FAILING = [
    ("kubenet-calico-k126", OVERLAY, "OverlayMigrationRequiresKubernetesVersion", "1.27"),
    ("kubenet-calico-k126", {"network_policy": "none"}, "NetworkPolicyUpdateNotSupportedOnKubernetesVersion",
     "1.30"),
    ("kubenet-overlap", OVERLAY, "NetworkProfileCIDROverlapVNET", "10.244.0.0/16"),
    ("npm-windows", CILIUM, "CiliumWindowsNodePoolsNotSupported", "npwin"),
    ("kubenet-calico-blocked", OVERLAY, "KubenetCalicoToOverlayMigrationNotSupported", "'none'"),
]


@pytest.mark.parametrize(("name", "change", "code", "detail"), FAILING, ids=[f"{f[0]}-{f[2]}" for f in FAILING])
def test_scenarios_built_to_fail_are_refused_by_arm(cluster: Any, name: str, change: dict[str, Any], code: str,
                                                    detail: str) -> None:
    c = cluster(name)
    err = c.refused(**change)
    assert err.error.code == code and detail in err.error.message
    assert c.reimage_puts() == 0


def test_reserved_pod_cidr_kept_by_an_overlay_migration_is_refused(cluster: Any) -> None:
    c = cluster(scenario("kubenet-calico", cluster={"network_profile": {
        "networkPlugin": "kubenet", "networkPolicy": "calico", "podCidr": "172.30.0.0/16"}}))
    assert c.refused(**OVERLAY).error.code == "PodCidrOverlap"


def test_overlap_scenario_exposes_its_vnet_and_accepts_a_new_pod_cidr(cluster: Any) -> None:
    c = cluster("kubenet-overlap")
    mc = c.mc()
    subnet_ids = {p.vnet_subnet_id for p in mc.agent_pool_profiles}
    assert len(subnet_ids) == 1
    subnet_id = subnet_ids.pop()
    subnet = c.arm_get(subnet_id)
    assert subnet["properties"]["addressPrefix"] == "10.224.0.0/16"
    vnet = c.arm_get(subnet_id.rsplit("/subnets/", 1)[0])
    space = vnet["properties"]["addressSpace"]["addressPrefixes"]
    assert any(ipaddress.ip_network(mc.network_profile.pod_cidr).overlaps(ipaddress.ip_network(s)) for s in space)
    assert vnet["properties"]["virtualNetworkPeerings"][0]["properties"]["remoteAddressSpace"] == {
        "addressPrefixes": ["10.100.0.0/16"]}
    usage = c.arm_get(subnet_id.rsplit("/subnets/", 1)[0] + "/usages")["value"][0]
    assert usage["id"] == subnet_id and usage["currentValue"] == 6 and usage["limit"] == 65531
    # the fix the preflight would suggest: a pod CIDR outside the VNet
    c.update(**OVERLAY, pod_cidr="192.168.0.0/16")
    assert c.arm_get(subnet_id)["properties"]["routeTable"]["id"].endswith("/routeTables/rt-aks")  # BYO stays


def test_preflight_facts_are_in_the_cluster_json_and_the_kube_api(cluster: Any) -> None:
    ident = cluster("kubenet-system-identity")
    assert ident.mc().identity.type == "SystemAssigned"
    ident.update(**OVERLAY)  # ARM does not refuse it: the product's preflight is the guard

    win = cluster("npm-windows").mc()
    pools = {p.name: p for p in win.agent_pool_profiles}
    assert pools["npwin"].os_type == "Windows" and pools["system"].os_type == "Linux"
    assert {p.type for p in pools.values()} == {"VirtualMachineScaleSets"}
    assert pools["npwin"].count == 2 and pools["npwin"].upgrade_settings.max_surge == "1"
    assert win.network_profile.ip_families == ["IPv4"] and win.network_profile.service_cidr == "10.0.0.0/16"
    assert all(p.vnet_subnet_id is None for p in pools.values())  # AKS-managed VNet

    addon = cluster("managed-calico-addon")
    op = addon.apps.read_namespaced_deployment("tigera-operator", "tigera-operator")
    node = addon.apps.read_namespaced_daemon_set("calico-node", "calico-system")
    assert op.metadata.annotations["addonmanager.kubernetes.io/mode"] == "Reconcile"
    assert node.metadata.annotations["addonmanager.kubernetes.io/mode"] == "Reconcile"
    plain = cluster("managed-calico")
    assert not (plain.apps.read_namespaced_deployment("tigera-operator", "tigera-operator").metadata.annotations
                or {}).get("addonmanager.kubernetes.io/mode")


def test_blocked_direct_path_and_the_fallback_none_overlay_calico(cluster: Any) -> None:
    c = cluster("kubenet-calico-blocked")
    assert c.refused(**OVERLAY).error.code == "KubenetCalicoToOverlayMigrationNotSupported"
    calico_crds = c.crds(CALICO_CRD_GROUP)
    assert len(calico_crds) == 19

    c.update(network_policy="none")
    assert c.policy_labels() == {"none"}
    assert ("calico-system", "calico-node") not in c.daemonsets()
    assert not c.deployments("tigera-operator", "calico-system")
    assert c.crds(CALICO_CRD_GROUP) == calico_crds  # CRDs and CRs stay, as on AKS
    assert c.custom.get_cluster_custom_object(OP, "v1", "installations", "default")
    assert c.custom.list_cluster_custom_object(CALICO_CRD_GROUP, "v1", "ippools")["items"]
    assert len(c.net.list_network_policy_for_all_namespaces().items) == 6  # still there, unenforced

    c.update(**OVERLAY)
    assert {n.metadata.labels["kubernetes.azure.com/azure-cni-overlay"] for n in c.nodes()} == {"true"}
    assert c.policy_labels() == {"none"}

    c.update(network_policy="calico")
    assert c.policy_labels() == {"calico"}
    wait_for(c.settled, timeout=30, what="calico to come back")
    assert ("calico-system", "calico-node") in c.daemonsets()
    assert {("tigera-operator", "tigera-operator"), ("calico-system", "calico-typha"),
            ("calico-system", "calico-kube-controllers")} <= c.deployments()
    assert c.reimage_puts() == 3


# ------------------------------------------------------------------ 2. managed Calico -> self-managed
def test_managed_calico_to_none_leaves_crds_crs_and_a_dangling_apiservice(cluster: Any) -> None:
    c = cluster("managed-calico")
    assert c.reg.read_api_service("v3.projectcalico.org").status.conditions[0].status == "True"
    c.update(network_policy="none")
    assert (c.mc().network_profile.network_plugin, c.mc().network_profile.network_policy) == ("azure", "none")
    assert c.policy_labels() == {"none"}
    assert ("calico-system", "calico-node") not in c.daemonsets()
    assert not c.deployments("tigera-operator", "calico-system", "calico-apiserver")
    assert c.crds(CALICO_CRD_GROUP) and c.crds(OP) >= {f"installations.{OP}", f"apiservers.{OP}"}
    inst = c.custom.get_cluster_custom_object(OP, "v1", "installations", "default")
    api = c.custom.get_cluster_custom_object(OP, "v1", "apiservers", "default")
    assert inst["metadata"]["finalizers"] == ["tigera.io/operator-cleanup"]
    assert api["metadata"]["finalizers"] == ["operator.tigera.io/apiserver-controller"]
    assert {n.metadata.name for n in c.v1.list_namespace().items} >= {"calico-system", "tigera-operator",
                                                                       "calico-apiserver"}
    cond = c.reg.read_api_service("v3.projectcalico.org").status.conditions[0]
    assert (cond.status, cond.reason) == ("False", "ServiceNotFound")
    with pytest.raises(ApiException) as e:  # discovery of the aggregated group fails, like a real cluster
        c.custom.get_api_resources("projectcalico.org", "v3")
    assert e.value.status == 503
    groups = {g.name for g in k8s.ApisApi(c.api).get_api_versions().groups}
    assert "projectcalico.org" in groups  # listed, as the aggregator lists every APIService group


def test_self_managed_calico_from_the_shipped_manifest_enforces_again(cluster: Any) -> None:
    c = cluster("managed-calico")
    rec = Recorder(c.sb)
    c.v1.create_namespace({"metadata": {"name": "probe"}})
    frontend = c.pod_ip("web", "app=frontend")
    assert c.connect("probe", "before", frontend, 8080) == "TIMEOUT"  # managed Calico enforces
    c.update(network_policy="none")
    wait_for(c.settled, timeout=30, what="the none reimage to settle")
    frontend = c.pod_ip("web", "app=frontend")
    assert c.connect("probe", "window", frontend, 8080) == "open"  # the unenforced window

    c.install_self_managed_calico(extra=("Goldmane", "Whisker"))
    wanted = {"apiserver", "calico", "goldmane", "ippools", "whisker"}
    wait_for(lambda: {n for n, conds in c.tigerastatus().items() if conds.get("Available", ("",))[0] == "True"}
             >= wanted, timeout=60, what="tigerastatus Available")
    statuses = c.tigerastatus()
    assert all(statuses[n]["Degraded"][0] == "False" for n in wanted)
    assert "False" in rec.of("calico") and rec.of("calico")[-1] == "True"  # stale -> Progressing -> Available
    node = c.apps.read_namespaced_daemon_set("calico-node", "calico-system")
    assert "kubernetes.azure.com/managedby" not in (node.metadata.labels or {})  # self-managed
    assert node.status.number_ready == node.status.desired_number_scheduled == len(c.nodes())
    assert c.policy_labels() == {"none"}  # AKS still thinks none
    assert c.mc().network_profile.network_policy == "none"
    wait_for(lambda: c.reg.read_api_service("v3.projectcalico.org").status.conditions[0].status == "True",
             timeout=30, what="the Calico API server")

    assert c.connect("probe", "after", frontend, 8080) == "TIMEOUT"  # enforced again, by self-managed Calico
    c.v1.create_namespaced_pod("web", {"metadata": {"name": "gw", "labels": {"app": "gateway"}}, "spec": {
        "containers": [{"name": "c", "image": AGNHOST, "command": ["/agnhost", "pause"]}]}})
    assert c.connect("web", "allowed", frontend, 8080, labels={"app": "gateway"}) == "open"


def test_crd_cleanup_before_the_operator_install_makes_calico_degraded(cluster: Any) -> None:
    c = cluster("managed-calico")
    c.update(network_policy="none")
    for name in c.crds(CALICO_CRD_GROUP):  # the step the engine must refuse to run here
        c.ext.delete_custom_resource_definition(name)
    c.install_self_managed_calico()

    def degraded() -> Any:
        conds = c.tigerastatus().get("calico", {})
        return conds.get("Degraded", ("",))[0] == "True" and conds
    conds = wait_for(degraded, timeout=30, what="tigerastatus calico Degraded")
    assert conds["Available"][0] == "False" and conds["Degraded"][1] == "ResourceNotFound"
    assert "projectcalico.org/v3" in conds["Degraded"][2]
    assert "ippools.crd.projectcalico.org" in conds["Degraded"][2]
    assert ("calico-system", "calico-node") not in c.daemonsets()  # nothing enforces


def test_running_operator_validates_the_installation_and_cleans_up_on_its_deletion(cluster: Any) -> None:
    c = cluster("managed-calico")
    c.update(network_policy="none")
    c.install_self_managed_calico()
    wait_for(lambda: c.tigerastatus().get("calico", {}).get("Available", ("",))[0] == "True", timeout=60,
             what="calico Available")
    inst = c.custom.get_cluster_custom_object(OP, "v1", "installations", "default")
    assert inst["status"]["variant"] == "Calico" and inst["metadata"]["finalizers"] == ["tigera.io/operator-cleanup"]

    c.custom.patch_cluster_custom_object(OP, "v1", "installations", "default", {"spec": {"cni": {"type": "Calico"}}})
    conds = wait_for(lambda: (x := c.tigerastatus()["calico"])["Degraded"][0] == "True" and x, timeout=30,
                     what="calico Degraded")
    assert conds["Degraded"][1] == "ResourceValidationError" and "AzureVNET" in conds["Degraded"][2]
    c.custom.patch_cluster_custom_object(OP, "v1", "installations", "default",
                                         {"spec": {"cni": {"type": "AzureVNET"}}})
    wait_for(lambda: c.tigerastatus()["calico"]["Available"][0] == "True", timeout=30, what="calico Available")

    # with the operator running, deleting the Installation completes: the operator removes what it deployed and
    # its finalizers (unlike after AKS removed its own operator)
    c.custom.delete_cluster_custom_object(OP, "v1", "installations", "default")

    def gone() -> bool:
        try:
            c.custom.get_cluster_custom_object(OP, "v1", "installations", "default")
        except ApiException as e:
            return e.status == 404
        return False
    wait_for(gone, timeout=30, what="the Installation to go")
    wait_for(lambda: ("calico-system", "calico-node") not in c.daemonsets(), timeout=30, what="calico-node to go")
    assert not c.deployments("calico-system")
    assert "calico" not in c.tigerastatus()
    with pytest.raises(ApiException) as e:
        c.v1.read_namespaced_service_account("calico-node", "calico-system")
    assert e.value.status == 404


# ------------------------------------------------------------------ 3. uninstall (none) + CRD cleanup
def test_dangling_apiservice_blocks_namespace_deletion_until_deleted(cluster: Any) -> None:
    c = cluster("managed-calico")
    c.update(network_policy="none")
    c.v1.delete_namespace("calico-apiserver")

    def conditions() -> dict[str, str]:
        ns = c.v1.read_namespace("calico-apiserver")
        return {x.type: x.status for x in ns.status.conditions or []}
    wait_for(lambda: conditions().get("NamespaceDeletionDiscoveryFailure") == "True", what="discovery failure")
    ns = c.v1.read_namespace("calico-apiserver")
    assert ns.status.phase == "Terminating" and ns.spec.finalizers == ["kubernetes"]
    message = next(x.message for x in ns.status.conditions if x.type == "NamespaceDeletionDiscoveryFailure")
    assert "projectcalico.org/v3" in message
    c.reg.delete_api_service("v3.projectcalico.org")
    wait_for(lambda: "calico-apiserver" not in {n.metadata.name for n in c.v1.list_namespace().items},
             what="the namespace to go")


def test_finalizer_held_objects_stay_until_the_finalizers_are_stripped(cluster: Any) -> None:
    c = cluster("managed-calico")
    c.update(network_policy="none")
    c.custom.delete_cluster_custom_object(OP, "v1", "installations", "default")
    c.custom.delete_cluster_custom_object(OP, "v1", "apiservers", "default")
    c.v1.delete_namespaced_service_account("calico-node", "calico-system")
    c.rbac.delete_cluster_role("calico-node")
    c.rbac.delete_cluster_role_binding("calico-node")
    c.v1.delete_namespace("calico-system")
    inst = c.custom.get_cluster_custom_object(OP, "v1", "installations", "default")
    assert inst["metadata"]["deletionTimestamp"]  # nobody clears tigera.io/operator-cleanup any more
    assert c.custom.get_cluster_custom_object(OP, "v1", "apiservers", "default")["metadata"]["deletionTimestamp"]
    assert c.v1.read_namespaced_service_account("calico-node", "calico-system").metadata.deletion_timestamp
    assert c.rbac.read_cluster_role("calico-node").metadata.deletion_timestamp
    ns = c.v1.read_namespace("calico-system")
    remaining = {x.type: x.message for x in ns.status.conditions if x.status == "True"}
    assert "tigera.io/cni-protector" in remaining["NamespaceFinalizersRemaining"]

    strip = {"metadata": {"finalizers": None}}
    c.custom.patch_cluster_custom_object(OP, "v1", "installations", "default", strip)
    c.custom.patch_cluster_custom_object(OP, "v1", "apiservers", "default", strip)
    c.v1.patch_namespaced_service_account("calico-node", "calico-system", strip)
    c.rbac.patch_cluster_role("calico-node", strip)
    c.rbac.patch_cluster_role_binding("calico-node", strip)
    for read in (lambda: c.custom.get_cluster_custom_object(OP, "v1", "installations", "default"),
                 lambda: c.custom.get_cluster_custom_object(OP, "v1", "apiservers", "default"),
                 lambda: c.rbac.read_cluster_role("calico-node"),
                 lambda: c.rbac.read_cluster_role_binding("calico-node")):
        with pytest.raises(ApiException) as e:
            read()
        assert e.value.status == 404
    # the namespace's content is gone, but the dangling APIService still blocks its finalization (any namespace's)
    ns = c.v1.read_namespace("calico-system")
    assert ns.status.phase == "Terminating"
    assert {x.type: x.status for x in ns.status.conditions}["NamespaceDeletionDiscoveryFailure"] == "True"
    c.reg.delete_api_service("v3.projectcalico.org")
    with pytest.raises(ApiException) as e:
        c.v1.read_namespace("calico-system")
    assert e.value.status == 404


def test_npm_uninstall_removes_azure_npm_and_leaves_policies_unenforced(cluster: Any) -> None:
    c = cluster("npm")
    c.v1.create_namespace({"metadata": {"name": "probe"}})
    frontend = c.pod_ip("web", "app=frontend")
    assert c.connect("probe", "before", frontend, 8080) == "TIMEOUT"
    policies = {(p.metadata.namespace, p.metadata.name) for p in c.net.list_network_policy_for_all_namespaces().items}
    c.update(network_policy="none")
    assert ("kube-system", "azure-npm") not in c.daemonsets()
    assert c.policy_labels() == {"none"}
    assert {(p.metadata.namespace, p.metadata.name)
            for p in c.net.list_network_policy_for_all_namespaces().items} == policies
    wait_for(c.settled, timeout=30, what="the reimage to settle")
    assert c.connect("probe", "after", c.pod_ip("web", "app=frontend"), 8080) == "open"
