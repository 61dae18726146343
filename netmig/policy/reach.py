"""Pod-level reachability cells, computed through equivalence classes and expanded on demand.

Contract: pure. ``reachability`` returns every (src pod, dst pod, port, protocol) cell; without ``ports`` each
destination is probed on the ports it declares. Equal to ``evaluate.naive_matrix`` cell for cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from netmig.policy.classes import class_reachability, compute_classes
from netmig.policy.engines import EngineProfile
from netmig.policy.model import Cluster


@dataclass(frozen=True)
class Cell:
    src: str
    dst: str
    port: int
    protocol: str
    allowed: bool

    def to_dict(self) -> dict[str, Any]:
        return {"src": self.src, "dst": self.dst, "port": self.port, "protocol": self.protocol,
                "allowed": self.allowed}


def reachability(cluster: Cluster, engine: EngineProfile, ports: Sequence[tuple[int, str]] | None = None) -> list[Cell]:
    """Every pod-level cell, sorted by (src, dst, port, protocol)."""
    m = class_reachability(cluster, engine, compute_classes(cluster, [engine]), ports)
    cells = [Cell(s.key, d.key, p, q, ok) for s, d, p, q, ok in m.expand()]
    cells.sort(key=lambda c: (c.src, c.dst, c.port, c.protocol))
    return cells
