"""Built-in resource types of the sandbox Kubernetes API, and their create-time defaulting.

Contract:
- ``register_builtin_types(store)`` registers every built-in ``ResourceType`` (what discovery serves) and installs
  the CRD controller (``crds.install``) on the store; calling it twice is harmless.
- ``apply_defaults(key, obj, store)`` fills in what the real API server defaults on create (pod phase Pending,
  service clusterIP, deployment replicas, ...); it edits ``obj`` in place.
- ``SUBRESOURCE_KINDS`` names the extra subresources discovery lists (``pods/eviction`` ...), with their
  group/version/kind and verbs.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from netmig_sandbox.kube.store import Key, Obj, ResourceType, Store

SERVICE_CIDR = ipaddress.ip_network("10.0.0.0/16")

_ALL = ("all",)
_READ = ("get", "list", "watch")

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    # core v1
    ResourceType("", "v1", "namespaces", "Namespace", False, ("ns",), ("status", "finalize"),
                 verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    ResourceType("", "v1", "nodes", "Node", False, ("no",), ("status",)),
    ResourceType("", "v1", "pods", "Pod", True, ("po",), ("status", "log", "eviction", "exec", "attach", "portforward"),
                 categories=_ALL),
    ResourceType("", "v1", "services", "Service", True, ("svc",), ("status",), categories=_ALL,
                 verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    ResourceType("", "v1", "endpoints", "Endpoints", True, ("ep",)),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, ("cm",)),
    ResourceType("", "v1", "secrets", "Secret", True),
    ResourceType("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",)),
    ResourceType("", "v1", "events", "Event", True, ("ev",)),
    ResourceType("", "v1", "resourcequotas", "ResourceQuota", True, ("quota",), ("status",)),
    # apps/v1
    ResourceType("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("status", "scale"),
                 categories=_ALL),
    ResourceType("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("status",), categories=_ALL),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("status", "scale"),
                 categories=_ALL),
    ResourceType("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("status", "scale"),
                 categories=_ALL),
    # batch/v1
    ResourceType("batch", "v1", "jobs", "Job", True, (), ("status",), categories=_ALL),
    # policy/v1
    ResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), ("status",)),
    # networking.k8s.io/v1
    ResourceType("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",)),
    # discovery.k8s.io/v1
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    # coordination.k8s.io/v1
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True),
    # apiextensions.k8s.io/v1
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False,
                 ("crd", "crds"), ("status",), categories=("api-extensions",)),
    # apiregistration.k8s.io/v1
    ResourceType("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, (), ("status",),
                 categories=("api-extensions",)),
    # rbac.authorization.k8s.io/v1
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
)

# (parent key, subresource) -> (group, version, kind, verbs) for discovery, when not the parent's own kind.
SUBRESOURCE_KINDS: dict[tuple[Key, str], tuple[str, str, str, tuple[str, ...]]] = {
    (("", "pods"), "eviction"): ("policy", "v1", "Eviction", ("create",)),
    (("", "pods"), "log"): ("", "v1", "Pod", ("get",)),
    (("", "pods"), "exec"): ("", "v1", "PodExecOptions", ("create", "get")),
    (("", "pods"), "attach"): ("", "v1", "PodAttachOptions", ("create", "get")),
    (("", "pods"), "portforward"): ("", "v1", "PodPortForwardOptions", ("create", "get")),
    (("", "namespaces"), "finalize"): ("", "v1", "Namespace", ("update",)),
    (("apps", "deployments"), "scale"): ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    (("apps", "replicasets"), "scale"): ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
    (("apps", "statefulsets"), "scale"): ("autoscaling", "v1", "Scale", ("get", "patch", "update")),
}


def register_builtin_types(store: Store) -> None:
    """Register the built-in types on ``store`` and install the CRD and APIService controllers."""
    from netmig_sandbox.kube import crds, reviews

    for rt in (*BUILTIN_TYPES, *reviews.TYPES):
        if rt.key not in store.types:
            store.register_type(rt)
    crds.install(store)


# ------------------------------------------------------------------ defaulting
def _default_pod_spec(spec: dict[str, Any]) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
    spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("enableServiceLinks", True)
    for c in list(spec.get("containers") or []) + list(spec.get("initContainers") or []):
        if not isinstance(c, dict):
            continue
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        image = str(c.get("image", ""))
        c.setdefault("imagePullPolicy", "Always" if image.endswith(":latest") or ":" not in image else "IfNotPresent")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def _allocate_cluster_ip(store: Store) -> str:
    used = {
        o.get("spec", {}).get("clusterIP") for o in store.iter_raw(("", "services"))
    }
    for i, host in enumerate(SERVICE_CIDR.hosts()):
        if i < 10:  # 10.0.0.1 (kubernetes) and 10.0.0.10 (kube-dns) are conventional
            continue
        if str(host) not in used:
            return str(host)
    raise RuntimeError("service CIDR exhausted")


def apply_defaults(key: Key, obj: Obj, store: Store) -> None:
    """Fill in create-time defaults the real API server applies, in place (see module contract)."""
    spec = obj.get("spec")
    if key == ("", "pods"):
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        _default_pod_spec(spec)
        status = obj.setdefault("status", {})
        status.setdefault("phase", "Pending")
        status.setdefault("qosClass", "BestEffort")
    elif key == ("", "services"):
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        if spec.get("type") != "ExternalName":
            if not spec.get("clusterIP"):
                spec["clusterIP"] = _allocate_cluster_ip(store)
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif key in (("apps", "deployments"), ("apps", "replicasets"), ("apps", "statefulsets")):
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if key == ("apps", "deployments"):
            spec.setdefault("progressDeadlineSeconds", 600)
            spec.setdefault("strategy", {"type": "RollingUpdate",
                                         "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        _default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
        obj.setdefault("status", {})
    elif key == ("apps", "daemonsets"):
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("updateStrategy", {"type": "RollingUpdate",
                                           "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}})
        _default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
        obj.setdefault("status", {"currentNumberScheduled": 0, "desiredNumberScheduled": 0,
                                  "numberMisscheduled": 0, "numberReady": 0})
    elif key == ("networking.k8s.io", "networkpolicies"):
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("podSelector", {})
        if "policyTypes" not in spec:
            types = ["Ingress"]
            if spec.get("egress") is not None:
                types.append("Egress")
            spec["policyTypes"] = types
        for direction in ("ingress", "egress"):
            for rule in spec.get(direction) or []:
                for p in (rule or {}).get("ports") or []:
                    if isinstance(p, dict):
                        p.setdefault("protocol", "TCP")
    elif key == ("batch", "jobs"):
        if not isinstance(spec, dict):
            spec = obj["spec"] = {}
        spec.setdefault("parallelism", 1)
        spec.setdefault("completions", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
        _default_pod_spec(spec.setdefault("template", {}).setdefault("spec", {}))
        obj.setdefault("status", {})
    elif key == ("policy", "poddisruptionbudgets"):
        obj.setdefault("status", {"currentHealthy": 0, "desiredHealthy": 0, "disruptionsAllowed": 0,
                                  "expectedPods": 0, "observedGeneration": 0})
    elif key == ("", "nodes"):
        obj.setdefault("status", {})
