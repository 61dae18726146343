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


def test_one_typed_reader(tmp_path: Path) -> None:
    from netmig.journal import Event, EventKind, as_events, events

    j = Journal(tmp_path / "journal.jsonl")
    j.record(EventKind.STEP_DONE, step="backup", result={"dir": "/x"}, duration_s=0.1)
    j.set("variant", "fallback")
    j.record("from-a-newer-version", detail=1)
    typed = events(j.path)
    assert typed == j.read() == as_events(j.events())
    done, chosen, unknown = typed
    assert done.is_(EventKind.STEP_DONE, "backup") and done.result == {"dir": "/x"} and done.step == "backup"
    assert chosen.is_(EventKind.SET) and (chosen.key, chosen.value, chosen.step) == ("variant", "fallback", None)
    assert unknown.kind == "from-a-newer-version" and unknown.get("detail") == 1
    assert Event.of(done.to_dict()) == done and done.get("event") == "step-done"
