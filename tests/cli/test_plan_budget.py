"""``aks-netmig plan --budget DURATION`` / ``--no-budget``: the probing time budget of the migration's
connectivity steps (the before-snapshot and verify), written into the plan as the ``--set`` values it stands for
(so the plan's recorded command makes the same plan again) and accepted by apply's plan validation; run as a user
runs it (a subprocess) against a sandbox. Bad combinations are in ``test_bad_input.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netmig.engine.planning import PROBING_KINDS, budget_sets, load_plan
from netmig.errors import UsageError
from netmig_sandbox.runtime import Sandbox


def _plan(sb: Sandbox, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NETMIG_ORCHESTRATOR": "local"}
    return subprocess.run([sys.executable, "-m", "netmig.cli.main", "plan", "--sandbox", str(sb.directory), "--out",
                           str(out), "--accept", "policy-analysis", *flags], capture_output=True, text=True,
                          env=env, stdin=subprocess.DEVNULL, timeout=300, check=False)


def _budgets(path: Path) -> dict[str, object]:
    """Each probing step's budget as the step will run it (its params parsed by its kind, defaults filled)."""
    from netmig.engine import catalog

    plan = load_plan(path)  # what apply reads: validated against its template
    return {s.id: catalog.step_fn(s.kind).parse(s).budget_s for s in plan.steps if s.kind in PROBING_KINDS}


def test_plan_budget_sets_every_probing_step_and_is_recorded(sandbox: Sandbox, tmp_path: Path) -> None:
    res = _plan(sandbox, tmp_path / "three.yaml", "--budget", "3m")
    assert res.returncode == 0, res.stderr
    assert _budgets(tmp_path / "three.yaml") == {"snapshot": 180, "verify": 180}
    command = load_plan(tmp_path / "three.yaml").plan_command
    assert "snapshot.budget_s=180" in command and "verify.budget_s=180" in command  # plans the same again
    res = _plan(sandbox, tmp_path / "all.yaml", "--no-budget")
    assert res.returncode == 0, res.stderr
    assert _budgets(tmp_path / "all.yaml") == {"snapshot": None, "verify": None}  # null: every cell
    res = _plan(sandbox, tmp_path / "default.yaml")
    assert res.returncode == 0, res.stderr
    assert _budgets(tmp_path / "default.yaml") == {"snapshot": 600.0, "verify": 600.0}  # the default


def test_budget_sets_agrees_with_explicit_sets_and_refuses_a_different_one() -> None:
    assert budget_sets("npm-to-cilium", 90.0) == ["snapshot.budget_s=90", "verify.budget_s=90"]
    assert budget_sets("npm-to-cilium", 90.0, ("snapshot.budget_s=90",)) == ["verify.budget_s=90"]
    assert budget_sets("uninstall", None) == ["snapshot.budget_s=null", "verify.budget_s=null"]
    with pytest.raises(UsageError, match="disagree"):
        budget_sets("npm-to-cilium", 90.0, ("verify.budget_s=60",))
