"""Backups against the sandbox's Kubernetes API: written, verified by re-reading, tampering detected; the backup
step reuses a good backup on a rerun and takes a new one when the old one no longer verifies."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig.engine.catalog import step_fn
from netmig.kube import backup
from netmig.kube.gateway import KubeGateway
from tests.unit.engine.values import context

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def kube(sandbox_factory: Any) -> Iterator[KubeGateway]:
    sb = sandbox_factory("npm", time_scale=0.002)
    with KubeGateway(Path(sb.directory) / "kubeconfig") as gw:
        yield gw


def test_backup_writes_every_kind_and_verifies(kube: KubeGateway, tmp_path: Path) -> None:
    d, counts = backup.backup(kube, tmp_path, now=NOW)
    assert d == tmp_path / "backup-20250301-120000"
    live = sorted(f"networking.k8s.io/v1 NetworkPolicy {p['metadata']['namespace']}/{p['metadata']['name']}"
                  for p in kube.network_policies())
    assert counts["networkpolicies"] == len(live) > 0 and counts["namespaces"] > 0
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["format"] == 1 and manifest["kind"] == "apply-backup"
    assert manifest["taken_at"] == "2025-03-01T12:00:00+00:00"
    assert manifest["files"]["networkpolicies.yaml"]["objects"] == live
    items = yaml.safe_load((d / "networkpolicies.yaml").read_text())["items"]
    assert all("status" not in o and "managedFields" not in o["metadata"] and "uid" not in o["metadata"]
               and "resourceVersion" not in o["metadata"] for o in items)
    assert {o["kind"] for o in items} == {"NetworkPolicy"} and items[0]["spec"]
    assert backup.verify(d, kube) == []


def test_tampering_is_detected(kube: KubeGateway, tmp_path: Path) -> None:
    d, _ = backup.backup(kube, tmp_path, now=NOW)
    f = d / "networkpolicies.yaml"
    doc = yaml.safe_load(f.read_text())
    doc["items"][0]["spec"]["podSelector"] = {"matchLabels": {"tampered": "yes"}}
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    changed = "networkpolicies.yaml does not match its checksum in manifest.json (changed since the backup)"
    assert backup.verify(d) == [changed]
    doc["items"].pop()
    f.write_text(yaml.safe_dump(doc, sort_keys=False))
    assert backup.verify(d) == [changed, "networkpolicies.yaml holds other objects than manifest.json lists"]
    f.write_text("items: [")
    assert backup.verify(d) == ["networkpolicies.yaml is unreadable (ParserError)"]
    f.unlink()
    assert backup.verify(d) == ["networkpolicies.yaml is missing"]
    (d / "manifest.json").unlink()
    assert backup.verify(d) == ["manifest.json is missing (not a backup folder of aks-netmig)"]


def test_a_backup_that_no_longer_matches_the_cluster_is_reported(kube: KubeGateway, tmp_path: Path) -> None:
    d, _ = backup.backup(kube, tmp_path, now=NOW)
    kube.net.create_namespaced_network_policy("default", {  # type: ignore[arg-type]
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "added-later"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}})
    assert backup.verify(d) == []
    assert backup.verify(d, kube) == ["the cluster's NetworkPolicies differ from the backup"]


def test_the_step_reuses_a_verified_backup_and_replaces_a_tampered_one(kube: KubeGateway, tmp_path: Path) -> None:
    ctx = context(tmp_path)
    ctx._kube = kube
    step = ctx.plan.step("backup")
    first = step_fn("backup")(ctx, step)
    assert Path(first["dir"]).is_dir() and first["networkpolicies"] > 0
    assert step_fn("backup")(ctx, step) == {"dir": first["dir"], "reused": True}
    (Path(first["dir"]) / "services.yaml").write_text("items: []\n")
    again = step_fn("backup")(ctx, step)
    assert "reused" not in again and backup.verify(Path(again["dir"]), kube) == []
