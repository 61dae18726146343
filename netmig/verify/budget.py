"""Fitting a probe plan into a time budget: cost model, risk-first batching, stratified sampling, coverage.

Contract: pure (no I/O, no clock; callers pass measured durations).
- ``CostModel`` estimates a probe pod's wall time as ``pod_s + fast_s * groups(fast) + slow_s * groups(slow)``
  (``slow``: probes the source engine predicts to time out; a pod runs its connects ``parallel`` at a time, slow
  ones after the fast ones, so ``groups(n) = ceil(n / parallel)`` and a group lasts as long as its slowest
  connect) and a set of pods' wall time as their sum over ``concurrency``. A ``cautious`` model counts a probe as
  slow when the source *or* the target engine predicts a timeout (``PlannedProbe.slow_after``): what a budget
  spends on a baseline must also pay for re-probing it after the migration. ``CostModel.fit(samples)`` refits
  it from measured pods ``(fast, slow, seconds)`` (probe counts, by the source engine's prediction); a parameter
  the samples cannot tell (no slow probe measured, one pod size only) keeps the prior's value.
- ``mandatory_batches(plan)``: the pods for every ``predicted`` and ``baseline`` probe (never dropped by a budget).
  In every pod the fast probes come first, then the slow ones (so timeouts share parallel groups).
- ``optional_batches(plan)``: the other probes as pods, in priority order: ``path`` probes first, then
  ``sampled`` ones; each pod holds up to ``per_pod`` probes of one source spread round-robin over destination
  namespaces, and the sources take turns by (namespace, node) stratum, so any prefix of the list is a stratified
  sample. A budget keeps a prefix (``fit_prefix``); nothing else is dropped.
- ``coverage(plan, probed_ids, ...)`` is the snapshot's machine-readable coverage (the issue's JSON shape), counted
  over cell keys: a cell is probed when at least one of its probes ran.
- ``coverage_text(cov)``: the same in words, e.g. "all 214 predicted changes probed; 3,120 of 12,400 stable
  cells probed (25 %, stratified)".
"""

from __future__ import annotations

import statistics
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from netmig.verify.selection import Plan, PlannedProbe, SourcePlan

MANDATORY = ("predicted", "baseline")
DEFAULT_BUDGET_S = 600.0


