"""Known-field trees of the built-in kinds the sandbox checks for unknown fields (``fieldValidation``).

Contract: ``SCHEMAS[key]`` is the tree of one kind's top-level fields; ``unknown_fields(key, obj)`` lists the JSON
paths (``spec.containers[0].foo``, the apiserver's spelling) of fields the kind does not declare, and
``prune_unknown(key, obj)`` removes them in place (what the apiserver's decoder does in Ignore and Warn modes);
``drop_nulls(obj)`` drops null entries (``creationTimestamp: null``) as decoding into typed structs does.
A tree is a dict ``field -> subtree``; a subtree is ``ANY`` (a scalar, or an object the sandbox does not check
inside), ``MAP`` (string keys, any values: labels, annotations, data), a dict (a struct) or a one-element list
``[subtree]`` (a list of that). Kinds without an entry are not checked (custom resources keep unknown fields, as
with ``x-kubernetes-preserve-unknown-fields``). The trees follow the Kubernetes 1.31 API reference; nested
structs the product and the demos do not write (probes, security contexts, volume sources, affinity) are ``ANY``.
"""

from __future__ import annotations

from typing import Any

from netmig_sandbox.kube.store import Key, Obj

ANY: Any = None
MAP = "map"

OBJECT_META: dict[str, Any] = {k: ANY for k in (
    "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
    "deletionTimestamp", "deletionGracePeriodSeconds", "finalizers", "managedFields")}
OBJECT_META.update({"labels": MAP, "annotations": MAP,
                    "ownerReferences": [{k: ANY for k in ("apiVersion", "kind", "name", "uid", "controller",
                                                          "blockOwnerDeletion")}]})

LABEL_SELECTOR: dict[str, Any] = {"matchLabels": MAP,
                                  "matchExpressions": [{"key": ANY, "operator": ANY, "values": ANY}]}

CONTAINER_PORT = {k: ANY for k in ("name", "containerPort", "hostPort", "protocol", "hostIP")}
CONTAINER: dict[str, Any] = {k: ANY for k in (
    "name", "image", "command", "args", "workingDir", "envFrom", "resources", "resizePolicy", "restartPolicy",
    "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
    "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext", "stdin",
    "stdinOnce", "tty")}
CONTAINER["ports"] = [CONTAINER_PORT]
CONTAINER["env"] = [{"name": ANY, "value": ANY, "valueFrom": ANY}]
EPHEMERAL_CONTAINER = {**CONTAINER, "targetContainerName": ANY}

POD_SPEC: dict[str, Any] = {k: ANY for k in (
    "volumes", "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "dnsPolicy",
    "serviceAccountName", "serviceAccount", "automountServiceAccountToken", "nodeName", "hostNetwork", "hostPID",
    "hostIPC", "shareProcessNamespace", "securityContext", "imagePullSecrets", "hostname", "subdomain", "affinity",
    "schedulerName", "tolerations", "hostAliases", "priorityClassName", "priority", "dnsConfig", "readinessGates",
    "runtimeClassName", "enableServiceLinks", "preemptionPolicy", "overhead", "topologySpreadConstraints",
    "setHostnameAsFQDN", "os", "hostUsers", "schedulingGates", "resourceClaims", "resources")}
POD_SPEC.update({"containers": [CONTAINER], "initContainers": [CONTAINER],
                 "ephemeralContainers": [EPHEMERAL_CONTAINER], "nodeSelector": MAP})
POD_TEMPLATE: dict[str, Any] = {"metadata": OBJECT_META, "spec": POD_SPEC}


def _top(spec: Any, status: Any = ANY) -> dict[str, Any]:
    return {"apiVersion": ANY, "kind": ANY, "metadata": OBJECT_META, "spec": spec, "status": status}


NP_PEER = {"podSelector": LABEL_SELECTOR, "namespaceSelector": LABEL_SELECTOR,
           "ipBlock": {"cidr": ANY, "except": ANY}}
NP_PORT = {"protocol": ANY, "port": ANY, "endPort": ANY}

