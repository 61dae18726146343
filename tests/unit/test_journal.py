from __future__ import annotations

from pathlib import Path

import pytest

from netmig.journal import Journal


def test_completed_steps_survive_a_reopen(tmp_path: Path) -> None:
    j = Journal(tmp_path / "m" / "journal.jsonl")
    j.record("step-started", step="backup")
    assert not j.completed("backup")
    j.record("step-done", step="backup", outcome="ok")
    again = Journal(tmp_path / "m" / "journal.jsonl")
    assert again.completed("backup")
    assert again.completed_steps() == ["backup"]


def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.jsonl")
    j.record("step-done", step="preflight")
    with j.path.open("a") as f:
        f.write('{"event": "step-done", "step": "upd')  # a crash mid-write
    assert j.completed_steps() == ["preflight"]


def test_latest_value_wins(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.jsonl")
    assert j.value("poller", "none") == "none"
    j.set("poller", "a")
    j.set("poller", "b")
    assert j.value("poller") == "b"


def test_secret_looking_fields_are_refused(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.jsonl")
    with pytest.raises(ValueError, match="kubeconfig"):
        j.record("oops", kubeconfig="apiVersion: v1")
    assert j.events() == []


def test_last_error(tmp_path: Path) -> None:
    j = Journal(tmp_path / "journal.jsonl")
    assert j.last_error() is None
    j.record("step-failed", step="watch-reimage", error="stall: PDB kube-system/coredns-pdb")
    assert j.last_error()["step"] == "watch-reimage"  # type: ignore[index]
