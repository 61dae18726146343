"""``aks-netmig policy``: NetworkPolicy reachability, migration analysis and engine diff; manifests or a live cluster.

Input: manifest files/directories (YAML or JSON, read as kubectl reads them), or a running cluster with
``--kubeconfig FILE``, ``--sandbox DIR`` or ``--cluster ID`` (``--subscription/--resource-group/--name``); the
cluster's Namespaces, Nodes, Pods, Services and NetworkPolicies are listed in pages of 500 (limit/continue).

``reachability`` / ``diff`` answer ``--by workload`` (default: rows per source workload, destination workload and
port, with the pod counts behind each row; workload = owner Deployment / StatefulSet / DaemonSet / Job, bare pods by
their labels -- the identity the verifier uses) or ``--by pod``. ``--format`` text (a bounded summary on big
clusters: counts per namespace pair, the rows that matter most), json (``{"engine", "by", "results": [...]}``,
``{"from", "to", "by", "changes": [...]}``; ``--json`` is the same) or ndjson (one row a line). Pod-level
reachability and diffs are written as they are computed, in bounded memory; manifests are read as a stream (a
kubectl List item by item, ``netmig.manifests.iter_manifests``).

JSON rows. reachability by pod: src, dst, port, protocol, allowed. By workload: also verdict (allowed / denied /
partial), src_pods, dst_pods, pairs, allowed_pairs (``allowed``: every pod pair allowed). diff by pod: src, dst, port,
protocol, from, to, policies; by workload: also src_pods, dst_pods, pairs, lost, gained (pod pairs).
Exit codes: 0 ok; 1 ``analyze`` found error-severity findings, or the cluster could not be read; 2 unusable input.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import click

from netmig.errors import CheckFailed, UsageError
from netmig.gcpause import paused_gc, settle
from netmig.manifests import iter_manifests
from netmig.policy import (
    ENGINE_NAMES,
    Cluster,
    EngineProfile,
    analyze,
    class_reachability,
    compute_classes,
    from_objects,
    get_engine,
)
from netmig.policy.classes import ClassMatrix
from netmig.policy.stream import pod_cells_text, pod_diff_blocks, pod_diff_text

if TYPE_CHECKING:  # workloads (and numpy under it) is imported where used: ``policy analyze`` needs neither
    from netmig.policy.workloads import WorkloadView

MATRIX_MAX_PODS = 30
FULL_ROWS = 200  # text output lists every row up to this many, else the top ones
TOP = 20
ENGINE_CHOICE = click.Choice(ENGINE_NAMES)
BY = click.option("--by", type=click.Choice(["workload", "pod"]), default="workload", show_default=True,
                  help="Rows per workload (owner Deployment/StatefulSet/DaemonSet/Job; pod counts per row) or per "
                       "pod pair.")
FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json", "ndjson"]), default="text",
                      show_default=True, help="Output: bounded text summary, one JSON document, or a row a line.")
JSON_FLAG = click.option("--json", "as_json", is_flag=True, help="Same as --format json.")


def input_options(f: Any) -> Any:
    """Manifest paths, or a live cluster (the cluster-address flags ``verify`` uses, plus ``--kubeconfig``)."""
    from netmig.cli.verify_cmd import connection_options

    f = connection_options(f)
    return click.argument("paths", nargs=-1, type=click.Path())(f)


def _objects(paths: Sequence[str], kwargs: dict[str, Any]) -> Iterable[dict[str, Any]]:
    """The objects to analyse: the manifests under ``paths`` read as a stream (``iter_manifests``), or the live
    cluster's inventory."""
    from netmig.cli.verify_cmd import _conn

    conn = _conn(kwargs)
    if paths and conn.given:
        raise UsageError("both manifest paths and a cluster were given", "pass either manifests or a cluster")
    if not conn.given:
        if not paths:
            raise UsageError("no manifest paths given", "pass files or directories of Kubernetes YAML/JSON, or a "
                                                        "cluster with --kubeconfig FILE, --sandbox DIR or --cluster ID")
        return _kube_objects(iter_manifests(paths), paths)
    from netmig.cli.verify_cmd import open_cluster
    from netmig.kube import errors as kube_errors

    try:
        with open_cluster(conn) as (gw, _, _):
            return gw.inventory()
    except kube_errors.KubeError as e:
        raise CheckFailed(f"cannot read the cluster: {e}", "check the cluster address and credentials") from e


