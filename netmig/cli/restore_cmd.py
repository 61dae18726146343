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
from netmig.cli.verify_cmd import _conn, connection_options
from netmig.errors import CheckFailed, FailedAfterChange


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
    from netmig.commands import RestoreRequest
    from netmig.commands import restore as restore_command

    done = restore_command(RestoreRequest(backup_dir, _conn(kwargs), only=only, dry_run=dry_run, wait_s=wait_s,
                                          on_progress=_progress))
    result = done.outcome
    verb = "would create" if dry_run else "created"
    click.echo(f"{backup_dir}: {done.objects} objects; {verb} {len(result.created)}, already present "
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


def _progress(message: str) -> None:
    """One restore progress line on stderr (test hook point ``restore:progress`` after each)."""
    from netmig.stepkit.testhooks import checkpoint

    click.echo(f"  {message}", err=True)
    checkpoint("restore:progress")
