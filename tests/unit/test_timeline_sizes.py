"""The reimage timeline on a large pool: beyond ``ROW_NODES`` nodes a pool is drawn as how many of its nodes are
in each phase over time (``phase_counts``), in a panel of fixed height, instead of one row per node."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from netmig import pictures

T0 = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)


def _journal(path: Path, changes: list[tuple[float, str, str, str]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for t, node, pool, phase in changes:
            when = (T0 + dt.timedelta(seconds=t)).isoformat(timespec="milliseconds")
            f.write(json.dumps({"time": when, "event": "node-phase", "step": "watch", "node": node, "pool": pool,
                                "phase": phase}) + "\n")


def test_phase_counts_tally_each_node_in_its_last_phase_until_removed() -> None:
    nodes = {"a": [(0.0, "waiting"), (2.0, "cordoned"), (5.0, "ready")],
             "b": [(0.0, "waiting"), (5.0, "ready")],
             "s": [(1.0, "surge"), (6.0, "removed")]}
    times, counts = pictures.phase_counts(nodes, end=8.0)
    assert times == [0.0, 1.0, 2.0, 5.0, 6.0, 8.0]
    assert counts["waiting"] == [2, 2, 1, 0, 0, 0]
    assert counts["cordoned"] == [0, 0, 1, 0, 0, 0]
    assert counts["surge"] == [0, 1, 1, 1, 0, 0]
    assert counts["ready"] == [0, 0, 0, 2, 2, 2]
    for i in range(len(times)):  # every node seen and not removed is in exactly one phase
        assert sum(c[i] for c in counts.values()) == (2 if i in (0, 4, 5) else 3)


def test_a_large_pool_is_drawn_as_counts_with_a_bounded_height(tmp_path: Path) -> None:
    from PIL import Image

    changes = [(0.0, f"sys-{i}", "system", "waiting") for i in range(3)]
    changes += [(3.0 + i, f"sys-{i}", "system", "ready") for i in range(3)]
    big = 250
    changes += [(0.0, f"user-{i}", "user", "waiting") for i in range(big)]
    changes += [(1.0 + i / 10, f"user-{i}", "user", "cordoned") for i in range(big)]
    changes += [(2.0 + i / 10, f"user-{i}", "user", "ready") for i in range(big)]
    _journal(tmp_path / "journal.jsonl", changes)
    out = pictures.reimage_timeline(tmp_path)
    assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height = Image.open(out).size[1]
    rows_height = (1.2 + 0.35 * (big + 3) + 1.2) * 110  # what one row per node would take
    assert height < (1.2 + 0.35 * 3 + pictures.COUNTS_PANEL_IN + 1.2) * 110 + 20 < rows_height
