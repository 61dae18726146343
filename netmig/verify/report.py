"""Rendering: terminal matrix, JSON, JUnit XML and Markdown (a Prefect artifact body) for snapshots, comparisons
and the seed demo.

Contract: pure; returns strings. Nothing here prints secrets: snapshots carry none, and reports show only
identities, ports, outcomes, agnhost's one-line stderr and policy names.
Matrix symbols: ``.`` open, ``R`` refused, ``X`` timeout, ``E`` error; a trailing ``!`` marks a cell that differs from
the expectation.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from netmig.verify.compare import Comparison, Mismatch
from netmig.verify.outcomes import SYMBOL
from netmig.verify.snapshot import Snapshot

LEGEND = "legend: . open  R refused  X timeout  E error  ! differs from the expectation"


def matrix(snap: Snapshot) -> str:
    """Sources as rows, destinations (identity + port) as columns, numbered to keep the table narrow."""
    srcs = sorted({c.src for c in snap.cells})
    dsts = sorted({(c.dst, c.port, c.protocol) for c in snap.cells})
    idx = {d: i + 1 for i, d in enumerate(dsts)}
    cells = {(c.src, (c.dst, c.port, c.protocol)): c for c in snap.cells}
    width = max([len(s) for s in srcs] + [6])
    lines = [f"Reachability under {snap.engine} ({len(snap.cells)} probes); destinations:"]
    for d, i in idx.items():
        lines.append(f"  [{i:>2}] {d[0]} {d[1]}/{d[2]}")
    lines.append(" " * width + " " + "".join(f"{i:>4}" for i in idx.values()))
    for s in srcs:
        row = []
        for d in dsts:
            c = cells.get((s, d))
            row.append("   -" if c is None else f"{SYMBOL[c.outcome] + ('!' if not c.met else ''):>4}")
        lines.append(f"{s:<{width}} " + "".join(row))
    lines.append(LEGEND)
    if snap.predicted_only:
        lines.append("LoadBalancer paths (predicted only, not probed: a pod cannot originate external traffic):")
        for p in snap.predicted_only:
            lines.append(f"  external -> {p.service} -> {p.backend} {p.port}/{p.protocol}: "
                         f"{'allowed' if p.allowed else 'denied'} ({p.note})")
    return "\n".join(lines)


def comparison_text(cmp: Comparison) -> str:
    lines = [f"{cmp.before_engine} -> {cmp.after_engine}: {len(cmp.changes)} changed of {cmp.probes} cells probed in "
             f"both ({len(cmp.unexplained)} unexplained)"]
    for c in cmp.changes:
        lines.append(f"  {c.src} -> {c.dst} {c.port}/{c.protocol}: {c.before} -> {c.after}")
        lines.append(f"      {c.explanation or 'UNEXPLAINED: the policy engine does not predict this change'}")
    if cmp.only_before or cmp.only_after:
        lines.append(f"  not compared: {len(cmp.only_before)} cells only before, {len(cmp.only_after)} only after")
    return "\n".join(lines)


def mismatches_text(engine: str, items: Sequence[Mismatch], total: int) -> str:
    lines = [f"expected under {engine} vs observed: {len(items)} of {total} cells differ"]
    for m in items:
        c = m.cell
        lines.append(f"  {c.src} -> {c.dst} {c.port}/{c.protocol}: expected {m.expected}, observed {c.outcome}"
                     f"{' (' + c.detail + ')' if c.detail else ''}; policies: {', '.join(m.policies) or 'none'}")
    return "\n".join(lines)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=1, sort_keys=True)


def junit(suite: str, cases: Sequence[tuple[str, str, str | None]]) -> str:
    """JUnit XML: ``cases`` are (classname, name, failure message or None)."""
    fails = sum(1 for *_, f in cases if f is not None)
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           f"<testsuite name={quoteattr(suite)} tests=\"{len(cases)}\" failures=\"{fails}\" errors=\"0\">"]
    for cls, name, failure in cases:
        out.append(f"  <testcase classname={quoteattr(cls)} name={quoteattr(name)}>")
        if failure is not None:
            out.append(f"    <failure message={quoteattr(failure[:300])}>{escape(failure)}</failure>")
        out.append("  </testcase>")
    out.append("</testsuite>")
    return "\n".join(out) + "\n"


def snapshot_junit(snap: Snapshot) -> str:
    return junit(f"reachability ({snap.engine})", [
        (c.src, f"{c.dst} {c.port}/{c.protocol}",
         None if c.met else f"expected {c.expected}, observed {c.outcome} {c.detail}".strip())
        for c in snap.cells])


def comparison_junit(cmp: Comparison) -> str:
    return junit(f"compare {cmp.before_engine} -> {cmp.after_engine}", [
        (c.src, f"{c.dst} {c.port}/{c.protocol}",
         f"{c.before} -> {c.after}: {c.explanation or 'unexplained'}") for c in cmp.changes])


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(x: str) -> str:
        return x.replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(str(v)) for v in r) + " |" for r in rows]
    return out


def snapshot_markdown(snap: Snapshot) -> str:
    st = snap.stats
    lines = [f"# Reachability snapshot ({snap.engine})", "",
             f"{len(snap.cells)} probes from {st.get('probe_pods', '?')} probe pods cover "
             f"{st.get('covered_cells', '?')}/{st.get('class_cells', '?')} (class, class, port) cells over "
             f"{st.get('pods', '?')} pods ({st.get('pod_pairs', '?')} pod pairs). Taken {snap.taken_at}.", ""]
    bad = [c for c in snap.cells if not c.met]
    lines.append(f"**{len(bad)} cells differ from the expectation.**" if bad else "Every cell met the expectation.")
    lines.append("")
    lines += _md_table(["source", "destination", "port", "observed", "expected", "policies"], [
        (c.src, c.dst, f"{c.port}/{c.protocol}", c.outcome + ("" if c.met else " ⚠"), c.expected or "?",
         ", ".join(c.policies)) for c in sorted(snap.cells, key=lambda c: (c.met, c.key))])
    if snap.predicted_only:
        lines += ["", "## LoadBalancer paths (predicted only)", "",
                  "A probe pod cannot originate traffic from outside the cluster, so these paths are not probed; "
                  "this is the engine's prediction for an external client.", ""]
        lines += _md_table(["service", "backend", "port", "prediction", "rule", "policies"], [
            (p.service, p.backend, f"{p.port}/{p.protocol}", "allowed" if p.allowed else "denied", p.note,
             ", ".join(p.policies)) for p in snap.predicted_only])
    return "\n".join(lines) + "\n"


def comparison_markdown(cmp: Comparison) -> str:
    lines = [f"# Connectivity change: {cmp.before_engine} → {cmp.after_engine}", "",
             f"{len(cmp.changes)} cells changed of {cmp.probes} probed in both; "
             f"{len(cmp.unexplained)} unexplained.", ""]
    if cmp.changes:
        lines += _md_table(["source", "destination", "port", "before", "after", "explanation"], [
            (c.src, c.dst, f"{c.port}/{c.protocol}", c.before, c.after, c.explanation or "**unexplained**")
            for c in cmp.changes])
    return "\n".join(lines) + "\n"


def seed_demo_text(result: Any) -> str:
    lines = []
    for e in result.expectations:
        mark = "ok  " if e.met else "FAIL"
        tries = f" after {e.attempts} attempts" if e.attempts > 1 else ""
        lines.append(f"[{mark}] {e.step}: expected {e.expected}, observed {e.observed}"
                     f"{' (' + e.detail + ')' if e.detail else ''}{tries}")
    met = sum(1 for e in result.expectations if e.met)
    lines.append(f"seed demo: {met}/{len(result.expectations)} expectations met")
    return "\n".join(lines)


def seed_demo_junit(result: Any) -> str:
    return junit("seed demo", [("seed-demo", e.step, None if e.met else f"expected {e.expected}, observed "
                                f"{e.observed} {e.detail}".strip()) for e in result.expectations])
