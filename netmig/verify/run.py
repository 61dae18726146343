"""Taking a snapshot of a live cluster: inventory -> plan -> probe pods -> one retry for disagreeing cells.

Contract: ``take_snapshot(gateway, engine)`` reads the inventory, plans probes with ``selection.plan`` (classes fine
enough for ``engine`` and every engine in ``also_engines``), runs them in one ``ProbeRun`` (always cleaned up),
retries once only the cells whose outcome disagrees with ``engine``'s prediction (as the upstream e2e suite does),
and returns a ``Snapshot`` whose objects are ``sanitize``d: one cell per probe (aggregated cells keep every probe),
LoadBalancer paths predicted under ``engine`` and every engine of ``also_engines``.
``cluster_engine(gateway)`` reads the engine from the nodes' ``kubernetes.azure.com/network-policy`` label
(``CheckFailed`` when the nodes disagree: mid-migration).
"""

from __future__ import annotations

import datetime as _dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from netmig.errors import CheckFailed, UsageError
from netmig.kube.gateway import KubeGateway
from netmig.kube.probes import (
    DEFAULT_IMAGE,
    DEFAULT_PARALLEL,
    BatchResult,
    ProbeRequest,
    ProbeRun,
    SourceSpec,
    node_free_pods,
    raw_inventory,
)
from netmig.model.probes import MAX_PARALLEL
from netmig.policy import Cluster, EngineProfile, from_objects, get_engine
from netmig.verify.budget import CostModel, all_batches, coverage, fit_prefix, mandatory_batches, optional_batches
from netmig.verify.outcomes import Observation
from netmig.verify.selection import CellKey, PlannedProbe, SourcePlan, live_objects, plan_objects
from netmig.verify.snapshot import Cell, Snapshot, expect, predict_lb, sanitize, write_seconds_per_cell

ENGINE_LABEL = "kubernetes.azure.com/network-policy"
_LABEL_TO_ENGINE = {"azure": "npm", "npm": "npm", "cilium": "cilium", "calico": "calico"}


def engine_name(label_value: str) -> str:
    """Node label / ARM ``networkPolicy`` value -> policy-engine profile name; UsageError for ``none``."""
    name = _LABEL_TO_ENGINE.get(label_value)
    if name is None:
        raise UsageError(f"the cluster has no network-policy engine ({label_value!r})",
                         "pass --engine spec|npm|cilium|calico to choose the expectation")
    return name


def cluster_engine(gw: KubeGateway) -> str:
    nodes = [o for o in raw_inventory(gw) if o["kind"] == "Node"]
    values = Counter((n["metadata"].get("labels") or {}).get(ENGINE_LABEL, "none") for n in nodes)
    if len(values) > 1:
        raise CheckFailed(f"nodes run different policy engines ({dict(values)}): a migration is in progress",
                          "wait for it to finish, or pass --engine")
    if not values:
        raise CheckFailed("the cluster has no nodes")
    return engine_name(next(iter(values)))


def _spec(sp: SourcePlan) -> SourceSpec:
    s = sp.source
    return SourceSpec(s.pod, s.namespace, dict(s.labels), s.node)


def _requests(probes: Iterable[PlannedProbe]) -> list[ProbeRequest]:
    return [ProbeRequest(p.id, p.host, p.port, p.protocol) for p in probes]


def _observation(res: BatchResult, probe_id: str) -> Observation:
    got = res.observations.get(probe_id)
    if got is not None:
        return got
    return Observation("error", None, (res.error or "no result")[:200])


