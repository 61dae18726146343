"""Backup folders: the one on-disk format every backup of aks-netmig uses, its writer, its reader and its verifier.
Pure file I/O (no cluster access here: ``netmig.kube.backup`` / ``netmig.kube.calico`` collect the objects,
``netmig.kube.restore`` puts them back).

Format 1 (what ``write`` produces)::

    DIR/manifest.json    {"format": 1, "kind": KIND, "taken_at": ISO-8601,
                          "files": {"NAME.yaml": {"sha256": HEX, "objects": [KEY, ...]}, ...}}
    DIR/NAME.yaml        {"apiVersion": "v1", "kind": "List", "items": [OBJECT, ...]}   (one per group)

- ``KIND`` says which writer made the folder: ``apply-backup`` (the ``backup`` step, ``PLAN.run/backup-*``),
  ``calico-backup`` (the Calico/Tigera objects before the CRD cleanup, ``PLAN.run/calico-backup-*``),
  ``calico-policies`` (Calico's own policy objects, ``PLAN.run/backup-calico-*``) or ``policy-export`` (the
  NetworkPolicies exported before a Calico hand-over, ``PLAN.run/policies-export``).
- ``sha256`` is the hex digest of the file's bytes; ``objects`` the sorted ``key`` of every item in the file.
- Every ``OBJECT`` is stored ``clean``: without the server-set fields (``SERVER_SET_META``), without the
  ``kubectl.kubernetes.io/last-applied-configuration`` annotation and without ``status`` (the Calico backup keeps
  ``status``: for kinds without a status subresource it is part of the object). Files and the manifest are
  fsync'd; the manifest is written last (atomically), so a folder with a manifest is complete.

Contract:
- ``write(dir, kind, groups, taken_at)`` writes group name -> objects (cleaned here) and reads the folder back:
  ``BackupError`` unless every file verifies and holds exactly the objects given. Returns the ``Backup``.
- ``read(dir)`` returns the ``Backup`` (``files``: group name -> objects) after checking every file against the
  manifest; ``BackupError`` (a ``ValueError``) with one line naming the first problem otherwise: a damaged backup
  is never used. ``verify(dir)`` returns every problem instead (empty: good).
- The reader also accepts the folders earlier versions wrote, so a migration started with one of them can still be
  restored: ``netmig-objects/1`` (the same layout, keys unsorted), the apply backup without ``format`` (keys
  ``namespace/name``) and the Calico policy backup whose manifest is only ``{"NAME.yaml": sha256}`` (checksums, no
  object lists). ``Backup.format`` names which (``1``, ``netmig-objects/1``, ``legacy-objects``,
  ``legacy-checksums``); a newer format is refused.
- ``key(obj)`` is ``apiVersion Kind namespace/name`` (namespace empty for cluster-scoped objects): the identity
  of an object in manifests and in restore results; ``ns_name(obj)`` is ``namespace/name`` (within one kind).
- ``normalized(obj, keep_status)`` is the form two objects are compared in: ``clean`` plus ownerReference uids and
  empty finalizers dropped. Equal normalized forms mean "identical apart from server-set fields".
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

FORMAT = 1
KINDS = ("apply-backup", "calico-backup", "calico-policies", "policy-export")
MANIFEST = "manifest.json"
SERVER_SET_META = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
_OBJECTS_1 = "netmig-objects/1"  # the format string of the earlier Calico backup and policy export
_LEGACY_KINDS = {"calico-cleanup": "calico-backup", "networkpolicies-export": "policy-export"}


class BackupError(ValueError):
    """A backup folder that cannot be written or used; the message is one line naming the problem."""


@dataclass(frozen=True)
class Backup:
    """A verified backup folder: ``files`` maps each group name (the file name without ``.yaml``) to its objects."""

    directory: Path
    kind: str
    format: int | str
    taken_at: str | None
    files: dict[str, list[Obj]]

    def objects(self) -> list[Obj]:
        return [o for items in self.files.values() for o in items]


def key(obj: Obj) -> str:
    """``apiVersion Kind namespace/name`` (namespace empty for cluster-scoped objects)."""
    meta = obj.get("metadata") or {}
    return f"{obj.get('apiVersion')} {obj.get('kind')} {meta.get('namespace') or ''}/{meta.get('name')}"


def ns_name(obj: Obj) -> str:
    """``namespace/name`` (namespace empty for cluster-scoped objects): an object's name among those of its kind."""
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name')}"


def clean(obj: Obj, keep_status: bool = False) -> Obj:
    """The object as a backup stores it: without ``status`` (unless ``keep_status``), the server-set metadata
    (``SERVER_SET_META``) and the last-applied annotation. The input is not changed."""
    out = {k: v for k, v in obj.items() if keep_status or k != "status"}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in SERVER_SET_META}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    out["metadata"] = meta
    return out


def normalized(obj: Obj, keep_status: bool = False) -> Obj:
    """``clean`` plus ownerReference uids and an empty finalizer list dropped: compare objects in this form."""
    o = clean(obj, keep_status)
    meta = o["metadata"]
    if meta.get("ownerReferences"):
        meta["ownerReferences"] = [{k: v for k, v in r.items() if k != "uid"} for r in meta["ownerReferences"]]
    if not meta.get("finalizers"):
        meta.pop("finalizers", None)
    return o


