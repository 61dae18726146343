"""``restore``: put the objects of a backup folder the tool wrote back into a cluster (missing ones only).

Contract: ``restore(RestoreRequest)`` checks the backup first (checksums and object lists against its
manifest.json: a damaged or foreign backup is ``UsageError``, exit 2; ``only`` naming files the backup lacks too),
then connects (the request's ``Conn``; without an address, the connection the plan whose run folder holds the backup
remembers) and creates what is missing (``netmig.kube.restore.restore``). Kubernetes API errors are ``CheckFailed``.
Returns a ``RestoreResult``: the object count and the restore's outcome (``created``, ``present``, ``differs``,
``skipped``, ``failed``, ``mismatches``, ``notes``, ``ok``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netmig.commands.errors import translated
from netmig.commands.verifying import Conn, open_cluster
from netmig.errors import UsageError


@dataclass(frozen=True)
class RestoreRequest:
    backup_dir: Path
    conn: Conn
    only: tuple[str, ...] = ()  # restore only these files of the backup
    dry_run: bool = False
    wait_s: float = 120.0
    on_progress: Callable[[str], None] | None = None


@dataclass(frozen=True)
class RestoreResult:
    objects: int
    outcome: Any  # netmig.kube.restore's result


def restore(req: RestoreRequest) -> RestoreResult:
    """See the module contract."""
    from netmig import backups
    from netmig.kube.resources import Rest
    from netmig.kube.restore import restore as do_restore

    try:
        files = backups.read(req.backup_dir).files
    except backups.BackupError as e:  # a damaged or foreign backup folder
        raise UsageError(str(e), "pass an intact backup folder written by aks-netmig apply (it has a manifest.json); "
                         "nothing was changed") from None
    unknown = sorted(set(req.only) - set(files))
    if unknown:
        raise UsageError(f"the backup has no {', '.join(unknown)}", f"choose from: {', '.join(sorted(files))}")
    objects = [o for name, items in files.items() if not req.only or name in req.only for o in items]
    conn = req.conn if req.conn.addressed else (plan_conn(req.backup_dir) or req.conn)
    with open_cluster(conn) as (gw, _engine, _network), \
            translated("Kubernetes API", "fix the cause and rerun restore (it creates what is missing)"):
        outcome = do_restore(Rest(gw), objects, wait_s=req.wait_s, dry_run=req.dry_run, on_progress=req.on_progress)
    return RestoreResult(len(objects), outcome)


def plan_conn(backup_dir: Path) -> Conn | None:
    """The connection the plan of this backup remembers (the backup lies in ``PLAN.run/``; the plan next to that
    folder), or None when there is no such plan."""
    from netmig.engine.planning import load_plan

    run_dir = backup_dir.resolve().parent
    if not run_dir.name.endswith(".run"):
        return None
    for suffix in (".yaml", ".yml"):
        candidate = run_dir.with_name(run_dir.name[: -len(".run")] + suffix)
        if candidate.is_file():
            plan = load_plan(candidate)
            if plan.connection.sandbox:
                return Conn(sandbox=Path(plan.connection.sandbox))
            return Conn(cluster=plan.cluster, arm_endpoint=plan.arm_endpoint, ca_bundle=plan.connection.ca_bundle)
    return None
