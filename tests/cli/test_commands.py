"""The command layer's own contracts: one argv rendering, the connection's pacing, nothing below the CLI imports it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from netmig.commands.argv import ApplyLine, argv, plan_argv
from netmig.connection import Address, from_sandbox_dir
from netmig.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_argv_renders_address_then_flags_in_order() -> None:
    address = Address(sandbox=Path("/sb"), arm_endpoint="https://arm")
    assert argv("status", "p.yaml", address=address) == ["aks-netmig", "status", "p.yaml", "--sandbox", "/sb",
                                                         "--arm-endpoint", "https://arm"]
    assert plan_argv("npm-to-cilium", "p.yaml", {"cluster": "/subscriptions/s"}, accept=["a", "b"],
                     sets=["x.y=1"], pod_cidr=None, allow_fallback=True) == [
        "aks-netmig", "plan", "--cluster", "/subscriptions/s", "--migration", "npm-to-cilium", "--out", "p.yaml",
        "--accept", "a", "--accept", "b", "--set", "x.y=1", "--allow-fallback"]


def test_apply_line_reruns_with_a_larger_timeout_last_and_names_its_abort() -> None:
    line = ApplyLine("p.yaml", Address(sandbox="/sb"), run_dir=Path("/r"), yes=True, prefect=False,
                     timeouts={"stall_seconds": 60.0, "pdb_block_seconds": None, "notready_seconds": 30.0})
    assert line.argv() == ["aks-netmig", "apply", "p.yaml", "--sandbox", "/sb", "--run-dir", "/r", "--yes",
                           "--no-prefect", "--stall-timeout", "60", "--notready-timeout", "30"]
    assert line.with_timeout("stall_seconds", 1800.0).argv()[-4:] == ["--notready-timeout", "30",
                                                                      "--stall-timeout", "1800"]
    assert line.abort_argv() == ["aks-netmig", "abort", "p.yaml", "--sandbox", "/sb", "--run-dir", "/r", "--yes"]


def _sandbox_file(tmp_path: Path, **extra: object) -> Path:
    info = {"subscription_id": "s", "resource_group": "rg", "cluster_name": "c", "arm_endpoint": "https://127.0.0.1:1",
            "token": "t", **extra}
    (tmp_path / "sandbox.json").write_text(json.dumps(info))
    return tmp_path


def test_the_connection_file_declares_the_pace(tmp_path: Path) -> None:
    target = from_sandbox_dir(_sandbox_file(tmp_path, poll_seconds=0.3))
    assert target.poll_seconds == 0.3 and target.arm_poll_seconds == 0.3 and target.retry_backoff_max == 0.3
    target = from_sandbox_dir(_sandbox_file(tmp_path, poll_seconds=0.3, retry_backoff_max=2))
    assert target.retry_backoff_max == 2.0
    with pytest.raises(UsageError, match="poll_seconds must be a number of seconds > 0"):
        from_sandbox_dir(_sandbox_file(tmp_path, poll_seconds="fast"))


def test_a_real_cluster_has_the_product_pace() -> None:
    target = Address(cluster="/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerService/"
                             "managedClusters/c").target()
    assert target.poll_seconds is None and target.retry_backoff_max is None and target.arm_poll_seconds == 5.0


def test_nothing_outside_the_cli_imports_it() -> None:
    offenders = []
    for folder in ("netmig", "flows", "tasks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.is_relative_to(ROOT / "netmig" / "cli"):
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("netmig.cli")]
    assert offenders == []
