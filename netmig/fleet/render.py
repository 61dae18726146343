"""Render a fleet scan: a terminal table, CSV, Markdown, JSON. Pure: strings in, strings out.

Contract: every renderer takes the ``ClusterScan.to_json()`` dicts (so a saved ``--json`` scan renders the same) and
lists the clusters in the given order; ``to_json`` wraps them as ``{"clusters": [...], "source", "scanned_at"}``.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

COLUMNS = ("name", "subscription", "network", "k8s", "nodes", "power", "migration", "deadline", "days_left",
           "blockers", "recommended")


def _row(c: dict[str, Any]) -> dict[str, str]:
    n = c["network"]
    net = "/".join(str(x) for x in (n["plugin"], n["mode"] or "-", n["policy"] or "none", n["dataplane"]))
    ms = c["migrations"]
    return {
        "name": c["name"], "subscription": c["subscription"], "network": net, "k8s": c["kubernetes_version"],
        "nodes": str(c.get("node_count", "")), "power": c.get("power_state", ""),
        "migration": ",".join(m["kind"] for m in ms) or "-",
        "deadline": ",".join(f"{m['deadline']} ({m['retirement']})" for m in ms if m["deadline"]) or "-",
        "days_left": ",".join(str(m["days_left"]) for m in ms if m["days_left"] is not None) or "-",
        "blockers": ",".join(b["id"] for m in ms for b in m["blockers"]) or "-",
        "recommended": c["recommended"] or "-",
        **({"preflight": _preflight(c["preflight"])} if "preflight" in c else {}),
    }


def _preflight(p: dict[str, Any]) -> str:
    if p.get("error"):
        return "error"
    return "ok" if p.get("ok") else "fails: " + ",".join(p.get("blocking") or [])


def _columns(clusters: list[dict[str, Any]]) -> tuple[str, ...]:
    """``COLUMNS``, plus ``preflight`` when the scan was deep."""
    return (*COLUMNS, "preflight") if any("preflight" in c for c in clusters) else COLUMNS


def rows(clusters: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One flat row per cluster (``id`` and the table's columns): a Prefect table artifact, CSV."""
    return [{"id": c["id"], **{k: r.get(k, "") for k in _columns(clusters)}}
            for c, r in zip(clusters, map(_row, clusters), strict=True)]


def table(clusters: list[dict[str, Any]]) -> str:
    rows = [_row(c) for c in clusters]
    cols = _columns(clusters)
    widths = {k: max([len(k), *(len(r.get(k, "")) for r in rows)]) for k in cols}
    lines = ["  ".join(k.upper().ljust(widths[k]) for k in cols).rstrip()]
    lines += ["  ".join(r.get(k, "").ljust(widths[k]) for k in cols).rstrip() for r in rows]
    return "\n".join(lines)


def to_csv(clusters: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", *_columns(clusters)], lineterminator="\n", restval="")
    w.writeheader()
    w.writerows(rows(clusters))
    return buf.getvalue()


def markdown(clusters: list[dict[str, Any]], title: str = "AKS fleet scan") -> str:
    lines = [f"# {title}", "", f"{len(clusters)} clusters; "
             f"{sum(1 for c in clusters if c['migrations'])} need a migration; "
             f"{sum(1 for c in clusters if any(m['blockers'] for m in c['migrations']))} are blocked.", "",
             "| " + " | ".join(_columns(clusters)) + " |", "|" + "---|" * len(_columns(clusters))]
    for c in clusters:
        r = _row(c)
        lines.append("| " + " | ".join(r.get(k, "").replace("|", "\\|") for k in _columns(clusters)) + " |")
    blocked = [(c, b) for c in clusters for m in c["migrations"] for b in m["blockers"]]
    if blocked:
        lines += ["", "## Blockers", ""]
        lines += [f"- **{c['name']}** `{b['id']}`: {b['message']}" for c, b in blocked]
    return "\n".join(lines) + "\n"


def to_json(clusters: list[dict[str, Any]], source: str, scanned_at: str) -> str:
    return json.dumps({"clusters": clusters, "source": source, "scanned_at": scanned_at}, indent=2)
