"""Stall detection and progress from node events, with an injected clock (pure)."""

from __future__ import annotations

from typing import Any

from netmig.stepkit.monitor import ReimageMonitor, blocking_pdbs


def node(name: str, pool: str = "user", ready: bool = True, cordoned: bool = False, engine: str = "azure") -> Any:
    return {"metadata": {"name": name, "labels": {"kubernetes.azure.com/agentpool": pool,
                                                  "kubernetes.azure.com/network-policy": engine}},
            "spec": {"unschedulable": True} if cordoned else {},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(name: str, node_name: str, labels: dict[str, str], ns: str = "data", ready: bool = True) -> Any:
    return {"metadata": {"name": name, "namespace": ns, "labels": labels}, "spec": {"nodeName": node_name},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": str(ready)}]}}


def pdb(name: str, selector: dict[str, str], ns: str = "data", **spec: Any) -> Any:
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"selector": {"matchLabels": selector}, **spec}}


def test_progress_counts_done_surge_cordoned_and_notready() -> None:
    m = ReimageMonitor("cilium", 0.0, originals={"user": 2}, original_names={"a", "b"})
    m.on_node("ADDED", node("a"), 0)
    m.on_node("ADDED", node("b"), 0)
    assert m.on_node("ADDED", node("s1"), 1)  # a surge node is progress
    m.on_node("MODIFIED", node("a", cordoned=True, ready=False), 2)
    [p] = m.progress()
    assert (p.total, p.done, p.surge, p.cordoned, p.not_ready) == (2, 0, 1, 1, 1)
    assert m.on_node("MODIFIED", node("a", engine="cilium"), 3)
    m.on_node("MODIFIED", node("b", engine="cilium"), 4)
    assert not m.all_done()  # the surge node is still there
    assert m.on_node("DELETED", node("s1"), 5)
    assert m.all_done() and m.progress()[0].done == 2


def test_no_progress_stall_after_the_configured_time() -> None:
    m = ReimageMonitor("cilium", 0.0, stall_seconds=100, original_names={"a"})
    m.on_node("ADDED", node("a"), 0)
    assert m.stall(99.0) is None
    s = m.stall(101.0)
    assert s is not None and s.kind == "no-progress"
    m.on_node("MODIFIED", node("a", engine="cilium"), 150)
    assert m.stall(200.0) is None


def test_notready_too_long_names_the_node() -> None:
    m = ReimageMonitor("cilium", 0.0, notready_seconds=30, original_names={"a"})
    m.on_node("ADDED", node("a", ready=False), 10)
    m.on_node("MODIFIED", node("a", ready=False, cordoned=True), 20)  # still the same NotReady period
    assert m.stall(39.0) is None
    s = m.stall(41.0)
    assert s is not None and s.kind == "node-notready" and s.node == "a"


def test_pdb_blocked_drain_names_the_pdb() -> None:
    m = ReimageMonitor("cilium", 0.0, pdb_block_seconds=60, original_names={"a", "b"})
    m.on_node("ADDED", node("a", cordoned=True), 0)
    m.on_node("ADDED", node("b"), 0)
    pods = [pod("db-1", "a", {"app": "db"}), pod("db-2", "b", {"app": "db"})]
    pdbs = [pdb("db-strict", {"app": "db"}, minAvailable=2)]
    assert m.stall(30.0, pods, pdbs) is None
    s = m.stall(61.0, pods, pdbs)
    assert s is not None and s.kind == "pdb-blocked" and s.pdb == "data/db-strict" and s.node == "a"
    assert m.stall(61.0, pods, [pdb("db-ok", {"app": "db"}, minAvailable=1)]) is None


def test_blocking_pdbs_percentages_and_max_unavailable() -> None:
    pods = [pod(f"p{i}", "a", {"app": "x"}) for i in range(4)]
    assert [b.pdb for b in blocking_pdbs(pods, [pdb("all", {"app": "x"}, minAvailable="100%")])] == ["data/all"]
    assert blocking_pdbs(pods, [pdb("half", {"app": "x"}, minAvailable="50%")]) == []
    assert [b.pdb for b in blocking_pdbs(pods, [pdb("zero", {"app": "x"}, maxUnavailable=0)])] == ["data/zero"]
    assert blocking_pdbs(pods, [pdb("other", {"app": "y"}, maxUnavailable=0)]) == []


def test_pods_are_needed_only_for_nodes_cordoned_longer_than_the_pdb_timeout() -> None:
    m = ReimageMonitor("cilium", 0.0, pdb_block_seconds=60, original_names={"a", "b"})
    m.on_node("ADDED", node("a"), 0)
    m.on_node("MODIFIED", node("a", cordoned=True), 10)
    m.on_node("ADDED", node("b", cordoned=True), 50)
    assert m.cordoned_too_long(69.0) == []
    assert m.cordoned_too_long(71.0) == ["a"]
    assert m.cordoned_too_long(111.0) == ["a", "b"]
    m.on_node("MODIFIED", node("a"), 112)  # uncordoned
    assert m.cordoned_too_long(112.0) == ["b"]


def test_a_stall_is_an_exit_3_pause_that_names_the_timeout_to_raise_and_pickles() -> None:
    import pickle

    from netmig.stepkit.monitor import Stall, Stalled

    s = Stalled(Stall("pdb-blocked", "the drain of node a is blocked by PodDisruptionBudget data/db", pdb="data/db",
                      node="a"), current=1.0)
    assert s.exit_code == 3 and s.option == "pdb_block_seconds" and s.suggested == 301.0
    assert str(s).startswith("reimage stalled: the drain of node a is blocked by PodDisruptionBudget data/db; ")
    back = pickle.loads(pickle.dumps(s))
    assert isinstance(back, Stalled) and str(back) == str(s) and back.stall.pdb == "data/db"
    assert Stalled(Stall("no-progress", "x"), 1800).suggested == 3600
    assert Stalled(Stall("node-notready", "x", node="a"), 1500).option == "notready_seconds"
