"""``aks-netmig journey`` user errors: one line ``problem; fix``, exit 2, no traceback, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMIG_ORCHESTRATOR": "local", "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    return subprocess.run([sys.executable, "-m", "netmig.cli.main", *args], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


def _one_line_error(res: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert res.returncode == 2, res.stdout + res.stderr
    errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1 and "; " in errors[0] and "Traceback" not in res.stderr, res.stderr
    assert all(p in errors[0] for p in parts), errors[0]


def test_journey_user_errors(sandbox_factory: Any, tmp_path: Path) -> None:
    sb = sandbox_factory("npm", time_scale=0.002)
    out = tmp_path / "j.yaml"
    _one_line_error(_cli("journey", "plan", "--sandbox", str(sb.directory), "--to", "overlay-weave",
                         "--out", str(out)), "unknown network profile 'overlay-weave'", "--to")
    _one_line_error(_cli("journey", "plan", "--sandbox", str(sb.directory), "--to", "overlay-cilium",
                         "--out", str(out)), "needs a pod CIDR", "--pod-cidr")
    _one_line_error(_cli("journey", "plan", "--sandbox", str(sb.directory), "--to", "byo-cni", "--out", str(out)),
                    "no journey from azure-cni-npm to byo-cni")
    assert not out.exists() and not list(tmp_path.glob("*.plan.yaml"))
    _one_line_error(_cli("journey", "apply", str(out), "--yes"), "does not exist", "journey plan")


def test_journey_record_of_another_journey_is_never_reused(sandbox_factory: Any, tmp_path: Path) -> None:
    """A journey file's run folder records one journey's approval and finished stages: planning a new journey over
    it, or applying a file whose folder records another journey, is refused and changes nothing."""
    from netmig.commands.journey import _save_state, load_journey, run_dir_of

    sb = sandbox_factory("npm", time_scale=0.002)
    out = tmp_path / "j.yaml"
    made = _cli("journey", "plan", "--sandbox", str(sb.directory), "--to", "overlay-cilium",
                "--pod-cidr", "192.168.0.0/16", "--accept", "policy-analysis", "--out", str(out))
    assert made.returncode == 0, made.stdout + made.stderr
    before = out.read_bytes()
    journey_id = load_journey(out).journey_id
    run_dir = run_dir_of(out)
    _save_state(run_dir, {"journey_id": "journey-older", "done": [1], "approved": {"approver": "x", "via": "--yes"}})
    _one_line_error(_cli("journey", "plan", "--sandbox", str(sb.directory), "--to", "overlay-cilium",
                         "--pod-cidr", "192.168.0.0/16", "--accept", "policy-analysis", "--out", str(out)),
                    "holds the record of journey journey-older", "move")
    assert out.read_bytes() == before
    _one_line_error(_cli("journey", "apply", str(out), "--yes"), "holds the record of journey journey-older")
    assert journey_id != "journey-older"
    log = sb.directory / "arm-requests.jsonl"
    sent = [json.loads(x) for x in log.read_text().splitlines()] if log.is_file() else []
    writes = [r for r in sent if r.get("method") in ("PUT", "POST", "DELETE")
              and not str(r.get("path", "")).endswith("Credential")]  # listClusterUserCredential is a read
    assert not writes, writes