def _load(paths: Sequence[str], kwargs: dict[str, Any]) -> Cluster:
    """The cluster model; the loaded objects are then exempt from cyclic collection (``netmig.gcpause.settle``):
    the analysis that follows allocates a lot, and each full collection would walk the whole model again."""
    with paused_gc():  # frozen before collection resumes: no collection ever walks the freshly built model
        cluster = from_objects(_objects(paths, kwargs))
        settle()
    return cluster


def _kube_objects(objects: Iterable[tuple[dict[str, Any], bool]], paths: Sequence[str]) -> Iterator[dict[str, Any]]:
    """The documents of ``iter_manifests``, unchanged; ``UsageError`` when a document (not an item of a List) is
    not a Kubernetes object (e.g. an aks-netmig plan: its analysis must not say "no findings"). Empty files are
    fine: no objects, no findings."""
    for obj, nested in objects:
        if nested:
            yield obj
            continue
        kind = obj.get("kind")
        if not (isinstance(kind, str) and kind[:1].isupper()
                and (isinstance(obj.get("metadata"), dict) or kind.endswith("List"))):
            what = f"kind {kind!r}" if kind is not None else f"keys {', '.join(str(k) for k in list(obj)[:4])}"
            raise UsageError(f"a document in {', '.join(paths)} is not a Kubernetes object ({what}; an object has "
                             "a Kind and metadata)",
                             "pass Kubernetes manifests (kubectl get ... -o yaml), not plans or other files")
        yield obj


def _engine(name: str, cilium_version: str) -> EngineProfile:
    import re

    if not re.fullmatch(r"\d+\.\d+(\.\d+)?", cilium_version or ""):
        raise UsageError(f"--cilium-version {cilium_version!r} is not a version number",
                         "use e.g. --cilium-version 1.17")
    try:
        return get_engine(name, cilium_version)
    except ValueError as e:
        raise UsageError(str(e), "use e.g. --cilium-version 1.17") from e


def parse_port(text: str) -> tuple[int, str]:
    """``80``, ``80/TCP``, ``53/udp`` -> (port, PROTOCOL)."""
    num, _, proto = text.partition("/")
    proto = (proto or "TCP").upper()
    if not num.isdigit() or not 1 <= int(num) <= 65535 or proto not in ("TCP", "UDP", "SCTP"):
        raise UsageError(f"--port {text!r} is not PORT[/TCP|UDP|SCTP]", "use e.g. --port 80/TCP")
    return int(num), proto


def _fmt(fmt: str, as_json: bool) -> str:
    return "json" if as_json else fmt


def _out(chunks: Iterable[str]) -> None:
    """Write chunks to stdout as they come (a closed pipe ends the output quietly)."""
    out = sys.stdout
    try:
        for c in chunks:
            out.write(c)
        out.flush()
    except BrokenPipeError:  # e.g. | head
        sys.stderr.close()


def _stream_json(header: dict[str, Any], key: str, rows: Iterable[str]) -> Iterable[str]:
    head = json.dumps(header)[:-1]
    yield f'{head}, "{key}": [\n'
    yield from rows
    yield "]}\n"


def _warn_problems(cluster: Cluster) -> None:
    for p in cluster.problems[:TOP]:
        who = "/".join(x for x in (p.namespace, p.name) if x) or "?"
        click.echo(f"warning: {p.kind} {who} ignored: {p.message}", err=True)
    if len(cluster.problems) > TOP:
        click.echo(f"warning: {len(cluster.problems) - TOP} more objects ignored (policy analyze lists them)", err=True)


@click.group("policy")
def policy() -> None:
    """NetworkPolicy analysis on manifests or a live cluster (read-only)."""


# ---------------------------------------------------------------------------------------------- reachability


@policy.command("reachability")
@input_options
@click.option("--engine", type=ENGINE_CHOICE, default="spec", show_default=True, help="Engine profile.")
@click.option("--cilium-version", default="1.17", show_default=True, help="Cilium version for --engine cilium.")
@click.option("--port", "ports", multiple=True, help="PORT[/PROTOCOL] to evaluate (repeatable); default: each "
              "destination's declared ports.")
