"""Rendering: terminal matrix, JSON, JUnit XML and Markdown (a Prefect artifact body) for snapshots, comparisons
and the seed demo.

Contract: pure; returns strings. Nothing here prints secrets: snapshots carry none, and reports show only
identities, ports, outcomes, agnhost's one-line stderr and policy names.
Matrix symbols: ``.`` open, ``R`` refused, ``X`` timeout, ``E`` error; a trailing ``!`` marks a cell that differs from
the expectation; an aggregated cell (several observations) shows one symbol per distinct outcome.
LoadBalancer paths are predicted only: every report lists them apart from the observed cells, with the verdict of
each engine the snapshot was planned for and those that change between engines marked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from netmig.verify.compare import Comparison, Mismatch, ordered
from netmig.verify.outcomes import SYMBOL
from netmig.verify.snapshot import Cell, EngineVerdict, PredictedOnly, Snapshot

LEGEND = "legend: . open  R refused  X timeout  E error  ! differs from the expectation"


def _symbols(cells: Sequence[Cell]) -> str:
    """One cell's symbols: the distinct outcomes of its observations (several for an aggregated cell), plus ``!``
    when any differs from its expectation."""
    text = "".join(SYMBOL[o] for o in ordered(c.outcome for c in cells))
    return text + ("" if all(c.met for c in cells) else "!")


def coverage_text(cov: Any) -> str:
    """The snapshot's coverage in words (``netmig.verify.budget.coverage_text``)."""
    from netmig.verify.budget import coverage_text as text

    return text(cov)


def matrix(snap: Snapshot) -> str:
    """Sources as rows, destinations (identity + port) as columns, numbered to keep the table narrow. A cell
    holding several observations (aggregated) shows each distinct outcome's symbol (e.g. ``.X``)."""
    srcs = sorted({c.src for c in snap.cells})
    dsts = sorted({(c.dst, c.port, c.protocol) for c in snap.cells})
    idx = {d: i + 1 for i, d in enumerate(dsts)}
    groups = {(k[0], (k[1], k[2], k[3])): cs for k, cs in snap.by_key().items()}
    texts = {k: _symbols(cs) for k, cs in groups.items()}
    col = max([len(t) for t in texts.values()] + [3]) + 1
    width = max([len(s) for s in srcs] + [6])
    lines = [f"Reachability under {snap.engine} ({len(snap.cells)} probes); destinations:"]
    for d, i in idx.items():
        lines.append(f"  [{i:>2}] {d[0]} {d[1]}/{d[2]}")
    lines.append(" " * width + " " + "".join(f"{i:>{col}}" for i in idx.values()))
    for s in srcs:
        lines.append(f"{s:<{width}} " + "".join(f"{texts.get((s, d), '-'):>{col}}" for d in dsts))
    lines.append(LEGEND)
    aggregated = sum(1 for cs in groups.values() if len(cs) > 1)
    if aggregated:
        lines.append(f"{aggregated} cells aggregate several policy classes of one workload (one symbol per "
                     "distinct outcome)")
    lines += lb_text(snap.predicted_only)
    return "\n".join(lines)


def _verdict_text(v: EngineVerdict) -> str:
    return f"{'allowed' if v.allowed else 'denied'} under {v.engine} ({v.note})"


def lb_text(paths: Sequence[PredictedOnly]) -> list[str]:
    """The LoadBalancer section of the terminal report: each path's verdicts, the ones that differ between engines
    marked ``CHANGES``."""
    if not paths:
        return []
    changing = sum(1 for p in paths if p.differs_between_engines)
    lines = [f"LoadBalancer paths (predicted only, not probed: a pod cannot originate external traffic); "
             f"{changing} of {len(paths)} change between engines:"]
    for p in paths:
        verdicts = "; ".join(_verdict_text(v) for v in p.by_engine) or _verdict_text(
            EngineVerdict("this engine", p.allowed, p.note))
        mark = "CHANGES " if p.differs_between_engines else ""
        lines.append(f"  {mark}external -> {p.service}:{p.service_port or '?'} -> {p.backend} {p.port}/{p.protocol}:"
                     f" {verdicts}")
    return lines


def _key_text(src: str, dst: str, port: int, protocol: str) -> str:
    return f"{src} -> {dst} {port}/{protocol}"


def comparison_text(cmp: Comparison) -> str:
    lines = [f"{cmp.before_engine} -> {cmp.after_engine}: {len(cmp.changes)} changed of {cmp.probes} cells probed in "
             f"both ({len(cmp.unexplained)} unexplained); {len(cmp.only_before)} cells only before, "
             f"{len(cmp.only_after)} only after; {len(cmp.predicted_changes)} predicted-only LoadBalancer changes"]
    for c in cmp.changes:
        agg = (f" [aggregated: {'+'.join(c.before_outcomes)} -> {'+'.join(c.after_outcomes)}]"
               if c.aggregated else "")
        lines.append(f"  {_key_text(c.src, c.dst, c.port, c.protocol)}: {c.before} -> {c.after}{agg}")
        lines.append(f"      {c.explanation or 'UNEXPLAINED: the policy engine does not predict this change'}")
    for title, items in (("only before", cmp.only_before), ("only after", cmp.only_after)):
        for o in items:
            lines.append(f"  {title}: {_key_text(o.src, o.dst, o.port, o.protocol)}: {'+'.join(o.outcomes)}; "
                         f"{o.reason}")
    if cmp.predicted_changes:
        lines.append("  LoadBalancer paths (predicted only, not probed; not counted in the changes above):")
    for p in cmp.predicted_changes:
        lines.append(f"    external -> {p.service}:{p.service_port or '?'} -> {p.backend} {p.port}/{p.protocol}: "
                     f"{p.before} -> {p.after}")
        lines.append(f"        {p.explanation or 'not re-evaluable (snapshot without backend pods)'}")
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
    """One test case per cell key; it fails when any of its observations differs from its expectation."""
    cases = []
    for (src, dst, port, proto), cs in sorted(snap.by_key().items()):
        bad = [f"expected {c.expected}, observed {c.outcome} {c.detail}".strip() for c in cs if not c.met]
        cases.append((src, f"{dst} {port}/{proto}", "; ".join(bad) if bad else None))
    return junit(f"reachability ({snap.engine})", cases)


