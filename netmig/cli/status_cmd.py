"""``aks-netmig status PLAN|--cluster``: where a migration is and how to resume it.

For a PLAN (its journal in ``PLAN.run/``): every step's state, the current step, the last error, the last stall and
any abort. For the cluster (``--sandbox`` / ``--cluster`` / ``--subscription ...``, or the plan's own cluster when it
is a real one): provisioningState, network profile, per-pool reimage progress (nodes on the target engine,
surge, cordoned, NotReady), the lock holder. Then the exact command that resumes the migration.

``--json`` prints one object (keys in ``status_dict``). Exit code 0 whatever the migration's state (2: bad input,
1: the cluster cannot be read).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import cluster_options, configure_logging
from netmig.commands.state import StatusRequest, status_dict
from netmig.connection import Address
from netmig.model.cluster import ClusterRef

__all__ = ["render_status", "status", "status_dict"]

def render_status(d: dict[str, Any]) -> str:
    lines: list[str] = []
    if d["plan"]:
        lines.append(f"Migration {d['migration_id']} ({d['kind']}) — state in {d['run_dir']}")
        width = max([16, *(len(s["id"]) for s in d["steps"])])
        for s in d["steps"]:
            lines.append(f"  {s['id']:<{width}} {s['state']:<8} {s['detail']}")
        if d.get("variant"):
            lines.append(f"  path: {d['variant']}")
        cur = d["current_step"]
        lines.append("  current step: " + ("none (the migration is done)" if cur is None
                                           else f"{cur['id']} ({cur['state']})"))
        if d["last_error"]:
            e = d["last_error"]
            lines.append(f"  last error: {e['error']} (step {e['step']}, {e['time']})")
        if d["last_stall"]:
            lines.append(f"  last stall: {d['last_stall']['reason']}")
        for a in d["aborts"]:
            lines.append(f"  aborted: {a['time']} by {a['by']} (step {a['step']}, cluster was "
                         f"{a['provisioning_state']})")
    if d["cluster"]:
        c = d["cluster"]
        lines.append(f"Cluster {ClusterRef.parse(c['id'])}: {c['provisioning_state']}, {c['network']}, "
                     f"pools {', '.join(p['name'] + '=' + p['provisioning_state'] for p in c['pools'])}")
        lines.append(f"Reimage (nodes on {d['target_engine']}):")
        for p in d["reimage"]:
            eng = ",".join(f"{k}={v}" for k, v in sorted(p["engines"].items()))
            lines.append(f"  {p['pool']:<10} {p['done']}/{p['total']} done, surge {p['surge']}, cordoned "
                         f"{p['cordoned']}, NotReady {p['not_ready']} [{eng}]")
        stuck = d.get("stuck_nodes") or []
        if stuck:
            lines.append("Stuck nodes: " + ", ".join(f"{n['name']} (pool {n['pool']}, {n['state']})" for n in stuck))
        lock = d["lock"]
        lines.append(f"Lock: {lock['holder']['description'] if lock['held'] else 'free'}")
        if lock.get("takeover"):
            lines.append(f"  holder {lock['holder_state'].upper()}: {lock['takeover']}")
    if d["plan"] and d["done"]:
        lines.append(f"Done. Report: {Path(d['run_dir']) / 'report.md'}")
        return "\n".join(lines)
    if d.get("replan_command"):
        lines.append(f"Plan again with the other path allowed (review it first): {d['replan_command']}")
    if d["resume_command"]:
        lines.append(("Or retry this plan (ARM may refuse it again): " if d.get("replan_command") else
                      "Resume with: ") + d["resume_command"])
    return "\n".join(lines)


@click.command()
@click.argument("plan_path", metavar="[PLAN]", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@cluster_options
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: plan, migration_id, kind, run_dir, steps, current_step, done, last_error, "
              "last_stall, aborts, cluster, reimage, target_engine, lock, resume_command.")
def status(plan_path: Path | None, run_dir: Path | None, as_json: bool, **kwargs: Any) -> None:
    """Show a migration's progress (PLAN) and the cluster's state, reimage progress and lock; how to resume."""
    configure_logging()
    from netmig.commands import status as status_command

    d = status_command(StatusRequest(plan_path, run_dir, Address.of(kwargs)))
    click.echo(json.dumps(d, indent=2, default=str) if as_json else render_status(d))
