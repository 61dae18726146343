"""``aks-netmig restore BACKUP_DIR``: put backed-up objects back into a cluster.

BACKUP_DIR is any backup folder an apply wrote (``netmig.backups``, docs/backups.md): ``PLAN.run/backup-*`` (the
NetworkPolicies, Namespaces, Services and PDBs), ``PLAN.run/calico-backup-*`` (before the Calico cleanup),
``PLAN.run/backup-calico-*`` (Calico's policy objects) or ``PLAN.run/policies-export`` -- also in the formats
earlier versions wrote. It is checked first (checksums and object lists against its manifest.json: a damaged
backup is refused in one line, exit 2, nothing changed). Objects that are missing are created
in dependency order without their server-set fields; objects that exist are left alone (and listed when they differ
from the backup). Every created object is read back and compared. The cluster: ``--kubeconfig FILE``,
``--sandbox DIR`` or an ARM address (the kubeconfig then comes through listClusterUserCredential); without any of
them, the connection remembered by the plan whose run folder holds the backup (``PLAN.run/`` next to ``PLAN``).
Exit codes: 0 restored (or nothing missing), 1 an object could not be created and nothing was, 2 bad input, 4 some
objects were created but others failed or differ after creation (the cluster was changed: rerun restore).
An APIService whose Service does not exist is skipped and listed (never re-created dangling); ``--dry-run`` waits
for nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from netmig.cli.migrate_common import SECONDS
from netmig.cli.verify_cmd import Conn, _conn, connection_options, open_cluster
from netmig.errors import CheckFailed, FailedAfterChange, UsageError


@click.command()
@click.argument("backup_dir", type=click.Path(file_okay=False, path_type=Path))
@connection_options
@click.option("--only", "only", multiple=True,
              help="Restore only these files of the backup (e.g. crds, crs, networkpolicies; repeatable).")
@click.option("--dry-run", is_flag=True, help="List what would be created; change nothing.")
@click.option("--wait", "wait_s", type=SECONDS, default=120.0, show_default=True,
              help="Seconds to wait for a restored CRD to be served (or a terminating namespace to go).")
def restore(backup_dir: Path, only: tuple[str, ...], dry_run: bool, wait_s: float, **kwargs: Any) -> None:
    """Put the objects of a backup folder back into the cluster (missing ones only; verified)."""
    from netmig import backups
    from netmig.kube import errors as kube_errors
    from netmig.kube.resources import Rest
    from netmig.kube.restore import restore as do_restore

    try:
        files = backups.read(backup_dir).files
    except backups.BackupError as e:  # a damaged or foreign backup folder
        raise UsageError(str(e), "pass an intact backup folder written by aks-netmig apply (it has a manifest.json); "
                         "nothing was changed") from None
    unknown = sorted(set(only) - set(files))
    if unknown:
        raise UsageError(f"the backup has no {', '.join(unknown)}", f"choose from: {', '.join(sorted(files))}")
    objects = [o for name, items in files.items() if not only or name in only for o in items]
    conn = _conn(kwargs)
    if not conn.addressed:
        conn = _plan_conn(backup_dir) or conn
    with open_cluster(conn) as (gw, _engine, _network):
        try:
            result = do_restore(Rest(gw), objects, wait_s=wait_s, dry_run=dry_run,
                                on_progress=_progress)
        except kube_errors.KubeError as e:
            raise CheckFailed(f"Kubernetes API: {e}", "fix the cause and rerun restore (it creates what is missing)") \
                from e
    verb = "would create" if dry_run else "created"
    click.echo(f"{backup_dir}: {len(objects)} objects; {verb} {len(result.created)}, already present "
               f"{len(result.present)} ({len(result.differs)} differ from the backup), skipped {len(result.skipped)}, "
               f"failed {len(result.failed)}" + (" (dry run: nothing was changed)" if dry_run else ""))
    for line in result.skipped:
        click.echo(f"  skipped: {line}")
    for line in result.differs:
        click.echo(f"  present but different (left as is): {line}")
    for line in result.notes:
        click.echo(f"  note: {line}")
    for line in result.failed + result.mismatches:
        click.echo(f"  FAILED: {line}")
    if not result.ok:
        problem = (f"{len(result.failed)} objects could not be created, {len(result.mismatches)} differ from the "
                   "backup after creation")
        if result.created and not dry_run:  # part of the backup is back: the cluster was changed (exit 4)
            raise FailedAfterChange(problem, f"fix the cause named above\ncluster partly restored "
                                    f"({len(result.created)} objects created); next: rerun restore, it creates only "
                                    "what is still missing")
        raise CheckFailed(problem, "fix the cause named above and rerun restore; nothing was changed")
    if not dry_run:
        click.echo("Every restored object was read back and matches the backup (server-set fields aside).")


def _plan_conn(backup_dir: Path) -> Conn | None:
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
def _progress(message: str) -> None:
    """One restore progress line on stderr (test hook point ``restore:progress`` after each)."""
    from netmig.engine.testhooks import checkpoint

    click.echo(f"  {message}", err=True)
    checkpoint("restore:progress")
