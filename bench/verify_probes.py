"""Probe economy on the generated ``large`` scenario: probes vs N^2 pod pairs, and (class, class, port) coverage.

Offline: the pods are built from the scenario's Deployments (replicas spread round-robin over the nodes, Azure CNI
addresses in 10.224.0.0/16), the same way the sandbox places them, and the plan is computed with the verifier's
own ``selection.plan_for`` for the NPM -> Cilium pair of engines. Prints figures; asserts nothing.
Run: .venv/bin/python bench/verify_probes.py
"""

from __future__ import annotations

import ipaddress
import time
from typing import Any

from netmig.policy import compute_classes, from_objects, get_engine
from netmig.verify.identity import identities
from netmig.verify.selection import plan_for
from netmig_sandbox.scenarios.large import NODES, generate


def _objects() -> list[dict[str, Any]]:
    sc = generate()
    out: list[dict[str, Any]] = []
    nodes = [f"aks-user-12345678-vmss{i:06d}" for i in range(NODES)]
    for i, n in enumerate(nodes):
        out.append({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "labels": {}},
                    "status": {"addresses": [{"type": "InternalIP", "address": f"10.240.{i // 250}.{i % 250 + 4}"}]}})
    base = int(ipaddress.ip_address("10.224.0.10"))
    k = 0
    for o in sc["objects"]:
        out.append(o)
        if o["kind"] != "Deployment":
            continue
        tmpl = o["spec"]["template"]
        for r in range(o["spec"]["replicas"]):
            h = "5d8f7c9b6"
            labels = {**tmpl["metadata"]["labels"], "pod-template-hash": h}
            out.append({"apiVersion": "v1", "kind": "Pod", "metadata": {
                "name": f"{o['metadata']['name']}-{h}-{r:05d}", "namespace": o["metadata"]["namespace"],
                "labels": labels, "ownerReferences": [{"kind": "ReplicaSet", "controller": True,
                                                       "name": f"{o['metadata']['name']}-{h}"}]},
                "spec": {"nodeName": nodes[k % NODES], "containers": tmpl["spec"]["containers"]},
                "status": {"phase": "Running", "podIP": str(ipaddress.ip_address(base + k))}})
            k += 1
    return out


def main() -> None:
    t0 = time.perf_counter()
    objs = _objects()
    cluster = from_objects(objs)
    engines = ("npm", "cilium")
    classes = compute_classes(cluster, [get_engine(e) for e in engines])
    t1 = time.perf_counter()
    p = plan_for(cluster, classes, identities(objs), engines)
    t2 = time.perf_counter()
    n = len(cluster.pods)
    probes = p.n_probes
    print(f"large scenario: {n} pods, {len(cluster.policies)} policies, {len(cluster.nodes)} nodes")
    print(f"equivalence classes (npm+cilium): {p.classes}")
    print(f"pod pairs N^2: {n * n:,}")
    print(f"probes: {probes:,} from {len(p.sources):,} probe pods ({probes / (n * n):.4%} of N^2)")
    print(f"(class, class, port) cells: {p.covered_cells:,}/{p.class_cells:,} covered "
          f"({p.covered_cells / max(p.class_cells, 1):.1%})")
    print(f"cell keys holding several classes of one workload (aggregated): {p.aggregated_cells:,}")
    print(f"timings: inventory+classes {t1 - t0:.1f} s, plan {t2 - t1:.1f} s")


if __name__ == "__main__":
    main()
