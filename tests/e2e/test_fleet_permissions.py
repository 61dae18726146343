"""Issue 18, least privilege for ``aks-netmig fleet scan``: the read-only role ``aks-netmig permissions --fleet-scan
[--deep]`` prints is exactly enough on the sandbox fleet, which enforces it (``sandbox start --scenario fleet --role
FILE``: the fleet's ARM endpoint, Resource Graph included, and every member's ARM and Kubernetes API).

- Under exactly the printed role, the scan sees every cluster of the fleet (``--deep``: and every recommended
  migration's preflight runs with no permission missing), nothing is denied, and every request in the fleet's and
  the members' request logs is covered by the declaration (``netmig.engine.permissions.for_fleet_scan``).
- With any one declared Azure action removed, the scan stops before listing anything, with one line naming the
  missing action and the line to add to the role -- never a shorter list that looks complete (Resource Graph, like
  Azure's, silently leaves out the clusters a caller may not read) -- and writes nothing.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmig.engine.permissions import for_fleet_scan
from netmig.model.permissions import Permissions
from netmig_sandbox.fleet import FleetSandbox
from tests.e2e.migrate_helpers import cli, stop
from tests.e2e.permission_helpers import requests, run_cli

REVIEWS = {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}
WRITES = {"PUT", "POST", "PATCH", "DELETE"}


def _role(*flags: str) -> dict[str, Any]:
    res = run_cli("permissions", "--fleet-scan", *flags, "--json")
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.output)
    return doc


def _logs(d: Path, since: float = 0.0) -> list[tuple[str, dict[str, Any]]]:
    """(log name, entry) of the fleet's ARM log and every member's ARM and Kubernetes logs, since ``since``."""
    out = [("fleet arm", e) for e in requests(d, "arm-requests.jsonl") if e["time"] >= since]
    for member in sorted((d / "clusters").iterdir()):
        out += [(f"{member.name} arm", e) for e in requests(member, "arm-requests.jsonl") if e["time"] >= since]
        out += [(f"{member.name} kube", e) for e in requests(member, "kube-requests.jsonl") if e["time"] >= since]
    return out


def _covered(p: Permissions, log: str, e: dict[str, Any]) -> bool:
    if log.endswith("arm"):
        return e.get("action") is None or p.covers_arm(str(e["action"]))
    if e.get("verb") is None or (e.get("group") == "authorization.k8s.io" and e.get("resource") in REVIEWS):
        return True  # discovery / version, and asking what one may do: every authenticated user may
    return p.covers_kube(e["verb"], e["group"], e["resource"], e.get("namespace"))


@pytest.mark.parametrize("deep", [False, True], ids=["scan", "deep"])
def test_fleet_scan_under_exactly_the_printed_role_sees_every_cluster(deep: bool, tmp_path: Path) -> None:
    flags = ["--deep"] if deep else []
    role_file = tmp_path / "role.json"
    role_file.write_text(json.dumps(_role(*flags)))
    d = tmp_path / "fleet"
    res = cli("sandbox", "start", "--scenario", "fleet", "--dir", str(d), "--detach", "--time-scale", "0.002",
              "--role", str(role_file), timeout=300)
    assert res.returncode == 0, res.stderr
    try:
        fleet = json.loads((d / "sandbox.json").read_text())
        res = cli("fleet", "scan", "--sandbox", str(d), "--json", *flags, timeout=300)
        assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    finally:
        stop(d)
    doc = json.loads(res.stdout)
    assert sorted(c["id"].lower() for c in doc["clusters"]) == sorted(c["id"].lower() for c in fleet["clusters"])
    assert doc["source"] == "resource-graph"
    if deep:
        deep_ones = [c for c in doc["clusters"] if c.get("recommended")]
        assert deep_ones
        for c in deep_ones:
            assert "error" not in c["preflight"] and "permissions" not in c["preflight"]["blocking"], c
    need = for_fleet_scan(deep)
    entries = _logs(d)
    assert [e for _, e in entries if e["status"] in (401, 403)] == []
    assert [f"{log}: {e['method']} {e['path']} ({e.get('action') or e.get('verb')})" for log, e in entries
            if not _covered(need, log, e)] == []
    assert any(e.get("action") == "Microsoft.ResourceGraph/resources/read" for _, e in entries)
    if deep:
        assert any(log.endswith("kube") for log, _ in entries)  # the preflights did read the members


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FleetSandbox]:
    """One in-process fleet (full members, no light ones); each case sets the identity it runs as."""
    fs = FleetSandbox(tmp_path_factory.mktemp("fleet") / "fleet", time_scale=0.002, identity=_role())
    fs.start()
    yield fs
    fs.stop()


def _restrict(fs: FleetSandbox, doc: dict[str, Any]) -> None:
    fs.identity = doc

    def set_identity(ctx: Any) -> None:
        ctx.services["identity"] = doc
    for sb in fs.sandboxes.values():
        sb.run(set_identity)


def _cases() -> Iterator[Any]:
    for deep in (False, True):
        for action in for_fleet_scan(deep).arm:
            yield pytest.param(deep, action, id=f"{'deep' if deep else 'scan'}-{action}")


@pytest.mark.parametrize(("deep", "action"), list(_cases()))
def test_a_missing_action_stops_the_scan_in_one_line_naming_it(fleet: FleetSandbox, deep: bool, action: str,
                                                               tmp_path: Path) -> None:
    flags = ["--deep"] if deep else []
    doc = _role(*flags)
    less = copy.deepcopy(doc)
    less["azure_role"]["Actions"] = [a for a in less["azure_role"]["Actions"] if a != action]
    _restrict(fleet, less)
    before = sorted(p.name for p in tmp_path.iterdir())
    since = time.time()
    try:
        res = run_cli("fleet", "scan", "--sandbox", fleet.directory, "--json", *flags)
    finally:
        _restrict(fleet, _role())
    assert res.exit_code == 2, res.output[-2000:]
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.output[-2000:]
    assert action in lines[0] and f'add "{action}" to the Azure role\'s Actions' in lines[0]
    assert "--fleet-scan" in lines[0] and '"clusters"' not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    assert [e for _, e in _logs(fleet.directory, since) if e["method"] in WRITES and not (
        e.get("resource") in REVIEWS or "resourcegraph" in e["path"].lower())] == []
