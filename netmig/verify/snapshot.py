"""A reachability snapshot: observed outcomes keyed by workload identity, plus the objects it was taken with.

Contract: pure (``save``/``load``/``write`` are the only file I/O, on a path or stream the caller gives).
- The file is one JSON object (``FORMAT``), written as a stream (``write``): the header fields (format, engine,
  network, taken_at, run_id, stats, coverage) on the first line, then the lists ``predicted_only``, ``objects``
  and ``cells``, each opened by a line ``"NAME": [`` and holding one compact JSON value per line; the whole
  document is never built as one string. ``load`` reads that layout line by line (any other valid snapshot JSON,
  e.g. an older indented file, is parsed whole), sharing one string per distinct value across cells (loaded
  cells share equal ``policies`` lists: treat them as read-only). ``write_seconds_per_cell`` measures what
  writing costs, for the budget's reserve; ``cell_keys(path)`` reads only the cells' keys (an after-snapshot's
  baseline); ``fold_cells(path, visit)`` hands each cell's fields to ``visit`` and keeps none of them.
- ``sanitize(objects)`` keeps only what the policy engine reads (Namespaces, Nodes, Pods, Services,
  NetworkPolicies) and, of those, only metadata name/namespace/labels/ownerReferences/generateName and the spec and
  status fields policy evaluation needs (container *ports* only: no env, no commands, no annotations, no
  managedFields). Secrets, ConfigMaps, tokens and kubeconfigs never enter a snapshot.
- ``Snapshot.cells`` are ``Cell`` records, one per probe: identity key, kind, outcome, the agnhost detail, the
  expectation under the snapshot's engine, and (for explanation offline) the probe pod's address and the
  representative pods. Several cells can share one key (an *aggregated* cell, see ``netmig.verify.selection``);
  ``Snapshot.by_key()`` groups them, never dropping one.
- ``expect(cluster, cell, engine)`` evaluates one cell with the policy engine -> (predicted outcome or None when
  the backends disagree / are unknown, responsible policies, verdict notes).
- ``Snapshot.predicted_only``: LoadBalancer paths (external client -> service -> backend), predicted, never probed.
  Each carries the verdict under the snapshot's engine (``allowed``/``note``/``policies``) and under every engine
  the snapshot was planned for (``by_engine``), so a report can say which paths change between engines.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any, TextIO

from netmig.errors import UsageError
from netmig.policy import Cluster, EngineProfile, Evaluator, External, Pod, Service
from netmig.verify.outcomes import Outcome, predicted
from netmig.verify.selection import CellKey, PredictedPath

FORMAT = "netmig.verify.snapshot/v1"
_KINDS = ("Namespace", "Node", "Pod", "Service", "NetworkPolicy")


@dataclass(slots=True)
class Cell:
    src: str
    dst: str
    port: int
    protocol: str
    kind: str  # pod | service
    outcome: Outcome
    detail: str = ""
    expected: Outcome | None = None
    policies: list[str] = field(default_factory=list)
    port_name: str | None = None
    src_pod: str = ""  # the representative the probe pod copied (ns/name)
    src_ip: str | None = None  # the probe pod's own address
    dst_pod: str | None = None
    host: str = ""
    attempts: int = 1

    @property
    def key(self) -> CellKey:
        return (self.src, self.dst, self.port, self.protocol)

    @property
    def met(self) -> bool:
        return self.expected is None or self.expected == self.outcome


@dataclass
class EngineVerdict:
    """One engine's verdict on a predicted-only path."""

    engine: str
    allowed: bool
    note: str
    policies: list[str] = field(default_factory=list)


