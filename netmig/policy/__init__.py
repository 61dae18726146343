"""NetworkPolicy semantics, engine profiles, reachability and migration analysis.

Contract: pure: no I/O. Nothing here reads files, talks to a cluster or imports kubernetes/azure/prefect/questionary;
callers pass plain Kubernetes dicts (``from_objects``) or typed objects and get values back.

Public API
  from_objects(objects) -> Cluster                         parse dicts; invalid objects become Cluster.problems
  get_engine(name, cilium_version="1.17") -> EngineProfile  spec | npm | cilium | calico | none
  Evaluator(cluster, engine).allowed(src, dst, port, protocol, via=None) -> Verdict   per-pair, with reasons
  allowed(cluster, src, dst, port, protocol, engine) -> Verdict
  compute_classes(cluster, engines) -> Classes; class_reachability(cluster, engine, classes, ports) -> ClassMatrix
  reachability(cluster, engine, ports=None) -> list[Cell]  pod-level cells (expanded from classes)
  analyze(objects_or_cluster, source_engine, target_engine) -> list[Finding]
  diff(cluster, engine_a, engine_b, ports=None) -> list[DiffCell]
"""

from netmig.policy.analysis import RULE_IDS, Finding, analyze
from netmig.policy.classes import Classes, ClassMatrix, PodClass, class_reachability, compute_classes
from netmig.policy.diff import DiffCell, diff, diff_classes
from netmig.policy.engines import ENGINE_NAMES, EngineProfile, get_engine
from netmig.policy.evaluate import DirectionVerdict, Evaluator, External, Verdict, allowed, naive_matrix
from netmig.policy.model import (
    Cluster,
    ContainerPort,
    IPBlock,
    Namespace,
    Node,
    Peer,
    Pod,
    Policy,
    PolicyPort,
    Problem,
    Rule,
    Service,
    ServicePort,
    build_cluster,
    from_objects,
)
from netmig.policy.reach import Cell, reachability

__all__ = [
    "ENGINE_NAMES",
    "RULE_IDS",
    "Cell",
    "ClassMatrix",
    "Classes",
    "Cluster",
    "ContainerPort",
    "DiffCell",
    "DirectionVerdict",
    "EngineProfile",
    "Evaluator",
    "External",
    "Finding",
    "IPBlock",
    "Namespace",
    "Node",
    "Peer",
    "Pod",
    "PodClass",
    "Policy",
    "PolicyPort",
    "Problem",
    "Rule",
    "Service",
    "ServicePort",
    "Verdict",
    "allowed",
    "analyze",
    "build_cluster",
    "class_reachability",
    "compute_classes",
    "diff",
    "diff_classes",
    "from_objects",
    "get_engine",
    "naive_matrix",
    "reachability",
]
