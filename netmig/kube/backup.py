"""The apply backup: the objects a network migration may affect, read from the cluster into a backup folder
(``netmig.backups`` format 1, kind ``apply-backup``), verified by re-reading and against the cluster.

Contract: ``backup(gw, root)`` writes ``root/backup-YYYYmmdd-HHMMSS/`` with one file per group: networkpolicies,
namespaces, services, poddisruptionbudgets, and ciliumnetworkpolicies when that API exists (objects stored
``netmig.backups.clean``); the folder is read back (checksums, object lists, the objects themselves) and the
cluster's current NetworkPolicies are compared with the backup's (``RuntimeError`` naming what differs).
``verify(dir, gw)`` does the check alone (``netmig.backups.verify``: a changed, missing or extra object or byte is
reported; with ``gw``, the live NetworkPolicies' identities too) and returns the problems (empty: good). Folders of
earlier versions are read too (see ``netmig.backups``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from netmig import backups
from netmig.kube import errors
from netmig.kube.client import translated
from netmig.kube.gateway import KubeGateway

Obj = dict[str, Any]
KIND = "apply-backup"


def collect(gw: KubeGateway) -> dict[str, list[Obj]]:
    """The objects of every group, as the API returns them (``backups.write`` cleans them)."""
    out = {"networkpolicies": gw.network_policies(), "namespaces": gw.namespaces(), "services": gw.services(),
           "poddisruptionbudgets": gw.pdbs()}
    try:
        with translated("listing CiliumNetworkPolicies"):
            res: Any = gw.custom.list_cluster_custom_object("cilium.io", "v2", "ciliumnetworkpolicies")
        out["ciliumnetworkpolicies"] = list(res.get("items") or [])
    except errors.KubeError:
        pass  # no Cilium CRDs (yet)
    return out


def backup(gw: KubeGateway, root: Path, now: dt.datetime | None = None) -> tuple[Path, dict[str, int]]:
    now = now or dt.datetime.now(dt.UTC)
    d = root / f"backup-{now:%Y%m%d-%H%M%S}"
    try:
        written = backups.write(d, KIND, collect(gw), now.isoformat(timespec="seconds"))
    except backups.BackupError as e:
        raise RuntimeError(f"the backup in {d} does not verify: {e}") from e
    problems = _against_cluster(written, gw)
    if problems:
        raise RuntimeError(f"the backup in {d} does not verify: {'; '.join(problems)}")
    return d, {name: len(items) for name, items in written.files.items()}


def verify(d: Path, gw: KubeGateway | None = None) -> list[str]:
    try:
        written = backups.read(d)
    except backups.BackupError:
        return backups.verify(d)
    return [] if gw is None else _against_cluster(written, gw)


def _against_cluster(written: backups.Backup, gw: KubeGateway) -> list[str]:
    live = sorted(backups.key(o) for o in gw.network_policies())
    if live != sorted(backups.key(o) for o in written.files.get("networkpolicies", [])):
        return ["the cluster's NetworkPolicies differ from the backup"]
    return []
