"""Server-side validation of the built-in kinds, with the Kubernetes API server's own messages.

Written from the apiserver's validation code (``pkg/apis/{core,apps,networking,coordination}/validation``,
``apimachinery/pkg/util/validation``), independently of the product's policy model on purpose: the sandbox is the
"real" cluster the product is checked against.

Contract:
- ``validate(key, obj) -> list[FieldError]``: the field errors the apiserver reports for a create or an update of
  ``obj`` (already defaulted) of kind ``key``; kinds not listed in ``VALIDATORS`` validate only ``metadata``
  (name, labels, annotation keys). Checked kinds: Pod, Namespace, Service, ConfigMap (core/v1), Deployment
  (apps/v1), NetworkPolicy (networking.k8s.io/v1), Lease (coordination.k8s.io/v1).
- ``FieldError.message()`` is ``<field>: <body>`` as ``field.Error.Error()`` prints it; ``body()`` is the cause
  message (``Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain ...``). Bad values are printed as Go does:
  strings quoted, numbers and booleans bare, other values as JSON.
- ``validate_update(key, obj, old)`` adds the immutable fields of an update (workload ``spec.selector``).
- ``invalid(rt, name, errors)`` is the 422 ``Invalid`` ``ApiError`` (``details.causes``: reason / message /
  field, ``details.{name,group,kind}``), message ``<Kind>[.<group>] "<name>" is invalid: <err>`` (several errors:
  ``[<err>, <err>]``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from netmig_sandbox.kube.store import ApiError, Key, Obj, ResourceType

REQUIRED = "FieldValueRequired"
INVALID = "FieldValueInvalid"
NOT_SUPPORTED = "FieldValueNotSupported"
FORBIDDEN = "FieldValueForbidden"
DUPLICATE = "FieldValueDuplicate"
_TYPE_TEXT = {REQUIRED: "Required value", INVALID: "Invalid value", NOT_SUPPORTED: "Unsupported value",
              FORBIDDEN: "Forbidden", DUPLICATE: "Duplicate value"}
_NO_VALUE = (REQUIRED, FORBIDDEN)


@dataclass
class FieldError:
    type: str
    field: str
    value: Any = ""
    detail: str = ""

    def body(self) -> str:
        text = _TYPE_TEXT[self.type]
        if self.type not in _NO_VALUE:
            text += ": " + _render(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def message(self) -> str:
        return f"{self.field}: {self.body()}"


def _render(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # Go's %q for the printable ASCII names and values seen here
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def required(f: str, detail: str = "") -> FieldError:
    return FieldError(REQUIRED, f, "", detail)


def invalid_value(f: str, value: Any, detail: str) -> FieldError:
    return FieldError(INVALID, f, value, detail)


def not_supported(f: str, value: Any, supported: list[str]) -> FieldError:
    return FieldError(NOT_SUPPORTED, f, value, "supported values: " + ", ".join(json.dumps(s) for s in supported))


def forbidden(f: str, detail: str) -> FieldError:
    return FieldError(FORBIDDEN, f, "", detail)


def invalid(rt: ResourceType, name: str, errors: list[FieldError]) -> ApiError:
    """The 422 Invalid status the apiserver answers for ``errors`` (see the module contract)."""
    qualified = f"{rt.kind}.{rt.group}" if rt.group else rt.kind
    messages: list[str] = []
    for e in errors:
        if e.message() not in messages:
            messages.append(e.message())
    agg = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    details: dict[str, Any] = {"name": name, "kind": rt.kind,
                               "causes": [{"reason": e.type, "message": e.body(), "field": e.field}
                                          for e in errors]}
    if rt.group:
        details["group"] = rt.group
    return ApiError(422, "Invalid", f'{qualified} "{name}" is invalid: {agg}', details)


# ------------------------------------------------------------------ apimachinery's string checks
_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"


def _regex_error(msg: str, regex: str, *examples: str) -> str:
    if not examples:
        return f"{msg} (regex used for validation is '{regex}')"
    out = msg + " (e.g. "
    for i, ex in enumerate(examples):
        if i > 0:
            out += " or "
        out += f"'{ex}', "
    return out + f"regex used for validation is '{regex}')"


def _full(regex: str, value: str) -> bool:
    return re.fullmatch(regex, value) is not None


def dns1123_subdomain(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _full(_DNS1123_SUBDOMAIN, value):
        errs.append(_regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                                 "'-' or '.', and must start and end with an alphanumeric character",
                                 _DNS1123_SUBDOMAIN, "example.com"))
    return errs


def dns1123_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _full(_DNS1123_LABEL, value):
        errs.append(_regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
                                 "'-', and must start and end with an alphanumeric character",
                                 _DNS1123_LABEL, "my-name", "123-abc"))
    return errs


def dns1035_label(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _full(_DNS1035_LABEL, value):
        errs.append(_regex_error("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start "
                                 "with an alphabetic character, and end with an alphanumeric character",
                                 _DNS1035_LABEL, "my-name", "abc-123"))
    return errs


def qualified_name(value: str) -> list[str]:
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in dns1123_subdomain(prefix))
    else:
        return [_regex_error("a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must "
                             "start and end with an alphanumeric character", _QUALIFIED_NAME, "MyName", "my.name",
                             "123-abc") + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _full(_QUALIFIED_NAME, name):
        errs.append("name part " + _regex_error("must consist of alphanumeric characters, '-', '_' or '.', and must "
                                                "start and end with an alphanumeric character", _QUALIFIED_NAME,
                                                "MyName", "my.name", "123-abc"))
    return errs


def label_value(value: str) -> list[str]:
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _full(_LABEL_VALUE, value):
        errs.append(_regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', "
                                 "'_' or '.', and must start and end with an alphanumeric character", _LABEL_VALUE,
                                 "MyValue", "my_value", "12345"))
    return errs


def port_num(value: Any) -> list[str]:
    return [] if isinstance(value, int) and 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def port_name(value: str) -> list[str]:
    errs = []
    if len(value) > 15:
        errs.append("must be no more than 15 characters")
    if not _full("[-a-z0-9]+", value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def config_map_key(value: str) -> list[str]:
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _full(_CONFIG_KEY, value):
        errs.append(_regex_error("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                                 _CONFIG_KEY, "key.name", "KEY_NAME", "key-name"))
    if value == ".":
        errs.append("must not be '.'")
    elif value == "..":
        errs.append("must not be '..'")
    elif value.startswith(".."):
        errs.append("must not start with '..'")
    return errs


# ------------------------------------------------------------------ shared pieces
NameCheck = Callable[[str], list[str]]


def _dict(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    errs = []
    for k, v in _dict(labels).items():
        errs += [invalid_value(path, k, m) for m in qualified_name(str(k))]
        errs += [invalid_value(path, v, m) for m in label_value(str(v if v is not None else ""))]
    return errs


def validate_object_meta(meta: Any, name_check: NameCheck, path: str = "metadata") -> list[FieldError]:
    meta = _dict(meta)
    errs: list[FieldError] = []
    gen = meta.get("generateName")
    if gen:
        # a generated name may end in '-': validate it with a character appended, as NameIsDNSSubdomain(prefix)
        errs += [invalid_value(f"{path}.generateName", gen, m) for m in name_check(str(gen) + "a")]
    name = meta.get("name")
    if not name:
        errs.append(required(f"{path}.name", "name or generateName is required"))
    else:
        errs += [invalid_value(f"{path}.name", name, m) for m in name_check(str(name))]
    errs += validate_labels(meta.get("labels"), f"{path}.labels")
    for k in _dict(meta.get("annotations")):
        errs += [invalid_value(f"{path}.annotations", k, m) for m in qualified_name(str(k).lower())]
    return errs


def validate_label_selector(sel: Any, path: str) -> list[FieldError]:
    sel = _dict(sel)
    errs: list[FieldError] = []
    for i, sr in enumerate(_list(sel.get("matchExpressions"))):
        sr = _dict(sr)
        p = f"{path}.matchExpressions[{i}]"
        op, values = sr.get("operator"), _list(sr.get("values"))
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(f"{p}.values", "must be specified when `operator` is 'In' or 'NotIn'"))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(f"{p}.values",
                                      "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
        else:
            errs.append(invalid_value(f"{p}.operator", op if op is not None else "", "not a valid selector operator"))
        errs += [invalid_value(f"{p}.key", sr.get("key", ""), m) for m in qualified_name(str(sr.get("key") or ""))]
        for j, v in enumerate(values):
            errs += [invalid_value(f"{p}.values[{j}]", v, m) for m in label_value(str(v))]
    errs += validate_labels(sel.get("matchLabels"), f"{path}.matchLabels")
    return errs


def selector_matches(sel: Any, labels: dict[str, str]) -> bool:
    sel = _dict(sel)
    for k, v in _dict(sel.get("matchLabels")).items():
        if labels.get(k) != v:
            return False
    for sr in _list(sel.get("matchExpressions")):
        sr = _dict(sr)
        key, op, values = sr.get("key", ""), sr.get("operator"), _list(sr.get("values"))
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


PROTOCOLS_SORTED = ["SCTP", "TCP", "UDP"]


# ------------------------------------------------------------------ core/v1
def _validate_containers(containers: Any, path: str, required_list: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    items = _list(containers)
    if required_list and not items:
        return [required(path)]
    seen: set[str] = set()
    for i, c in enumerate(items):
        c = _dict(c)
        p = f"{path}[{i}]"
        name = c.get("name")
        if not name:
            errs.append(required(f"{p}.name"))
        else:
            errs += [invalid_value(f"{p}.name", name, m) for m in dns1123_label(str(name))]
            if name in seen:
                errs.append(FieldError(DUPLICATE, f"{p}.name", name))
            seen.add(str(name))
        if not c.get("image"):
            errs.append(required(f"{p}.image"))
        for j, port in enumerate(_list(c.get("ports"))):
            port = _dict(port)
            pp = f"{p}.ports[{j}]"
            if port.get("name"):
                errs += [invalid_value(f"{pp}.name", port["name"], m) for m in port_name(str(port["name"]))]
            cp = port.get("containerPort")
            if not cp:
                errs.append(required(f"{pp}.containerPort"))
            else:
                errs += [invalid_value(f"{pp}.containerPort", cp, m) for m in port_num(cp)]
            proto = port.get("protocol")
            if not proto:
                errs.append(required(f"{pp}.protocol"))
            elif proto not in PROTOCOLS_SORTED:
                errs.append(not_supported(f"{pp}.protocol", proto, PROTOCOLS_SORTED))
        policy = c.get("imagePullPolicy")
        if policy and policy not in ("Always", "IfNotPresent", "Never"):
            errs.append(not_supported(f"{p}.imagePullPolicy", policy, ["Always", "IfNotPresent", "Never"]))
    return errs


def validate_pod_spec(spec: Any, path: str) -> list[FieldError]:
    spec = _dict(spec)
    errs = _validate_containers(spec.get("containers"), f"{path}.containers", True)
    errs += _validate_containers(spec.get("initContainers"), f"{path}.initContainers", False)
    rp = spec.get("restartPolicy")
    if rp and rp not in ("Always", "OnFailure", "Never"):
        errs.append(not_supported(f"{path}.restartPolicy", rp, ["Always", "OnFailure", "Never"]))
    dp = spec.get("dnsPolicy")
    policies = ["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"]
    if dp and dp not in policies:
        errs.append(not_supported(f"{path}.dnsPolicy", dp, policies))
    errs += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    grace = spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0:
        errs.append(invalid_value(f"{path}.terminationGracePeriodSeconds", grace,
                                  "must be greater than or equal to 0"))
    return errs


def validate_pod(obj: Obj) -> list[FieldError]:
    return validate_object_meta(obj.get("metadata"), dns1123_subdomain) + validate_pod_spec(obj.get("spec"), "spec")


def validate_namespace(obj: Obj) -> list[FieldError]:
    return validate_object_meta(obj.get("metadata"), dns1123_label)


def validate_config_map(obj: Obj) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), dns1123_subdomain)
    for field in ("data", "binaryData"):
        for k in _dict(obj.get(field)):
            errs += [invalid_value(f"{field}[{k}]", k, m) for m in config_map_key(str(k))]
    return errs


SERVICE_TYPES = ["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"]


def validate_service(obj: Obj) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), dns1035_label)
    spec = _dict(obj.get("spec"))
    stype = spec.get("type") or "ClusterIP"
    if stype not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", stype, SERVICE_TYPES))
    ports = _list(spec.get("ports"))
    if not ports and spec.get("clusterIP") != "None" and stype != "ExternalName":
        errs.append(required("spec.ports"))
    names: set[str] = set()
    for i, sp in enumerate(ports):
        sp = _dict(sp)
        p = f"spec.ports[{i}]"
        name = sp.get("name")
        if len(ports) > 1 and not name:
            errs.append(required(f"{p}.name"))
        elif name:
            errs += [invalid_value(f"{p}.name", name, m) for m in dns1123_label(str(name))]
            if name in names:
                errs.append(FieldError(DUPLICATE, f"{p}.name", name))
            names.add(str(name))
        errs += [invalid_value(f"{p}.port", sp.get("port", 0), m) for m in port_num(sp.get("port"))]
        proto = sp.get("protocol")
        if not proto:
            errs.append(required(f"{p}.protocol"))
        elif proto not in PROTOCOLS_SORTED:
            errs.append(not_supported(f"{p}.protocol", proto, PROTOCOLS_SORTED))
        target = sp.get("targetPort")
        if isinstance(target, int):
            errs += [invalid_value(f"{p}.targetPort", target, m) for m in port_num(target)]
        elif isinstance(target, str) and target:
            errs += [invalid_value(f"{p}.targetPort", target, m) for m in port_name(target)]
    errs += validate_labels(spec.get("selector"), "spec.selector")
    affinity = spec.get("sessionAffinity")
    if affinity and affinity not in ("ClientIP", "None"):
        errs.append(not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    return errs


# ------------------------------------------------------------------ apps/v1
def validate_deployment(obj: Obj) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), dns1123_subdomain)
    spec = _dict(obj.get("spec"))
    replicas = spec.get("replicas")
    if isinstance(replicas, int) and replicas < 0:
        errs.append(invalid_value("spec.replicas", replicas, "must be greater than or equal to 0"))
    sel = spec.get("selector")
    template = _dict(spec.get("template"))
    if sel is None:
        errs.append(required("spec.selector"))
    else:
        errs += validate_label_selector(sel, "spec.selector")
        if not _dict(sel).get("matchLabels") and not _dict(sel).get("matchExpressions"):
            errs.append(invalid_value("spec.selector", sel, "empty selector is invalid for deployment"))
    tlabels = _dict(_dict(template.get("metadata")).get("labels"))
    if sel and (_dict(sel).get("matchLabels") or _dict(sel).get("matchExpressions")) and not selector_matches(
            sel, {str(k): str(v) for k, v in tlabels.items()}):
        errs.append(invalid_value("spec.template.metadata.labels", tlabels,
                                  "`selector` does not match template `labels`"))
    errs += validate_labels(tlabels, "spec.template.metadata.labels")
    errs += validate_pod_spec(template.get("spec"), "spec.template.spec")
    rp = _dict(template.get("spec")).get("restartPolicy")
    if rp and rp != "Always":
        errs.append(not_supported("spec.template.spec.restartPolicy", rp, ["Always"]))
    limit = spec.get("revisionHistoryLimit")
    if isinstance(limit, int) and limit < 0:
        errs.append(invalid_value("spec.revisionHistoryLimit", limit, "must be greater than or equal to 0"))
    strategy = _dict(spec.get("strategy"))
    stype = strategy.get("type")
    if stype and stype not in ("Recreate", "RollingUpdate"):
        errs.append(not_supported("spec.strategy.type", stype, ["Recreate", "RollingUpdate"]))
    if stype == "Recreate" and strategy.get("rollingUpdate") is not None:
        errs.append(forbidden("spec.strategy.rollingUpdate",
                              "may not be specified when strategy `type` is 'Recreate'"))
    return errs


# ------------------------------------------------------------------ networking.k8s.io/v1
def _np_port(port: Any, path: str) -> list[FieldError]:
    port = _dict(port)
    errs: list[FieldError] = []
    proto = port.get("protocol")
    if proto is not None and proto not in ("TCP", "UDP", "SCTP"):
        errs.append(not_supported(f"{path}.protocol", proto, ["TCP", "UDP", "SCTP"]))
    value, end = port.get("port"), port.get("endPort")
    if value is not None:
        if isinstance(value, int):
            errs += [invalid_value(f"{path}.port", value, m) for m in port_num(value)]
            if end is not None:
                if isinstance(end, int) and end < value:
                    errs.append(invalid_value(f"{path}.endPort", end, "must be greater than or equal to `port`"))
                errs += [invalid_value(f"{path}.endPort", end, m) for m in port_num(end)]
        else:
            if end is not None:
                errs.append(invalid_value(f"{path}.endPort", end, "may not be specified when `port` is non-numeric"))
            errs += [invalid_value(f"{path}.port", value, m) for m in port_name(str(value))]
    elif end is not None:
        errs.append(invalid_value(f"{path}.endPort", end, "may not be specified when `port` is not specified"))
    return errs


def _parse_cidr(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if not isinstance(text, str) or "/" not in text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _ip_block(block: Any, path: str) -> list[FieldError]:
    block = _dict(block)
    cidr_text = block.get("cidr")
    if not cidr_text:
        return [required(f"{path}.cidr")]
    cidr = _parse_cidr(cidr_text)
    if cidr is None:
        return [invalid_value(f"{path}.cidr", cidr_text, "not a valid CIDR")]
    errs: list[FieldError] = []
    for i, ex_text in enumerate(_list(block.get("except"))):
        p = f"{path}.except[{i}]"
        ex = _parse_cidr(ex_text)
        if ex is None:
            errs.append(invalid_value(p, ex_text, "not a valid CIDR"))
            return errs
        if ex.version != cidr.version or ex.network_address not in cidr or cidr.prefixlen >= ex.prefixlen:
            errs.append(invalid_value(p, ex_text, "must be a strict subset of `cidr`"))
    return errs


def _np_peer(peer: Any, path: str) -> list[FieldError]:
    peer = _dict(peer)
    errs: list[FieldError] = []
    n = 0
    for f in ("podSelector", "namespaceSelector"):
        if peer.get(f) is not None:
            n += 1
            errs += validate_label_selector(peer[f], f"{path}.{f}")
    if peer.get("ipBlock") is not None:
        n += 1
        errs += _ip_block(peer["ipBlock"], f"{path}.ipBlock")
    if n == 0:
        errs.append(required(path, "must specify a peer"))
    elif n > 1 and peer.get("ipBlock") is not None:
        errs.append(forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_network_policy(obj: Obj) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), dns1123_subdomain)
    spec = _dict(obj.get("spec"))
    errs += validate_label_selector(spec.get("podSelector"), "spec.podSelector")
    for direction, peers in (("ingress", "from"), ("egress", "to")):
        for i, rule in enumerate(_list(spec.get(direction))):
            rule = _dict(rule)
            for j, port in enumerate(_list(rule.get("ports"))):
                errs += _np_port(port, f"spec.{direction}[{i}].ports[{j}]")
            for j, peer in enumerate(_list(rule.get(peers))):
                errs += _np_peer(peer, f"spec.{direction}[{i}].{peers}[{j}]")
    types = _list(spec.get("policyTypes"))
    if len(types) > 2:
        errs.append(invalid_value("spec.policyTypes", types, "may not specify more than two policyTypes"))
        return errs
    for i, t in enumerate(types):
        if t not in ("Ingress", "Egress"):
            errs.append(not_supported(f"spec.policyTypes[{i}]", t, ["Ingress", "Egress"]))
    return errs


# ------------------------------------------------------------------ coordination.k8s.io/v1
def validate_lease(obj: Obj) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), dns1123_subdomain)
    spec = _dict(obj.get("spec"))
    duration = spec.get("leaseDurationSeconds")
    if isinstance(duration, int) and duration <= 0:
        errs.append(invalid_value("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    transitions = spec.get("leaseTransitions")
    if isinstance(transitions, int) and transitions < 0:
        errs.append(invalid_value("spec.leaseTransitions", transitions, "must be greater than or equal to 0"))
    return errs


VALIDATORS: dict[Key, Callable[[Obj], list[FieldError]]] = {
    ("", "pods"): validate_pod,
    ("", "namespaces"): validate_namespace,
    ("", "configmaps"): validate_config_map,
    ("", "services"): validate_service,
    ("apps", "deployments"): validate_deployment,
    ("networking.k8s.io", "networkpolicies"): validate_network_policy,
    ("coordination.k8s.io", "leases"): validate_lease,
}
# cluster-scoped or namespaced objects whose names must be DNS-1123 labels rather than subdomains
_LABEL_NAMED: set[Key] = {("", "namespaces")}


IMMUTABLE: dict[Key, tuple[tuple[str, ...], ...]] = {
    ("apps", "deployments"): (("spec", "selector"),),
    ("apps", "replicasets"): (("spec", "selector"),),
    ("apps", "daemonsets"): (("spec", "selector"),),
    ("policy", "poddisruptionbudgets"): (),
}


def validate_update(key: Key, obj: Obj, old: Obj) -> list[FieldError]:
    """``validate`` plus the fields an update may not change (``field is immutable``: workload selectors)."""
    errs = validate(key, obj)
    for path in IMMUTABLE.get(key, ()):
        new_v: Any = obj
        old_v: Any = old
        for part in path:
            new_v = _dict(new_v).get(part)
            old_v = _dict(old_v).get(part)
        if new_v != old_v:
            errs.append(invalid_value(".".join(path), new_v, "field is immutable"))
    return errs


def validate(key: Key, obj: Obj) -> list[FieldError]:
    """The apiserver's field errors for ``obj`` of kind ``key`` (see the module contract)."""
    fn = VALIDATORS.get(key)
    if fn is not None:
        return fn(obj)
    check = dns1123_label if key in _LABEL_NAMED else dns1123_subdomain
    if key[0].endswith("projectcalico.org") or key == ("apiextensions.k8s.io", "customresourcedefinitions"):
        return validate_labels(_dict(obj.get("metadata")).get("labels"), "metadata.labels")
    return validate_object_meta(obj.get("metadata"), check)
