"""Pod-level reachability as text chunks (JSON array or NDJSON), produced as they are computed.

Contract: pure. ``pod_cells_text(cluster, m, fmt)`` yields strings whose concatenation is the ``results`` items of
``reach.reachability`` (same cells, same order: src, dst, port, protocol), one JSON object per line: with ``fmt``
``"ndjson"`` each line ends in a newline; with ``"json"`` lines are separated by ``",\\n"`` (the caller writes the
surrounding ``{"engine": ..., "results": [`` and ``]}``). Memory stays bounded by one source pod's block: per source
class the line tails (destination, port, verdict) are built once (a small LRU) and each source pod's block is one
``str.join`` -- no per-cell Python objects. Pair-specific allowances (self, node-local, own-node) are patched per
source pod.
"""

from __future__ import annotations

import json
from collections import OrderedDict, defaultdict
from collections.abc import Iterator

from netmig.policy.classes import ClassMatrix
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
    cache: OrderedDict[int, list[str]] = OrderedDict()

    def tails_for(sc: int) -> list[str]:
        got = cache.get(sc)
        if got is not None:
            cache.move_to_end(sc)
            return got
        got = [tails_ok[j] if b >> sc & 1 else tails_no[j] for j, b in enumerate(bits)]
        cache[sc] = got
        if len(cache) > LRU_CLASSES:
            cache.popitem(last=False)
        return got

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
