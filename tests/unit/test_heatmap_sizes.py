"""The connectivity heatmap on many namespaces: drawn (a valid PNG), labelled cell by cell only up to
``LABELLED_SPACES`` namespaces; beyond that the changed cells are one marker layer and the figure size stays fixed,
so a large cluster's report does not draw one text and one outline per namespace pair."""

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
    if n > pictures.LABELLED_SPACES:  # fixed size, not 0.55 inch per namespace
        assert width <= 2 * 14.0 * 110 + 1.5 * 110 + 10 and height <= 14.0 * 110 + 10, (width, height)