def _dump(items: list[Obj]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write(d: Path, kind: str, groups: dict[str, list[Obj]], taken_at: str, *, keep_status: bool = False) -> Backup:
    """Write ``groups`` (name -> objects, stored ``clean``) to ``d`` in format 1 and verify the folder by reading
    it back: ``BackupError`` unless it reads back as exactly the objects given."""
    if kind not in KINDS:
        raise ValueError(f"unknown backup kind {kind!r} (one of {', '.join(KINDS)})")
    d.mkdir(parents=True, exist_ok=True)
    stored = {name: [clean(o, keep_status) for o in items] for name, items in groups.items()}
    files: dict[str, Any] = {}
    for name, items in stored.items():
        if not name or Path(name).name != name or name == Path(MANIFEST).stem:
            raise ValueError(f"not a backup group name: {name!r}")
        text = _dump(items)
        _write_synced(d / f"{name}.yaml", text)
        files[f"{name}.yaml"] = {"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                 "objects": sorted(key(o) for o in items)}
    manifest = {"format": FORMAT, "kind": kind, "taken_at": taken_at, "files": files}
    tmp = d / f".{MANIFEST}.tmp"
    _write_synced(tmp, json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, d / MANIFEST)
    backup = read(d)
    differ = [f"{name}.yaml" for name, items in stored.items() if backup.files.get(name) != items]
    if differ:
        raise BackupError(f"the backup in {d} does not read back as the objects collected: {', '.join(differ)}")
    return backup


def read(d: Path) -> Backup:
    """The verified backup in ``d``; ``BackupError`` naming the first problem (the path of the file it concerns)."""
    backup, problems = _check(d)
    if problems or backup is None:
        raise BackupError(f"{d}/{problems[0]}" if problems else f"{d} is not a backup")
    return backup


def verify(d: Path) -> list[str]:
    """Every problem of the backup in ``d`` (files against the manifest: missing, unreadable, changed bytes, other
    objects than listed), each naming its file; empty: the backup is good."""
    return _check(d)[1]


def _manifest(d: Path) -> tuple[Obj | None, str | None]:
    try:
        doc = json.loads((d / MANIFEST).read_bytes())
    except FileNotFoundError:
        return None, f"{MANIFEST} is missing (not a backup folder of aks-netmig)"
    except (OSError, ValueError) as e:
        return None, f"{MANIFEST} is unreadable ({e.__class__.__name__})"
    if not isinstance(doc, dict):
        return None, f"{MANIFEST} is unreadable (not a JSON object)"
    return doc, None


def _layout(doc: Obj) -> tuple[int | str, str, dict[str, Obj], Callable[[Obj], str] | None] | str:
    """(format, kind, file name -> {"sha256", "objects"?}, key function or None: no object lists) of a manifest,
    or the problem."""
    fmt = doc.get("format")
    if fmt is None and "files" not in doc and doc and all(isinstance(v, str) for v in doc.values()):
        return "legacy-checksums", "calico-policies", {n: {"sha256": v} for n, v in doc.items()}, None
    files = doc.get("files")
    if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
        return f"{MANIFEST} is unreadable (no files mapping)"
    if fmt == FORMAT:
        return FORMAT, str(doc.get("kind")), files, key
    if fmt == _OBJECTS_1:
        return _OBJECTS_1, _LEGACY_KINDS.get(str(doc.get("kind")), str(doc.get("kind"))), files, key
    if fmt is None:
        return "legacy-objects", "apply-backup", files, ns_name
    return f"{MANIFEST} has format {fmt!r}, which this aks-netmig does not read (it reads up to {FORMAT})"


def _check(d: Path) -> tuple[Backup | None, list[str]]:
    doc, problem = _manifest(d)
    if doc is None:
        return None, [str(problem)]
    layout = _layout(doc)
    if isinstance(layout, str):
        return None, [layout]
    fmt, kind, entries, keyfn = layout
    problems: list[str] = []
    out: dict[str, list[Obj]] = {}
    for name, entry in entries.items():
        if Path(name).name != name or not name.endswith(".yaml") or name == MANIFEST:
            problems.append(f"{MANIFEST} names {name!r}, which is not a file of the backup")
            continue
        try:
            data = (d / name).read_bytes()
        except FileNotFoundError:
            problems.append(f"{name} is missing")
            continue
        except OSError as e:
            problems.append(f"{name} is unreadable ({e.__class__.__name__})")
            continue
        try:
            items = yaml.safe_load(data)["items"] or []
            if not isinstance(items, list) or not all(isinstance(o, dict) for o in items):
                raise TypeError
        except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError) as e:
            problems.append(f"{name} is unreadable ({e.__class__.__name__})")
            continue
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            problems.append(f"{name} does not match its checksum in {MANIFEST} (changed since the backup)")
        raw = entry.get("objects")
        listed = sorted(str(k) for k in raw) if isinstance(raw, list) else None
        if keyfn is not None and sorted(keyfn(o) for o in items) != listed:
            problems.append(f"{name} holds other objects than {MANIFEST} lists")
        out[Path(name).stem] = items
    taken_at = doc.get("taken_at") if isinstance(doc.get("taken_at"), str) else None
    return Backup(d, kind, fmt, taken_at, out), problems
