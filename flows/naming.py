"""Flow run names that say what runs where: ``CLUSTER · KIND · YYYY-MM-DD`` (e.g. ``aks-npm · npm-to-cilium ·
2026-12-02``) instead of Prefect's random ``adjective-name``.

Contract: pure apart from reading the run's parameters (``prefect.runtime``) and, for a sandbox folder, its
``sandbox.json`` (the cluster's resource id); never raises -- a part it cannot tell is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SEP = " · "


def cluster_name(cluster: Mapping[str, Any] | Any, plan_path: str | None = None) -> str:
    """The cluster's name from its address (name, resource id, sandbox folder) or the plan file; ``""``."""
    c = cluster.model_dump() if hasattr(cluster, "model_dump") else dict(cluster or {})
    if c.get("name"):
        return str(c["name"])
    if c.get("cluster"):
        return str(c["cluster"]).rstrip("/").rsplit("/", 1)[-1]
    if c.get("sandbox"):
        try:  # the sandbox's connection file, read as for any cluster
            from netmig.connection import from_sandbox_dir

            return str(from_sandbox_dir(Path(str(c["sandbox"]))).ref.name)
        except Exception:
            pass
    if plan_path:
        try:
            from netmig.engine.planning import load_plan

            return str(load_plan(plan_path).cluster).rsplit("/", 1)[-1]
        except Exception:
            return ""
    return ""


def run_name(cluster: str, kind: str, when: dt.date | None = None) -> str:
    """``CLUSTER · KIND · DATE`` (parts that are empty left out)."""
    day = (when or dt.datetime.now(dt.UTC).date()).isoformat()
    return SEP.join(x for x in (cluster, kind, day) if x)


def _kind_of(params: Mapping[str, Any]) -> str:
    kind = params.get("migration")
    if kind:
        return str(kind)
    if params.get("plan_path"):
        try:
            from netmig.engine.planning import load_plan

            return str(load_plan(str(params["plan_path"])).kind)
        except Exception:
            return ""
    return ""


def migrate_run_name() -> str:
    """The ``flow_run_name`` of the migrate and preflight flows (reads the run's parameters)."""
    from prefect.runtime import flow_run

    try:
        params = dict(flow_run.parameters or {})
    except Exception:
        params = {}
    name = run_name(cluster_name(params.get("cluster") or {}, params.get("plan_path")), _kind_of(params))
    return name or "netmig-run"
