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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence

from netmig.errors import CheckFailed, UsageError
from netmig.kube.gateway import KubeGateway
from netmig.kube.probes import DEFAULT_IMAGE, BatchResult, ProbeRequest, ProbeRun, SourceSpec, raw_inventory
from netmig.policy import Cluster, EngineProfile, from_objects, get_engine
from netmig.verify.outcomes import Observation
from netmig.verify.selection import CellKey, PlannedProbe, SourcePlan, live_objects, plan
from netmig.verify.snapshot import Cell, Snapshot, expect, predict_lb, sanitize

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


def _record(sources: Sequence[SourcePlan], results: Sequence[BatchResult], cluster: Cluster,
            profile: EngineProfile) -> tuple[dict[str, Cell], list[tuple[SourceSpec, list[ProbeRequest]]]]:
    """Probe id -> Cell for every planned probe (a probe that reported nothing is an ``error`` cell), and the
    retry batches: per source, the probes whose outcome disagrees with ``profile``'s prediction."""
    cells: dict[str, Cell] = {}
    retry: list[tuple[SourceSpec, list[ProbeRequest]]] = []
    for sp, res in zip(sources, results, strict=True):
        again = []
        for pr in sp.probes:
            ob = _observation(res, pr.id)
            c = Cell(pr.src, pr.dst, pr.port, pr.protocol, pr.kind, ob.outcome, ob.detail, None, [],
                     pr.port_name, pr.src_pod, res.pod_ip, pr.dst_pod, pr.host)
            c.expected, c.policies, _ = expect(cluster, c, profile)
            cells[pr.id] = c
            if not c.met:
                again.append(pr)
        if again:
            retry.append((_spec(sp), _requests(again)))
    return cells, retry


def _apply_retry(cells: Mapping[str, Cell], results: Sequence[BatchResult], cluster: Cluster,
                 profile: EngineProfile) -> int:
    """Replace each retried cell's observation by the retry's (attempts 2); returns how many were retried."""
    n = 0
    for res in results:
        for pid, ob in res.observations.items():
            c = cells.get(pid)
            if c is None:
                continue
            c.outcome, c.detail, c.attempts = ob.outcome, ob.detail, 2
            c.src_ip = res.pod_ip or c.src_ip
            c.expected, c.policies, _ = expect(cluster, c, profile)
            n += 1
    return n


def take_snapshot(
    gw: KubeGateway, engine: str, *, also_engines: Sequence[str] = ("npm", "cilium"), image: str = DEFAULT_IMAGE,
    timeout_s: int = 2, concurrency: int = 8, on_progress: Callable[[int, int], None] | None = None,
    baseline: Iterable[CellKey] = (), include_services: bool = True, network: str = "", batch_size: int = 200,
    run_id: str | None = None,
) -> Snapshot:
    """See the module docstring. A source with more than ``batch_size`` probes gets several probe pods (a
    sequential script of N timeouts lasts N x ``timeout_s`` at worst). ``run_id``: the probe run's id (default a
    new random one), so that a caller can journal it first and clean up after a crash."""
    profile = get_engine(engine)
    live = live_objects(raw_inventory(gw))
    engines = tuple(dict.fromkeys([engine, *also_engines]))
    p = plan(live, engines, include_services=include_services, baseline=baseline)
    cluster = from_objects(live)
    sources = [SourcePlan(sp.source, sp.probes[i:i + batch_size])
               for sp in p.sources for i in range(0, len(sp.probes), max(1, batch_size))]
    with ProbeRun(gw, run_id=run_id, image=image, timeout_s=timeout_s, concurrency=concurrency,
                  on_progress=on_progress) as run:
        cells, retry = _record(sources, run.run([(_spec(sp), _requests(sp.probes)) for sp in sources]), cluster,
                               profile)
        retried = _apply_retry(cells, run.run(retry), cluster, profile) if retry else 0
        run_id = run.run_id
    n = p.pods
    stats = {"pods": n, "pod_pairs": n * n, "classes": p.classes, "class_cells": p.class_cells,
             "covered_cells": p.covered_cells, "probes": p.n_probes, "probe_pods": len(sources),
             "sources": sum(1 for sp in p.sources if sp.probes), "aggregated_cells": p.aggregated_cells,
             "retried": retried, "engines": list(engines), "skipped": p.skipped}
    others = [get_engine(e) for e in engines]
    return Snapshot(
        engine=profile.label, cells=list(cells.values()), objects=sanitize(live),
        predicted_only=predict_lb(cluster, p.predicted_only, profile, others), network=network,
        taken_at=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), run_id=run_id, stats=stats,
    )
