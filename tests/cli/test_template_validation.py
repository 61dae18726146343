"""A template (``aks-netmig plan --migration FILE``) is validated when it is loaded: a misspelled step kind, a
misspelled check id or a param of the wrong type is refused with exit 2 and ONE line naming the template and the
step, before any cluster access -- the address given is a sandbox folder that does not exist, so reaching for the
cluster would fail with a message about the sandbox instead."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "plans" / "npm-to-cilium.yaml"


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMIG_ORCHESTRATOR": "local", "PREFECT_API_URL": "http://127.0.0.1:9/api"}
    return subprocess.run([sys.executable, "-m", "netmig.cli.main", *map(str, args)], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False)


def _step(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(s for s in doc["steps"] if s["kind"] == kind)


def _misspell_kind(doc: dict[str, Any]) -> str:
    _step(doc, "wait-daemonset")["kind"] = "wait-deamonset"
    return "unknown step kind 'wait-deamonset'"


def _misspell_check(doc: dict[str, Any]) -> str:
    doc["checks"][doc["checks"].index("surge-capacity")] = "surge-capcity"
    return "unknown check 'surge-capcity'"


def _bad_param_type(doc: dict[str, Any]) -> str:
    _step(doc, "wait-daemonset")["params"]["timeout_s"] = "ten minutes"
    return "param timeout_s input should be a valid number"


def _unknown_param(doc: dict[str, Any]) -> str:
    _step(doc, "wait-daemonset")["params"]["timeout"] = 600
    return "param timeout is not a param of this kind"


CASES: dict[str, Callable[[dict[str, Any]], str]] = {
    "misspelled-step-kind": _misspell_kind, "misspelled-check-id": _misspell_check,
    "bad-param-type": _bad_param_type, "unknown-param": _unknown_param}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_bad_template_is_refused_in_one_line_before_any_cluster_access(tmp_path: Path, case: str) -> None:
    doc = yaml.safe_load(TEMPLATE.read_text())
    expected = CASES[case](doc)
    template = tmp_path / "npm-to-cilium-edited.yaml"
    template.write_text(yaml.safe_dump(doc, sort_keys=False))
    nowhere = tmp_path / "no-such-sandbox"  # reaching for the cluster would fail here, with another message
    res = cli("plan", "--migration", template, "--sandbox", nowhere, "--out", tmp_path / "plan.yaml")
    lines = (res.stdout + res.stderr).strip().splitlines()
    assert res.returncode == 2, res.stdout + res.stderr
    assert len(lines) == 1, lines
    assert f"template {template}" in lines[0] and expected in lines[0], lines[0]
    assert "sandbox.json" not in lines[0] and "Traceback" not in lines[0]
    assert not (tmp_path / "plan.yaml").exists() and not nowhere.exists()


def test_the_shipped_template_passes_the_same_gate(tmp_path: Path) -> None:
    """The control: the unedited template gets past the template gate and fails on the missing sandbox."""
    nowhere = tmp_path / "no-such-sandbox"
    res = cli("plan", "--migration", TEMPLATE, "--sandbox", nowhere, "--out", tmp_path / "plan.yaml")
    assert res.returncode == 2 and f"template {TEMPLATE}" not in res.stderr, res.stderr
    assert "sandbox.json does not exist" in res.stderr, res.stderr