@dataclass(frozen=True)
class CostModel:
    """Seconds per probe pod (start to log read), per group of fast probes, per group of slow probes; pods run
    ``concurrency`` at a time, each ``parallel`` connects at a time (see the module docstring)."""

    pod_s: float
    fast_s: float
    slow_s: float
    concurrency: int
    parallel: int = 1
    cautious: bool = False

    def groups(self, n: int) -> int:
        """How many parallel groups ``n`` connects take."""
        return -(-n // max(1, self.parallel))

    def pod(self, probes: Sequence[PlannedProbe]) -> float:
        slow = sum(1 for p in probes if p.slow or (self.cautious and p.slow_after))
        return self.pod_s + self.fast_s * self.groups(len(probes) - slow) + self.slow_s * self.groups(slow)

    def wall(self, batches: Iterable[SourcePlan]) -> float:
        """Estimated wall time of running ``batches`` (one pod each)."""
        costs = [self.pod(b.probes) for b in batches]
        if not costs:
            return 0.0
        return max(sum(costs) / max(1, self.concurrency), max(costs))

    @classmethod
    def prior(cls, timeout_s: int, concurrency: int, parallel: int = 1, cautious: bool = False) -> CostModel:
        """Before any measurement: a real cluster's pace (a few seconds per pod, a timeout lasts ``timeout_s``)."""
        return cls(5.0, 0.05, float(timeout_s), concurrency, parallel, cautious)

    def fit(self, samples: Sequence[tuple[int, int, float]]) -> CostModel:
        """This model refitted from measured pods ``(fast probes, slow probes, seconds)`` (see module docstring)."""
        if not samples:
            return self
        samples = [(self.groups(f), self.groups(s), t) for f, s, t in samples]
        pod_s, fast_s, slow_s = self.pod_s, self.fast_s, self.slow_s
        quick = [(f, t) for f, s, t in samples if s == 0]
        if len(quick) >= 2 and len({f for f, _ in quick}) >= 2:
            slope, intercept = statistics.linear_regression([float(f) for f, _ in quick], [t for _, t in quick])
            fast_s = max(slope, 0.0)
            pod_s = max(intercept, 0.0)
        elif quick:
            pod_s = max(statistics.fmean(t - fast_s * f for f, t in quick), 0.0)
        slowed = [(f, s, t) for f, s, t in samples if s > 0]
        if slowed:
            slow_s = max(statistics.fmean((t - pod_s - fast_s * f) / s for f, s, t in slowed), 0.0)
            if not quick:
                pod_s = max(statistics.fmean(t - fast_s * f - slow_s * s for f, s, t in slowed), 0.0)
        return CostModel(pod_s, fast_s, slow_s, self.concurrency, self.parallel, self.cautious)


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``90s``, ``10m``, ``1h``, ``1h30m`` or plain seconds -> seconds (> 0); ``ValueError`` otherwise."""
    import re

    t = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", t):
        value = float(t)
    else:
        parts = re.findall(r"(\d+(?:\.\d+)?)([smh])", t)
        if not parts or "".join(a + b for a, b in parts) != t:
            raise ValueError(f"{text!r} is not a duration like 10m, 90s or 1h30m")
        value = sum(float(a) * _UNITS[b] for a, b in parts)
    if value <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return value


def _pod(sp: SourcePlan, probes: list[PlannedProbe]) -> SourcePlan:
    """One pod of ``sp``'s source: its fast probes first, then the slow ones (stable)."""
    return SourcePlan(sp.source, sorted(probes, key=lambda p: p.slow))


def _split(sp: SourcePlan, per_pod: int, max_slow: int) -> list[SourcePlan]:
    """``sp``'s probes as pods of at most ``per_pod`` probes and ``max_slow`` slow ones."""
    out: list[SourcePlan] = []
    cur: list[PlannedProbe] = []
    slow = 0
    for p in sp.probes:
        if cur and (len(cur) >= per_pod or (p.slow and slow >= max_slow)):
            out.append(_pod(sp, cur))
            cur, slow = [], 0
        cur.append(p)
        slow += p.slow
    if cur:
        out.append(_pod(sp, cur))
    return out


def _batches(plan: Plan, keep: Callable[[PlannedProbe], bool], per_pod: int, max_slow: int) -> list[SourcePlan]:
    """Pods for the probes ``keep`` accepts, one source's probes together (never a pod for a source without one)."""
    out: list[SourcePlan] = []
    for sp in plan.sources:
        picked = [p for p in sp.probes if keep(p)]
        if picked:
            out += _split(SourcePlan(sp.source, picked), per_pod, max_slow)
    return out


def mandatory_batches(plan: Plan, per_pod: int = 500, max_slow: int = 100) -> list[SourcePlan]:
    """Pods for every predicted and baseline probe."""
    return _batches(plan, lambda p: p.tier in MANDATORY, per_pod, max_slow)


def all_batches(plan: Plan, skip: Iterable[str] = (), per_pod: int = 500, max_slow: int = 100) -> list[SourcePlan]:
    """Pods for every probe of ``plan`` except the ids in ``skip`` (no budget, or everything left fits it)."""
    done = set(skip)
    return _batches(plan, lambda p: p.id not in done, per_pod, max_slow)


T = TypeVar("T")


def _round_robin(groups: Iterable[deque[T]]) -> list[T]:
    """One item from each group in turn until all are empty."""
    out: list[T] = []
    queues = deque(q for q in groups if q)
    while queues:
        q = queues.popleft()
        out.append(q.popleft())
        if q:
            queues.append(q)
    return out


def _spread(probes: Sequence[PlannedProbe]) -> list[PlannedProbe]:
    """``probes`` reordered round-robin over destination namespaces (the identity's first segment)."""
    groups: dict[str, deque[PlannedProbe]] = defaultdict(deque)
    for p in probes:
        groups[p.dst.split("/", 1)[0]].append(p)
    return _round_robin(groups.values())


def optional_batches(plan: Plan, per_pod: int = 200, max_slow: int = 50,
                     keep: Callable[[PlannedProbe], bool] | None = None) -> list[SourcePlan]:
    """The non-mandatory probes (those ``keep`` accepts, default all) as pods in priority order (see the module
    docstring): one pod per (namespace, node) stratum in turn, so a source's later pods come after every
    stratum's first."""
    out: list[SourcePlan] = []
    for tier in ("path", "sampled"):
        strata: dict[tuple[str, str], deque[SourcePlan]] = defaultdict(deque)
        for sp in plan.sources:
            picked = _spread([p for p in sp.probes if p.tier == tier and (keep is None or keep(p))])
            for b in _split(SourcePlan(sp.source, picked), per_pod, max_slow):
                strata[(sp.source.namespace, sp.source.node or "")].append(b)
        out += _round_robin(strata[k] for k in sorted(strata))
    return out


def fit_prefix(batches: Sequence[SourcePlan], model: CostModel, seconds: float) -> int:
    """How many of ``batches`` (from the front) fit in ``seconds`` under ``model``."""
    total = 0.0
    for i, b in enumerate(batches):
        total += model.pod(b.probes)
        if max(total / max(1, model.concurrency), model.pod(b.probes)) > seconds:
            return i
    return len(batches)


_PRED, _PATH, _STABLE = 1, 2, 4


def _count(plan: Plan, ran: set[str]) -> dict[str, int]:
    """Cells (keys) per kind and how many of them some probe in ``ran`` covered, one source identity at a time:
    a key is predicted when any of its probes is, a path when any is (and it is not predicted), stable otherwise."""
    out = dict.fromkeys(("predicted", "paths", "stable", "done_predicted", "done_paths", "done_stable"), 0)
    for group in plan.by_source_identity():
        kinds: dict[tuple[str, int, str], int] = {}
        done: set[tuple[str, int, str]] = set()
        for p in group:
            k = (p.dst, p.port, p.protocol)
            kinds[k] = kinds.get(k, 0) | (_PRED if p.tier == "predicted" else _PATH if p.tier == "path" else _STABLE)
            if p.id in ran:
                done.add(k)
        for k, bits in kinds.items():
            name = "predicted" if bits & _PRED else "paths" if bits & _PATH else "stable"
            out[name] += 1
            out["done_" + name] += k in done
    return out


def coverage(plan: Plan, probed_ids: Iterable[str], *, probe_pods: int, probes: int, budget_s: float | None,
             elapsed_s: float) -> dict[str, Any]:
    """The coverage record (see the module docstring). ``probed_ids``: the ids of the probes that ran."""
    n = _count(plan, set(probed_ids))
    stable, done_stable = n["stable"] + n["paths"], n["done_stable"] + n["done_paths"]
    return {
        "predicted_changes": {"cells": n["predicted"], "probed": n["done_predicted"],
                              "unprobeable_host_network": plan.predicted_unprobeable},
        "stable": {"cells": stable, "probed": done_stable,
                   "method": "stratified" if done_stable < stable else "all",
                   "paths": {"cells": n["paths"], "probed": n["done_paths"]}},
        "probe_pods": probe_pods, "probes": probes,
        "budget_s": None if budget_s is None else round(budget_s, 1), "elapsed_s": round(elapsed_s, 1),
        "target": plan.target,
    }


def coverage_text(cov: Mapping[str, Any]) -> str:
    """The coverage in words (see the module docstring)."""
    pc, st = cov["predicted_changes"], cov["stable"]
    if not cov.get("target"):
        head = "no target engine given, so no predicted changes"
    elif pc["probed"] == pc["cells"]:
        head = f"all {pc['cells']:,} predicted changes probed"
    else:
        head = f"{pc['probed']:,} of {pc['cells']:,} predicted changes probed ({pc['cells'] - pc['probed']:,} NOT)"
    if pc.get("unprobeable_host_network"):
        head += f" ({pc['unprobeable_host_network']:,} more from hostNetwork sources, predicted only)"
    pct = 100 * st["probed"] / st["cells"] if st["cells"] else 100.0
    how = "stratified" if st["method"] == "stratified" else "all"
    paths = st.get("paths") or {}
    tail = (f"; {paths['probed']:,} of {paths['cells']:,} policy-named/Service paths among them"
            if paths.get("cells") else "")
    budget = cov.get("budget_s")
    when = (f"; {cov['probes']:,} probes in {cov['probe_pods']:,} probe pods, {cov['elapsed_s']:.0f} s of a "
            f"{budget:.0f} s budget" if budget is not None else
            f"; {cov['probes']:,} probes in {cov['probe_pods']:,} probe pods, {cov['elapsed_s']:.0f} s (no budget)")
    return (f"{head}; {st['probed']:,} of {st['cells']:,} stable cells probed ({pct:.0f} %, {how}){tail}{when}")
