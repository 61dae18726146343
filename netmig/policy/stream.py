"""Pod-level reachability and engine diffs as text chunks (JSON array or NDJSON), produced as they are computed.

Contract: pure. ``pod_cells_text(cluster, m, fmt)`` yields strings whose concatenation is the ``results`` items of
``reach.reachability`` (same cells, same order: src, dst, port, protocol), one JSON object per line: with ``fmt``
``"ndjson"`` each line ends in a newline; with ``"json"`` lines are separated by ``",\\n"`` (the caller writes the
surrounding ``{"engine": ..., "results": [`` and ``]}``). Memory stays bounded by one source pod's block: per source
class the line tails (destination, port, verdict) are built once (a small LRU) and each source pod's block is one
``str.join`` -- no per-cell Python objects. Pair-specific allowances (self, node-local, own-node) are patched per
source pod.

``pod_diff_text(cluster, ma, mb, fmt)`` does the same for ``diff.diff`` (``pod_diff_blocks`` gives the cells as
tuples, e.g. for the text summary): per source class the changed destination cells are listed once (LRU) and only
the pairs sharing a node (where pair-specific allowances apply) are evaluated pair by pair.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterator

from netmig.policy.classes import ClassMatrix, iter_bits
from netmig.policy.diff import Explainer
from netmig.policy.evaluate import is_host, pair_override
from netmig.policy.model import Cluster, Pod

LRU_CLASSES = 64


def pod_cells_text(cluster: Cluster, m: ClassMatrix, fmt: str = "ndjson") -> Iterator[str]:
    """See the module contract. ``m`` must cover every pod of ``cluster`` (``class_reachability`` on it)."""
    end = "}\n" if fmt == "ndjson" else "},\n"
    of = m.classes.of_pod
    pods = sorted(cluster.pods, key=lambda p: p.key)
    # destination cells in (dst, port, protocol) order; each cell: (dst pod, class, port key, tail if allowed/denied)
    cells: list[tuple[Pod, int, tuple[int, str]]] = []
    for d in pods:
        dc = of[d.key]
        for pk in m.ports_of(dc):
            cells.append((d, dc, pk))
    if not cells:
        return
    tails_ok: list[str] = []
    tails_no: list[str] = []
    for d, _, (port, proto) in cells:
        mid = f'","dst":{json.dumps(d.key)},"port":{port},"protocol":{json.dumps(proto)},"allowed":'
        tails_ok.append(f"{mid}true{end}")
        tails_no.append(f"{mid}false{end}")
    bits = [m.cells[(dc, *pk)] for _, dc, pk in cells]
    index_of_dst: dict[str, list[int]] = defaultdict(list)
    for j, (d, _, _) in enumerate(cells):
        index_of_dst[d.key].append(j)
    by_node: dict[str, list[Pod]] = defaultdict(list)
    for p in pods:
        if p.node:
            by_node[p.node].append(p)
    @functools.lru_cache(maxsize=LRU_CLASSES)
    def tails_for(sc: int) -> list[str]:
        return [tails_ok[j] if b >> sc & 1 else tails_no[j] for j, b in enumerate(bits)]

    last = len(pods) - 1
    for i, s in enumerate(pods):
        sc = of[s.key]
        tails = tails_for(sc)
        specials = [s]
        if s.node:
            if is_host(s):
                specials = by_node[s.node]
            elif m.engine.own_node_egress_allowed:
                specials = [s, *(p for p in by_node[s.node] if is_host(p))]
        patched = None
        for d in specials:
            if pair_override(s, d, m.engine) is None:
                continue
            for j in index_of_dst[d.key]:
                if tails[j] is not tails_ok[j]:
                    if patched is None:
                        patched = list(tails)
                    patched[j] = tails_ok[j]
        sep = '{"src":' + json.dumps(s.key)[:-1]
        block = sep + sep.join(patched or tails)
        if i == last and fmt != "ndjson":
            block = block[:-2] + "\n"
        yield block


# --- pod-level diff ---------------------------------------------------------------------------------------------


def _diff_line(sk: str, dk: str, port: int, proto: str, before: bool, after: bool, policies: tuple[str, ...],
               end: str) -> str:
    """One change as ``json.dumps(DiffCell.to_dict())`` spells it, followed by ``end``."""
    return (f'{{"src": {json.dumps(sk)}, "dst": {json.dumps(dk)}, "port": {port}, "protocol": {json.dumps(proto)}, '
            f'"from": {"true" if before else "false"}, "to": {"true" if after else "false"}, '
            f'"policies": {json.dumps(list(policies))}}}{end}')


def pod_diff_blocks(
    cluster: Cluster, ma: ClassMatrix, mb: ClassMatrix, explain: bool = True,
) -> Iterator[list[tuple[str, str, int, str, bool, bool, tuple[str, ...]]]]:
    """The cells of ``diff.diff`` (same cells, same order, same policies), one list per source pod that has any,
    computed as they are yielded: memory is bounded by one source pod's changes plus per-class caches (the changed
    class cells, a small LRU of the per-source-class change lists), never by the number of changed pairs.

    ``ma``/``mb``: ``class_reachability`` of the two engines over one ``compute_classes(cluster, [a, b])`` (and the
    same ``ports``), as ``diff.diff`` builds them. ``explain``: name the responsible policies (one evaluation per
    class cell and pair-specific allowance, cached)."""
    a, b = ma.engine, mb.engine
    of = ma.classes.of_pod
    pods = sorted(cluster.pods, key=lambda p: p.key)
    cells: list[tuple[Pod, int, tuple[int, str]]] = []
    js_of_cell: dict[tuple[int, int, str], list[int]] = defaultdict(list)
    index_of_dst: dict[str, list[int]] = defaultdict(list)
    for d in pods:
        dc = of[d.key]
        for pk in ma.ports_of(dc):
            js_of_cell[(dc, *pk)].append(len(cells))
            index_of_dst[d.key].append(len(cells))
            cells.append((d, dc, pk))
    # the changed class cells, per source class (class bits differ: every pair in them is a candidate)
    changed_of: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for key, bits_a in ma.cells.items():
        for src_cls in iter_bits(bits_a ^ mb.cells.get(key, 0)):
            changed_of[src_cls].append(key)
    own_node = a.own_node_egress_allowed != b.own_node_egress_allowed
    by_node: dict[str, list[Pod]] = defaultdict(list)
    for p in pods:
        if p.node:
            by_node[p.node].append(p)
    explainer = Explainer(cluster, a, b, ma.classes) if explain else None

    @functools.lru_cache(maxsize=LRU_CLASSES)
    def class_js(sc: int) -> list[int]:
        return sorted(j for key in changed_of.get(sc, ()) for j in js_of_cell[key])

    for s in pods:
        sc = of[s.key]
        js = class_js(sc)
        if own_node and s.node and not s.host_network:
            extra = [j for h in by_node[s.node] if is_host(h) for j in index_of_dst[h.key]]
            if extra:
                js = sorted(set(js).union(extra))
        block = []
        for j in js:
            d, dc, pk = cells[j]
            cell = (dc, *pk)
            a_cls, b_cls = bool(ma.cells[cell] >> sc & 1), bool(mb.cells.get(cell, 0) >> sc & 1)
            oa: str | None = None
            ob: str | None = None
            if d is s or (s.node is not None and d.node == s.node):  # only these pairs have allowances
                oa, ob = pair_override(s, d, a), pair_override(s, d, b)
            before, after = a_cls or oa is not None, b_cls or ob is not None
            if before != after:
                why = explainer(s, d, *pk, (oa, ob)) if explainer is not None else ()
                block.append((s.key, d.key, pk[0], pk[1], before, after, why))
        if block:
            yield block


def pod_diff_text(cluster: Cluster, ma: ClassMatrix, mb: ClassMatrix, fmt: str = "ndjson",
                  explain: bool = True) -> Iterator[str]:
    """``pod_diff_blocks`` as text: one ``json.dumps(DiffCell.to_dict())`` line per change, each ending in a newline
    (``fmt`` ``"ndjson"``) or ``",\\n"`` (``"json"``: the caller writes ``{..., "changes": [`` and ``]}``; the last
    line has no comma). One chunk per source pod."""
    end = "\n" if fmt == "ndjson" else ",\n"
    prev: str | None = None
    for block in pod_diff_blocks(cluster, ma, mb, explain):
        text = "".join(_diff_line(*c, end) for c in block)
        if prev is not None:
            yield prev
        prev = text
    if prev is not None:
        yield prev if fmt == "ndjson" else prev[:-2] + "\n"
