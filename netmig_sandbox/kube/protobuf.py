"""Decoding of the Kubernetes protobuf request bodies kubectl sends.

Why: kubectl's typed clients (``kubectl create namespace|configmap|secret|serviceaccount|deployment``, the
eviction of ``kubectl drain``) send ``Content-Type: application/vnd.kubernetes.protobuf`` bodies even though
they accept JSON answers; ``kubectl run``/``apply``/``label``/``delete`` send JSON. ``kubectl create
service|role|clusterrole|pdb`` and ``kubectl auth can-i`` (SelfSubjectAccessReview / RulesReview) do too. A real
API server decodes both, so we decode the few kinds kubectl creates this way.

Contract: ``decode(body) -> dict`` turns a ``k8s\\x00``-prefixed ``runtime.Unknown`` envelope into the JSON form of
the object (``apiVersion``, ``kind`` and the fields of the known schemas below); it raises ``ProtobufError`` for a
malformed body or a kind without a schema here (the server answers 415 then, so the client can be told to use
JSON). Field numbers follow the upstream ``generated.proto`` files.
"""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"


class ProtobufError(ValueError):
    """A protobuf body this server cannot decode."""


# A schema maps field number -> (json name, type, repeated); type is a scalar name or a nested schema dict,
# or ("map", value_type) for map<string, value_type>.
Schema = dict[int, tuple[str, Any, bool]]

TIME = "time"
STR, BYTES, INT, BOOL = "string", "bytes", "int", "bool"

TYPE_META: Schema = {1: ("apiVersion", STR, False), 2: ("kind", STR, False)}
OWNER_REF: Schema = {1: ("kind", STR, False), 3: ("name", STR, False), 4: ("uid", STR, False),
                     5: ("apiVersion", STR, False), 6: ("controller", BOOL, False),
                     7: ("blockOwnerDeletion", BOOL, False)}
OBJECT_META: Schema = {
    1: ("name", STR, False), 2: ("generateName", STR, False), 3: ("namespace", STR, False),
    4: ("selfLink", STR, False), 5: ("uid", STR, False), 6: ("resourceVersion", STR, False),
    7: ("generation", INT, False), 8: ("creationTimestamp", TIME, False), 9: ("deletionTimestamp", TIME, False),
    10: ("deletionGracePeriodSeconds", INT, False), 11: ("labels", ("map", STR), False),
    12: ("annotations", ("map", STR), False), 13: ("ownerReferences", OWNER_REF, True),
    14: ("finalizers", STR, True),
}
OBJECT_REF: Schema = {1: ("kind", STR, False), 2: ("namespace", STR, False), 3: ("name", STR, False),
                      4: ("uid", STR, False), 5: ("apiVersion", STR, False), 6: ("resourceVersion", STR, False),
                      7: ("fieldPath", STR, False)}
LOCAL_REF: Schema = {1: ("name", STR, False)}
PRECONDITIONS: Schema = {1: ("uid", STR, False), 2: ("resourceVersion", STR, False)}
DELETE_OPTIONS: Schema = {1: ("gracePeriodSeconds", INT, False), 2: ("preconditions", PRECONDITIONS, False),
                          3: ("orphanDependents", BOOL, False), 4: ("propagationPolicy", STR, False),
                          5: ("dryRun", STR, True)}

LABEL_SELECTOR: Schema = {1: ("matchLabels", ("map", STR), False),
                          2: ("matchExpressions", {1: ("key", STR, False), 2: ("operator", STR, False),
                                                   3: ("values", STR, True)}, True)}
CONTAINER_PORT: Schema = {1: ("name", STR, False), 2: ("hostPort", INT, False), 3: ("containerPort", INT, False),
                          4: ("protocol", STR, False), 5: ("hostIP", STR, False)}
CONTAINER: Schema = {1: ("name", STR, False), 2: ("image", STR, False), 3: ("command", STR, True),
                     4: ("args", STR, True), 5: ("workingDir", STR, False), 6: ("ports", CONTAINER_PORT, True),
                     7: ("env", {1: ("name", STR, False), 2: ("value", STR, False)}, True),
                     14: ("imagePullPolicy", STR, False)}
POD_SPEC: Schema = {2: ("containers", CONTAINER, True), 3: ("restartPolicy", STR, False),
                    4: ("terminationGracePeriodSeconds", INT, False), 6: ("dnsPolicy", STR, False),
                    7: ("nodeSelector", ("map", STR), False), 8: ("serviceAccountName", STR, False),
                    10: ("nodeName", STR, False), 11: ("hostNetwork", BOOL, False),
                    20: ("initContainers", CONTAINER, True)}
