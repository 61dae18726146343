"""Pieces of the watch-reimage step that need no cluster: what it reads for the PDB test, and how an aborted or
failed operation makes the next run re-send the profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netmig.stepkit.monitor import ReimageMonitor
from netmig.steps.reimage import _failed_before, _pdb_inputs, note_aborted
from tests.unit.engine.test_monitor import node, pdb, pod
from tests.unit.engine.values import StubKube, context


class CountingKube(StubKube):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.reads: list[str] = []

    def pods(self, namespace: str | None = None) -> list[dict[str, Any]]:
        self.reads.append(f"pods:{namespace or '*'}")
        return super().pods(namespace)

    def pdbs(self) -> list[dict[str, Any]]:
        self.reads.append("pdbs")
        return super().pdbs()


def test_pods_and_pdbs_are_read_only_when_a_drain_may_be_blocked_and_only_pdb_namespaces(tmp_path: Path) -> None:
    kube = CountingKube([pod("db-1", "a", {"app": "db"}), pod("web-1", "a", {"app": "web"}, ns="web")],
                        [pdb("db-strict", {"app": "db"}, minAvailable=1)])
    ctx = context(tmp_path, kube=kube)
    m = ReimageMonitor("cilium", 0.0, pdb_block_seconds=60, original_names={"a"})
    m.on_node("ADDED", node("a", cordoned=True), 0)
    assert _pdb_inputs(ctx, m, 30.0) == (None, None) and kube.reads == []
    pods, pdbs = _pdb_inputs(ctx, m, 61.0)
    assert kube.reads == ["pdbs", "pods:data"]
    assert [p["metadata"]["name"] for p in pods or []] == ["db-1"] and len(pdbs or []) == 1
    stall = m.stall(61.0, pods, pdbs)
    assert stall is not None and stall.pdb == "data/db-strict"


def test_an_abort_or_failure_makes_the_next_run_resend_and_a_new_put_clears_it(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    j, key = ctx.journal, "update-network.continuation_token"
    assert note_aborted(ctx.plan, j, "aborted") == []  # no PUT went out: nothing to resume
    j.record("arm-put", step="update-network", attempt=1)  # the PUT went out; the crash lost its token
    assert not _failed_before(ctx, "watch-reimage", key)
    assert note_aborted(ctx.plan, j, "aborted with apply --abort (Canceled)") == ["watch-reimage"]
    assert _failed_before(ctx, "watch-reimage", key)
    j.record("arm-put", step="watch-reimage", resume=True)
    j.set(key, "token-2")
    assert not _failed_before(ctx, "watch-reimage", key)
    j.record("operation-failed", step="watch-reimage", error="ReconcileFailed")
    assert _failed_before(ctx, "watch-reimage", key)
    j.record("step-done", step="watch-reimage", result={})
    assert note_aborted(ctx.plan, j, "late abort") == []  # the reimage was already watched to the end
