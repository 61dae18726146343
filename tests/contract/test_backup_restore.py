"""``aks-netmig restore`` round trips for every kind of backup folder the tool writes -- the apply backup
(``backup-*``), the Calico backup before the CRD cleanup (``calico-backup-*``), the Calico policy backup of the
overlay path (``backup-calico-*``) and the policy export (``policies-export``) -- plus the folders earlier versions
wrote. Each backup is written by the product's own step or function against a started sandbox, objects are deleted
through the real kubernetes client, ``aks-netmig restore`` runs as a subprocess (dry run, then for real) and the
objects must be back exactly (``netmig.backups.normalized``: spec, labels, data equal; server-set fields ignored).
A damaged file is refused in one line, exit 2, nothing changed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from netmig import backups
from netmig.backups import key, normalized
from netmig.engine.catalog import step_fn
from netmig.kube import backup, calico
from netmig.kube.gateway import KubeGateway
from netmig.kube.resources import Rest
from netmig.kube.restore import PutBack, covers, put_back
from netmig.model.plan import PlanStep
from tests.e2e.migrate_helpers import cli
from tests.unit.engine.values import context

pytestmark = pytest.mark.contract

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
CALICO_API = ("crd.projectcalico.org", "v1")
CALICO_POLICY = {"apiVersion": "crd.projectcalico.org/v1", "kind": "NetworkPolicy",
                 "metadata": {"name": "allow-dns", "namespace": "api", "labels": {"team": "platform"}},
                 "spec": {"selector": "all()", "types": ["Egress"],
                          "egress": [{"action": "Allow", "protocol": "UDP", "destination": {"ports": [53]}}]}}
CALICO_NETSET = {"apiVersion": "crd.projectcalico.org/v1", "kind": "GlobalNetworkSet",
                 "metadata": {"name": "office", "labels": {"zone": "office"}}, "spec": {"nets": ["198.51.100.0/24"]}}


NETPOLS = [{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"restore-me-{i}", "namespace": "api", "labels": {"case": "restore"},
                         "annotations": {"owner": "team-a"}},
            "spec": {"podSelector": {"matchLabels": {"app": "orders"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": f"web-{i}"}}}],
                                  "ports": [{"port": 8080 + i}]}]}} for i in range(3)]
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "restore-svc", "namespace": "api",
                                                               "labels": {"case": "restore"}},
           "spec": {"selector": {"app": "orders"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}
MINE = {"restore-svc", "allow-dns", "office"} | {p["metadata"]["name"] for p in NETPOLS}


@pytest.fixture
def cluster(sandbox_factory: Any) -> Iterator[tuple[Path, KubeGateway]]:
    """A managed-calico sandbox (NetworkPolicies, Services, PDBs, Calico's CRDs) and a gateway to it, with three
    NetworkPolicies and a Service created through the API (so the server defaulted them, as in any cluster: the
    scenario's own objects are stored as written)."""
    sb = sandbox_factory("managed-calico", time_scale=0.002)
    with KubeGateway(Path(sb.directory) / "kubeconfig") as gw:
        for p in NETPOLS:
            gw.net.create_namespaced_network_policy("api", p)  # type: ignore[arg-type]
        gw.core.create_namespaced_service("api", SERVICE)  # type: ignore[arg-type]
        yield Path(sb.directory), gw


def _mine(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objs if o["metadata"]["name"] in MINE]


def _run_step(ctx: Any, kind: str, step_id: str) -> dict[str, Any]:
    return step_fn(kind)(ctx, PlanStep(id=step_id, kind=kind))


def _step_context(tmp_path: Path, gw: KubeGateway) -> Any:
    ctx = context(tmp_path / "run")
    ctx._kube = gw
    return ctx


def _create_calico_objects(gw: KubeGateway) -> None:
    gw.custom.create_namespaced_custom_object(*CALICO_API, "api", "networkpolicies", CALICO_POLICY)
    gw.custom.create_cluster_custom_object(*CALICO_API, "globalnetworksets", CALICO_NETSET)


def _delete(gw: KubeGateway, objs: list[dict[str, Any]]) -> list[str]:
    """Delete these objects through the real client; their keys."""
    rest = Rest(gw)
    for o in objs:
        res = rest.resource(o["apiVersion"], o["kind"])
        meta = o["metadata"]
        assert rest.delete(res, meta.get("namespace") if res.namespaced else None, meta["name"])
    return [key(o) for o in objs]


def _live(gw: KubeGateway, o: dict[str, Any]) -> tuple[dict[str, Any] | None, bool]:
    rest = Rest(gw)
    res = rest.resource(o["apiVersion"], o["kind"])
    meta = o["metadata"]
    return rest.get(res, meta.get("namespace") if res.namespaced else None, meta["name"]), res.has_status


def _assert_back_exactly(gw: KubeGateway, objs: list[dict[str, Any]]) -> None:
    for o in objs:
        live, has_status = _live(gw, o)
        assert live is not None, f"{key(o)} was not restored"
        assert normalized(live, not has_status) == normalized(o, not has_status), key(o)


def _restore_round_trip(sb: Path, gw: KubeGateway, d: Path, gone: list[dict[str, Any]]) -> None:
    """Dry run (nothing changes), then the real restore: exactly the deleted objects are created, and are back."""
    res = cli("restore", str(d), "--sandbox", str(sb), "--dry-run")
    assert res.returncode == 0, res.stderr[-3000:]
    assert f"would create {len(gone)}, " in res.stdout and "dry run: nothing was changed" in res.stdout, res.stdout
    assert all(_live(gw, o)[0] is None for o in gone)
    res = cli("restore", str(d), "--sandbox", str(sb))
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    assert f"created {len(gone)}, " in res.stdout and "FAILED" not in res.stdout, res.stdout
    assert "Every restored object was read back and matches the backup" in res.stdout
    _assert_back_exactly(gw, gone)
    res = cli("restore", str(d), "--sandbox", str(sb))  # a rerun has nothing left to do
    assert res.returncode == 0 and "created 0, " in res.stdout, res.stdout + res.stderr[-2000:]


# ------------------------------------------------------------------------------------------- the four kinds
def test_apply_backup_round_trip(cluster: tuple[Path, KubeGateway], tmp_path: Path) -> None:
    sb, gw = cluster
    out = _run_step(_step_context(tmp_path, gw), "backup", "backup")
    d = Path(out["dir"])
    assert d.name.startswith("backup-") and backups.read(d).kind == "apply-backup"
    files = backups.read(d).files
    gone = _mine(files["networkpolicies"]) + _mine(files["services"]) + files["poddisruptionbudgets"][:1]
    assert len(gone) == 5
    _delete(gw, gone)
    _restore_round_trip(sb, gw, d, gone)
    # a changed object is left as it is and named (restore creates what is missing; it never overwrites)
    Rest(gw).merge_patch(Rest(gw).resource("networking.k8s.io/v1", "NetworkPolicy"), "api", "restore-me-0",
                         {"metadata": {"labels": {"case": "edited"}}})
    res = cli("restore", str(d), "--sandbox", str(sb))
    assert res.returncode == 0 and "created 0, " in res.stdout and "(1 differ from the backup)" in res.stdout
    assert ("present but different (left as is): networking.k8s.io/v1 NetworkPolicy api/restore-me-0"
            in res.stdout), res.stdout


def test_objects_the_server_adds_defaults_to_are_restored(cluster: tuple[Path, KubeGateway], tmp_path: Path) -> None:
    """The scenario's own NetworkPolicies are stored as written (no ``protocol: TCP``); re-created through the API
    they come back defaulted: that is no difference (a backup of another Kubernetes version is the same case)."""
    sb, gw = cluster
    d, _ = backup.backup(gw, tmp_path, now=NOW)
    gone = [p for p in backups.read(d).files["networkpolicies"] if p["metadata"]["name"] not in MINE]
    assert len(gone) == 6
    _delete(gw, gone)
    res = cli("restore", str(d), "--sandbox", str(sb))
    assert res.returncode == 0 and "created 6, " in res.stdout, res.stdout + res.stderr[-3000:]
    for o in gone:
        live, _has_status = _live(gw, o)
        assert covers(normalized(live), normalized(o)), key(o)
    assert any(normalized(_live(gw, o)[0]) != normalized(o) for o in gone)  # some were defaulted


def test_calico_backup_round_trip(cluster: tuple[Path, KubeGateway], tmp_path: Path) -> None:
    sb, gw = cluster
    _create_calico_objects(gw)
    rest = Rest(gw)
    d, counts = calico.backup(rest, calico.inventory(rest), tmp_path)
    assert d.name.startswith("calico-backup-") and backups.read(d).kind == "calico-backup"
    assert counts["crs"] >= 11
    gone = [o for o in backups.read(d).files["crs"] if o["metadata"]["name"] in ("allow-dns", "office")]
    assert len(gone) == 2
    _delete(gw, gone)
    _restore_round_trip(sb, gw, d, gone)


def test_calico_policy_backup_round_trip(cluster: tuple[Path, KubeGateway], tmp_path: Path) -> None:
    sb, gw = cluster
    _create_calico_objects(gw)
    out = _run_step(_step_context(tmp_path, gw), "backup-calico-policies", "backup-calico")
    d = Path(out["dir"])
    assert d.name.startswith("backup-calico-") and backups.read(d).kind == "calico-policies"
    assert out["networkpolicies"] == 1 and out["globalnetworksets"] == 1
    gone = backups.read(d).objects()
    assert {o["metadata"]["name"] for o in gone} == {"allow-dns", "office"}
    _delete(gw, gone)
    _restore_round_trip(sb, gw, d, gone)


def test_policy_export_round_trip(cluster: tuple[Path, KubeGateway], tmp_path: Path) -> None:
    sb, gw = cluster
    out = _run_step(_step_context(tmp_path, gw), "export-policies", "export-policies")
    d = Path(out["dir"])
    assert d.name == "policies-export" and backups.read(d).kind == "policy-export"
    gone = _mine(backups.read(d).files["networkpolicies"])
    assert out["policies"] == 9 and len(gone) == 3
    _delete(gw, gone)
    _restore_round_trip(sb, gw, d, gone)


# ---------------------------------------------------------------------------------------------- damaged
def test_a_damaged_file_is_refused_in_one_line_and_nothing_changes(cluster: tuple[Path, KubeGateway],
                                                                   tmp_path: Path) -> None:
    sb, gw = cluster
    d, _ = backup.backup(gw, tmp_path, now=NOW)
    gone = _mine(backups.read(d).files["networkpolicies"])
    _delete(gw, gone)
    f = d / "networkpolicies.yaml"
    f.write_text(f.read_text() + "# edited by hand\n")  # the objects are the same, the checksum is not
    for extra in ([], ["--dry-run"]):
        res = cli("restore", str(d), "--sandbox", str(sb), *extra)
        lines = [x for x in res.stderr.splitlines() if x.strip()]
        assert res.returncode == 2, res.stderr[-3000:]
        assert len(lines) == 1 and lines[0].startswith("error: ") and "; " in lines[0], res.stderr
        assert f"{f} does not match its checksum in manifest.json" in lines[0]
        assert "Traceback" not in res.stderr + res.stdout
    assert all(_live(gw, o)[0] is None for o in gone)  # nothing was created


# -------------------------------------------------------------------------- folders of earlier versions
def _old_apply_backup(gw: KubeGateway, root: Path) -> Path:
    """A backup folder as the apply backup wrote it before format 1: no ``format``, keys ``namespace/name``
    (sorted), objects with only status and managedFields removed (uid, resourceVersion kept)."""
    d = root / "backup-20250301-120000"
    d.mkdir(parents=True)
    groups = {"networkpolicies": gw.network_policies(), "namespaces": gw.namespaces(), "services": gw.services(),
              "poddisruptionbudgets": gw.pdbs()}
    manifest: dict[str, Any] = {"taken_at": NOW.isoformat(timespec="seconds"), "files": {}}
    for name, items in groups.items():
        items = [{**{k: v for k, v in o.items() if k != "status"},
                  "metadata": {k: v for k, v in o["metadata"].items() if k != "managedFields"}} for o in items]
        text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)
        (d / f"{name}.yaml").write_text(text)
        manifest["files"][f"{name}.yaml"] = {
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "objects": sorted(f"{o['metadata'].get('namespace') or ''}/{o['metadata']['name']}" for o in items)}
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return d


def _old_calico_policy_backup(gw: KubeGateway, root: Path) -> Path:
    """A Calico policy backup as the overlay step wrote it before format 1: ``manifest.json`` is only
    ``{"PLURAL.yaml": sha256}``, objects without status and the server-set metadata."""
    d = root / "backup-calico-20250301-120000"
    d.mkdir(parents=True)
    manifest = {}
    for plural in ("networkpolicies", "globalnetworkpolicies", "networksets", "globalnetworksets"):
        items: list[dict[str, Any]] = gw.custom.list_cluster_custom_object(*CALICO_API, plural)["items"]  # type: ignore[assignment]
        drop = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields", "selfLink")
        items = [{**{k: v for k, v in o.items() if k != "status"},
                  "metadata": {k: v for k, v in o["metadata"].items() if k not in drop}} for o in items]
        text = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}, sort_keys=False)
        (d / f"{plural}.yaml").write_text(text)
        manifest[f"{plural}.yaml"] = hashlib.sha256(text.encode()).hexdigest()
    (d / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return d


def test_an_apply_backup_of_the_previous_format_is_still_restored(cluster: tuple[Path, KubeGateway],
                                                                  tmp_path: Path) -> None:
    sb, gw = cluster
    d = _old_apply_backup(gw, tmp_path)
    old = backups.read(d)
    assert old.format == "legacy-objects" and old.kind == "apply-backup"
    assert backup.verify(d, gw) == []  # what the point-of-no-return check and a rerun of the step call
    gone = _mine(old.files["networkpolicies"]) + _mine(old.files["services"]) + old.files["poddisruptionbudgets"][:1]
    _delete(gw, gone)
    _restore_round_trip(sb, gw, d, gone)


def test_a_calico_policy_backup_of_the_previous_format_is_still_restored(cluster: tuple[Path, KubeGateway],
                                                                         tmp_path: Path) -> None:
    sb, gw = cluster
    _create_calico_objects(gw)
    d = _old_calico_policy_backup(gw, tmp_path)
    old = backups.read(d)
    assert old.format == "legacy-checksums" and old.kind == "calico-policies"
    gone = old.objects()
    assert {o["metadata"]["name"] for o in gone} == {"allow-dns", "office"}
    _delete(gw, gone)
    _restore_round_trip(sb, gw, d, gone)
    (d / "globalnetworksets.yaml").write_text((d / "globalnetworksets.yaml").read_text().replace("100", "101"))
    res = cli("restore", str(d), "--sandbox", str(sb))
    assert res.returncode == 2 and "globalnetworksets.yaml does not match its checksum" in res.stderr, res.stderr


# ------------------------------------------------------------------- put_back (the policy-restoring steps)
def test_put_back_creates_the_missing_replaces_the_changed_and_reads_all_back(cluster: tuple[Path, KubeGateway],
                                                                             tmp_path: Path) -> None:
    from netmig.steps.policies_export import same

    _sb, gw = cluster
    rest = Rest(gw)
    res = rest.resource("networking.k8s.io/v1", "NetworkPolicy")
    wanted = [backups.clean(o) for o in _mine(gw.network_policies())]
    _delete(gw, wanted[:1])
    changed = {**wanted[1], "spec": {**wanted[1]["spec"], "policyTypes": ["Ingress", "Egress"]}}
    rest.merge_patch(res, "api", wanted[1]["metadata"]["name"], {"spec": {"policyTypes": ["Ingress", "Egress"]},
                                                                 "metadata": {"labels": {"case": "edited"}}})
    only_missing = put_back(rest, wanted, None)  # existing ones are left alone
    assert only_missing.created == [f"api/{wanted[0]['metadata']['name']}"] and not only_missing.replaced
    assert not same(wanted[1], _live(gw, changed)[0] or {})
    _delete(gw, wanted[:1])
    done = put_back(rest, wanted, same)
    assert done.created == [f"api/{wanted[0]['metadata']['name']}"]
    assert done.replaced == [f"api/{wanted[1]['metadata']['name']}"] and done.differ == []
    _assert_back_exactly(gw, wanted)
    assert put_back(rest, wanted, same) == PutBack()  # nothing left to do
