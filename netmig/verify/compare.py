"""Before vs after and expected vs observed, every difference explained by the policy engine or marked unexplained.

Contract: pure; works offline on two ``Snapshot``s (each carries the objects it was taken with).
``compare(before, after)`` -> ``Comparison`` with four lists, none of which ever drops an observation:

- ``changes``: *observed* cells probed in both whose **set of outcomes** changed. A cell key holds one
  observation, or several for an aggregated cell (a workload whose pods fall into several policy classes that no
  stable label tells apart, see ``netmig.verify.selection``). The single ``before``/``after`` values of the
  ``--json`` contract are, for an aggregated cell: ``before`` = an outcome seen only before (else any outcome seen
  before), ``after`` = an outcome seen only after (else any seen after), each the first in the order open,
  refused, timeout, error; so ``before != after`` always, and for a one-observation cell they are simply its
  outcomes. ``before_outcomes``/``after_outcomes`` list every distinct outcome of each side.
  A change is *explained* when the engine predicts every observation (the before engine on the before objects
  each before outcome, the after engine on the after objects each after outcome); the explanation names the
  responsible policies and the cause: each engine difference (``ip-block``, ``named-port``, ``own-node egress``,
  ``service-traffic-policy``, ``end-port``) that alone flips a before prediction, and/or ``policy or workload
  change`` when the after objects change the before engine's predictions. Otherwise ``explanation`` is None.
- ``only_before`` / ``only_after``: cell keys probed on one side only (a workload gone or new, a qualified identity
  whose distinguishing label disappeared), with their outcomes and the reason the other side did not probe them.
- ``predicted_changes``: LoadBalancer paths (predicted only, never probed; not in ``changes``) whose set of
  verdicts for an external client changed (before engine + objects vs after engine + objects), each explained
  the same way, or present on one side only (``absent``).
- ``probes``: the number of cell keys probed in both. ``changed`` is True when any of the four lists is non-empty
  (``aks-netmig verify compare`` then exits 1).

``expected_vs_observed(snapshot, engine)`` -> cells whose observation differs from the engine's prediction (under
the snapshot's own engine the expectation each cell recorded when it was probed is used, so only the differing
cells are evaluated again).

Explaining reuses the expectation each cell recorded under its snapshot's engine (same engine, same objects)
instead of evaluating it again (a cell that recorded none is evaluated). Memory: both snapshots' cells are walked
in key order (a merge of two sorted views), never indexed by key as a whole; the work is proportional to the
cells, the extra memory to the changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from itertools import groupby
from typing import Any

from netmig.policy import Cluster, EngineProfile, from_objects, get_engine
from netmig.verify.outcomes import OUTCOMES, Outcome
from netmig.verify.selection import CellKey
from netmig.verify.snapshot import Cell, PredictedOnly, Snapshot, expect, predict_path

KNOBS = (
    ("ipblock_matches_cluster_ips", "ip-block"),
    ("named_port_model", "named-port"),
    ("own_node_egress_allowed", "own-node egress"),
    ("lb_cluster_etp_bypasses_ingress", "service-traffic-policy"),
    ("endport_supported", "end-port"),
)
VERDICTS = ("allowed", "denied", "absent")
PathKey = tuple[str, str, int, str]  # (service, backend identity, target port, protocol)


def engine_from_label(label: str) -> EngineProfile:
    """``npm`` / ``cilium 1.17`` (``EngineProfile.label``) back to the profile; ValueError when unknown."""
    name, _, version = label.partition(" ")
    return get_engine(name, version) if name == "cilium" and version else get_engine(name)


def engine_differences(a: EngineProfile, b: EngineProfile) -> list[str]:
    """Names of the engine knobs that differ between two profiles."""
    return [name for attr, name in KNOBS if getattr(a, attr) != getattr(b, attr)]


def ordered(values: Iterable[str], order: Sequence[str] = OUTCOMES) -> list[str]:
    """The distinct ``values`` in ``order`` (values not in ``order`` last, sorted)."""
    distinct = set(values)
    return [v for v in order if v in distinct] + sorted(distinct - set(order))


def summarize(before: Iterable[str], after: Iterable[str], order: Sequence[str] = OUTCOMES) -> tuple[str, str]:
    """The single (before, after) values of two different, non-empty sets (see the module docstring)."""
    b, a = set(before), set(after)
    return ordered(b - a or b, order)[0], ordered(a - b or a, order)[0]


def _cell_text(key: CellKey) -> str:
    return f"{key[0]} -> {key[1]} {key[2]}/{key[3]}"


@dataclass
class Change:
    """An observed cell whose set of outcomes changed (see the module docstring for ``before``/``after``)."""

    src: str
    dst: str
    port: int
    protocol: str
    before: str
    after: str
    explanation: str | None
    port_name: str | None = None
    kind: str = "pod"
    before_outcomes: list[str] = field(default_factory=list)
    after_outcomes: list[str] = field(default_factory=list)
    observations: tuple[int, int] = (1, 1)

    @property
    def key(self) -> CellKey:
        return (self.src, self.dst, self.port, self.protocol)

    @property
    def aggregated(self) -> bool:
        return max(self.observations) > 1

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "before": self.before, "after": self.after, "explanation": self.explanation,
                "port_name": self.port_name, "kind": self.kind, "before_outcomes": list(self.before_outcomes),
                "after_outcomes": list(self.after_outcomes),
                "observations": {"before": self.observations[0], "after": self.observations[1]}}


@dataclass
class OneSided:
    """A cell key probed in one snapshot only, with its outcomes and why the other snapshot has none."""

    src: str
    dst: str
    port: int
    protocol: str
    outcomes: list[str]
    reason: str

    @property
    def key(self) -> CellKey:
        return (self.src, self.dst, self.port, self.protocol)

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "outcomes": list(self.outcomes), "reason": self.reason}


@dataclass
class PredictedChange:
    """A LoadBalancer path (predicted only) whose verdicts changed: ``before``/``after`` are ``allowed``,
    ``denied`` or ``absent`` (summarized like ``Change`` when a key holds several backend classes)."""

    service: str
    backend: str
    port: int
    protocol: str
    before: str
    after: str
    explanation: str | None
    service_port: int = 0
    before_verdicts: list[str] = field(default_factory=list)
    after_verdicts: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "service_port": self.service_port, "backend": self.backend,
                "port": self.port, "protocol": self.protocol, "before": self.before, "after": self.after,
                "explanation": self.explanation, "before_verdicts": list(self.before_verdicts),
                "after_verdicts": list(self.after_verdicts), "predicted_only": True}


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
    only_before: list[OneSided] = field(default_factory=list)
    only_after: list[OneSided] = field(default_factory=list)
    predicted_changes: list[PredictedChange] = field(default_factory=list)

    @property
    def unexplained(self) -> list[Change]:
        return [c for c in self.changes if c.explanation is None]

    @property
    def changed(self) -> bool:
        """Anything to report: observed changes, one-sided cells or predicted-only changes."""
        return bool(self.changes or self.only_before or self.only_after or self.predicted_changes)

    def to_dict(self) -> dict[str, Any]:
        """The ``compare --json`` document: ``changes`` (observed) and ``probes`` as in the issue's contract, plus
        ``only_before``/``only_after``/``predicted_only_changes`` and the engines."""
        return {"changes": [c.to_dict() for c in self.changes], "probes": self.probes,
                "only_before": [o.to_dict() for o in self.only_before],
                "only_after": [o.to_dict() for o in self.only_after],
                "predicted_only_changes": [p.to_dict() for p in self.predicted_changes],
                "before_engine": self.before_engine, "after_engine": self.after_engine}


@dataclass(frozen=True)
class Sides:
    """What explaining needs: the objects and engine of each snapshot."""

    before: Cluster
    after: Cluster
    before_engine: EngineProfile
    after_engine: EngineProfile
    recorded: tuple[bool, bool] = (False, False)  # each side's cells recorded that side's engine's expectation

    def expected(self, cells: Sequence[Cell], side: int) -> list[tuple[Outcome | None, list[str]]]:
        """(predicted outcome, responsible policies) of each cell under its own side's engine and objects: what
        the cell recorded when it was probed (the same engine and objects) when it did, else evaluated."""
        cluster, engine = (self.before, self.before_engine) if side == 0 else (self.after, self.after_engine)
        return [(c.expected, c.policies) if self.recorded[side] and c.expected is not None
                else expect(cluster, c, engine)[:2] for c in cells]

    def knob_flips(self) -> list[tuple[str, EngineProfile]]:
        """(cause name, the before engine with that one knob set as in the after engine) per differing knob."""
        ea, eb = self.before_engine, self.after_engine
        return [(name, replace(ea, **{attr: getattr(eb, attr)})) for attr, name in KNOBS
                if getattr(ea, attr) != getattr(eb, attr)]


def _causes(before_flips: Callable[[EngineProfile], bool], moved: bool, sides: Sides) -> list[str]:
    causes = [name for name, flipped in sides.knob_flips() if before_flips(flipped)]
    if moved:
        causes.append("policy or workload change")
    return causes or ["combined engine differences"]


def explain(bs: Sequence[Cell], as_: Sequence[Cell], sides: Sides) -> str | None:
    """Why the cells ``bs`` (before) became ``as_`` (after), or None when the engine does not predict every
    observation (see the module docstring)."""
    ea, eb = sides.before_engine, sides.after_engine
    pb, pa = sides.expected(bs, 0), sides.expected(as_, 1)
    if any(p[0] != c.outcome for p, c in zip(pb, bs, strict=True)) or \
            any(p[0] != c.outcome for p, c in zip(pa, as_, strict=True)):
        return None
    pred_b: set[str] = {c.outcome for c in bs}  # = the predictions, checked just above
    pred_a: set[str] = {c.outcome for c in as_}
    if pred_b == pred_a:
        return None

    def flips(engine: EngineProfile) -> bool:
        return any(expect(sides.before, c, engine)[0] != p[0] for c, p in zip(bs, pb, strict=True))

    moved = {expect(sides.after, c, ea)[0] for c in as_} != pred_b
    pols = ", ".join(dict.fromkeys(pol for p in pb + pa for pol in p[1])) or "none (not isolated)"
    return (f"{' + '.join(_causes(flips, moved, sides))}: {ea.label} predicts {'+'.join(ordered(pred_b))}, "
            f"{eb.label} predicts {'+'.join(ordered(pred_a))}; policies: {pols}")


def _change(k: CellKey, bs: list[Cell], as_: list[Cell], sides: Sides) -> Change | None:
    ob, oa = {c.outcome for c in bs}, {c.outcome for c in as_}
    if ob == oa:
        return None
    before, after = summarize(ob, oa)
    return Change(*k, before, after, explain(bs, as_, sides), bs[0].port_name, bs[0].kind, ordered(ob), ordered(oa),
                  (len(bs), len(as_)))


def _by_key(cells: Iterable[Cell]) -> Iterator[tuple[CellKey, list[Cell]]]:
    """(key, its cells in recording order) in key order."""
    for k, grp in groupby(sorted(cells, key=lambda c: c.key), key=lambda c: c.key):
        yield k, list(grp)


_END: tuple[CellKey, list[Cell]] | None = None


def _merge(before: Snapshot, after: Snapshot, sides: Sides) -> tuple[list[Change], int, list[OneSided],
                                                                       list[OneSided]]:
    """Changes, the number of keys probed on both sides, and the keys probed before / after only."""
    changes: list[Change] = []
    only_b: list[OneSided] = []
    only_a: list[OneSided] = []
    both = 0
    bi, ai = _by_key(before.cells), _by_key(after.cells)
    b, a = next(bi, _END), next(ai, _END)
    while b is not None or a is not None:
        if a is None or (b is not None and b[0] < a[0]):
            assert b is not None
            only_b.append(OneSided(*b[0], ordered(c.outcome for c in b[1]), _reason(b[0], after, "after")))
            b = next(bi, _END)
        elif b is None or a[0] < b[0]:
            only_a.append(OneSided(*a[0], ordered(c.outcome for c in a[1]), _reason(a[0], before, "before")))
            a = next(ai, _END)
        else:
            both += 1
            got = _change(b[0], b[1], a[1], sides)
            if got is not None:
                changes.append(got)
            b, a = next(bi, _END), next(ai, _END)
    return changes, both, only_b, only_a


def _reason(key: CellKey, other: Snapshot, side: str) -> str:
    text = _cell_text(key)
    note = next((s for s in other.stats.get("skipped") or [] if text in s), None)
    if note is not None:
        return f"not probed {side}: {note.rpartition(': ')[2]}"
    return f"not probed {side} (no such source/destination identity, or not in that snapshot's plan)"


def _verdict(p: PredictedOnly) -> str:
    return "allowed" if p.allowed else "denied"


def explain_predicted(bs: Sequence[PredictedOnly], as_: Sequence[PredictedOnly], sides: Sides) -> str | None:
    """Why the verdicts of one LoadBalancer path changed; None when the before paths carry no backend pod to
    re-evaluate (snapshots from an older format)."""
    if not bs or not as_:
        return f"the path exists only {'after' if not bs else 'before'} (service or backend added or removed)"
    if not all(p.backend_pod for p in (*bs, *as_)):
        return None
    ea, eb = sides.before_engine, sides.after_engine

    def under(cluster: Cluster, p: PredictedOnly, engine: EngineProfile) -> bool | None:
        v = predict_path(cluster, p.service, p.backend_pod, p.port, p.protocol, engine)
        return None if v is None else v.allowed

    def flips(engine: EngineProfile) -> bool:
        return any(under(sides.before, p, engine) != p.allowed for p in bs)

    moved = {under(sides.after, p, ea) for p in as_} != {p.allowed for p in bs}
    pols = ", ".join(dict.fromkeys(pol for p in (*bs, *as_) for pol in p.policies)) or "none (not isolated)"
    vb, va = ordered((_verdict(p) for p in bs), VERDICTS), ordered((_verdict(p) for p in as_), VERDICTS)
    return (f"{' + '.join(_causes(flips, moved, sides))}: an external client through the service is "
            f"{'+'.join(vb)} under {ea.label}, {'+'.join(va)} under {eb.label}; policies: {pols}")


def _predicted_changes(before: Snapshot, after: Snapshot, sides: Sides) -> list[PredictedChange]:
    bk, ak = before.predicted_by_key(), after.predicted_by_key()
    out = []
    for k in sorted(set(bk) | set(ak)):
        bs, as_ = bk.get(k, []), ak.get(k, [])
        vb = {_verdict(p) for p in bs} or {"absent"}
        va = {_verdict(p) for p in as_} or {"absent"}
        if vb == va:
            continue
        b, a = summarize(vb, va, VERDICTS)
        sp = (bs or as_)[0].service_port
        out.append(PredictedChange(*k, b, a, explain_predicted(bs, as_, sides), sp, ordered(vb, VERDICTS),
                                   ordered(va, VERDICTS)))
    return out


def compare(before: Snapshot, after: Snapshot) -> Comparison:
    """See the module docstring."""
    ea, eb = engine_from_label(before.engine), engine_from_label(after.engine)
    sides = Sides(from_objects(before.objects), from_objects(after.objects), ea, eb,
                  (before.engine == ea.label, after.engine == eb.label))
    changes, both, only_b, only_a = _merge(before, after, sides)
    return Comparison(ea.label, eb.label, changes, both, only_b, only_a, _predicted_changes(before, after, sides))


def expected_vs_observed(snap: Snapshot, engine: str | EngineProfile | None = None) -> list[Mismatch]:
    """Cells whose observed outcome differs from ``engine``'s prediction (default: the snapshot's engine)."""
    prof = engine if isinstance(engine, EngineProfile) else engine_from_label(engine or snap.engine)
    own = prof.label == snap.engine  # each cell recorded this engine's expectation when it was probed
    cluster = from_objects(snap.objects)
    out = []
    for c in snap.cells:
        if own and c.expected == c.outcome:
            continue
        exp, pols, note = expect(cluster, c, prof)
        if exp is not None and exp != c.outcome:
            out.append(Mismatch(c, exp, pols, note))
    return out