@dataclass
class PredictedOnly:
    """A LoadBalancer path: external client -> service -> backend, predicted by the engine, not probed.
    ``backend`` is the backend's identity, ``backend_pod`` the representative pod (ns/name) it was evaluated on."""

    service: str
    backend: str
    port: int
    protocol: str
    allowed: bool
    note: str
    policies: list[str] = field(default_factory=list)
    backend_pod: str = ""
    service_port: int = 0
    by_engine: list[EngineVerdict] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.service, self.backend, self.port, self.protocol)

    @property
    def differs_between_engines(self) -> bool:
        """True when the engines of ``by_engine`` do not all give the same verdict."""
        return len({v.allowed for v in self.by_engine}) > 1

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PredictedOnly:
        fields = {k: v for k, v in d.items() if k != "by_engine"}
        return cls(**fields, by_engine=[EngineVerdict(**v) for v in d.get("by_engine") or []])


@dataclass
class Snapshot:
    engine: str
    cells: list[Cell]
    objects: list[dict[str, Any]]
    predicted_only: list[PredictedOnly] = field(default_factory=list)
    network: str = ""
    taken_at: str = ""
    run_id: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)  # netmig.verify.budget.coverage (what was probed)
    format: str = FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Snapshot:
        if d.get("format") != FORMAT:
            raise ValueError(f"not a netmig snapshot (format {d.get('format')!r}, expected {FORMAT})")
        return cls(
            engine=str(d["engine"]), cells=[Cell(**c) for c in d.get("cells", [])], objects=list(d.get("objects", [])),
            predicted_only=[PredictedOnly.from_dict(p) for p in d.get("predicted_only", [])],
            network=d.get("network", ""),
            taken_at=d.get("taken_at", ""), run_id=d.get("run_id", ""), stats=dict(d.get("stats", {})),
            coverage=dict(d.get("coverage") or {}),
        )

    def by_key(self) -> dict[CellKey, list[Cell]]:
        """Cell key -> every cell (probe) recorded under it, in recording order."""
        out: dict[CellKey, list[Cell]] = {}
        for c in self.cells:
            out.setdefault(c.key, []).append(c)
        return out

    def predicted_by_key(self) -> dict[tuple[str, str, int, str], list[PredictedOnly]]:
        """(service, backend identity, port, protocol) -> every predicted-only path recorded under it."""
        out: dict[tuple[str, str, int, str], list[PredictedOnly]] = {}
        for p in self.predicted_only:
            out.setdefault(p.key, []).append(p)
        return out


HEADER = ("format", "engine", "network", "taken_at", "run_id", "stats", "coverage")
CELL_FIELDS = tuple(f.name for f in fields(Cell))
MAX_BYTES = 512 * 1024 * 1024
_COMPACT = json.JSONEncoder(sort_keys=True, separators=(",", ":"), check_circular=False)
_SECTION = re.compile(r'^"(predicted_only|objects|cells)": \[$')


def cell_dict(c: Cell) -> dict[str, Any]:
    return {f: getattr(c, f) for f in CELL_FIELDS}


def _lines(name: str, items: Iterable[Any], as_dict: Callable[[Any], Any], out: TextIO, last: bool) -> None:
    out.write(f'"{name}": [\n')
    sep = ""
    encode = _COMPACT.encode
    for item in items:
        out.write(sep)
        out.write(encode(as_dict(item)))
        sep = ",\n"
    out.write("\n]}\n" if last else "\n],\n")


def write(snap: Snapshot, out: TextIO) -> None:
    """Stream ``snap`` to ``out`` in the file layout of the module docstring."""
    header = {k: getattr(snap, k) for k in HEADER}
    out.write(json.dumps(header, sort_keys=True)[:-1] + ",\n")
    _lines("predicted_only", snap.predicted_only, asdict, out, False)
    _lines("objects", snap.objects, lambda o: o, out, False)
    _lines("cells", snap.cells, cell_dict, out, True)


def save(snap: Snapshot, path: str | Path) -> None:
    """Write ``snap`` to ``path`` as a stream (see ``write``)."""
    with open(path, "w", encoding="utf-8") as f:
        write(snap, f)


class _Null:
    def write(self, text: str) -> int:
        return len(text)