class _Lists:
    """One ``policies`` list per distinct list across a snapshot's cells (hundreds of thousands of cells name a
    few policy combinations)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, ...], list[str]] = {}

    def __call__(self, values: list[str]) -> list[str]:
        return self.seen.setdefault(tuple(values), values)


def _expect(c: Cell, cluster: Cluster, profile: EngineProfile, lists: _Lists) -> None:
    expected, pols, _ = expect(cluster, c, profile)
    c.expected, c.policies = expected, lists(pols)


def _record(sources: Sequence[SourcePlan], results: Sequence[BatchResult], cluster: Cluster,
            profile: EngineProfile, lists: _Lists) -> tuple[list[Cell], dict[str, Cell],
                                                            list[tuple[SourceSpec, list[ProbeRequest]]]]:
    """A Cell for every planned probe, in order (a probe that reported nothing is an ``error`` cell), those whose
    outcome disagrees with ``profile``'s prediction by probe id, and their retry batches (per source)."""
    cells: list[Cell] = []
    unmet: dict[str, Cell] = {}
    retry: list[tuple[SourceSpec, list[ProbeRequest]]] = []
    for sp, res in zip(sources, results, strict=True):
        again = []
        for pr in sp.probes:
            ob = _observation(res, pr.id)
            c = Cell(pr.src, pr.dst, pr.port, pr.protocol, pr.kind, ob.outcome, ob.detail, None, [],
                     pr.port_name, pr.src_pod, res.pod_ip, pr.dst_pod, pr.host)
            _expect(c, cluster, profile, lists)
            cells.append(c)
            if not c.met:
                unmet[pr.id] = c
                again.append(pr)
        if again:
            retry.append((_spec(sp), _requests(again)))
    return cells, unmet, retry


def _apply_retry(cells: Mapping[str, Cell], results: Sequence[BatchResult], cluster: Cluster,
                 profile: EngineProfile, lists: _Lists) -> int:
    """Replace each retried cell's observation by the retry's (attempts 2); returns how many were retried."""
    n = 0
    for res in results:
        for pid, ob in res.observations.items():
            c = cells.get(pid)
            if c is None:
                continue
            c.outcome, c.detail, c.attempts = ob.outcome, ob.detail, 2
            c.src_ip = res.pod_ip or c.src_ip
            _expect(c, cluster, profile, lists)
            n += 1
    return n


@dataclass(frozen=True)
class ProbeStatus:
    """Where a snapshot's probing stands (for progress displays): cumulative over every round."""

    pods_done: int
    pods_total: int
    probes_done: int
    probes_total: int
    elapsed_s: float
    budget_s: float | None
    phase: str  # predicted | baseline (an after-snapshot's mandatory cells) | sampled | all

    @property
    def eta_s(self) -> float | None:
        """Seconds until the planned pods are done, at the pace so far (None before the first pod)."""
        if not self.pods_done:
            return None
        return self.elapsed_s / self.pods_done * (self.pods_total - self.pods_done)


class BudgetTooSmall(UsageError):
    """The predicted-change (or baseline) cells alone cannot be probed within the budget; ``suggest_min`` is a
    budget (minutes) they would fit in, with a margin."""

    def __init__(self, problem: str, fix: str, suggest_min: int = 0) -> None:
        super().__init__(problem, fix)
        self.suggest_min = suggest_min


def _interleave(batches: Sequence[SourcePlan]) -> list[SourcePlan]:
    """``batches`` with pods holding slow probes and pods without alternating (so the first wave measures both)."""
    slow = [b for b in batches if any(p.slow for p in b.probes)]
    fast = [b for b in batches if not any(p.slow for p in b.probes)]
    out: list[SourcePlan] = []
    for i in range(max(len(slow), len(fast))):
        out += [x[i] for x in (fast, slow) if i < len(x)]
    return out


def _new(base_keys: Sequence[CellKey]) -> Callable[[PlannedProbe], bool] | None:
    """With a baseline: accepts the probes from or to an identity the baseline has no cell of (None: no baseline)."""
    if not base_keys:
        return None
    srcs, dsts = {k[0] for k in base_keys}, {k[1] for k in base_keys}
    return lambda p: p.src not in srcs or p.dst not in dsts