@BY
@FORMAT
@JSON_FLAG
def reachability_cmd(paths: tuple[str, ...], engine: str, cilium_version: str, ports: tuple[str, ...], by: str,
                     fmt: str, as_json: bool, **kwargs: Any) -> None:
    """Which workload (or pod) can reach which, on which port, under ENGINE."""
    fmt = _fmt(fmt, as_json)
    prof = _engine(engine, cilium_version)
    port_list = [parse_port(p) for p in ports] or None
    cluster = _load(paths, kwargs)
    classes = compute_classes(cluster, [prof])
    m = class_reachability(cluster, prof, classes, port_list)
    if fmt != "text":
        _warn_problems(cluster)
        header = {"engine": engine, "by": by}
        if by == "pod":  # numpy (netmig.policy.workloads) is not needed: not imported
            rows = pod_cells_text(cluster, m, fmt)
        else:
            from netmig.policy.workloads import WorkloadView, reach_tables, reachability_text

            rows = reachability_text(reach_tables(WorkloadView(cluster, classes), m), fmt)
        _out(_stream_json(header, "results", rows) if fmt == "json" else rows)
        return
    _warn_problems(cluster)
    if by == "pod" and len(cluster.pods) <= MATRIX_MAX_PODS:
        _render_matrix(cluster, prof, m)
        return
    from netmig.policy.workloads import WorkloadView

    _render_reachability_summary(cluster, prof, m, WorkloadView(cluster, classes), by)


def _render_matrix(cluster: Cluster, prof: EngineProfile, m: ClassMatrix) -> None:
    cells = sorted(((s.key, d.key, p, q, ok) for s, d, p, q, ok in m.expand()), key=lambda c: c[:4])
    if not cells:
        click.echo(f"engine {prof.label}: no cells ({len(cluster.pods)} pods; none declares a port — try --port)")
        return
    allowed = sum(c[4] for c in cells)
    click.echo(f"engine {prof.label}: {len(cluster.pods)} pods, {len(cells)} cells, {allowed} allowed, "
               f"{len(cells) - allowed} denied")
    pods = sorted(cluster.pod_by_key)
    idx = {k: i for i, k in enumerate(pods)}
    for i, k in enumerate(pods):
        click.echo(f"  [{i}] {k}")
    by_port: dict[tuple[int, str], dict[tuple[str, str], bool]] = {}
    for s, d, p, q, ok in cells:
        by_port.setdefault((p, q), {})[(s, d)] = ok
    width = max(len(str(len(pods) - 1)), 1) + 1
    for (port, proto), grid in sorted(by_port.items()):
        dsts = sorted({d for _, d in grid}, key=idx.__getitem__)
        click.echo(f"\n{port}/{proto}  (rows: src, columns: dst; ✓ allowed, ✗ denied)")
        click.echo(" " * (width + 1) + "".join(str(idx[d]).rjust(width) for d in dsts))
        for s in pods:
            row = "".join(("✓" if grid.get((s, d)) else "✗").rjust(width) for d in dsts)
            click.echo(f"{str(idx[s]).rjust(width)} {row}")


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def _render_namespace_pairs(pairs: Any, counted: Any, view: WorkloadView, what: str) -> None:
    """The namespace pairs with the most ``what`` pod pairs (``counted``), bounded."""
    import numpy as np

    flat = counted.ravel()
    order = [int(i) for i in np.argsort(-flat, kind="stable") if flat[i] > 0]
    if not order:
        return
    n = len(view.namespaces)
    click.echo(f"namespace pairs (source -> destination), most {what} pod pairs first:")
    for i in order[:TOP]:
        s, d = divmod(i, n)
        click.echo(f"  {view.namespaces[s]} -> {view.namespaces[d]}: {what} {int(flat[i]):,} of "
                   f"{int(pairs[s, d]):,} pod pairs")
    if len(order) > TOP:
        click.echo(f"  ... {len(order) - TOP:,} more namespace pairs")


