"""The backup folder format (``netmig.backups``): written, read back and verified; every earlier layout the tool
wrote is still read (each built here the way its old writer did); damaged, foreign and newer folders are refused
with one line naming the file; one clean helper; the point-of-no-return check verifies every backup folder."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig import backups
from netmig.engine.planning import load_template, new_plan
from netmig.steps.noreturn import point_of_no_return_problems
from tests.unit.engine import values

NP = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
      "metadata": {"name": "deny", "namespace": "data", "uid": "u-1", "resourceVersion": "42", "generation": 1,
                   "creationTimestamp": "2025-03-01T12:00:00Z", "managedFields": [{"manager": "kubectl"}],
                   "labels": {"team": "db"},
                   "annotations": {backups.LAST_APPLIED: "{}", "owner": "team-db"}},
      "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}, "status": {}}
NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data", "uid": "u-2"},
      "status": {"phase": "Active"}}


def _old_list(d: Path, name: str, items: list[dict[str, Any]]) -> str:
    text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)
    (d / name).write_text(text)
    return hashlib.sha256(text.encode()).hexdigest()


def test_write_then_read_round_trips_in_format_1(tmp_path: Path) -> None:
    d = tmp_path / "backup-x"
    written = backups.write(d, "apply-backup", {"networkpolicies": [NP], "namespaces": [NS]}, "2025-03-01T12:00:00")
    manifest = json.loads((d / "manifest.json").read_text())
    assert manifest["format"] == backups.FORMAT == 1 and manifest["kind"] == "apply-backup"
    assert manifest["taken_at"] == "2025-03-01T12:00:00"
    assert manifest["files"]["networkpolicies.yaml"]["objects"] == ["networking.k8s.io/v1 NetworkPolicy data/deny"]
    assert manifest["files"]["namespaces.yaml"]["objects"] == ["v1 Namespace /data"]
    back = backups.read(d)
    assert back == written and back.kind == "apply-backup" and back.format == 1
    stored = back.files["networkpolicies"][0]
    assert stored == backups.clean(NP)
    assert stored["metadata"] == {"name": "deny", "namespace": "data", "labels": {"team": "db"},
                                  "annotations": {"owner": "team-db"}} and "status" not in stored
    assert backups.verify(d) == []
    assert [o["metadata"]["name"] for o in back.objects()] == ["deny", "data"]


def test_keep_status_keeps_only_the_status(tmp_path: Path) -> None:
    back = backups.write(tmp_path / "c", "calico-backup", {"namespaces": [NS]}, "t", keep_status=True)
    assert back.files["namespaces"] == [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"},
                                         "status": {"phase": "Active"}}]


def test_clean_and_normalized_strip_the_same_server_set_fields() -> None:
    assert set(backups.SERVER_SET_META) >= {"uid", "resourceVersion", "creationTimestamp", "generation",
                                            "managedFields"}
    live = {**NP, "metadata": {**NP["metadata"], "uid": "u-9", "resourceVersion": "77", "finalizers": [],
                               "annotations": {"owner": "team-db"}}}
    assert backups.normalized(live) == backups.normalized(NP) == backups.clean(NP)
    changed = {**NP, "spec": {"podSelector": {"matchLabels": {"a": "b"}}}}
    assert backups.normalized(changed) != backups.normalized(NP)
    assert NP["metadata"]["uid"] == "u-1"  # the input is never changed


def test_a_damaged_folder_names_every_problem_and_read_refuses_it(tmp_path: Path) -> None:
    d = tmp_path / "b"
    backups.write(d, "apply-backup", {"networkpolicies": [NP], "namespaces": [NS]}, "t")
    (d / "networkpolicies.yaml").write_text((d / "networkpolicies.yaml").read_text().replace("deny", "allow"))
    (d / "namespaces.yaml").unlink()
    assert backups.verify(d) == [
        "networkpolicies.yaml does not match its checksum in manifest.json (changed since the backup)",
        "networkpolicies.yaml holds other objects than manifest.json lists",
        "namespaces.yaml is missing"]
    with pytest.raises(backups.BackupError, match=f"^{d}/networkpolicies.yaml does not match its checksum"):
        backups.read(d)


@pytest.mark.parametrize(("manifest", "problem"), [
    (None, "manifest.json is missing (not a backup folder of aks-netmig)"),
    (b"\xff\xfe{", "manifest.json is unreadable (UnicodeDecodeError)"),
    (b"[1, 2]", "manifest.json is unreadable (not a JSON object)"),
    (b'{"files": ["a", "b"]}', "manifest.json is unreadable (no files mapping)"),
    (b'{"format": 2, "files": {}}',
     "manifest.json has format 2, which this aks-netmig does not read (it reads up to 1)"),
    (b'{"format": 1, "files": {"../x.yaml": {"sha256": "0"}}}',
     "manifest.json names '../x.yaml', which is not a file of the backup"),
])
def test_foreign_and_newer_folders_are_refused(tmp_path: Path, manifest: bytes | None, problem: str) -> None:
    if manifest is not None:
        (tmp_path / "manifest.json").write_bytes(manifest)
    assert backups.verify(tmp_path) == [problem]
    with pytest.raises(backups.BackupError) as e:
        backups.read(tmp_path)
    assert str(e.value) == f"{tmp_path}/{problem}" and "\n" not in str(e.value)


def test_the_writer_refuses_unknown_kinds_and_names() -> None:
    with pytest.raises(ValueError, match="unknown backup kind"):
        backups.write(Path("/nonexistent"), "snapshot", {}, "t")
    with pytest.raises(ValueError, match="not a backup group name"):
        backups.write(Path("/tmp") / "netmig-unused-backup", "apply-backup", {"../x": []}, "t")


# ------------------------------------------------------------------------ the layouts earlier versions wrote
def test_the_old_apply_backup_is_read(tmp_path: Path) -> None:
    """netmig.kube.backup before format 1: no ``format``, objects ``namespace/name`` sorted, status and
    managedFields dropped, everything else kept."""
    item = {**{k: v for k, v in NP.items() if k != "status"},
            "metadata": {k: v for k, v in NP["metadata"].items() if k != "managedFields"}}
    sha = _old_list(tmp_path, "networkpolicies.yaml", [item])
    (tmp_path / "manifest.json").write_text(json.dumps({"taken_at": "2025-03-01T12:00:00+00:00", "files": {
        "networkpolicies.yaml": {"sha256": sha, "objects": ["data/deny"]}}}, indent=2) + "\n")
    back = backups.read(tmp_path)
    assert (back.format, back.kind, back.taken_at) == ("legacy-objects", "apply-backup", "2025-03-01T12:00:00+00:00")
    assert back.files == {"networkpolicies": [item]}
    (tmp_path / "manifest.json").write_text(json.dumps({"files": {
        "networkpolicies.yaml": {"sha256": sha, "objects": ["data/other"]}}}))
    assert backups.verify(tmp_path) == ["networkpolicies.yaml holds other objects than manifest.json lists"]


def test_the_old_netmig_objects_format_is_read(tmp_path: Path) -> None:
    """netmig.kube.restore.write_backup before format 1 (the Calico backup and the policy export): ``format``
    ``netmig-objects/1``, keys ``apiVersion Kind namespace/name`` in file order."""
    items = [backups.clean(NS), backups.clean(NP)]
    sha = _old_list(tmp_path, "crs.yaml", items)
    (tmp_path / "manifest.json").write_text(json.dumps({
        "format": "netmig-objects/1", "kind": "networkpolicies-export", "taken_at": "t",
        "files": {"crs.yaml": {"sha256": sha, "objects": [backups.key(o) for o in items]}}}))
    back = backups.read(tmp_path)
    assert (back.format, back.kind) == ("netmig-objects/1", "policy-export") and back.files == {"crs": items}


def test_the_old_calico_policy_backup_is_read(tmp_path: Path) -> None:
    """steps/overlay_policies before format 1: the manifest is only ``{"PLURAL.yaml": sha256}``."""
    gnp = {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkPolicy", "metadata": {"name": "g"},
           "spec": {"selector": "all()"}}
    manifest = {"globalnetworkpolicies.yaml": _old_list(tmp_path, "globalnetworkpolicies.yaml", [gnp]),
                "networkpolicies.yaml": _old_list(tmp_path, "networkpolicies.yaml", [])}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    back = backups.read(tmp_path)
    assert (back.format, back.kind) == ("legacy-checksums", "calico-policies")
    assert back.files == {"globalnetworkpolicies": [gnp], "networkpolicies": []}
    (tmp_path / "networkpolicies.yaml").write_text("items: []\n")
    assert backups.verify(tmp_path) == [
        "networkpolicies.yaml does not match its checksum in manifest.json (changed since the backup)"]


# --------------------------------------------------------------------------------------- point of no return
def test_the_point_of_no_return_verifies_every_backup_folder_not_only_the_apply_backup(tmp_path: Path) -> None:
    """calico-to-self-managed: the apply backup AND the policy export are verified before the network-policy PUT
    (before, only the apply backup was; a damaged export surfaced only after the PUT, at restore-policies)."""
    info = values.cluster(network=dataclasses.replace(values.cluster().network, policy="calico"))
    plan = new_plan(load_template("calico-to-self-managed"), info, arm_endpoint=values.ENDPOINT, now=values.NOW)
    ctx = values.context(tmp_path, the_plan=plan, info=info)
    put = plan.step("policy-none")
    folders = {"backup": ("apply-backup", tmp_path / "backup-x"),
               "export-policies": ("policy-export", tmp_path / "policies-export")}
    for step_id, (kind, d) in folders.items():
        backups.write(d, kind, {"networkpolicies": [NP]}, "t")
        ctx.journal.set(f"{step_id}.dir", str(d))
        ctx.journal.record("step-done", step=step_id)
    assert not [p for p in point_of_no_return_problems(ctx, put) if "fails verification" in p]
    for _kind, d in folders.values():
        (d / "networkpolicies.yaml").write_text("items: []\n")
    assert [p for p in point_of_no_return_problems(ctx, put) if "fails verification" in p] == [
        f"the backup {d} fails verification: networkpolicies.yaml does not match its checksum in manifest.json "
        "(changed since the backup); networkpolicies.yaml holds other objects than manifest.json lists"
        for _kind, d in folders.values()]


def test_docs_name_every_kind_and_folder() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "backups.md").read_text()
    assert all(f'"{kind}"' in text for kind in backups.KINDS)
    assert all(f"`{folder}" in text for folder in ("backup-YYYY", "calico-backup-YYYY", "backup-calico-YYYY",
                                                     "policies-export/"))