SCHEMAS: dict[Key, dict[str, Any]] = {
    ("", "pods"): _top(POD_SPEC),
    ("", "namespaces"): _top({"finalizers": ANY}),
    ("", "configmaps"): {"apiVersion": ANY, "kind": ANY, "metadata": OBJECT_META, "data": MAP, "binaryData": MAP,
                         "immutable": ANY},
    ("", "services"): _top({**{k: ANY for k in (
        "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP",
        "loadBalancerSourceRanges", "externalName", "externalTrafficPolicy", "healthCheckNodePort",
        "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
        "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution")},
        "selector": MAP,
        "ports": [{k: ANY for k in ("name", "protocol", "appProtocol", "port", "targetPort", "nodePort")}]}),
    ("apps", "deployments"): _top({"replicas": ANY, "selector": LABEL_SELECTOR, "template": POD_TEMPLATE,
                                   "strategy": {"type": ANY, "rollingUpdate": {"maxUnavailable": ANY,
                                                                               "maxSurge": ANY}},
                                   "minReadySeconds": ANY, "revisionHistoryLimit": ANY, "paused": ANY,
                                   "progressDeadlineSeconds": ANY}),
    ("networking.k8s.io", "networkpolicies"): _top({
        "podSelector": LABEL_SELECTOR, "policyTypes": ANY,
        "ingress": [{"ports": [NP_PORT], "from": [NP_PEER]}],
        "egress": [{"ports": [NP_PORT], "to": [NP_PEER]}]}),
    ("apps", "replicasets"): _top({"replicas": ANY, "minReadySeconds": ANY, "selector": LABEL_SELECTOR,
                                   "template": POD_TEMPLATE}),
    ("apps", "daemonsets"): _top({"selector": LABEL_SELECTOR, "template": POD_TEMPLATE, "minReadySeconds": ANY,
                                  "revisionHistoryLimit": ANY,
                                  "updateStrategy": {"type": ANY, "rollingUpdate": {"maxUnavailable": ANY,
                                                                                    "maxSurge": ANY}}}),
    ("", "secrets"): {"apiVersion": ANY, "kind": ANY, "metadata": OBJECT_META, "data": MAP, "stringData": MAP,
                      "type": ANY, "immutable": ANY},
    ("", "serviceaccounts"): {"apiVersion": ANY, "kind": ANY, "metadata": OBJECT_META, "secrets": ANY,
                              "imagePullSecrets": ANY, "automountServiceAccountToken": ANY},
    ("policy", "poddisruptionbudgets"): _top({"minAvailable": ANY, "maxUnavailable": ANY,
                                              "selector": LABEL_SELECTOR, "unhealthyPodEvictionPolicy": ANY}),
    ("coordination.k8s.io", "leases"): _top({k: ANY for k in (
        "holderIdentity", "leaseDurationSeconds", "acquireTime", "renewTime", "leaseTransitions", "strategy",
        "preferredHolder")}),
}


def _walk(tree: Any, value: Any, path: str, out: list[str], prune: bool) -> None:
    if tree is ANY or tree == MAP:
        return
    if isinstance(tree, list):
        if isinstance(value, list):
            for i, item in enumerate(value):
                _walk(tree[0], item, f"{path}[{i}]", out, prune)
        return
    if not isinstance(value, dict):
        return
    for k in list(value):
        where = f"{path}.{k}" if path else k
        if k.startswith("$"):
            continue  # strategic-merge directives ($patch, $setElementOrder/...) are not fields
        if k not in tree:
            out.append(where)
            if prune:
                del value[k]
            continue
        _walk(tree[k], value[k], where, out, prune)


def drop_nulls(value: Any) -> Any:
    """``value`` without null map entries, as decoding into the typed (omitempty) structs leaves it."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def unknown_fields(key: Key, obj: Obj) -> list[str]:
    """Paths of the fields of ``obj`` that kind ``key`` does not declare (empty for unchecked kinds)."""
    tree = SCHEMAS.get(key)
    out: list[str] = []
    if tree is not None:
        _walk(tree, obj, "", out, prune=False)
    return out


def prune_unknown(key: Key, obj: Obj) -> None:
    """Drop the fields ``unknown_fields`` reports, in place."""
    tree = SCHEMAS.get(key)
    if tree is not None:
        _walk(tree, obj, "", [], prune=True)