def write_seconds_per_cell(cells: Sequence[Cell]) -> float:
    """Seconds ``write`` spends per cell, measured on ``cells`` (serialized, not stored); 0.0 for none."""
    if not cells:
        return 0.0
    t = time.perf_counter()
    _lines("cells", cells, cell_dict, _Null(), True)  # type: ignore[arg-type]
    return (time.perf_counter() - t) / len(cells)


class _Interner:
    """One string per distinct value and one ``policies`` list per distinct list, across the loaded cells."""

    def __init__(self) -> None:
        self.lists: dict[tuple[str, ...], list[str]] = {}

    def cell(self, d: Mapping[str, Any]) -> Cell:
        v: dict[str, Any] = {k: sys.intern(x) if isinstance(x, str) else x for k, x in d.items()}
        pols = tuple(v.get("policies") or ())
        v["policies"] = self.lists.setdefault(pols, [sys.intern(x) for x in pols])
        return Cell(**v)


def _key(d: Mapping[str, Any]) -> CellKey:
    return (sys.intern(d["src"]), sys.intern(d["dst"]), int(d["port"]), sys.intern(d["protocol"]))


def _streamed(f: IO[bytes], cell: Callable[[Any], Any]) -> tuple[dict[str, Any], dict[str, list[Any]]] | None:
    """(header, lists) of a file in ``write``'s layout, read line by line, each cell through ``cell``; None when
    the file is not in that layout."""
    first = f.readline().rstrip(b"\r\n")
    if not (first.startswith(b"{") and first.endswith(b",") and len(first) > 2):
        return None
    doc: dict[str, Any] = json.loads(first[:-1] + b"}")
    if doc.get("format") != FORMAT:
        raise ValueError(f"not a netmig snapshot (format {doc.get('format')!r}, expected {FORMAT})")
    convert: dict[str, Callable[[Any], Any]] = {"cells": cell, "predicted_only": PredictedOnly.from_dict,
                                                "objects": dict}
    lists: dict[str, list[Any]] = {}
    while True:
        head = f.readline().decode("utf-8").rstrip("\r\n")
        m = _SECTION.match(head)
        if m is None:
            raise ValueError(f"unexpected line {head[:60]!r} in a streamed snapshot")
        name, items, conv = m.group(1), [], convert[m.group(1)]
        while True:
            raw = f.readline()
            if not raw:
                raise ValueError(f"the list {name!r} is cut short (a truncated file)")
            line = raw.rstrip(b"\r\n")
            if line in (b"]", b"],", b"]}"):
                break
            if line:
                items.append(conv(json.loads(line[:-1] if line.endswith(b",") else line)))
        lists[name] = items
        if line == b"]}":
            return doc, lists


def _open(path: Path) -> IO[bytes]:
    fix = "take a new one with: aks-netmig verify snapshot --out FILE"
    try:
        if path.stat().st_size > MAX_BYTES:
            raise UsageError(f"snapshot {path} is too large (more than {MAX_BYTES} bytes)", fix)
        if path.is_file():
            return path.open("rb")
    except FileNotFoundError:
        raise UsageError(f"snapshot {path} does not exist", "take one with: aks-netmig verify snapshot --out FILE") \
            from None
    except OSError as e:
        raise UsageError(f"snapshot {path} cannot be read ({e.strerror or e.__class__.__name__})", fix) from None
    raise UsageError(f"snapshot {path} is not a regular file", fix)


