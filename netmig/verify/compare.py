"""Before vs after and expected vs observed, every difference explained by the policy engine or marked unexplained.

Contract: pure; works offline on two ``Snapshot``s (each carries the objects it was taken with).
- ``compare(before, after)`` -> ``Comparison``: cells probed in both whose outcome changed. A change is
  *explained* when the engine predicts both observations (the before engine on the before objects predicts the
  before outcome, the after engine on the after objects the after outcome); the explanation names the responsible
  policies and the cause: each engine difference (``ip-block``, ``named-port``, ``own-node egress``,
  ``service-traffic-policy``, ``end-port``) that alone flips the verdict, and/or ``policy or workload change`` when
  the objects changed the verdict. Otherwise ``explanation`` is None (unexplained).
- ``expected_vs_observed(snapshot, engine)`` -> cells whose observation differs from the engine's prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from netmig.policy import Cluster, EngineProfile, from_objects, get_engine
from netmig.verify.outcomes import Outcome
from netmig.verify.selection import CellKey
from netmig.verify.snapshot import Cell, Snapshot, expect

KNOBS = (
    ("ipblock_matches_cluster_ips", "ip-block"),
    ("named_port_model", "named-port"),
    ("own_node_egress_allowed", "own-node egress"),
    ("lb_cluster_etp_bypasses_ingress", "service-traffic-policy"),
    ("endport_supported", "end-port"),
)


def engine_from_label(label: str) -> EngineProfile:
    """``npm`` / ``cilium 1.17`` (``EngineProfile.label``) back to the profile; ValueError when unknown."""
    name, _, version = label.partition(" ")
    return get_engine(name, version) if name == "cilium" and version else get_engine(name)


def engine_differences(a: EngineProfile, b: EngineProfile) -> list[str]:
    """Names of the engine knobs that differ between two profiles."""
    return [name for attr, name in KNOBS if getattr(a, attr) != getattr(b, attr)]


@dataclass
class Change:
    src: str
    dst: str
    port: int
    protocol: str
    before: str
    after: str
    explanation: str | None
    port_name: str | None = None
    kind: str = "pod"

    @property
    def key(self) -> CellKey:
        return (self.src, self.dst, self.port, self.protocol)

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "before": self.before, "after": self.after, "explanation": self.explanation,
                "port_name": self.port_name, "kind": self.kind}


@dataclass
class Mismatch:
    cell: Cell
    expected: Outcome
    policies: list[str]
    note: str

    def to_dict(self) -> dict[str, Any]:
        c = self.cell
        return {"src": c.src, "dst": c.dst, "port": c.port, "protocol": c.protocol, "expected": self.expected,
                "observed": c.outcome, "detail": c.detail, "policies": self.policies, "note": self.note}


@dataclass
class Comparison:
    before_engine: str
    after_engine: str
    changes: list[Change]
    probes: int
    only_before: list[CellKey] = field(default_factory=list)
    only_after: list[CellKey] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Change]:
        return [c for c in self.changes if c.explanation is None]

    def to_dict(self) -> dict[str, Any]:
        return {"changes": [c.to_dict() for c in self.changes], "probes": self.probes,
                "before_engine": self.before_engine, "after_engine": self.after_engine,
                "only_before": [list(k) for k in self.only_before], "only_after": [list(k) for k in self.only_after]}


def explain(cb: Cell, ca: Cell, cl_b: Cluster, cl_a: Cluster, ea: EngineProfile, eb: EngineProfile) -> str | None:
    """Why cell ``cb`` (before) became ``ca`` (after), or None when the engine does not predict both outcomes."""
    pb, pol_b, _ = expect(cl_b, cb, ea)
    pa, pol_a, _ = expect(cl_a, ca, eb)
    if pb is None or pa is None or pb != cb.outcome or pa != ca.outcome or pb == pa:
        return None
    causes = []
    for attr, name in KNOBS:
        if getattr(ea, attr) != getattr(eb, attr):
            alone, _, _ = expect(cl_b, cb, replace(ea, **{attr: getattr(eb, attr)}))
            if alone != pb:
                causes.append(name)
    moved, _, _ = expect(cl_a, ca, ea)
    if moved != pb:
        causes.append("policy or workload change")
    if not causes:
        causes.append("combined engine differences")
    pols = ", ".join(dict.fromkeys(pol_b + pol_a)) or "none (not isolated)"
    return f"{' + '.join(causes)}: {ea.label} predicts {pb}, {eb.label} predicts {pa}; policies: {pols}"


def compare(before: Snapshot, after: Snapshot) -> Comparison:
    """See the module docstring."""
    ea, eb = engine_from_label(before.engine), engine_from_label(after.engine)
    cl_b, cl_a = from_objects(before.objects), from_objects(after.objects)
    bk, ak = before.by_key(), after.by_key()
    common = sorted(set(bk) & set(ak))
    changes = []
    for k in common:
        cb, ca = bk[k], ak[k]
        if cb.outcome == ca.outcome:
            continue
        changes.append(Change(*k, cb.outcome, ca.outcome, explain(cb, ca, cl_b, cl_a, ea, eb), cb.port_name, cb.kind))
    return Comparison(ea.label, eb.label, changes, len(common), sorted(set(bk) - set(ak)), sorted(set(ak) - set(bk)))


def expected_vs_observed(snap: Snapshot, engine: str | EngineProfile | None = None) -> list[Mismatch]:
    """Cells whose observed outcome differs from ``engine``'s prediction (default: the snapshot's engine)."""
    prof = engine if isinstance(engine, EngineProfile) else engine_from_label(engine or snap.engine)
    cluster = from_objects(snap.objects)
    out = []
    for c in snap.cells:
        exp, pols, note = expect(cluster, c, prof)
        if exp is not None and exp != c.outcome:
            out.append(Mismatch(c, exp, pols, note))
    return out
