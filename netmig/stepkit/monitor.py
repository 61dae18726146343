"""Reimage monitoring: per-pool progress and stall detection from node events (pure: no I/O, injected time).

Contract:
- ``ReimageMonitor(target_engine_label, now, original_names=..., stall_seconds, notready_seconds,
  pdb_block_seconds)`` is fed node objects (``on_node(type, node, now)`` from a watch) and pool reads
  (``on_pools``); ``progress()`` returns a ``PoolProgress`` per pool (nodes done/total, surge nodes, cordoned,
  NotReady, engine labels).
- ``original_names`` are the nodes before the change (the pre-change inventory; required): a surge node is any
  node not among them -- nothing cluster-specific (no annotation) decides it.
- A node is *done* when it is Ready, schedulable, not a surge node and carries the target engine label (and the
  ``target_labels``, e.g. ``kubernetes.azure.com/azure-cni-overlay=true`` for a move to overlay).
  Progress = a node became done (or a surge node appeared / went away); ``stall(now, pods, pdbs)`` returns a
  ``Stall`` when there was no progress for ``stall_seconds``, a node stayed NotReady longer than
  ``notready_seconds``, or a cordoned node kept pods that a PodDisruptionBudget forbids evicting for longer than
  ``pdb_block_seconds`` (the PDB is named) — else None.
- ``cordoned_too_long(now)``: nodes cordoned for longer than ``pdb_block_seconds`` — only then does the caller need
  to read pods and PDBs for ``stall`` (no pod list-polling while the drains progress).
- ``blocking_pdbs(pods, pdbs)``: PDBs that currently allow no disruption, with the pods they protect.
- ``Stalled(stall, current)`` is the ``Paused`` (exit 3) a stall becomes: ``option`` is the timeout (an ``Options``
  field and a watch-reimage param) that waits longer, ``flag`` the ``aks-netmig apply`` flag that sets it (what the
  message names), ``current`` its value in this run, ``suggested`` a larger one.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from netmig.errors import Paused
from netmig.policy.selectors import SelectorError, parse_selector

POLICY_LABEL = "kubernetes.azure.com/network-policy"
POOL_LABEL = "kubernetes.azure.com/agentpool"

Obj = dict[str, Any]


def _labels(o: Obj) -> dict[str, str]:
    return dict((o.get("metadata") or {}).get("labels") or {})


def is_ready(o: Obj) -> bool:
    for c in (o.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _scaled(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        x = total * float(value[:-1]) / 100
        return math.ceil(x) if round_up else math.floor(x)
    return int(value)


@dataclass(frozen=True)
class PdbBlock:
    pdb: str  # namespace/name
    healthy: int
    desired: int
    pods: tuple[str, ...]  # namespace/name of the protected pods


def blocking_pdbs(pods: list[Obj], pdbs: list[Obj]) -> list[PdbBlock]:
    """PDBs whose budget allows no disruption now (healthy <= desired healthy) and that select >= 1 pod."""
    out = []
    for pdb in pdbs:
        meta, spec = pdb.get("metadata") or {}, pdb.get("spec") or {}
        ns = meta.get("namespace", "default")
        try:
            sel = parse_selector(spec.get("selector") or {})
        except SelectorError:
            continue
        matching = [p for p in pods if (p.get("metadata") or {}).get("namespace") == ns
                    and sel.matches(_labels(p)) and not (p.get("metadata") or {}).get("deletionTimestamp")
                    and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        if not matching:
            continue
        expected = len(matching)
        healthy = sum(1 for p in matching if is_ready(p))
        if spec.get("maxUnavailable") is not None:
            desired = expected - _scaled(spec["maxUnavailable"], expected, True)
        elif spec.get("minAvailable") is not None:
            desired = _scaled(spec["minAvailable"], expected, True)
        else:
            continue
        if healthy - desired <= 0:
            out.append(PdbBlock(f"{ns}/{meta.get('name')}", healthy, desired,
                                tuple(f"{ns}/{p['metadata']['name']}" for p in matching)))
    return out


@dataclass
class PoolProgress:
    name: str
    total: int
    done: int = 0
    surge: int = 0
    cordoned: int = 0
    not_ready: int = 0
    engines: dict[str, int] = field(default_factory=dict)
    state: str = ""

    def describe(self) -> str:
        eng = ",".join(f"{k}={v}" for k, v in sorted(self.engines.items()))
        return (f"{self.name} {self.done}/{self.total} done, surge {self.surge}, cordoned {self.cordoned}, "
                f"NotReady {self.not_ready} [{eng or 'no node seen yet'}]" + (f" ({self.state})" if self.state else ""))


@dataclass
class Stall:
    kind: str  # no-progress | node-notready | pdb-blocked
    reason: str
    pdb: str | None = None
    node: str | None = None


STALL_OPTIONS = {"no-progress": "stall_seconds", "node-notready": "notready_seconds",
                 "pdb-blocked": "pdb_block_seconds"}
# the same timeouts as ``aks-netmig apply`` flags: what CLI messages name (the Prefect form names its own fields)
STALL_FLAGS = {"stall_seconds": "--stall-timeout", "notready_seconds": "--notready-timeout",
               "pdb_block_seconds": "--pdb-timeout"}


class Stalled(Paused):
    """The reimage stalled: stop (exit 3) with the reason; the CLI adds the exact commands for the three choices."""

    def __init__(self, stall: Stall, current: float) -> None:
        self.stall = stall
        self.current = float(current)
        self.option = STALL_OPTIONS[stall.kind]
        self.suggested = float(math.ceil(max(2 * self.current, self.current + 300)))
        self.flag = STALL_FLAGS[self.option]
        super().__init__(f"reimage stalled: {stall.reason}",
                         f"choose: wait longer (rerun apply with {self.flag} {self.suggested:.0f}), abort the ARM "
                         "operation (aks-netmig abort PLAN --yes), or resume later (rerun apply)")

    def __reduce__(self) -> Any:  # picklable (Prefect may persist a failed task's exception)
        return (Stalled, (self.stall, self.current))


@dataclass
class _Node:
    name: str
    pool: str
    ready: bool
    cordoned: bool
    engine: str
    surge: bool
    labels_ok: bool = True
    since_notready: float | None = None
    since_cordoned: float | None = None


class ReimageMonitor:
    def __init__(self, target_engine_label: str, now: float, *, stall_seconds: float = 1800.0,
                 notready_seconds: float = 1200.0, pdb_block_seconds: float = 600.0,
                 originals: dict[str, int] | None = None, original_names: Collection[str],
                 target_labels: dict[str, str] | None = None) -> None:
        self.target = target_engine_label
        self.target_labels = dict(target_labels or {})
        self.stall_seconds = stall_seconds
        self.notready_seconds = notready_seconds
        self.pdb_block_seconds = pdb_block_seconds
        self.originals = dict(originals or {})  # pool -> planned node count
        self.original_names = set(original_names)  # nodes before the change: any other name is a surge node
        self.nodes: dict[str, _Node] = {}
        self.pool_states: dict[str, str] = {}
        self.last_progress = now
        self.events = 0
        self.t0 = now
        # (seconds since the watch began, node, pool, phase) at each change of a node's phase (see ``phase``):
        # what the reimage timeline picture draws
        self.timeline: list[tuple[float, str, str, str]] = []
        self._phases: dict[str, str] = {}

    def phase(self, n: _Node | None) -> str:
        """A node's phase for the timeline: ``surge`` (a surge node), ``cordoned`` (cordoned and draining),
        ``reimaging`` (NotReady), ``ready`` (done: on the target), ``waiting`` (Ready, not yet on the target),
        ``removed`` (deleted)."""
        if n is None:
            return "removed"
        if n.surge:
            return "surge"
        if not n.ready:
            return "reimaging"
        if n.cordoned:
            return "cordoned"
        return "ready" if self._done(n) else "waiting"

    def _mark(self, name: str, pool: str, phase: str, now: float) -> None:
        if self._phases.get(name) != phase:
            self._phases[name] = phase
            self.timeline.append((round(now - self.t0, 3), name, pool, phase))

    def _done(self, n: _Node) -> bool:
        return n.ready and not n.cordoned and not n.surge and n.engine == self.target and n.labels_ok

    def on_node(self, event_type: str, node: Obj, now: float) -> bool:
        """Feed one watch event (ADDED / MODIFIED / DELETED); True when it counted as progress."""
        self.events += 1
        meta = node.get("metadata") or {}
        name = meta.get("name", "")
        old = self.nodes.get(name)
        if event_type == "DELETED":
            self.nodes.pop(name, None)
            if old is not None:
                self._mark(name, old.pool, "removed", now)
            if old is not None and old.surge:
                self.last_progress = now
                return True
            return False
        labels = _labels(node)
        surge = name not in self.original_names
        n = _Node(name, labels.get(POOL_LABEL, "?"), is_ready(node),
                  bool((node.get("spec") or {}).get("unschedulable")), labels.get(POLICY_LABEL, "none"), surge,
                  all(labels.get(k) == v for k, v in self.target_labels.items()))
        n.since_notready = (old.since_notready if old and not old.ready else now) if not n.ready else None
        n.since_cordoned = (old.since_cordoned if old and old.cordoned else now) if n.cordoned else None
        self.nodes[name] = n
        self._mark(name, n.pool, self.phase(n), now)
        progressed = (old is None and surge) or (self._done(n) and (old is None or not self._done(old)))
        if progressed:
            self.last_progress = now
        return progressed

    def on_pools(self, states: dict[str, str]) -> None:
        self.pool_states = dict(states)

    def all_done(self) -> bool:
        real = [n for n in self.nodes.values() if not n.surge]
        return bool(real) and all(self._done(n) for n in real) and not any(n.surge for n in self.nodes.values())

    def progress(self) -> list[PoolProgress]:
        pools: dict[str, PoolProgress] = {}
        for name in sorted(set(self.originals) | {n.pool for n in self.nodes.values()}):
            pools[name] = PoolProgress(name, self.originals.get(name, 0), state=self.pool_states.get(name, ""))
        for n in self.nodes.values():
            p = pools[n.pool]
            if not self.originals:
                p.total += 0 if n.surge else 1
            p.surge += n.surge
            p.cordoned += n.cordoned
            p.not_ready += not n.ready
            p.done += self._done(n)
            p.engines[n.engine] = p.engines.get(n.engine, 0) + 1
        return list(pools.values())

    def cordoned_too_long(self, now: float) -> list[str]:
        return sorted(n.name for n in self.nodes.values()
                      if n.since_cordoned is not None and now - n.since_cordoned > self.pdb_block_seconds)

    def stall(self, now: float, pods: list[Obj] | None = None, pdbs: list[Obj] | None = None) -> Stall | None:
        for n in self.nodes.values():
            if n.since_notready is not None and now - n.since_notready > self.notready_seconds:
                return Stall("node-notready", f"node {n.name} (pool {n.pool}) has been NotReady for "
                             f"{now - n.since_notready:.0f} s", node=n.name)
        if pods is not None and pdbs is not None:
            blocks = blocking_pdbs(pods, pdbs)
            for n in self.nodes.values():
                if n.since_cordoned is None or now - n.since_cordoned <= self.pdb_block_seconds:
                    continue
                on_node = {f"{(p.get('metadata') or {}).get('namespace')}/{p['metadata']['name']}"
                           for p in pods if (p.get("spec") or {}).get("nodeName") == n.name}
                for b in blocks:
                    stuck = sorted(on_node & set(b.pods))
                    if stuck:
                        return Stall("pdb-blocked", f"the drain of node {n.name} is blocked by PodDisruptionBudget "
                                     f"{b.pdb} (needs {b.desired} healthy pods, has {b.healthy}; pod {stuck[0]})",
                                     pdb=b.pdb, node=n.name)
        if now - self.last_progress > self.stall_seconds:
            return Stall("no-progress", f"no reimage progress for {now - self.last_progress:.0f} s")
        return None
