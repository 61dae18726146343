"""ONE summary of the connectivity changes a plan predicts: what every front end shows (the CLI's preflight and plan,
the wizard, the plan file's Markdown, the approval gate, the Prefect form and the report).

Contract: pure (no I/O, no cluster) -- a function of the plan's policy-analysis findings and its steps.
- The count has one meaning everywhere: ``ChangeSummary.total`` = the number of (source workload group ->
  destination workload group, port) paths whose verdict differs between the source and the target engine (the
  ``lost`` + ``gained`` of every ``connectivity-change`` finding). ``changes`` holds the detailed lines the analysis
  kept (at most 20 per policy); ``total`` may be larger, and every front end says "... and N more".
- Lines name workloads, never internal class ids: ``web/frontend -> api/payments 80/TCP: open -> blocked
  (api/allow-http-from-web)``; a Deployment/StatefulSet/DaemonSet is ``namespace/name``, other identities stay as
  the analysis gave them (e.g. ``ns/pod/app=x``); plans made before workloads were recorded fall back to the example
  pod names.
- A target engine that is only a window (the plan's ``verify`` step expects another engine afterwards, e.g.
  calico-to-self-managed goes through ``none`` until Calico is back) is labelled: ``transient`` is
  ``"until Calico is back"`` and every rendering says it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAX_LINES = 20
_NOT_ENGINES = {"src_class", "dst_class", "port", "protocol", "src_pods", "dst_pods", "example", "src_workload",
                "dst_workload"}
_ENGINE_NAMES = {"calico": "Calico", "cilium": "Cilium", "azure": "Azure NPM", "npm": "Azure NPM",
                 "none": "no policy engine"}


def workload_name(identity: str) -> str:
    """``ns/deployment/web`` -> ``ns/web`` (controllers read as their name); anything else unchanged."""
    parts = identity.split("/")
    if len(parts) == 3 and parts[1] in ("deployment", "statefulset", "daemonset", "replicaset", "job"):
        return f"{parts[0]}/{parts[2]}"
    return identity


def _verdict(v: Any) -> str:
    if v is True:
        return "open"
    if v is False:
        return "blocked"
    if v == "partial":
        return "partly blocked"
    return "unknown" if v is None else str(v)


@dataclass(frozen=True)
class Change:
    """One predicted change: ``src``/``dst`` workload names, ``port`` (None: any), ``before``/``after`` verdict words
    (open / blocked / partly blocked), ``reasons`` (notes, then the responsible policy)."""

    src: str
    dst: str
    port: int | None
    protocol: str
    before: str
    after: str
    reasons: tuple[str, ...] = ()

    def line(self) -> str:
        port = f"{self.port if self.port is not None else '*'}/{self.protocol}"
        why = f" ({'; '.join(self.reasons)})" if self.reasons else ""
        return f"{self.src} -> {self.dst} {port}: {self.before} -> {self.after}{why}"

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "before": self.before, "after": self.after, "reasons": list(self.reasons), "line": self.line()}


@dataclass(frozen=True)
class ChangeSummary:
    """The predicted changes of one plan; see the module docstring for what ``total`` counts."""

    source_engine: str
    target_engine: str
    total: int
    changes: list[Change] = field(default_factory=list)
    transient: str = ""  # "" or e.g. "until Calico is back"

    def headline(self) -> str:
        """One line: the count and its meaning, with the transient label when there is one."""
        what = "path" if self.total == 1 else "paths"
        text = (f"{self.total} predicted connectivity {('change' if self.total == 1 else 'changes')} "
                f"({what} whose verdict differs from {self.source_engine} to {self.target_engine})")
        if self.transient:
            text += f"; transient: only {self.transient}"
        return text

    def lines(self, limit: int = MAX_LINES) -> list[str]:
        """The detail lines (identical ones once, with ``x N``), at most ``limit``, then ``... and N more`` (N:
        the changes of ``total`` not shown) when ``total`` is larger."""
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[c.line()] = counts.get(c.line(), 0) + 1
        shown = list(counts.items())[:limit]
        out = [line + (f" x{n}" if n > 1 else "") for line, n in shown]
        more = self.total - sum(n for _, n in shown)
        if more > 0:
            out.append(f"... and {more} more")
        return out

    def text(self, limit: int = MAX_LINES, indent: str = "    ") -> str:
        """The headline and the lines, for a terminal."""
        return "\n".join([self.headline(), *(indent + x for x in self.lines(limit))])

    def markdown(self, limit: int = MAX_LINES) -> str:
        """The headline and the lines as a Markdown list (short lines: fits a narrow modal)."""
        out = [f"**{self.headline()}**", ""]
        out += [f"- `{x}`" if not x.startswith("... and") else f"- {x}" for x in self.lines(limit)]
        return "\n".join(out) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "headline": self.headline(), "source_engine": self.source_engine,
                "target_engine": self.target_engine, "transient": self.transient,
                "changes": [c.to_dict() for c in self.changes]}


def _name(cell: Mapping[str, Any], side: str) -> str:
    wl = cell.get(f"{side}_workload")
    if wl:
        return workload_name(str(wl))
    ex = str(cell.get("example") or "")
    parts = [p.strip() for p in ex.split("->")]
    if side == "src" and parts and parts[0]:
        return parts[0]
    if side == "dst" and len(parts) > 1:
        return parts[1]
    return str(cell.get(f"{side}_class") or "?")


def _engine_label(name: str) -> str:
    return _ENGINE_NAMES.get(name, name)


def transient_window(steps: Iterable[Any], target_engine: str) -> str:
    """``"until X is back"`` when a ``verify`` step of the plan expects an engine other than the target's (the
    target is then only a window), else ``""``."""
    for s in steps:
        kind = getattr(s, "kind", None) or (s.get("kind") if isinstance(s, Mapping) else None)
        params = getattr(s, "params", None) or (s.get("params") if isinstance(s, Mapping) else None) or {}
        expect = params.get("expect_engine") if kind == "verify" else None
        if expect and str(expect) != target_engine:
            return f"until {_engine_label(str(expect))} is back"
    return ""


def summarize_findings(findings: Iterable[Mapping[str, Any]], steps: Iterable[Any] = ()) -> ChangeSummary:
    """The summary of the ``connectivity-change`` findings (policy analysis) of a plan with these ``steps``."""
    changes: list[Change] = []
    total = 0
    source = target = ""
    for f in findings:
        if f.get("rule") != "connectivity-change":
            continue
        details = f.get("details") or {}
        cells = details.get("cells") or []
        policy = str(details.get("policy") or "/".join(x for x in (f.get("namespace"), f.get("name")) if x))
        total += int(details.get("lost", 0)) + int(details.get("gained", 0)) if "lost" in details else len(cells)
        for cell in cells:
            engines = [k for k in cell if k not in _NOT_ENGINES]
            b, a = [*engines, "", ""][:2]
            source, target = source or b, target or a
            reasons = []
            if "hostNetwork" in str(cell.get("src_class", "")) + str(cell.get("dst_class", "")):
                reasons.append("host network")
            if policy:
                reasons.append(policy)
            changes.append(Change(_name(cell, "src"), _name(cell, "dst"), cell.get("port"),
                                  str(cell.get("protocol") or "TCP"), _verdict(cell.get(b)), _verdict(cell.get(a)),
                                  tuple(reasons)))
    changes.sort(key=lambda c: (c.src, c.dst, c.port if c.port is not None else -1, c.protocol))
    return ChangeSummary(_engine_label(source) if source else "the source engine",
                         _engine_label(target) if target else "the target engine", max(total, len(changes)),
                         changes, transient_window(steps, target) if target else "")


def summarize(plan: Any) -> ChangeSummary:
    """The summary of a plan (anything with ``findings`` and ``steps``: a ``Plan``, or a plan dict)."""
    if isinstance(plan, Mapping):
        return summarize_findings(plan.get("findings") or [], plan.get("steps") or [])
    return summarize_findings(getattr(plan, "findings", []) or [], getattr(plan, "steps", []) or [])