POD_TEMPLATE: Schema = {1: ("metadata", OBJECT_META, False), 2: ("spec", POD_SPEC, False)}

# intstr.IntOrString: type (0 int, 1 string), intVal, strVal -> a JSON number or string
INT_OR_STRING = "intorstring"
SERVICE_PORT: Schema = {1: ("name", STR, False), 2: ("protocol", STR, False), 3: ("port", INT, False),
                        4: ("targetPort", INT_OR_STRING, False), 5: ("nodePort", INT, False),
                        6: ("appProtocol", STR, False)}
SERVICE_SPEC: Schema = {1: ("ports", SERVICE_PORT, True), 2: ("selector", ("map", STR), False),
                        3: ("clusterIP", STR, False), 4: ("type", STR, False), 5: ("externalIPs", STR, True),
                        7: ("sessionAffinity", STR, False), 8: ("loadBalancerIP", STR, False),
                        9: ("loadBalancerSourceRanges", STR, True), 10: ("externalName", STR, False),
                        11: ("externalTrafficPolicy", STR, False), 12: ("healthCheckNodePort", INT, False),
                        13: ("publishNotReadyAddresses", BOOL, False), 17: ("ipFamilyPolicy", STR, False),
                        18: ("clusterIPs", STR, True), 19: ("ipFamilies", STR, True),
                        20: ("allocateLoadBalancerNodePorts", BOOL, False), 21: ("loadBalancerClass", STR, False),
                        22: ("internalTrafficPolicy", STR, False)}
POLICY_RULE: Schema = {1: ("verbs", STR, True), 2: ("apiGroups", STR, True), 3: ("resources", STR, True),
                       4: ("resourceNames", STR, True), 5: ("nonResourceURLs", STR, True)}
RESOURCE_ATTRIBUTES: Schema = {1: ("namespace", STR, False), 2: ("verb", STR, False), 3: ("group", STR, False),
                               4: ("version", STR, False), 5: ("resource", STR, False),
                               6: ("subresource", STR, False), 7: ("name", STR, False)}

# non-pointer numeric/bool fields whose JSON form omits the zero value
OMIT_ZERO = {"generation", "hostPort", "minReadySeconds", "paused", "hostNetwork", "immutable", "nodePort",
             "healthCheckNodePort", "publishNotReadyAddresses"}

KINDS: dict[str, Schema] = {
    "Deployment": {1: ("metadata", OBJECT_META, False),
                   2: ("spec", {1: ("replicas", INT, False), 2: ("selector", LABEL_SELECTOR, False),
                                3: ("template", POD_TEMPLATE, False),
                                5: ("minReadySeconds", INT, False), 6: ("revisionHistoryLimit", INT, False),
                                7: ("paused", BOOL, False), 9: ("progressDeadlineSeconds", INT, False)}, False)},
    "Namespace": {1: ("metadata", OBJECT_META, False),
                  2: ("spec", {1: ("finalizers", STR, True)}, False),
                  3: ("status", {1: ("phase", STR, False)}, False)},
    "ConfigMap": {1: ("metadata", OBJECT_META, False), 2: ("data", ("map", STR), False),
                  3: ("binaryData", ("map", BYTES), False), 4: ("immutable", BOOL, False)},
    "Secret": {1: ("metadata", OBJECT_META, False), 2: ("data", ("map", BYTES), False),
               3: ("type", STR, False), 4: ("stringData", ("map", STR), False), 5: ("immutable", BOOL, False)},
    "ServiceAccount": {1: ("metadata", OBJECT_META, False), 2: ("secrets", OBJECT_REF, True),
                       3: ("imagePullSecrets", LOCAL_REF, True),
                       4: ("automountServiceAccountToken", BOOL, False)},
    "Eviction": {1: ("metadata", OBJECT_META, False), 2: ("deleteOptions", DELETE_OPTIONS, False)},
    "Service": {1: ("metadata", OBJECT_META, False), 2: ("spec", SERVICE_SPEC, False)},
    "Job": {1: ("metadata", OBJECT_META, False),
            2: ("spec", {1: ("parallelism", INT, False), 2: ("completions", INT, False),
                         3: ("activeDeadlineSeconds", INT, False), 4: ("selector", LABEL_SELECTOR, False),
                         5: ("manualSelector", BOOL, False), 6: ("template", POD_TEMPLATE, False),
                         7: ("backoffLimit", INT, False), 8: ("ttlSecondsAfterFinished", INT, False),
                         9: ("completionMode", STR, False), 10: ("suspend", BOOL, False)}, False)},
    "Role": {1: ("metadata", OBJECT_META, False), 2: ("rules", POLICY_RULE, True)},
    "ClusterRole": {1: ("metadata", OBJECT_META, False), 2: ("rules", POLICY_RULE, True)},
    "PodDisruptionBudget": {1: ("metadata", OBJECT_META, False),
                            2: ("spec", {1: ("minAvailable", INT_OR_STRING, False),
                                         2: ("selector", LABEL_SELECTOR, False),
                                         3: ("maxUnavailable", INT_OR_STRING, False),
                                         4: ("unhealthyPodEvictionPolicy", STR, False)}, False)},
    "SelfSubjectAccessReview": {1: ("metadata", OBJECT_META, False),
                                2: ("spec", {1: ("resourceAttributes", RESOURCE_ATTRIBUTES, False),
                                             2: ("nonResourceAttributes", {1: ("path", STR, False),
                                                                           2: ("verb", STR, False)}, False)},
                                    False)},
    "SelfSubjectRulesReview": {1: ("metadata", OBJECT_META, False), 2: ("spec", {1: ("namespace", STR, False)},
                                                                        False)},
    "DeleteOptions": DELETE_OPTIONS,
}


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise ProtobufError("varint too long")


