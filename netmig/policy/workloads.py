"""Reachability and engine diffs by workload identity, with the pod counts behind each row, never by pod pairs.

Contract: pure (numpy for the sums). ``WorkloadView(cluster, classes)`` maps every class to the workloads of its
members (``Pod.identity``: owner Deployment / StatefulSet / DaemonSet / Job, bare pods by labels). Then:

- ``reachability_rows(view, m)`` yields ``WorkloadCell(src, dst, port, protocol, src_pods, dst_pods, pairs,
  allowed_pairs)`` for every (source workload, destination workload, port) where the destination serves the port
  (or every ``--port`` asked): ``pairs`` = src_pods x dst_pods, ``allowed_pairs`` the pod pairs allowed. Folding
  the pod-level cells of ``reach.reachability`` by identity gives exactly these rows (a property test checks it).
- ``diff_rows(view, ma, mb)`` yields ``WorkloadDiff`` rows with ``lost``/``gained`` pod-pair counts, only where
  something changes; folding ``diff.diff`` by identity gives the same counts.
- ``namespace_summary`` aggregates either to (source namespace, destination namespace) counts.

How: the class matrix gives, per (destination class, port), a bitset of allowed source classes. Per port the
bitsets become a 0/1 matrix; workload sums are gathers over (class, workload, pod count) memberships, i.e. O(classes
x cells) vector work instead of O(pods^2). Pair-specific allowances (self, node-local, npm's own-node egress) are
enumerated per node (they only involve pods on the same node) and corrected pair by pair.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from netmig.policy.classes import Classes, ClassMatrix
from netmig.policy.evaluate import is_host, pair_override
from netmig.policy.model import Cluster, Pod

PortKey = tuple[int, str]


@dataclass(frozen=True)
class WorkloadCell:
    """One (source workload, destination workload, port) row; ``allowed`` only when every pod pair is allowed."""

    src: str
    dst: str
    port: int
    protocol: str
    src_pods: int
    dst_pods: int
    pairs: int
    allowed_pairs: int

    @property
    def allowed(self) -> bool:
        return self.allowed_pairs == self.pairs

    @property
    def verdict(self) -> str:
        if self.allowed_pairs == self.pairs:
            return "allowed"
        return "denied" if self.allowed_pairs == 0 else "partial"

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "allowed": self.allowed, "verdict": self.verdict, "src_pods": self.src_pods,
                "dst_pods": self.dst_pods, "pairs": self.pairs, "allowed_pairs": self.allowed_pairs}


@dataclass(frozen=True)
class WorkloadDiff:
    """A row whose pod pairs change: ``lost`` pairs allowed before and denied after, ``gained`` the reverse."""

    src: str
    dst: str
    port: int
    protocol: str
    src_pods: int
    dst_pods: int
    pairs: int
    lost: int
    gained: int
    policies: tuple[str, ...] = ()

    @property
    def before(self) -> bool:
        """For the pod-level shape: True when pairs were lost (allowed before)."""
        return self.lost > 0

    @property
    def after(self) -> bool:
        return self.gained > 0

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "from": self.lost == 0, "to": self.gained > 0, "src_pods": self.src_pods,
                "dst_pods": self.dst_pods, "pairs": self.pairs, "lost": self.lost, "gained": self.gained,
                "policies": list(self.policies)}


def namespace_of(identity: str) -> str:
    return identity.split("/", 1)[0]


class WorkloadView:
    """Workloads and their class memberships (see the module docstring)."""

    def __init__(self, cluster: Cluster, classes: Classes) -> None:
        self.cluster = cluster
        self.classes = classes
        names = sorted({p.identity for p in cluster.pods})
        self.names = names
        self.index = {n: i for i, n in enumerate(names)}
        self.pods = np.zeros(len(names), dtype=np.int64)
        self.members: dict[int, dict[int, list[Pod]]] = defaultdict(dict)  # class -> workload -> pods
        for pc in classes.classes:
            by_wl: dict[int, list[Pod]] = {}
            for p in pc.members:
                by_wl.setdefault(self.index[p.identity], []).append(p)
            self.members[pc.index] = by_wl
            for w, ps in by_wl.items():
                self.pods[w] += len(ps)
        mem = sorted((w, c, len(ps)) for c, by in self.members.items() for w, ps in by.items())
        self.mem_wl = np.array([m[0] for m in mem], dtype=np.int64)
        self.mem_cls = np.array([m[1] for m in mem], dtype=np.int64)
        self.mem_n = np.array([m[2] for m in mem], dtype=np.int64)
        self.wl_starts = np.flatnonzero(np.r_[True, self.mem_wl[1:] != self.mem_wl[:-1]]) if mem else \
            np.zeros(0, dtype=np.int64)
        self.classes_of: dict[int, list[tuple[int, list[Pod]]]] = defaultdict(list)
        for c, by in sorted(self.members.items()):
            for w, ps in by.items():
                self.classes_of[w].append((c, ps))
        self.namespaces = sorted({namespace_of(n) for n in names})
        ns_index = {n: i for i, n in enumerate(self.namespaces)}
        self.ns_of = np.array([ns_index[namespace_of(n)] for n in names], dtype=np.int64)

    # -------------------------------------------------------------------------------------------------- sums
    def _bits(self, values: Sequence[int]) -> np.ndarray:
        k = len(self.classes)
        nbytes = max(1, (k + 7) // 8)
        buf = b"".join(v.to_bytes(nbytes, "little") for v in values)
        arr = np.frombuffer(buf, dtype=np.uint8).reshape(len(values), nbytes)
        return np.unpackbits(arr, axis=1, bitorder="little")[:, :k].astype(np.int64)

    def _sum(self, cols: list[int], bits: Sequence[int]) -> tuple[np.ndarray, list[int], np.ndarray]:
        """(W x D allowed pod pairs, destination workloads D, pods of each serving the port) for the destination
        classes ``cols`` with allowed-source bitsets ``bits``."""
        if not cols or not len(self.mem_wl):
            return np.zeros((len(self.names), 0), dtype=np.int64), [], np.zeros(0, dtype=np.int64)
        bt = self._bits(bits)  # J x K
        contrib = bt[:, self.mem_cls].T * self.mem_n[:, None]  # M x J
        sb = np.add.reduceat(contrib, self.wl_starts, axis=0)  # W x J (every workload has a membership)
        dst = sorted((w, j, len(ps)) for j, c in enumerate(cols) for w, ps in self.members[c].items())
        d_w = np.array([d[0] for d in dst], dtype=np.int64)
        d_j = np.array([d[1] for d in dst], dtype=np.int64)
        d_n = np.array([d[2] for d in dst], dtype=np.int64)
        starts = np.flatnonzero(np.r_[True, d_w[1:] != d_w[:-1]])
        out = np.add.reduceat(sb[:, d_j] * d_n[None, :], starts, axis=1)
        return out, [int(w) for w in d_w[starts]], np.add.reduceat(d_n, starts)

    def port_keys(self, m: ClassMatrix) -> list[PortKey]:
        return sorted({(p, q) for _, p, q in m.cells})

    def _cols(self, m: ClassMatrix, pk: PortKey) -> list[int]:
        return sorted(d for d, p, q in m.cells if (p, q) == pk)

    # ------------------------------------------------------------------------------------------ pair allowances
    def _special_pairs(self) -> Iterator[tuple[Pod, Pod]]:
        """Every pod pair a pair-specific allowance can apply to: self pairs and same-node pairs involving a
        hostNetwork pod (as source or destination)."""
        by_node: dict[str, list[Pod]] = defaultdict(list)
        for p in self.cluster.pods:
            yield p, p
            if p.node:
                by_node[p.node].append(p)
        for pods in by_node.values():
            hosts = [p for p in pods if is_host(p)]
            for h in hosts:
                for p in pods:
                    if p.key != h.key:
                        yield h, p
                        if not is_host(p):
                            yield p, h

    def _corrections(self, ms: Sequence[ClassMatrix]) -> dict[tuple[int, int, PortKey], list[int]]:
        """(src workload, dst workload, port) -> per matrix, +1 per special pair allowed only by its allowance;
        a final list element holds the pairs whose verdict differs between the first two matrices, signed.

        The special pairs are counted per (source class, destination class, source workload, destination
        workload, self pair, has a node) and each group is evaluated once on a representative pair: within a group
        ``pair_override`` gives the same answer for every pair (self pairs depend on the engine and, for
        hostNetwork pods, on having a node; other special pairs share a node and differ only in which side is a
        hostNetwork pod, which the class records)."""
        groups: dict[tuple[int, int, int, int, bool, bool], list[Any]] = {}
        of, index = self.classes.of_pod, self.index
        for s, d in self._special_pairs():
            gk = (of[s.key], of[d.key], index[s.identity], index[d.identity], s is d, s.node is not None)
            g = groups.get(gk)
            if g is None:
                groups[gk] = [s, d, 1]
            else:
                g[2] += 1
        out: dict[tuple[int, int, PortKey], list[int]] = {}
        for (sc, dc, w1, w2, _, _), (s, d, n) in groups.items():
            ov = [pair_override(s, d, m.engine) is not None for m in ms]
            for pk in ms[0].ports_of(dc):
                key = (w1, w2, pk)
                for i, m in enumerate(ms):
                    if ov[i] and not m.class_allowed(sc, dc, *pk):
                        out.setdefault(key, [0] * (len(ms) + 2))[i] += n
                if len(ms) == 2:
                    a_cls, b_cls = ms[0].class_allowed(sc, dc, *pk), ms[1].class_allowed(sc, dc, *pk)
                    a, b = a_cls or ov[0], b_cls or ov[1]
                    lost = int(a and not b) - int(a_cls and not b_cls)
                    gained = int(b and not a) - int(b_cls and not a_cls)
                    if lost or gained:
                        row = out.setdefault(key, [0] * 4)
                        row[2] += lost * n
                        row[3] += gained * n
        return out


class Tables:
    """Per port: (W x D matrix of counted pod pairs, destination workloads D, destination pods serving the port)."""

    def __init__(self, view: WorkloadView, tables: dict[PortKey, tuple[np.ndarray, list[int], np.ndarray]]) -> None:
        self.view = view
        self.tables = tables

    def by_namespace(self) -> tuple[np.ndarray, np.ndarray]:
        """(NS x NS pod pairs, NS x NS counted pairs) summed over every port."""
        v = self.view
        n = len(v.namespaces)
        pairs = np.zeros((n, n), dtype=np.int64)
        counted = np.zeros((n, n), dtype=np.int64)
        src_pods = np.bincount(v.ns_of, weights=v.pods, minlength=n).astype(np.int64)
        for mat, dsts, dst_pods in self.tables.values():
            if not dsts:
                continue
            dns = v.ns_of[np.array(dsts, dtype=np.int64)]
            per_src = np.zeros((n, mat.shape[1]), dtype=np.int64)
            np.add.at(per_src, v.ns_of, mat)
            both = np.zeros((n, n), dtype=np.int64)
            np.add.at(both.T, dns, per_src.T)
            counted += both
            dst_by_ns = np.bincount(dns, weights=dst_pods, minlength=n).astype(np.int64)
            pairs += np.outer(src_pods, dst_by_ns)
        return pairs, counted

    def cell(self, w1: int, pk: PortKey, j: int) -> tuple[int, int, int]:
        """(src pods, dst pods, counted pairs) of one row."""
        mat, _, dst_pods = self.tables[pk]
        return int(self.view.pods[w1]), int(dst_pods[j]), int(mat[w1, j])

    def top(self, score: Any, k: int) -> list[tuple[int, int, PortKey, int]]:
        """The ``k`` rows (w1, w2, port, j) with the highest ``score(mat, pairs)`` (> 0), highest first."""
        best: list[tuple[int, int, int, PortKey, int]] = []
        for pk, (mat, dsts, dst_pods) in self.tables.items():
            if not dsts:
                continue
            sc = score(mat, np.outer(self.view.pods, dst_pods))
            flat = sc.ravel()
            take = min(k, int((flat > 0).sum()))
            if not take:
                continue
            idx = np.argpartition(-flat, take - 1)[:take]
            for i in idx:
                w1, j = divmod(int(i), mat.shape[1])
                best.append((int(flat[i]), w1, dsts[j], pk, j))
        best.sort(key=lambda b: (-b[0], self.view.names[b[1]], self.view.names[b[2]], b[3]))
        return [(w1, w2, pk, j) for _, w1, w2, pk, j in best[:k]]


def reach_tables(view: WorkloadView, m: ClassMatrix) -> Tables:
    """Allowed pod pairs per (source workload, destination workload, port)."""
    tables = {}
    fix = view._corrections([m])
    for pk in view.port_keys(m):
        cols = view._cols(m, pk)
        allowed, dsts, dst_pods = view._sum(cols, [m.cells[(c, *pk)] for c in cols])
        pos = {w: j for j, w in enumerate(dsts)}
        for (w1, w2, k), n in fix.items():
            if k == pk and n[0]:
                allowed[w1, pos[w2]] += n[0]
        tables[pk] = (allowed, dsts, dst_pods)
    return Tables(view, tables)


def reachability_rows(view: WorkloadView, m: ClassMatrix, tables: Tables | None = None) -> Iterator[WorkloadCell]:
    """Every workload row, sorted by (src, dst, port, protocol) (see the module docstring)."""
    t = tables or reach_tables(view, m)
    per_dst: dict[int, list[tuple[PortKey, int]]] = defaultdict(list)
    for pk, (_, dsts, _) in t.tables.items():
        for j, w in enumerate(dsts):
            per_dst[w].append((pk, j))
    order = [(w2, sorted(per_dst[w2])) for w2 in sorted(per_dst)]
    names, pods = view.names, view.pods
    for w1 in range(len(names)):
        src, n_src = names[w1], int(pods[w1])
        for w2, cells in order:
            for pk, j in cells:
                mat, _, dst_pods = t.tables[pk]
                n_dst = int(dst_pods[j])
                yield WorkloadCell(src, names[w2], pk[0], pk[1], n_src, n_dst, n_src * n_dst, int(mat[w1, j]))


def diff_tables(view: WorkloadView, ma: ClassMatrix, mb: ClassMatrix) -> tuple[Tables, Tables]:
    """(lost pod pairs, gained pod pairs) per (source workload, destination workload, port), ``ma`` -> ``mb``."""
    fix = view._corrections([ma, mb])
    lost_t, gained_t = {}, {}
    for pk in sorted(set(view.port_keys(ma)) | set(view.port_keys(mb))):
        cols = sorted(set(view._cols(ma, pk)) | set(view._cols(mb, pk)))
        ba = [ma.cells.get((c, *pk), 0) for c in cols]
        bb = [mb.cells.get((c, *pk), 0) for c in cols]
        lost, dsts, dst_pods = view._sum(cols, [a & ~b for a, b in zip(ba, bb, strict=True)])
        gained, _, _ = view._sum(cols, [b & ~a for a, b in zip(ba, bb, strict=True)])
        pos = {w: j for j, w in enumerate(dsts)}
        for (w1, w2, k), n in fix.items():
            if k == pk and (n[2] or n[3]):
                lost[w1, pos[w2]] += n[2]
                gained[w1, pos[w2]] += n[3]
        lost_t[pk] = (lost, dsts, dst_pods)
        gained_t[pk] = (gained, dsts, dst_pods)
    return Tables(view, lost_t), Tables(view, gained_t)


def diff_rows(view: WorkloadView, ma: ClassMatrix, mb: ClassMatrix, explain: Any = None,
              tables: tuple[Tables, Tables] | None = None) -> list[WorkloadDiff]:
    """Workload rows whose pod pairs change from ``ma``'s engine to ``mb``'s (both over ``view.classes``), sorted by
    (src, dst, port, protocol). ``explain(src_pod, dst_pod, port, protocol)`` names the responsible policies of one
    representative changed pair per row (optional; ``explained`` does it for chosen rows only). ``tables``: the
    ``diff_tables`` result when the caller already has it."""
    lost_t, gained_t = tables or diff_tables(view, ma, mb)
    out: list[WorkloadDiff] = []
    for pk, (lost, dsts, dst_pods) in lost_t.tables.items():
        gained = gained_t.tables[pk][0]
        for w1, j in zip(*np.nonzero(lost + gained), strict=True):
            w2 = dsts[j]
            s_pods, d_pods = int(view.pods[w1]), int(dst_pods[j])
            pol = explain(*representative(view, ma, mb, int(w1), w2, pk), *pk) if explain else ()
            out.append(WorkloadDiff(view.names[w1], view.names[w2], pk[0], pk[1], s_pods, d_pods,
                                    s_pods * d_pods, int(lost[w1, j]), int(gained[w1, j]), tuple(pol)))
    out.sort(key=lambda r: (r.src, r.dst, r.port, r.protocol))
    return out


def representative(view: WorkloadView, ma: ClassMatrix, mb: ClassMatrix, w1: int, w2: int,
                   pk: PortKey) -> tuple[Pod, Pod]:
    """A pod pair of the row whose verdict changes (the first found; class pairs first, then special pairs)."""
    srcs, dsts = view.classes_of[w1], view.classes_of[w2]
    for dc, dps in dsts:
        for sc, sps in srcs:
            if ma.class_allowed(sc, dc, *pk) != mb.class_allowed(sc, dc, *pk):
                for d in dps:
                    for s in sps:
                        a = ma.class_allowed(sc, dc, *pk) or pair_override(s, d, ma.engine) is not None
                        b = mb.class_allowed(sc, dc, *pk) or pair_override(s, d, mb.engine) is not None
                        if a != b:
                            return s, d
    for _dc, dps in dsts:
        for _sc, sps in srcs:
            for d in dps:
                for s in sps:
                    if s.node == d.node and (pair_override(s, d, ma.engine) != pair_override(s, d, mb.engine)):
                        return s, d
    return srcs[0][1][0], dsts[0][1][0]


def _columns(t: Tables) -> tuple[np.ndarray, list[tuple[int, PortKey, int]], np.ndarray]:
    """All (destination workload, port) columns of ``t`` in (dst name, port) order: (W x C counted pairs, columns
    as (w2, port, index within its port table), destination pods per column)."""
    cols = [(w2, pk, j) for pk, (_, dsts, _) in t.tables.items() for j, w2 in enumerate(dsts)]
    cols.sort(key=lambda c: (t.view.names[c[0]], c[1]))
    if not cols:
        return np.zeros((len(t.view.names), 0), dtype=np.int64), [], np.zeros(0, dtype=np.int64)
    mat = np.stack([t.tables[pk][0][:, j] for _, pk, j in cols], axis=1)
    dst_pods = np.array([int(t.tables[pk][2][j]) for _, pk, j in cols], dtype=np.int64)
    return mat, cols, dst_pods


def reachability_text(t: Tables, fmt: str = "ndjson") -> Iterator[str]:
    """The rows of ``reachability_rows`` as JSON text (one object a line; ``fmt`` ``json``: lines separated by
    ``",\\n"``, for a JSON array), one chunk per source workload, formatted straight from the count matrices."""
    mat, cols, dst_pods = _columns(t)
    if not cols:
        return
    import json

    end = "}\n" if fmt == "ndjson" else "},\n"
    names = t.view.names
    tails = [f',"dst":{json.dumps(names[w2])},"port":{pk[0]},"protocol":{json.dumps(pk[1])},' for w2, pk, _ in cols]
    last = len(names) - 1
    for w1 in range(len(names)):
        n_src = int(t.view.pods[w1])
        head = '{"src":' + json.dumps(names[w1])
        allowed = mat[w1].tolist()
        lines = []
        for tail, a, nd in zip(tails, allowed, dst_pods.tolist(), strict=True):
            pairs = n_src * nd
            verdict = "allowed" if a == pairs else ("denied" if a == 0 else "partial")
            lines.append(f'{head}{tail}"allowed":{"true" if a == pairs else "false"},"verdict":"{verdict}",'
                         f'"src_pods":{n_src},"dst_pods":{nd},"pairs":{pairs},"allowed_pairs":{a}{end}')
        block = "".join(lines)
        if w1 == last and fmt != "ndjson":
            block = block[:-2] + "\n"
        yield block


def row_counts(t: Tables) -> tuple[int, int, int, int, int]:
    """(rows, allowed rows, denied rows, pod pairs, counted pod pairs) over every row of ``t``."""
    rows = allowed = denied = pairs = counted = 0
    for mat, dsts, dst_pods in t.tables.values():
        if not dsts:
            continue
        p = np.outer(t.view.pods, dst_pods)
        rows += p.size
        allowed += int((mat == p).sum())
        denied += int((mat == 0).sum())
        pairs += int(p.sum())
        counted += int(mat.sum())
    return rows, allowed, denied, pairs, counted


def explained(view: WorkloadView, ma: ClassMatrix, mb: ClassMatrix, rows: Sequence[WorkloadDiff],
              explain: Any) -> list[WorkloadDiff]:
    """``rows`` with their responsible policies filled in (one representative changed pair each)."""
    import dataclasses

    out = []
    for r in rows:
        w1, w2, pk = view.index[r.src], view.index[r.dst], (r.port, r.protocol)
        out.append(dataclasses.replace(r, policies=tuple(explain(*representative(view, ma, mb, w1, w2, pk), *pk))))
    return out