def _render_reachability_summary(cluster: Cluster, prof: EngineProfile, m: ClassMatrix, view: WorkloadView,
                                 by: str) -> None:
    from netmig.policy.workloads import reach_tables, row_counts
    t = reach_tables(view, m)
    rows, allowed_rows, denied_rows, pairs, allowed_pairs = row_counts(t)
    click.echo(f"engine {prof.label}: {len(cluster.pods):,} pods, {len(view.names):,} workloads in "
               f"{len(view.namespaces):,} namespaces, {len(t.tables)} port(s)")
    if not rows:
        click.echo("no rows (no pod declares a port — try --port)")
        return
    click.echo(f"  pod pairs: {allowed_pairs:,} of {pairs:,} allowed ({_pct(allowed_pairs, pairs)}), "
               f"{pairs - allowed_pairs:,} denied")
    click.echo(f"  workload rows: {rows:,}: {allowed_rows:,} allowed, {denied_rows:,} denied, "
               f"{rows - allowed_rows - denied_rows:,} partial")
    ns_pairs, ns_allowed = t.by_namespace()
    _render_namespace_pairs(ns_pairs, ns_pairs - ns_allowed, view, "denied")
    if by == "pod":
        _render_denied_pod_cells(cluster, m)
        return
    if rows <= FULL_ROWS:
        click.echo("workload rows (src -> dst port/protocol: verdict, allowed of pod pairs):")
        picked = [(w1, w2, pk, j) for pk, (_, dsts, _) in sorted(t.tables.items())
                  for w1 in range(len(view.names)) for j, w2 in enumerate(dsts)]
        picked.sort(key=lambda r: (view.names[r[0]], view.names[r[1]], r[2]))
    else:
        click.echo(f"workload rows with the most denied pod pairs (top {TOP}):")
        picked = t.top(lambda mat, p: p - mat, TOP)
    for w1, w2, pk, j in picked:
        n_src, n_dst, ok = t.cell(w1, pk, j)
        total = n_src * n_dst
        verdict = "allowed" if ok == total else ("denied" if ok == 0 else "partial")
        click.echo(f"  {view.names[w1]} -> {view.names[w2]} {pk[0]}/{pk[1]}: {verdict}, {ok:,} of {total:,} "
                   f"pod pairs allowed")
    click.echo("every row: --format json|ndjson; per pod pair: --by pod")


def _render_denied_pod_cells(cluster: Cluster, m: ClassMatrix) -> None:
    shown = 0
    click.echo(f"denied pod cells (src -> dst port/protocol), first {TOP}:")
    for s, d, p, q, ok in m.expand():
        if not ok:
            click.echo(f"  {s.key} -> {d.key} {p}/{q}")
            shown += 1
            if shown >= TOP:
                break
    click.echo("every cell: --format json|ndjson")


# ----------------------------------------------------------------------------------------------------- analyze