def _read(path: str | Path, cell: Callable[[Any], Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """(header, lists) of a snapshot file, each cell through ``cell``; ``UsageError`` (one line) when missing
    or not a snapshot."""
    from netmig.inputs import read_text

    p = Path(path)
    try:
        with _open(p) as f:
            got = _streamed(f, cell)
        if got is not None:
            return got
        text = read_text(p, "snapshot", "take a new one with: aks-netmig verify snapshot --out FILE",
                         max_bytes=MAX_BYTES, missing_fix="take one with: aks-netmig verify snapshot --out FILE")
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            found = doc.get("format") if isinstance(doc, dict) else None
            raise ValueError(f"not a netmig snapshot (format {found!r}, expected {FORMAT})")
        lists = {k: list(doc.pop(k, None) or []) for k in ("predicted_only", "objects", "cells")}
        lists["predicted_only"] = [PredictedOnly.from_dict(x) for x in lists["predicted_only"]]
        lists["cells"] = [cell(x) for x in lists["cells"]]
        return doc, lists
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        reason = " ".join(str(e).split())[:160] or e.__class__.__name__
        raise UsageError(f"{path} is not a readable snapshot ({reason})", "take a new one with verify snapshot") \
            from None


def fold_cells(path: str | Path, visit: Callable[[Mapping[str, Any]], None]) -> dict[str, Any]:
    """Call ``visit`` with each cell's fields (a dict, in file order) without building or keeping the cells (a
    picture's tallies); returns the header fields (``engine``, ``stats``, ...); ``UsageError`` as ``load``."""
    return _read(path, visit)[0]


def cell_keys(path: str | Path) -> list[CellKey]:
    """The key of every cell of a snapshot file, in order, without building its cells (an after-snapshot's
    baseline); ``UsageError`` as ``load``."""
    return _read(path, _key)[1]["cells"]


def load(path: str | Path) -> Snapshot:
    """Read a snapshot file (see the module docstring); ``UsageError`` (one line) when missing or not a
    snapshot."""
    doc, lists = _read(path, _Interner().cell)
    try:
        return Snapshot(engine=str(doc["engine"]), cells=lists["cells"], objects=lists["objects"],
                        predicted_only=lists["predicted_only"], network=doc.get("network", ""),
                        taken_at=doc.get("taken_at", ""), run_id=doc.get("run_id", ""),
                        stats=dict(doc.get("stats") or {}), coverage=dict(doc.get("coverage") or {}))
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"{path} is not a readable snapshot ({e.__class__.__name__}: {e})",
                         "take a new one with verify snapshot") from None


def _meta(md: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: md[k] for k in ("name", "namespace", "labels", "generateName") if md.get(k)}
    owners = md.get("ownerReferences") or md.get("owner_references")
    if owners:
        out["ownerReferences"] = [{k: o.get(k) for k in ("kind", "name", "controller")} for o in owners]
    return out


def sanitize(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What a snapshot keeps of the cluster's objects (see the module docstring)."""
    out: list[dict[str, Any]] = []
    for o in objects:
        kind = o.get("kind")
        if kind not in _KINDS:
            continue
        md = _meta(o.get("metadata") or {})
        d: dict[str, Any] = {"apiVersion": o.get("apiVersion"), "kind": kind, "metadata": md}
        spec, status = o.get("spec") or {}, o.get("status") or {}
        if kind == "Pod":
            d["spec"] = {"nodeName": spec.get("nodeName"), "hostNetwork": bool(spec.get("hostNetwork")),
                         "containers": [{"name": c.get("name"), "ports": c.get("ports") or []}
                                        for c in spec.get("containers") or []]}
            d["status"] = {"phase": status.get("phase"), "podIP": status.get("podIP")}
        elif kind == "Node":
            d["status"] = {"addresses": [a for a in status.get("addresses") or [] if a.get("type") == "InternalIP"]}
        elif kind == "Service":
            d["spec"] = {k: spec.get(k) for k in ("type", "selector", "ports", "clusterIP", "externalTrafficPolicy")}
        elif kind == "NetworkPolicy":
            d["spec"] = spec
        out.append(d)
    return out


def _pod(cluster: Cluster, key: str | None) -> Pod | None:
    return cluster.pod_by_key.get(key) if key else None


def source_pod(cluster: Cluster, cell: Cell) -> Pod | None:
    """The probe pod as the engine sees it: the representative's namespace/labels/node with the probe's address."""
    rep = _pod(cluster, cell.src_pod)
    if rep is None:
        return None
    return Pod(rep.namespace, rep.name + "~probe", rep.labels, cell.src_ip or rep.ip, rep.node, False, ())


def _services(cluster: Cluster) -> dict[str, tuple[Service, list[Pod]]]:
    """Service identity -> (the Service, its backend pods), built once per cluster (a ``Cluster`` does not change
    once built; the index is kept on it, as the policy engine keeps its own)."""
    cache = cluster.__dict__.get("_netmig_services")
    if cache is None:
        cache = cluster.__dict__["_netmig_services"] = {
            f"{s.namespace}/service/{s.name}": (s, [p for p in cluster.pods if s.selects(p)])
            for s in cluster.services}
    return cache


def expect(cluster: Cluster, cell: Cell, engine: EngineProfile) -> tuple[Outcome | None, list[str], str]:
    """(predicted outcome, responsible policies, notes) for one cell under ``engine`` (see module docstring)."""
    src = source_pod(cluster, cell)
    if src is None:
        return None, [], "source not in the recorded objects"
    ev = Evaluator(cluster, engine)
    if cell.kind == "pod":
        dst = _pod(cluster, cell.dst_pod)
        if dst is None:
            return None, [], "destination not in the recorded objects"
        v = ev.allowed(src, dst, cell.port, cell.protocol)
        return predicted(v.allowed), list(v.responsible), f"egress {v.egress.note}, ingress {v.ingress.note}"
    found = _services(cluster).get(cell.dst)
    if found is None:
        return None, [], "service not in the recorded objects"
    svc, backends = found
    sp = next((p for p in svc.ports if p.port == cell.port and p.protocol == cell.protocol), None)
    if sp is None or not backends:
        return None, [], "no backends"
    outs: set[str] = set()
    pols: list[str] = []
    for b in backends:
        tp = sp.target_port if isinstance(sp.target_port, int) else next(
            (c.port for c in b.ports if c.name == sp.target_port and c.protocol == sp.protocol), None)
        if tp is None:
            outs.add("refused")
            continue
        v = ev.allowed(src, b, tp, sp.protocol)
        outs.add(predicted(v.allowed))
        pols.extend(v.responsible)
    if len(outs) != 1:
        return None, list(dict.fromkeys(pols)), "backends disagree: " + ",".join(sorted(outs))
    only: Outcome = outs.pop()  # type: ignore[assignment]
    return only, list(dict.fromkeys(pols)), "through the service's backends"


def predict_path(cluster: Cluster, service: str, backend_pod: str, port: int, protocol: str,
                 engine: EngineProfile) -> EngineVerdict | None:
    """The engine's verdict for an external client reaching ``backend_pod`` on ``port`` through ``service``
    (``ns/name``); None when the service or the pod is not in ``cluster``."""
    from netmig.verify.selection import EXTERNAL_CLIENT_IP

    dst = cluster.pod_by_key.get(backend_pod)
    svc = next((s for s in cluster.services if s.key == service), None)
    if dst is None or svc is None:
        return None
    v = Evaluator(cluster, engine).allowed(External(EXTERNAL_CLIENT_IP), dst, port, protocol, via=svc)
    return EngineVerdict(engine.label, v.allowed, v.ingress.note, list(v.responsible))


def predict_lb(cluster: Cluster, paths: Iterable[PredictedPath], engine: EngineProfile,
               others: Sequence[EngineProfile] = ()) -> list[PredictedOnly]:
    """Every LoadBalancer path's verdict under ``engine`` (``allowed``/``note``/``policies``) and under ``engine``
    plus each of ``others`` (``by_engine``, one entry per distinct engine label, ``engine`` first)."""
    profiles = list({e.label: e for e in (engine, *others)}.values())
    out = []
    for p in paths:
        verdicts = [predict_path(cluster, p.service, p.backend, p.port, p.protocol, e) for e in profiles]
        own = verdicts[0]
        if own is None:
            continue
        out.append(PredictedOnly(p.service, p.backend_identity, p.port, p.protocol, own.allowed, own.note,
                                 list(own.policies), p.backend, p.service_port, [v for v in verdicts if v]))
    return out