def comparison_junit(cmp: Comparison) -> str:
    """Failing test cases: each observed change, each one-sided cell and each predicted-only change."""
    cases: list[tuple[str, str, str | None]] = [
        (c.src, f"{c.dst} {c.port}/{c.protocol}", f"{c.before} -> {c.after}: {c.explanation or 'unexplained'}")
        for c in cmp.changes]
    cases += [(o.src, f"{o.dst} {o.port}/{o.protocol}", f"{side}: {'+'.join(o.outcomes)}; {o.reason}")
              for side, items in (("only before", cmp.only_before), ("only after", cmp.only_after)) for o in items]
    cases += [(f"external -> {p.service}", f"{p.backend} {p.port}/{p.protocol} (predicted only)",
               f"{p.before} -> {p.after}: {p.explanation or 'not re-evaluable'}") for p in cmp.predicted_changes]
    return junit(f"compare {cmp.before_engine} -> {cmp.after_engine}", cases)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def cell(x: str) -> str:
        return x.replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(str(v)) for v in r) + " |" for r in rows]
    return out


def _lb_markdown(paths: Sequence[PredictedOnly]) -> list[str]:
    if not paths:
        return []
    changing = [p for p in paths if p.differs_between_engines]
    lines = ["", "## LoadBalancer paths (predicted only)", "",
             "A probe pod cannot originate traffic from outside the cluster, so these paths are not probed; "
             "this is each engine's prediction for an external client. "
             f"**{len(changing)} of {len(paths)} change between engines.**", ""]
    return lines + _md_table(["service", "backend", "port", "prediction", "changes between engines", "policies"], [
        (f"{p.service}:{p.service_port or '?'}", p.backend, f"{p.port}/{p.protocol}",
         "; ".join(_verdict_text(v) for v in p.by_engine) or ("allowed" if p.allowed else "denied") + f" ({p.note})",
         "**yes**" if p.differs_between_engines else "no", ", ".join(p.policies)) for p in paths])


def snapshot_markdown(snap: Snapshot) -> str:
    st = snap.stats
    lines = [f"# Reachability snapshot ({snap.engine})", "",
             f"{len(snap.cells)} probes from {st.get('probe_pods', '?')} probe pods cover "
             f"{st.get('covered_cells', '?')}/{st.get('class_cells', '?')} (class, class, port) cells over "
             f"{st.get('pods', '?')} pods ({st.get('pod_pairs', '?')} pod pairs); "
             f"{st.get('aggregated_cells', 0)} cells aggregate several classes of one workload. "
             f"Taken {snap.taken_at}.", ""]
    if snap.coverage:
        lines += [f"Coverage: {coverage_text(snap.coverage)}.", ""]
    bad = [c for c in snap.cells if not c.met]
    lines.append(f"**{len(bad)} cells differ from the expectation.**" if bad else "Every cell met the expectation.")
    lines.append("")
    lines += _md_table(["source", "destination", "port", "observed", "expected", "representatives", "policies"], [
        (c.src, c.dst, f"{c.port}/{c.protocol}", c.outcome + ("" if c.met else " ⚠"), c.expected or "?",
         f"{c.src_pod} -> {c.dst_pod or c.host}", ", ".join(c.policies))
        for c in sorted(snap.cells, key=lambda c: (c.met, c.key, c.src_pod, c.dst_pod or ""))])
    lines += _lb_markdown(snap.predicted_only)
    return "\n".join(lines) + "\n"


def comparison_markdown(cmp: Comparison) -> str:
    lines = [f"# Connectivity change: {cmp.before_engine} → {cmp.after_engine}", "",
             f"{len(cmp.changes)} cells changed of {cmp.probes} probed in both; {len(cmp.unexplained)} unexplained; "
             f"{len(cmp.only_before)} only before, {len(cmp.only_after)} only after; "
             f"{len(cmp.predicted_changes)} predicted-only LoadBalancer changes.", ""]
    if cmp.changes:
        lines += _md_table(["source", "destination", "port", "before", "after", "explanation"], [
            (c.src, c.dst, f"{c.port}/{c.protocol}", "+".join(c.before_outcomes) or c.before,
             "+".join(c.after_outcomes) or c.after, c.explanation or "**unexplained**") for c in cmp.changes])
    one_sided = [("only before", o) for o in cmp.only_before] + [("only after", o) for o in cmp.only_after]
    if one_sided:
        lines += ["", "## Cells probed on one side only", ""]
        lines += _md_table(["side", "source", "destination", "port", "outcomes", "reason"], [
            (side, o.src, o.dst, f"{o.port}/{o.protocol}", "+".join(o.outcomes), o.reason) for side, o in one_sided])
    if cmp.predicted_changes:
        lines += ["", "## LoadBalancer paths (predicted only, not probed)", ""]
        lines += _md_table(["service", "backend", "port", "before", "after", "explanation"], [
            (f"{p.service}:{p.service_port or '?'}", p.backend, f"{p.port}/{p.protocol}", p.before, p.after,
             p.explanation or "not re-evaluable") for p in cmp.predicted_changes])
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
