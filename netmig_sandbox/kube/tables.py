"""Server-side printing: ``meta.k8s.io/v1`` ``Table`` responses, as kubectl asks for with
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``.

Contract: ``build_table(store, rt, objects, include_object, resource_version, requested_version)`` returns a
Table dict with the column definitions kubectl users expect for the type (wide-only columns have
``priority: 1``), one row per object, each row's ``object`` being ``PartialObjectMetadata`` (``Metadata``, the
default), the full object (``Object``) or absent (``None``). Custom resources use their CRD's
``additionalPrinterColumns`` (simple JSONPaths) after NAME, then AGE. Unknown types get NAME and AGE.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from netmig_sandbox.kube.store import Obj, ResourceType, Store

Column = tuple[str, str, int, str]  # name, type, priority, description
Row = list[Any]


def human_duration(seconds: float) -> str:
    """kubectl's ``HumanDuration`` (what the AGE column shows)."""
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    m = s // 60
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 60:
        return f"{m}m"
    h = m // 60
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    d = h // 24
    if d < 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y"


def age(obj: Obj) -> str:
    ts = obj.get("metadata", {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    try:
        created = dt.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - created).total_seconds())


def selector_string(sel: dict[str, Any] | None) -> str:
    """A LabelSelector (or a plain map) as kubectl prints it; ``<none>`` when empty."""
    if not sel:
        return "<none>"
    labels = sel.get("matchLabels", sel) if "matchLabels" in sel or "matchExpressions" in sel else sel
    parts = [f"{k}={v}" for k, v in sorted((labels or {}).items()) if isinstance(v, str)]
    for expr in sel.get("matchExpressions") or []:
        op = expr.get("operator", "")
        key = expr.get("key", "")
        if op in ("In", "NotIn"):
            parts.append(f"{key} {op.lower()} ({','.join(expr.get('values') or [])})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts) or "<none>"


def _none(v: Any) -> Any:
    return "<none>" if v in (None, "", [], {}) else v


# --------------------------------------------------------------------- pods
def _pod_status(pod: Obj) -> str:
    meta = pod.get("metadata", {})
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Unknown"
    for cs in status.get("initContainerStatuses") or []:
        state = cs.get("state") or {}
        if "terminated" in state and state["terminated"].get("exitCode", 0) == 0:
            continue
        waiting = state.get("waiting") or {}
        if waiting.get("reason") and waiting["reason"] != "PodInitializing":
            reason = "Init:" + waiting["reason"]
            break
    else:
        for cs in status.get("containerStatuses") or []:
            state = cs.get("state") or {}
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated", {}).get("reason"):
                reason = state["terminated"]["reason"]
    if meta.get("deletionTimestamp"):
        reason = "Terminating"
    return str(reason)


def _pod_row(pod: Obj) -> Row:
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount", 0)) for cs in statuses)
    gates = spec.get("readinessGates") or []
    gate_str = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        ok = sum(1 for g in gates if conds.get(g.get("conditionType")) == "True")
        gate_str = f"{ok}/{len(gates)}"
    return [
        pod["metadata"]["name"], f"{ready}/{total}", _pod_status(pod), str(restarts), age(pod),
        _none(status.get("podIP")), _none(spec.get("nodeName")), _none(status.get("nominatedNodeName")),
        gate_str,
    ]


POD_COLUMNS: list[Column] = [
    ("Name", "string", 0, "Name must be unique within a namespace."),
    ("Ready", "string", 0, "The aggregate readiness state of this pod for accepting traffic."),
    ("Status", "string", 0, "The aggregate status of the containers in this pod."),
    ("Restarts", "string", 0, "The number of times the containers in this pod have been restarted."),
    ("Age", "string", 0, "CreationTimestamp is a timestamp representing the server time when this object "
                          "was created."),
    ("IP", "string", 1, "IP address allocated to the pod. Routable at least within the cluster."),
    ("Node", "string", 1, "NodeName is a request to schedule this pod onto a specific node."),
    ("Nominated Node", "string", 1, "nominatedNodeName is set when this pod preempts other pods on the node."),
    ("Readiness Gates", "string", 1, "If specified, all readiness gates will be evaluated for pod readiness."),
]


# -------------------------------------------------------------------- nodes
def _node_row(node: Obj) -> Row:
    meta = node.get("metadata", {})
    status = node.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    st = "Unknown" if ready is None else ("Ready" if ready.get("status") == "True" else "NotReady")
    if (node.get("spec") or {}).get("unschedulable"):
        st += ",SchedulingDisabled"
    roles = sorted(
        {k.split("/", 1)[1] for k in (meta.get("labels") or {}) if k.startswith("node-role.kubernetes.io/")}
        | ({meta["labels"]["kubernetes.io/role"]} if (meta.get("labels") or {}).get("kubernetes.io/role")
           else set())
    )
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [
        meta["name"], st, ",".join(r for r in roles if r) or "<none>", age(node),
        info.get("kubeletVersion", ""), _none(addrs.get("InternalIP")), _none(addrs.get("ExternalIP")),
        info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
        info.get("containerRuntimeVersion", "<unknown>"),
    ]


NODE_COLUMNS: list[Column] = [
    ("Name", "string", 0, "Name must be unique within a namespace."),
    ("Status", "string", 0, "The status of the node"),
    ("Roles", "string", 0, "The roles of the node"),
    ("Age", "string", 0, "CreationTimestamp"),
    ("Version", "string", 0, "Kubelet Version reported by the node."),
    ("Internal-IP", "string", 1, "List of internal IPs for the node."),
    ("External-IP", "string", 1, "List of external IPs for the node."),
    ("OS-Image", "string", 1, "OS Image reported by the node from /etc/os-release."),
    ("Kernel-Version", "string", 1, "Kernel Version reported by the node."),
    ("Container-Runtime", "string", 1, "Container Runtime Version reported by the node."),
]


# ------------------------------------------------------------------- others
def _containers(spec: dict[str, Any]) -> tuple[str, str]:
    cs = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _service_row(svc: Obj) -> Row:
    spec = svc.get("spec") or {}
    ext = spec.get("externalIPs") or []
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ext = ext + [i.get("ip") or i.get("hostname") for i in ingress]
    if not ext:
        ext_s = "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"
    else:
        ext_s = ",".join(str(e) for e in ext)
    ports = []
    for p in spec.get("ports") or []:
        s = str(p.get("port"))
        if p.get("nodePort"):
            s += f":{p['nodePort']}"
        ports.append(f"{s}/{p.get('protocol', 'TCP')}")
    return [svc["metadata"]["name"], spec.get("type", "ClusterIP"), _none(spec.get("clusterIP")), ext_s,
            ",".join(ports) or "<none>", age(svc), selector_string(spec.get("selector"))]


def _deployment_row(d: Obj) -> Row:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    c, i = _containers(spec)
    return [d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age(d), c, i,
            selector_string(spec.get("selector"))]


def _daemonset_row(d: Obj) -> Row:
    spec, st = d.get("spec") or {}, d.get("status") or {}
    c, i = _containers(spec)
    ns = ((spec.get("template") or {}).get("spec") or {}).get("nodeSelector")
    return [d["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            selector_string(ns), age(d), c, i, selector_string(spec.get("selector"))]


def _replicaset_row(r: Obj) -> Row:
    spec, st = r.get("spec") or {}, r.get("status") or {}
    c, i = _containers(spec)
    return [r["metadata"]["name"], spec.get("replicas", 1), st.get("replicas", 0), st.get("readyReplicas", 0),
            age(r), c, i, selector_string(spec.get("selector"))]


def _pdb_row(p: Obj) -> Row:
    spec, st = p.get("spec") or {}, p.get("status") or {}
    return [p["metadata"]["name"], str(spec.get("minAvailable", "N/A")), str(spec.get("maxUnavailable", "N/A")),
            st.get("disruptionsAllowed", 0), age(p)]


def _endpoints_row(e: Obj) -> Row:
    eps = []
    for sub in e.get("subsets") or []:
        for a in sub.get("addresses") or []:
            for p in sub.get("ports") or [{}]:
                eps.append(f"{a.get('ip')}:{p.get('port')}" if p.get("port") else str(a.get("ip")))
    shown = ",".join(eps[:3]) + (f" + {len(eps) - 3} more..." if len(eps) > 3 else "")
    return [e["metadata"]["name"], shown or "<none>", age(e)]


def _job_row(j: Obj) -> Row:
    spec, st = j.get("spec") or {}, j.get("status") or {}
    conds = {c.get("type") for c in st.get("conditions") or [] if c.get("status") == "True"}
    status = ("Complete" if "Complete" in conds else "Failed" if "Failed" in conds
              else "Suspended" if spec.get("suspend") else "Running")
    duration = ""
    if st.get("startTime"):
        end = st.get("completionTime")
        start = dt.datetime.fromisoformat(str(st["startTime"]).replace("Z", "+00:00"))
        stop = dt.datetime.fromisoformat(str(end).replace("Z", "+00:00")) if end else dt.datetime.now(dt.UTC)
        duration = human_duration((stop - start).total_seconds())
    names, images = _containers(spec)
    return [j["metadata"]["name"], status, f"{st.get('succeeded', 0)}/{spec.get('completions', 1)}", duration,
            age(j), names, images, selector_string(spec.get("selector"))]


def _slice_row(e: Obj) -> Row:
    ports = ",".join(str(p.get("port")) for p in e.get("ports") or []) or "<unset>"
    addrs = [a for ep in e.get("endpoints") or [] for a in ep.get("addresses") or []]
    shown = ",".join(addrs[:3]) + (f" + {len(addrs) - 3} more..." if len(addrs) > 3 else "")
    return [e["metadata"]["name"], e.get("addressType", ""), ports, shown or "<unset>", age(e)]


def _apiservice_row(a: Obj) -> Row:
    svc = (a.get("spec") or {}).get("service")
    avail = next((c for c in (a.get("status") or {}).get("conditions") or [] if c.get("type") == "Available"),
                 None)
    avail_s = "Unknown" if avail is None else (
        "True" if avail.get("status") == "True" else f"False ({avail.get('reason', '')})")
    return [a["metadata"]["name"], "Local" if not svc else f"{svc.get('namespace')}/{svc.get('name')}",
            avail_s, age(a)]


def _since(ts: Any) -> str:
    """The apiserver's translateTimestampSince: the age of an RFC 3339 (micro)timestamp, ``<unknown>`` if unset."""
    if not ts:
        return "<unknown>"
    try:
        when = dt.datetime.strptime(str(ts)[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return "<unknown>"
    return human_duration((dt.datetime.now(dt.UTC) - when).total_seconds())


def _event_row(e: Obj) -> Row:
    io = e.get("involvedObject") or {}
    src = e.get("source") or {}
    source = src.get("component", "") + (f", {src['host']}" if src.get("host") else "")
    return [_since(e.get("lastTimestamp") or e.get("eventTime")), e.get("type", ""), e.get("reason", ""),
            f"{str(io.get('kind', '')).lower()}/{io.get('name', '')}", e.get("message", ""),
            io.get("fieldPath", ""), source, _since(e.get("firstTimestamp") or e.get("eventTime")),
            int(e.get("count") or 1), (e.get("metadata") or {}).get("name", "")]


def _event_v1_row(e: Obj) -> Row:
    return _event_row({"involvedObject": e.get("regarding") or {}, "message": e.get("note", ""),
                       "type": e.get("type", ""), "reason": e.get("reason", ""),
                       "lastTimestamp": e.get("deprecatedLastTimestamp") or e.get("eventTime"),
                       "firstTimestamp": e.get("deprecatedFirstTimestamp") or e.get("eventTime"),
                       "source": e.get("deprecatedSource") or {"component": e.get("reportingController", "")},
                       "count": e.get("deprecatedCount") or 1, "metadata": e.get("metadata") or {}})


EVENT_COLUMNS: list[Column] = [("Last Seen", "string", 0, ""), ("Type", "string", 0, ""),
                               ("Reason", "string", 0, ""), ("Object", "string", 0, ""),
                               ("Message", "string", 0, ""), ("Subobject", "string", 1, ""),
                               ("Source", "string", 1, ""), ("First Seen", "string", 1, ""),
                               ("Count", "integer", 1, ""), ("Name", "string", 1, "")]


def _s(name: str, prio: int = 0) -> Column:
    return (name, "string", prio, "")


def _i(name: str, prio: int = 0) -> Column:
    return (name, "integer", prio, "")


PRINTERS: dict[tuple[str, str], tuple[list[Column], Callable[[Obj], Row]]] = {
    ("", "pods"): (POD_COLUMNS, _pod_row),
    ("", "nodes"): (NODE_COLUMNS, _node_row),
    ("", "namespaces"): ([_s("Name"), _s("Status"), _s("Age")],
                         lambda o: [o["metadata"]["name"], (o.get("status") or {}).get("phase", "Active"),
                                    age(o)]),
    ("", "services"): ([_s("Name"), _s("Type"), _s("Cluster-IP"), _s("External-IP"), _s("Port(s)"),
                        _s("Age"), _s("Selector", 1)], _service_row),
    ("", "endpoints"): ([_s("Name"), _s("Endpoints"), _s("Age")], _endpoints_row),
    ("", "configmaps"): ([_s("Name"), _i("Data"), _s("Age")],
                         lambda o: [o["metadata"]["name"],
                                    len(o.get("data") or {}) + len(o.get("binaryData") or {}), age(o)]),
    ("", "secrets"): ([_s("Name"), _s("Type"), _i("Data"), _s("Age")],
                      lambda o: [o["metadata"]["name"], o.get("type", "Opaque"), len(o.get("data") or {}),
                                 age(o)]),
    ("", "serviceaccounts"): ([_s("Name"), _s("Secrets"), _s("Age")],
                              lambda o: [o["metadata"]["name"], len(o.get("secrets") or []), age(o)]),
    ("", "events"): (EVENT_COLUMNS, _event_row),
    ("events.k8s.io", "events"): (EVENT_COLUMNS, _event_v1_row),
    ("apps", "deployments"): ([_s("Name"), _s("Ready"), _i("Up-to-date"), _i("Available"), _s("Age"),
                               _s("Containers", 1), _s("Images", 1), _s("Selector", 1)], _deployment_row),
    ("apps", "daemonsets"): ([_s("Name"), _i("Desired"), _i("Current"), _i("Ready"), _i("Up-to-date"),
                              _i("Available"), _s("Node Selector"), _s("Age"), _s("Containers", 1),
                              _s("Images", 1), _s("Selector", 1)], _daemonset_row),
    ("apps", "replicasets"): ([_s("Name"), _i("Desired"), _i("Current"), _i("Ready"), _s("Age"),
                               _s("Containers", 1), _s("Images", 1), _s("Selector", 1)], _replicaset_row),
    ("policy", "poddisruptionbudgets"): ([_s("Name"), _s("Min Available"), _s("Max Unavailable"),
                                          _i("Allowed Disruptions"), _s("Age")], _pdb_row),
    ("networking.k8s.io", "networkpolicies"): (
        [_s("Name"), _s("Pod-Selector"), _s("Age")],
        lambda o: [o["metadata"]["name"], selector_string((o.get("spec") or {}).get("podSelector")), age(o)]),
    ("batch", "jobs"): ([_s("Name"), _s("Status"), _s("Completions"), _s("Duration"), _s("Age"),
                        _s("Containers", 1), _s("Images", 1), _s("Selector", 1)], _job_row),
    ("discovery.k8s.io", "endpointslices"): ([_s("Name"), _s("AddressType"), _s("Ports"), _s("Endpoints"),
                                              _s("Age")], _slice_row),
    ("coordination.k8s.io", "leases"): (
        [_s("Name"), _s("Holder"), _s("Age")],
        lambda o: [o["metadata"]["name"], (o.get("spec") or {}).get("holderIdentity", ""), age(o)]),
    ("apiextensions.k8s.io", "customresourcedefinitions"): (
        [_s("Name"), ("Created At", "date", 0, "")],
        lambda o: [o["metadata"]["name"], o["metadata"].get("creationTimestamp", "")]),
    ("apiregistration.k8s.io", "apiservices"): ([_s("Name"), _s("Service"), _s("Available"), _s("Age")],
                                                _apiservice_row),
}


def _jsonpath_simple(obj: Obj, path: str) -> Any:
    """Evaluate a dotted JSONPath such as ``.spec.replicas`` (no filters); None if absent."""
    cur: Any = obj
    for part in path.strip().lstrip("$").strip(".").split("."):
        if not part:
            continue
        if isinstance(cur, dict):
            cur = cur.get(part)
        else:
            return None
    return cur


def _crd_columns(store: Store, rt: ResourceType, version: str) -> list[dict[str, Any]] | None:
    for crd in store.iter_raw(("apiextensions.k8s.io", "customresourcedefinitions")):
        spec = crd.get("spec") or {}
        if spec.get("group") == rt.group and (spec.get("names") or {}).get("plural") == rt.plural:
            for v in spec.get("versions") or []:
                if v.get("name") == version:
                    return list(v.get("additionalPrinterColumns") or [])
    return None


def _printer(store: Store, rt: ResourceType, version: str) -> tuple[list[Column], Callable[[Obj], Row]]:
    if rt.key in PRINTERS:
        return PRINTERS[rt.key]
    extra = _crd_columns(store, rt, version) or []
    if extra:
        cols: list[Column] = [_s("Name")]
        for c in extra:
            cols.append((c.get("name", ""), "date" if c.get("type") == "date" else c.get("type", "string"),
                         int(c.get("priority", 0)), c.get("description", "")))
        has_age = any(c.get("name", "").lower() == "age" for c in extra)
        if not has_age:
            cols.append(_s("Age"))

        def row(o: Obj) -> Row:
            cells: Row = [o["metadata"]["name"]]
            for c in extra:
                v = _jsonpath_simple(o, c.get("jsonPath", ""))
                if c.get("type") == "date" and isinstance(v, str):
                    try:
                        created = dt.datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
                        v = human_duration((dt.datetime.now(dt.UTC) - created).total_seconds())
                    except ValueError:
                        pass
                cells.append(v)
            if not has_age:
                cells.append(age(o))
            return cells
        return cols, row
    return [_s("Name"), _s("Age")], lambda o: [o["metadata"]["name"], age(o)]


def partial_metadata(obj: Obj) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
            "metadata": obj.get("metadata", {})}


def build_table(
    store: Store,
    rt: ResourceType,
    objects: list[Obj],
    include_object: str = "Metadata",
    resource_version: str = "",
    requested_version: str | None = None,
) -> Obj:
    """A ``meta.k8s.io/v1`` Table of ``objects`` (see the module contract)."""
    columns, row_fn = _printer(store, rt, requested_version or rt.version)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": row_fn(obj)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": name, "type": typ, "format": "name" if name == "Name" else "", "description": desc,
             "priority": prio}
            for name, typ, prio, desc in columns
        ],
        "rows": rows,
    }
