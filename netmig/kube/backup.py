"""Backups of the objects a network migration may affect, to a local timestamped folder, verified by re-reading.

Contract: ``backup(gw, root)`` writes ``root/backup-YYYYmmdd-HHMMSS/`` with one YAML list per kind
(NetworkPolicies, Namespaces, Services, PodDisruptionBudgets, and CiliumNetworkPolicies when that API exists;
status and managedFields stripped) plus ``manifest.json`` (object keys and sha256 per file); then re-reads every
file and compares it with the manifest, with the objects collected (field by field) and with the cluster's current
NetworkPolicies (``RuntimeError`` when anything differs). ``verify(dir, gw)`` does the re-read check alone (files
against the manifest: a changed, missing or extra object or byte is reported; with ``gw``, the live
NetworkPolicies' keys too) and returns the problems (empty: good).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from netmig.kube import errors
from netmig.kube.client import translated
from netmig.kube.gateway import KubeGateway

Obj = dict[str, Any]


def _clean(o: Obj) -> Obj:
    o = dict(o)
    o.pop("status", None)
    meta = dict(o.get("metadata") or {})
    meta.pop("managedFields", None)
    o["metadata"] = meta
    return o


def _key(o: Obj) -> str:
    m = o.get("metadata") or {}
    return f"{m.get('namespace') or ''}/{m.get('name')}"


def collect(gw: KubeGateway) -> dict[str, list[Obj]]:
    out = {"networkpolicies": gw.network_policies(), "namespaces": gw.namespaces(), "services": gw.services(),
           "poddisruptionbudgets": gw.pdbs()}
    try:
        with translated("listing CiliumNetworkPolicies"):
            res: Any = gw.custom.list_cluster_custom_object("cilium.io", "v2", "ciliumnetworkpolicies")
        out["ciliumnetworkpolicies"] = list(res.get("items") or [])
    except errors.KubeError:
        pass  # no Cilium CRDs (yet)
    return {k: [_clean(o) for o in v] for k, v in out.items()}


def backup(gw: KubeGateway, root: Path, now: dt.datetime | None = None) -> tuple[Path, dict[str, int]]:
    now = now or dt.datetime.now(dt.UTC)
    d = root / f"backup-{now:%Y%m%d-%H%M%S}"
    d.mkdir(parents=True, exist_ok=True)
    objs = collect(gw)
    manifest: dict[str, Any] = {"taken_at": now.isoformat(timespec="seconds"), "files": {}}
    for kind, items in objs.items():
        text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)
        (d / f"{kind}.yaml").write_text(text)
        manifest["files"][f"{kind}.yaml"] = {"sha256": hashlib.sha256(text.encode()).hexdigest(),
                                             "objects": sorted(_key(o) for o in items)}
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    problems = verify(d, gw)
    for kind, items in objs.items():  # the re-read objects are exactly the ones collected (a lossless round trip)
        try:
            reread = yaml.safe_load((d / f"{kind}.yaml").read_text())["items"]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
            problems.append(f"{kind}.yaml unreadable ({e.__class__.__name__})")
            continue
        if reread != items:
            problems.append(f"{kind}.yaml does not read back as the objects collected")
    if problems:
        raise RuntimeError(f"the backup in {d} does not verify: {'; '.join(problems)}")
    return d, {k: len(v) for k, v in objs.items()}


def verify(d: Path, gw: KubeGateway | None = None) -> list[str]:
    problems = []
    try:
        manifest = json.loads((d / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        return [f"manifest unreadable ({e.__class__.__name__})"]
    for name, entry in manifest["files"].items():
        try:
            text = (d / name).read_text()
            items = yaml.safe_load(text)["items"]
        except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
            problems.append(f"{name} unreadable ({e.__class__.__name__})")
            continue
        if hashlib.sha256(text.encode()).hexdigest() != entry["sha256"]:
            problems.append(f"{name} checksum differs")
        if sorted(_key(o) for o in items) != entry["objects"]:
            problems.append(f"{name} objects differ from the manifest")
    if gw is not None:
        live = sorted(_key(o) for o in gw.network_policies())
        if live != manifest["files"].get("networkpolicies.yaml", {}).get("objects"):
            problems.append("the cluster's NetworkPolicies differ from the backup")
    return problems
