"""A run folder's journal belongs to one migration: a new plan saved over an old one does not inherit its steps."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from netmig.engine.session import check_journal_owner
from netmig.errors import UsageError
from netmig.journal import Journal


def test_a_journal_of_another_migration_is_refused_with_the_fix(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "p.run" / "journal.jsonl")
    journal.record("run-start", run_id="r1", migration="npm-to-cilium-aks-20261126-070000")
    journal.record("step-done", step="approval", result={"approved": True})
    new_plan = SimpleNamespace(migration_id="npm-to-cilium-aks-20261126-080000")
    with pytest.raises(UsageError) as e:
        check_journal_owner(journal, new_plan, tmp_path / "p.run")  # type: ignore[arg-type]
    assert "npm-to-cilium-aks-20261126-070000" in str(e.value) and "move" in str(e.value)
    assert e.value.exit_code == 2


def test_the_same_migration_and_an_empty_or_legacy_journal_are_accepted(tmp_path: Path) -> None:
    plan = SimpleNamespace(migration_id="m1")
    journal = Journal(tmp_path / "journal.jsonl")
    check_journal_owner(journal, plan, tmp_path)  # type: ignore[arg-type]
    journal.record("run-start", run_id="r0")  # written before migration ids were recorded
    journal.record("run-start", run_id="r1", migration="m1")
    check_journal_owner(journal, plan, tmp_path)  # type: ignore[arg-type]