@policy.command("analyze")
@input_options
@click.option("--target", type=ENGINE_CHOICE, required=True, help="Engine you migrate to.")
@click.option("--source", type=ENGINE_CHOICE, default="npm", show_default=True, help="Engine you migrate from.")
@click.option("--cilium-version", default="1.17", show_default=True, help="Cilium version of the target/source.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def analyze_cmd(ctx: click.Context, paths: tuple[str, ...], target: str, source: str, cilium_version: str,
                as_json: bool, **kwargs: Any) -> None:
    """Migration compatibility findings; exit 1 when any finding is an error."""
    src, dst = _engine(source, cilium_version), _engine(target, cilium_version)
    cluster = _load(paths, kwargs)
    findings = analyze(cluster, src, dst)
    if as_json:
        _out([json.dumps({"source": source, "target": target, "findings": [f.to_dict() for f in findings]},
                         indent=2), "\n"])
    else:
        if not findings:
            click.echo(f"no findings for {source} -> {target} ({len(cluster.policies)} policies, "
                       f"{len(cluster.pods)} pods)")
        for f in findings:
            click.echo(f"{f.severity.upper():7} {f.rule:24} {f.object}: {f.message}")
            if f.fix:
                click.echo(f"{'':33}fix: {f.fix}")
        counts = {s: sum(f.severity == s for f in findings) for s in ("error", "warning", "info")}
        if findings:
            click.echo(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info")
    if any(f.severity == "error" for f in findings):
        ctx.exit(1)


# -------------------------------------------------------------------------------------------------------- diff


@policy.command("diff")
@input_options
@click.option("--from", "from_", type=ENGINE_CHOICE, required=True, help="Engine before.")
@click.option("--to", "to", type=ENGINE_CHOICE, required=True, help="Engine after.")
@click.option("--cilium-version", default="1.17", show_default=True)
@click.option("--port", "ports", multiple=True, help="PORT[/PROTOCOL] (repeatable); default: declared ports.")
@BY
@FORMAT
@JSON_FLAG
def diff_cmd(paths: tuple[str, ...], from_: str, to: str, cilium_version: str, ports: tuple[str, ...], by: str,
             fmt: str, as_json: bool, **kwargs: Any) -> None:
    """The connectivity that changes between two engines, per workload (default) or pod pair."""
    from netmig.policy.diff import Explainer
    from netmig.policy.workloads import WorkloadView, diff_rows, diff_tables, explained
    fmt = _fmt(fmt, as_json)
    a, b = _engine(from_, cilium_version), _engine(to, cilium_version)
    port_list = [parse_port(p) for p in ports] or None
    cluster = _load(paths, kwargs)
    _warn_problems(cluster)
    header = {"from": from_, "to": to, "by": by}
    classes = compute_classes(cluster, [a, b])
    ma, mb = class_reachability(cluster, a, classes, port_list), class_reachability(cluster, b, classes, port_list)
    if by == "pod":  # written as computed (netmig.policy.stream): memory does not grow with the changed pairs
        if fmt != "text":
            lines = pod_diff_text(cluster, ma, mb, fmt)
            _out(_stream_json(header, "changes", lines) if fmt == "json" else lines)
            return
        _render_pod_diff(a, b, (c for block in pod_diff_blocks(cluster, ma, mb) for c in block))
        return
    view = WorkloadView(cluster, classes)
    explain = Explainer(cluster, a, b, classes)
    tables = diff_tables(view, ma, mb)
    rows = diff_rows(view, ma, mb, explain if fmt != "text" else None, tables)  # text: only shown rows explained
    if fmt != "text":
        end = "\n" if fmt == "ndjson" else ",\n"
        lines = (json.dumps(r.to_dict()) + end for r in rows)
        _out(_stream_json(header, "changes", _last_line(lines)) if fmt == "json" else lines)
        return
    if not rows:
        click.echo(f"no connectivity changes from {a.label} to {b.label}")
        return
    lost_t, gained_t = tables
    lost = sum(r.lost for r in rows)
    gained = sum(r.gained for r in rows)
    click.echo(f"{len(rows):,} workload row(s) change from {a.label} to {b.label}: {lost:,} pod pairs lose access, "
               f"{gained:,} gain access")
    pairs, lost_ns = lost_t.by_namespace()
    _, gained_ns = gained_t.by_namespace()
    _render_namespace_pairs(pairs, lost_ns + gained_ns, view, "changed")
    _render_top_workloads(rows)
    top = rows if len(rows) <= FULL_ROWS else sorted(rows, key=lambda r: -(r.lost + r.gained))[:TOP]
    picked = explained(view, ma, mb, top, explain)
    click.echo("rows (src -> dst port/protocol: pod pairs losing / gaining access, policies):" if top is rows else
               f"rows with the most changed pod pairs (top {TOP} of {len(rows):,}; every row: --format json):")
    for r in picked:
        why = f"  ({', '.join(r.policies)})" if r.policies else ""
        click.echo(f"  {r.src} -> {r.dst} {r.port}/{r.protocol}: {r.lost:,} lose, {r.gained:,} gain of "
                   f"{r.pairs:,}{why}")


def _render_top_workloads(rows: Sequence[Any]) -> None:
    score: dict[str, int] = {}
    for r in rows:
        for w in {r.src, r.dst}:
            score[w] = score.get(w, 0) + r.lost + r.gained
    top = sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP // 2]
    click.echo("workloads with the most changed pod pairs (as source or destination):")
    for w, n in top:
        click.echo(f"  {w}: {n:,}")


def _render_pod_diff(a: EngineProfile, b: EngineProfile,
                     cells: Iterable[tuple[str, str, int, str, bool, bool, tuple[str, ...]]]) -> None:
    """The count and the first ``FULL_ROWS`` of the changed pod cells (src, dst, port, protocol, before, after,
    policies), consumed as they come: only the shown rows are kept."""
    shown: list[tuple[str, str, int, str, bool, bool, tuple[str, ...]]] = []
    total = 0
    for c in cells:
        total += 1
        if len(shown) < FULL_ROWS:
            shown.append(c)
    if not total:
        click.echo(f"no connectivity changes from {a.label} to {b.label}")
        return
    click.echo(f"{total} cell(s) change from {a.label} to {b.label}:")
    for src, dst, port, proto, before, _, policies in shown:
        arrow = "allowed -> DENIED" if before else "denied -> ALLOWED"
        why = f"  ({', '.join(policies)})" if policies else ""
        click.echo(f"  {src} -> {dst} {port}/{proto}: {arrow}{why}")
    if total > FULL_ROWS:
        click.echo(f"  ... {total - FULL_ROWS:,} more (every cell: --format json|ndjson)")


def _last_line(lines: Iterable[str]) -> Iterable[str]:
    """JSON array items: the last one without its trailing comma."""
    prev = None
    for line in lines:
        if prev is not None:
            yield prev
        prev = line
    if prev is not None:
        yield prev.rstrip(",\n") + "\n"

