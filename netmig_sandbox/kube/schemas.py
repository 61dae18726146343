"""OpenAPI v3 component schemas the sandbox publishes: enough for ``kubectl explain networkpolicy`` and every
field under ``spec``.

Contract: ``components(gv_path) -> dict`` returns the ``components.schemas`` of the OpenAPI v3 document of one
group-version (``apis/networking.k8s.io/v1``; others: ``{}``). Names, ``$ref``/``allOf`` wrapping, the
``x-kubernetes-group-version-kind`` tag and the list/patch extensions follow the real API server's documents, so
``kubectl explain`` renders them and ``kubectl apply``'s strategic-merge patches computed from them behave as
against a real cluster (NetworkPolicy lists are atomic; ``metadata.finalizers`` / ``ownerReferences`` merge).
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]
NP = "io.k8s.api.networking.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."


def _ref(name: str, description: str, default: Any = None) -> Obj:
    out: Obj = {"allOf": [{"$ref": f"#/components/schemas/{name}"}], "description": description}
    if default is not None:
        out["default"] = default
    return out


def _str(description: str, **extra: Any) -> Obj:
    return {"type": "string", "description": description, "default": "", **extra}


def _list(items: Obj, description: str, **extra: Any) -> Obj:
    return {"type": "array", "items": items, "description": description, **extra}


def _map(description: str) -> Obj:
    return {"type": "object", "additionalProperties": {"type": "string", "default": ""}, "description": description}


def _object(description: str, properties: Obj, required: list[str] | None = None, **extra: Any) -> Obj:
    out: Obj = {"type": "object", "description": description, "properties": properties}
    out.update(extra)
    if required:
        out["required"] = required
    return out


def _networking_v1() -> Obj:
    selector = ("This is a label selector which selects pods. This field follows standard label selector semantics; "
                "if present but empty, it selects all pods.")
    peer_list = _ref(NP + "NetworkPolicyPeer", "", {})
    port_list = _ref(NP + "NetworkPolicyPort", "", {})
    return {
        NP + "NetworkPolicy": _object(
            "NetworkPolicy describes what network traffic is allowed for a set of Pods",
            {
                "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema of this "
                               "representation of an object."},
                "kind": {"type": "string", "description": "Kind is a string value representing the REST resource "
                         "this object represents."},
                "metadata": _ref(META + "ObjectMeta", "Standard object's metadata.", {}),
                "spec": _ref(NP + "NetworkPolicySpec", "spec represents the specification of the desired behavior "
                             "for this NetworkPolicy.", {}),
            },
            None,
            **{"x-kubernetes-group-version-kind": [{"group": "networking.k8s.io", "kind": "NetworkPolicy",
                                                    "version": "v1"}]},
        ),
        NP + "NetworkPolicySpec": _object(
            "NetworkPolicySpec provides the specification of a NetworkPolicy",
            {
                "podSelector": _ref(META + "LabelSelector", "podSelector selects the pods to which this "
                                    "NetworkPolicy object applies. The array of ingress rules is applied to any pods "
                                    "selected by this field. Multiple network policies can select the same set of "
                                    "pods. In this case, the ingress rules for each are combined additively. An "
                                    "empty podSelector matches all pods in this namespace.", {}),
                "ingress": _list(_ref(NP + "NetworkPolicyIngressRule", "", {}),
                                 "ingress is a list of ingress rules to be applied to the selected pods. Traffic is "
                                 "allowed to a pod if there are no NetworkPolicies selecting the pod (and cluster "
                                 "policy otherwise allows the traffic), OR if the traffic source is the pod's local "
                                 "node, OR if the traffic matches at least one ingress rule across all of the "
                                 "NetworkPolicy objects whose podSelector matches the pod. If this field is empty "
                                 "then this NetworkPolicy does not allow any traffic (and serves solely to ensure "
                                 "that the pods it selects are isolated by default)",
                                 **{"x-kubernetes-list-type": "atomic"}),
                "egress": _list(_ref(NP + "NetworkPolicyEgressRule", "", {}),
                                "egress is a list of egress rules to be applied to the selected pods. Outgoing "
                                "traffic is allowed if there are no NetworkPolicies selecting the pod (and cluster "
                                "policy otherwise allows the traffic), OR if the traffic matches at least one "
                                "egress rule across all of the NetworkPolicy objects whose podSelector matches the "
                                "pod. If this field is empty then this NetworkPolicy limits all outgoing traffic "
                                "(and serves solely to ensure that the pods it selects are isolated by default).",
                                **{"x-kubernetes-list-type": "atomic"}),
                "policyTypes": _list(_str("", enum=["Egress", "Ingress"]),
                                     "policyTypes is a list of rule types that the NetworkPolicy relates to. Valid "
                                     "options are [\"Ingress\"], [\"Egress\"], or [\"Ingress\", \"Egress\"]. If this "
                                     "field is not specified, it will default based on the existence of ingress or "
                                     "egress rules; policies that contain an egress section are assumed to affect "
                                     "egress, and all policies (whether or not they contain an ingress section) are "
                                     "assumed to affect ingress.",
                                     **{"x-kubernetes-list-type": "atomic"}),
            },
        ),
        NP + "NetworkPolicyIngressRule": _object(
            "NetworkPolicyIngressRule describes a particular set of traffic that is allowed to the pods matched by "
            "a NetworkPolicySpec's podSelector. The traffic must match both ports and from.",
            {
                "from": _list(peer_list, "from is a list of sources which should be able to access the pods "
                              "selected for this rule. Items in this list are combined using a logical OR operation. "
                              "If this field is empty or missing, this rule matches all sources (traffic not "
                              "restricted by source).", **{"x-kubernetes-list-type": "atomic"}),
                "ports": _list(port_list, "ports is a list of ports which should be made accessible on the pods "
                               "selected for this rule. Each item in this list is combined using a logical OR. If "
                               "this field is empty or missing, this rule matches all ports.",
                               **{"x-kubernetes-list-type": "atomic"}),
            },
        ),
        NP + "NetworkPolicyEgressRule": _object(
            "NetworkPolicyEgressRule describes a particular set of traffic that is allowed out of pods matched by a "
            "NetworkPolicySpec's podSelector. The traffic must match both ports and to.",
            {
                "to": _list(peer_list, "to is a list of destinations for outgoing traffic of pods selected for this "
                            "rule. Items in this list are combined using a logical OR operation. If this field is "
                            "empty or missing, this rule matches all destinations.",
                            **{"x-kubernetes-list-type": "atomic"}),
                "ports": _list(port_list, "ports is a list of destination ports for outgoing traffic. Each item in "
                               "this list is combined using a logical OR. If this field is empty or missing, this "
                               "rule matches all ports.", **{"x-kubernetes-list-type": "atomic"}),
            },
        ),
        NP + "NetworkPolicyPeer": _object(
            "NetworkPolicyPeer describes a peer to allow traffic to/from. Only certain combinations of fields are "
            "allowed",
            {
                "podSelector": _ref(META + "LabelSelector", selector + " If namespaceSelector is also set, then "
                                    "the NetworkPolicyPeer as a whole selects the pods matching podSelector in the "
                                    "Namespaces selected by NamespaceSelector. Otherwise it selects the pods "
                                    "matching podSelector in the policy's own namespace."),
                "namespaceSelector": _ref(META + "LabelSelector", "namespaceSelector selects namespaces using "
                                          "cluster-scoped labels. This field follows standard label selector "
                                          "semantics; if present but empty, it selects all namespaces."),
                "ipBlock": _ref(NP + "IPBlock", "ipBlock defines policy on a particular IPBlock. If this field is "
                                "set then neither of the other fields can be."),
            },
        ),
        NP + "IPBlock": _object(
            "IPBlock describes a particular CIDR (Ex. \"192.168.1.0/24\",\"2001:db8::/64\") that is allowed to the "
            "pods matched by a NetworkPolicySpec's podSelector. The except entry describes CIDRs that should not be "
            "included within this rule.",
            {
                "cidr": _str("cidr is a string representing the IPBlock Valid examples are \"192.168.1.0/24\" or "
                             "\"2001:db8::/64\""),
                "except": _list({"type": "string", "default": ""}, "except is a slice of CIDRs that should not be "
                                "included within an IPBlock Valid examples are \"192.168.1.0/24\" or "
                                "\"2001:db8::/64\" Except values will be rejected if they are outside the cidr range",
                                **{"x-kubernetes-list-type": "atomic"}),
            },
            ["cidr"],
        ),
        NP + "NetworkPolicyPort": _object(
            "NetworkPolicyPort describes a port to allow traffic on",
            {
                "protocol": {"type": "string", "enum": ["SCTP", "TCP", "UDP"],
                             "description": "protocol represents the protocol (TCP, UDP, or SCTP) which traffic "
                             "must match. If not specified, this field defaults to TCP."},
                "port": _ref("io.k8s.apimachinery.pkg.util.intstr.IntOrString", "port represents the port on the "
                             "given protocol. This can either be a numerical or named port on a pod. If this field "
                             "is not provided, this matches all port names and numbers. If present, only traffic "
                             "on the specified protocol AND port will be matched."),
                "endPort": {"type": "integer", "format": "int32", "description": "endPort indicates that the range "
                            "of ports from port to endPort if set, inclusive, should be allowed by the policy. This "
                            "field cannot be defined if the port field is not defined or if the port field is "
                            "defined as a named (string) port. The endPort must be equal or greater than port."},
            },
        ),
        META + "LabelSelector": _object(
            "A label selector is a label query over a set of resources. The result of matchLabels and "
            "matchExpressions are ANDed. An empty label selector matches all objects. A null label selector "
            "matches no objects.",
            {
                "matchLabels": _map("matchLabels is a map of {key,value} pairs. A single {key,value} in the "
                                    "matchLabels map is equivalent to an element of matchExpressions, whose key field "
                                    "is \"key\", the operator is \"In\", and the values array contains only "
                                    "\"value\". The requirements are ANDed."),
                "matchExpressions": _list(_ref(META + "LabelSelectorRequirement", "", {}),
                                          "matchExpressions is a list of label selector requirements. The "
                                          "requirements are ANDed.", **{"x-kubernetes-list-type": "atomic"}),
            },
            None,
            **{"x-kubernetes-map-type": "atomic"},
        ),
        META + "LabelSelectorRequirement": _object(
            "A label selector requirement is a selector that contains values, a key, and an operator that relates "
            "the key and values.",
            {
                "key": _str("key is the label key that the selector applies to."),
                "operator": _str("operator represents a key's relationship to a set of values. Valid operators are "
                                 "In, NotIn, Exists and DoesNotExist."),
                "values": _list({"type": "string", "default": ""}, "values is an array of string values. If the "
                                "operator is In or NotIn, the values array must be non-empty. If the operator is "
                                "Exists or DoesNotExist, the values array must be empty.",
                                **{"x-kubernetes-list-type": "atomic"}),
            },
            ["key", "operator"],
        ),
        META + "ObjectMeta": _object(
            "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must "
            "create.",
            {
                "name": {"type": "string", "description": "Name must be unique within a namespace."},
                "generateName": {"type": "string", "description": "GenerateName is an optional prefix, used by the "
                                 "server, to generate a unique name ONLY IF the Name field has not been provided."},
                "namespace": {"type": "string", "description": "Namespace defines the space within which each name "
                              "must be unique."},
                "labels": _map("Map of string keys and values that can be used to organize and categorize (scope "
                               "and select) objects."),
                "annotations": _map("Annotations is an unstructured key value map stored with a resource that may "
                                    "be set by external tools to store and retrieve arbitrary metadata."),
                "uid": {"type": "string", "description": "UID is the unique in time and space value for this "
                        "object."},
                "resourceVersion": {"type": "string", "description": "An opaque value that represents the "
                                    "internal version of this object."},
                "generation": {"type": "integer", "format": "int64", "description": "A sequence number "
                               "representing a specific generation of the desired state."},
                "creationTimestamp": {"type": "string", "format": "date-time", "description": "CreationTimestamp "
                                      "is a timestamp representing the server time when this object was created."},
                "deletionTimestamp": {"type": "string", "format": "date-time", "description": "DeletionTimestamp "
                                      "is RFC 3339 date and time at which this resource will be deleted."},
                "finalizers": _list({"type": "string", "default": ""}, "Must be empty before the object is deleted "
                                    "from the registry.", **{"x-kubernetes-list-type": "set",
                                                             "x-kubernetes-patch-strategy": "merge"}),
                "ownerReferences": _list({"type": "object"}, "List of objects depended by this object.",
                                         **{"x-kubernetes-list-map-keys": ["uid"], "x-kubernetes-list-type": "map",
                                            "x-kubernetes-patch-merge-key": "uid",
                                            "x-kubernetes-patch-strategy": "merge"}),
            },
        ),
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string",
                                                             "description": "IntOrString is a type that can hold an "
                                                             "int32 or a string."},
    }


def components(gv_path: str) -> Obj:
    """The component schemas of one group-version document (see the module contract)."""
    if gv_path.strip("/") == "apis/networking.k8s.io/v1":
        return _networking_v1()
    return {}