def _calibration(first: list[SourcePlan], optional: list[SourcePlan],
                 conc: int) -> tuple[list[SourcePlan], list[SourcePlan]]:
    """The first wave, plus (when none of its pods holds a probe predicted to time out) up to ``conc // 8`` optional
    pods that do, taken out of ``optional``: the cost of a timeout is measured, not assumed."""
    if any(p.slow for b in first for p in b.probes):
        return first, optional
    want = max(1, conc // 8)
    picked = [i for i, b in enumerate(optional) if any(p.slow for p in b.probes)][:want]
    if not picked:
        return first, optional
    taken = set(picked)
    return first + [optional[i] for i in picked], [b for i, b in enumerate(optional) if i not in taken]


class _Runner:
    """Runs rounds of probe pods in one ``ProbeRun``, keeping the measured samples, the recorded cells, the ids
    of the probes that reported, and the progress counts (not the pods' logs)."""

    def __init__(self, run: ProbeRun, budget_s: float | None, on_progress: Callable[[int, int], None] | None,
                 on_status: Callable[[ProbeStatus], None] | None, cluster: Cluster, profile: EngineProfile,
                 t0: float) -> None:
        self.run = run
        self.cluster = cluster
        self.profile = profile
        self.cells: list[Cell] = []
        self.unmet: dict[str, Cell] = {}  # probe id -> cell, for the retry round
        self.lists = _Lists()
        self.retry: list[tuple[SourceSpec, list[ProbeRequest]]] = []
        self.record_s = 0.0  # time spent recording (expectations), inside the budget
        self.recorded = 0
        self.write_s = 0.0  # seconds per cell that writing the snapshot file will take (measured once)
        self.budget_s = budget_s
        self.on_progress = on_progress
        self.on_status = on_status
        self.t0 = t0
        self.samples: list[tuple[int, int, float]] = []
        self.pods_done = self.pods_total = self.probes_done = self.probes_total = 0
        self.pods_run = 0
        self.sources: set[int] = set()
        self.reported: list[str] = []  # ids of the probes that reported an outcome (first round)
        self.missing: set[str] = set()  # ids of the probes that did not

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def __call__(self, batches: Sequence[SourcePlan], phase: str, pending: int = 0) -> list[BatchResult]:
        """Run ``batches``; ``pending``: pods planned after these (shown in the progress total)."""
        if not batches:
            return []
        base_pods, base_probes = self.pods_done, self.probes_done
        sizes = [len(b.probes) for b in batches]
        self.pods_total = base_pods + len(batches) + pending
        self.probes_total = max(self.probes_total, base_probes + sum(sizes))

        def progress(done: int, total: int) -> None:
            self.pods_done = base_pods + done
            self.probes_done = base_probes + sum(sizes[:done])  # approximate: pods finish out of order
            if self.on_progress is not None:
                self.on_progress(self.pods_done, self.pods_total)
            if self.on_status is not None:
                self.on_status(ProbeStatus(self.pods_done, self.pods_total, self.probes_done, self.probes_total,
                                           self.elapsed, self.budget_s, phase))

        self.run.on_progress = progress
        results = self.run.run([(_spec(b), _requests(b.probes)) for b in batches])
        self.probes_done = base_probes + sum(sizes)
        for b, r in zip(batches, results, strict=True):
            if r.error is None:
                slow = sum(1 for p in b.probes if p.slow)
                self.samples.append((len(b.probes) - slow, slow, r.elapsed_s))
            self.pods_run += 1
            self.sources.add(b.source.klass)
            for p in b.probes:
                (self.reported.append if p.id in r.observations else self.missing.add)(p.id)
        t = time.monotonic()
        cells, unmet, retry = _record(batches, results, self.cluster, self.profile, self.lists)
        self.cells += cells
        self.unmet.update(unmet)
        self.retry += retry
        self.record_s += time.monotonic() - t
        self.recorded += sum(sizes)
        if not self.write_s:
            self.write_s = write_seconds_per_cell(cells[:2000])
        return results

    def record_cost(self, batches: Sequence[SourcePlan]) -> float:
        """Estimated seconds to record ``batches``' probes and write their cells, at the rates measured so far."""
        rate = self.record_s / self.recorded if self.recorded else 0.0
        return (rate + self.write_s) * sum(len(b.probes) for b in batches)

    def finish_cost(self) -> float:
        """Estimated seconds to write the cells recorded so far into the snapshot file (``snapshot.write``)."""
        return self.write_s * self.recorded


def _budget_text(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 120 else f"{seconds:.0f} s"


def take_snapshot(
    gw: KubeGateway, engine: str, *, also_engines: Sequence[str] = ("npm", "cilium"), image: str = DEFAULT_IMAGE,
    timeout_s: int = 2, concurrency: int = 32, on_progress: Callable[[int, int], None] | None = None,
    baseline: Iterable[CellKey] = (), include_services: bool = True, network: str = "", batch_size: int = 500,
    run_id: str | None = None, target: str | None = None, budget_s: float | None = None,
    on_status: Callable[[ProbeStatus], None] | None = None, parallel: int = DEFAULT_PARALLEL,
    started: float | None = None, overrun: Callable[[str], None] | None = None,
) -> Snapshot:
    """See the module docstring.

    Risk-first under a budget: the plan's tiers (``selection``; ``target`` is the engine the cluster moves to) and
    ``netmig.verify.budget``: every predicted and baseline cell is probed; with ``budget_s`` the first wave of pods
    calibrates the cost model, ``BudgetTooSmall`` (after cleanup) when the mandatory cells cannot fit (with
    ``overrun``: ``overrun(problem)`` is called instead and every mandatory cell is probed, nothing else), then
    the rest of the mandatory pods, then path/sampled pods in rounds of at most ``4 * concurrency`` pods while
    the estimate fits what is left (a stratified prefix), each round costed at the pace of the latest
    ``2 * concurrency`` pods (the pace drifts when the cluster or this machine gets busier). The budget
    counts from ``started`` (a ``time.monotonic()`` value: the caller's start, e.g. the command's) or from the
    call: inventory, planning, recording each round's cells, and writing the snapshot file afterwards
    (``snapshot.write``, its cost per cell measured on the first round's cells and reserved) are inside it, with
    a margin of 5 %. With a ``baseline`` its cells are probed, and of the others only those from or to an identity
    the baseline has not seen (a new workload or class), budget or not: a cell between known identities that the
    baseline did not sample could not be compared with anything. With a ``target`` other than ``engine`` the budget is
    spent *cautiously*: a probe costs as a timeout when either engine predicts one (the after-snapshot re-probes
    these cells under the target). Without a budget (and a baseline) every cell is probed. Each probe pod runs
    ``parallel`` connects at a time (``ProbeRun``).
    Concurrency is ``concurrency`` bounded by the nodes' free pod capacity (summed), and per node by its own.
    The retry round is cut to what fits the budget (``stats.retry_skipped``). ``stats.coverage`` is
    ``budget.coverage``. A source with more than ``batch_size`` probes gets several probe pods. ``run_id``: the
    probe run's id (default a new random one), so that a caller can journal it first and clean up after a crash.
    Memory: the raw inventory is dropped once sanitized (``snapshot.sanitize``: the snapshot's objects, from which
    the plan and the policy model are built); the pods' logs are dropped once their cells are recorded."""
    t0 = time.monotonic() if started is None else started  # the budget counts from here
    profile = get_engine(engine)
    inventory = raw_inventory(gw)
    slots = node_free_pods(inventory)
    objects = sanitize(live_objects(inventory))  # what the snapshot keeps, and all that planning reads
    del inventory
    engines = tuple(dict.fromkeys([engine, *also_engines]))
    cluster = from_objects(objects)
    base_keys = list(baseline)
    p = plan_objects(objects, cluster, engines, include_services=include_services, baseline=base_keys,
                     target=target)
    others = [get_engine(e) for e in engines]
    lb = predict_lb(cluster, p.predicted_only, profile, others)
    free = sum(slots.values()) if slots else concurrency
    conc = max(1, min(concurrency, free))
    par = max(1, min(parallel, MAX_PARALLEL))
    max_slow = 100 if par == 1 else 10 * par
    mandatory = _interleave(mandatory_batches(p, per_pod=batch_size, max_slow=max_slow))
    optional = optional_batches(p, per_pod=min(batch_size, 200), max_slow=max_slow // 2, keep=_new(base_keys))
    model = CostModel.prior(timeout_s, conc, par, cautious=target is not None and target != engine)
    retry_skipped = 0
    over = False  # the mandatory cells ran over the budget (``overrun``): their retries are not cut either
    with ProbeRun(gw, run_id=run_id, image=image, timeout_s=timeout_s, concurrency=conc,
                  node_slots=slots or None, parallel=par) as run:
        go = _Runner(run, budget_s, on_progress, on_status, cluster, profile, t0)
        if budget_s is None and base_keys:
            go(mandatory + optional, "baseline")
        elif budget_s is None:
            go(all_batches(p, per_pod=batch_size, max_slow=max_slow), "all")
        else:
            first, rest = mandatory[:conc], mandatory[conc:]
            first, optional = _calibration(first, optional, conc)
            mandatory_phase = "baseline" if base_keys else "predicted"  # what the mandatory cells are
            go(first, mandatory_phase, len(rest))
            model = model.fit(go.samples)
            need = go.elapsed + model.wall(rest) + go.record_cost(rest) + go.finish_cost()
            if need > budget_s:
                suggest = max(1, int(need * 1.2 / 60) + 1)
                problem = (f"the {len(p.predicted_keys()):,} predicted-change/baseline cells need about "
                           f"{_budget_text(need)} of probing (measured on the first {len(first)} probe pods), "
                           f"more than the budget of {_budget_text(budget_s)}")
                if overrun is None:
                    raise BudgetTooSmall(problem, f"pass --budget {suggest}m or --no-budget", suggest)
                overrun(problem)  # the caller probes them all anyway (and retries them): nothing sampled beyond
                optional, over = [], True
            reserve = 0.05 * budget_s
            go(rest, mandatory_phase)
            while optional:  # rounds, each costed at the pace of the latest pods (the pace drifts under load)
                model = model.fit(go.samples[-2 * conc:])
                left = budget_s - go.elapsed - reserve - go.finish_cost()
                n = min(fit_prefix(optional, model, left), max(conc * 4, 1))
                n = min(n, fit_prefix(optional, model, left - go.record_cost(optional[:n])))
                if n == 0:
                    break
                chunk, optional = optional[:n], optional[n:]
                go(chunk, "sampled")
        retry = go.retry
        if retry and budget_s is not None and not over:
            model = model.fit(go.samples[-2 * conc:])
            keep, total = 0, 0.0
            for _, reqs in retry:  # a retried probe is costed as slow (it disagreed)
                total += model.pod_s + model.slow_s * model.groups(len(reqs))
                if total / conc > budget_s - go.elapsed - go.finish_cost():
                    break
                keep += 1
            retry_skipped = sum(len(r) for _, r in retry[keep:])
            retry = retry[:keep]
        retried = 0
        reported: set[str] = set()
        if retry:
            run.on_progress = None
            again = run.run(retry)
            reported = {pid for r in again for pid in r.observations}
            retried = _apply_retry(go.unmet, again, cluster, profile, go.lists)
        run_id = run.run_id
        throttled = run.throttled
        final_conc = run.concurrency
    n = p.pods
    # probed: the probe reported an outcome (first round or retry), not merely planned
    probed_ids = go.reported + [pid for pid in reported if pid in go.missing]
    cov = coverage(p, probed_ids, probe_pods=go.pods_run, probes=len(probed_ids), budget_s=budget_s,
                   elapsed_s=go.elapsed)
    stats = {"pods": n, "pod_pairs": n * n, "classes": p.classes, "class_cells": p.class_cells,
             "covered_cells": p.covered_cells, "probes": len(probed_ids), "planned_probes": p.n_probes,
             "probe_pods": go.pods_run, "sources": len(go.sources),
             "aggregated_cells": p.aggregated_cells, "retried": retried, "retry_skipped": retry_skipped,
             "over_budget": over,
             "engines": list(engines), "skipped": p.skipped, "coverage": cov, "concurrency": conc,
             "concurrency_end": final_conc, "throttled": throttled, "parallel": par,
             "cost_model": {"pod_s": round(model.pod_s, 3), "fast_s": round(model.fast_s, 5),
                            "slow_s": round(model.slow_s, 4)},
             "write_s_per_cell": round(go.write_s, 7)}
    return Snapshot(
        engine=profile.label, cells=go.cells, objects=objects, predicted_only=lb, network=network,
        taken_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), run_id=run_id, stats=stats,
        coverage=cov,
    )
