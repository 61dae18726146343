"""Prefect flow ``netmig-fleet-scan``: ``aks-netmig fleet scan`` as a flow run, its report as artifacts.

Contract: the parameters are the CLI's (``sandbox``, ``arm_endpoint``, ``ca_bundle``: empty for "not given";
``subscriptions``; ``deep`` / ``parallel``); the scan is ``netmig.commands.fleet_scan.fleet_scan`` (the same one the
CLI calls: read-only, ARM only unless ``deep``). It publishes the Markdown report (``netmig.fleet.render.markdown``)
as the artifact ``fleet-scan`` and one row per cluster as the table artifact ``fleet-scan-table``; with ``out_dir``
it also writes ``fleet-scan.json`` (the ``--json`` document, input of ``fleet plan --scan``) and ``fleet-scan.md``
there. Returns {clusters, need_migration, blocked, source, recommended: {kind: count}}. A scan that cannot read ARM
fails the run with the CLI's one line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow


@flow(name="netmig-fleet-scan", persist_result=False)
def fleet_scan(sandbox: str = "", arm_endpoint: str = "", ca_bundle: str = "", subscriptions: tuple[str, ...] = (),
               deep: bool = False, parallel: int = 4, out_dir: str = "") -> dict[str, Any]:
    """Inventory every AKS cluster the credential reads (Resource Graph, else ARM listing): network, retirements
    with days left, blockers, the recommended next migration. Read-only.

    Args:
        sandbox: A sandbox fleet folder (empty: Azure, with the worker's credential).
        arm_endpoint: ARM endpoint (empty: public Azure).
        ca_bundle: CA bundle (PEM) for the ARM endpoint (empty: the system's).
        subscriptions: Scan only these subscriptions (empty: every one the credential lists).
        deep: Also run each recommended migration's full preflight on its cluster.
        parallel: Clusters preflighted at once with deep.
        out_dir: Also write fleet-scan.json and fleet-scan.md to this folder (empty: artifacts only).
    """
    from netmig.commands.fleet_scan import FleetScanRequest
    from netmig.commands.fleet_scan import fleet_scan as scan
    from netmig.fleet import render
    from tasks.migrate import publish

    res = scan(FleetScanRequest(Path(sandbox) if sandbox else None, arm_endpoint or None, ca_bundle or None,
                                tuple(subscriptions), None, deep, parallel))
    md = render.markdown(res.clusters)
    how = res.source + (f" ({res.fallback_reason})" if res.fallback_reason else "")
    publish("markdown", "fleet-scan", md, f"Fleet scan of {len(res.clusters)} clusters (listed through {how}): "
                                          "retirements, days left, blockers, recommended migration")
    publish("table", "fleet-scan-table", render.rows(res.clusters),
            "Fleet scan, one row per cluster (network, Kubernetes version, nodes, migrations, blockers)")
    if out_dir:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "fleet-scan.json").write_text(render.to_json(res.clusters, res.source, res.scanned_at))
        (folder / "fleet-scan.md").write_text(md)
    recommended: dict[str, int] = {}
    for c in res.clusters:
        if c["recommended"]:
            recommended[c["recommended"]] = recommended.get(c["recommended"], 0) + 1
    return {"clusters": len(res.clusters), "need_migration": sum(1 for c in res.clusters if c["migrations"]),
            "blocked": sum(1 for c in res.clusters if any(m["blockers"] for m in c["migrations"])),
            "source": res.source, "recommended": recommended}