def _fields(buf: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) triples; length-delimited values are bytes."""
    out: list[tuple[int, int, Any]] = []
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        num, wt = tag >> 3, tag & 7
        val: Any
        if wt == 0:
            val, pos = _varint(buf, pos)
        elif wt == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ProtobufError("truncated field")
            val, pos = buf[pos:pos + n], pos + n
        elif wt == 1:
            val, pos = buf[pos:pos + 8], pos + 8
        elif wt == 5:
            val, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wt}")
        out.append((num, wt, val))
    return out


def _scalar(typ: str, wt: int, val: Any) -> Any:
    if typ == STR:
        if wt != 2:
            raise ProtobufError("expected a string")
        return bytes(val).decode("utf-8")
    if typ == BYTES:
        return base64.b64encode(bytes(val)).decode()
    if typ == INT:
        v = int(val)
        return v - (1 << 64) if v >= 1 << 63 else v
    if typ == BOOL:
        return bool(val)
    if typ == TIME:
        secs = 0
        for num, _wt, v in _fields(bytes(val)):
            if num == 1:
                secs = int(v)
        return dt.datetime.fromtimestamp(secs, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if secs else None
    raise ProtobufError(f"unknown scalar type {typ}")


def _message(buf: bytes, schema: Schema) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for num, wt, val in _fields(buf):
        if num not in schema:
            continue  # unknown fields are dropped, like a lenient decoder
        name, typ, repeated = schema[num]
        if isinstance(typ, tuple) and typ[0] == "map":
            k, v = "", None
            for n2, w2, v2 in _fields(bytes(val)):
                if n2 == 1:
                    k = _scalar(STR, w2, v2)
                elif n2 == 2:
                    v = _scalar(typ[1], w2, v2)
            out.setdefault(name, {})[k] = v if v is not None else ""
            continue
        if typ == INT_OR_STRING:
            ios = {n: (v if w == 0 else bytes(v).decode()) for n, w, v in _fields(bytes(val))}
            out[name] = ios.get(3, "") if ios.get(1) == 1 else int(ios.get(2, 0))
            continue
        value = _message(bytes(val), typ) if isinstance(typ, dict) else _scalar(typ, wt, val)
        if value is None or (value == "" and not repeated) or (name in OMIT_ZERO and not value):
            continue  # gogo-protobuf always writes non-pointer scalars; JSON omits them when empty
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a Kubernetes protobuf envelope (see the module contract)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf message (missing k8s\\x00 prefix)")
    envelope = _message(body[len(MAGIC):], {1: ("typeMeta", TYPE_META, False), 2: ("raw", BYTES, False),
                                            3: ("contentEncoding", STR, False), 4: ("contentType", STR, False)})
    type_meta = envelope.get("typeMeta") or {}
    kind = type_meta.get("kind", "")
    schema = KINDS.get(kind)
    if schema is None:
        raise ProtobufError(f"protobuf bodies of kind {kind!r} are not supported by the sandbox; send JSON")
    raw = base64.b64decode(envelope.get("raw", ""))
    obj = _message(raw, schema)
    obj = {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **obj}
    return obj
