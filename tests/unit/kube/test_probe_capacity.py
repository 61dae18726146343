"""Free pod capacity per node, as the probe runner bounds its concurrency with it (pure)."""

from __future__ import annotations

from typing import Any

from netmig.kube.probes import node_free_pods


def _node(name: str, pods: str | None) -> dict[str, Any]:
    alloc = {"pods": pods} if pods is not None else {}
    return {"kind": "Node", "metadata": {"name": name}, "status": {"allocatable": alloc}}


def _pod(node: str, phase: str) -> dict[str, Any]:
    return {"kind": "Pod", "metadata": {"name": "p"}, "spec": {"nodeName": node}, "status": {"phase": phase}}


def test_free_pods_are_allocatable_minus_non_terminal_pods() -> None:
    objs = [_node("a", "3"), _node("b", "2"), _node("c", None), _node("d", "many"),
            _pod("a", "Running"), _pod("a", "Pending"), _pod("a", "Succeeded"), _pod("b", "Running"),
            _pod("b", "Running"), _pod("b", "Running"), _pod("c", "Running")]
    assert node_free_pods(objs) == {"a": 1, "b": 0}  # c and d declare no usable number: not bounded
