"""The connectivity heatmap on many namespaces: drawn (a valid PNG), labelled cell by cell only up to
``LABELLED_SPACES`` namespaces; beyond that a third panel shows the change (after minus before) and the figure
size stays fixed, so a large cluster's report does not draw one text and one outline per namespace pair."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmig import pictures
from netmig.verify import snapshot as snapmod


def _snap(n: int, open_to: int, engine: str) -> snapmod.Snapshot:
    cells = [snapmod.Cell(src=f"ns{i}/app", dst=f"ns{j}/app", port=80, protocol="TCP", kind="pod",
                          outcome="open" if j < open_to else "timeout")
             for i in range(n) for j in range(n)]
    return snapmod.Snapshot(engine=engine, cells=cells, objects=[])


@pytest.mark.parametrize("n", [5, pictures.LABELLED_SPACES + 20])
def test_heatmap_draws_small_and_large_namespace_counts(tmp_path: Path, n: int) -> None:
    snapmod.save(_snap(n, n, "npm"), tmp_path / "before.json")
    snapmod.save(_snap(n, n - 1, "cilium"), tmp_path / "after.json")  # the last namespace closes: n changed cells
    out = pictures.connectivity_heatmap(tmp_path, "before.json", "after.json")
    assert out is not None and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    width, height = Image.open(out).size
    if n > pictures.LABELLED_SPACES:  # fixed size (three panels), not 0.55 inch per namespace
        side = pictures.LARGE_PANEL_IN
        assert width <= 3 * side * 110 + 10 and height <= (side + 1.5) * 110 + 10, (width, height)


def test_the_change_panel_is_after_minus_before_per_namespace_pair() -> None:
    import math

    spaces = ["a", "b", "c"]
    at = {s: i for i, s in enumerate(spaces)}
    before = {("a", "a"): (2, 2), ("a", "b"): (1, 2), ("b", "c"): (0, 4), ("c", "c"): (3, 3)}
    after = {("a", "a"): (2, 2), ("a", "b"): (0, 2), ("b", "c"): (4, 4), ("c", "a"): (1, 1)}
    m = pictures.change_matrix(before, after, at)
    assert m[0, 0] == 0.0 and m[0, 1] == -0.5 and m[1, 2] == 1.0
    assert math.isnan(m[2, 0]) and math.isnan(m[2, 2])  # probed on one side only: no change to show
    assert math.isnan(m[1, 1])  # probed on neither side
