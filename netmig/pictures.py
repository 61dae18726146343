"""Pictures of a run, drawn with matplotlib (Agg backend, PNG): what people would rather look at than read.

Contract: functions of the run folder's files; each writes one PNG and returns its path, or returns None (never
raises) when its inputs are missing or cannot be drawn -- a picture is a report, never a reason to fail a run.
- ``connectivity_heatmap(run_dir)``: ``connectivity-heatmap.png``, a namespace x namespace grid before | after.
  A cell is the share of probed paths from the source namespace to the destination namespace that are open
  (green 1.0 .. red 0.0), annotated ``open/probed``; a cell whose share changed is outlined in black and marked
  with a ``*``. Beyond ``LABELLED_SPACES`` namespaces (a large cluster) the cells carry no text and a third panel
  shows the change, after minus before (``change_matrix``: red fewer paths open, blue more), at a fixed size.
  "before" is the baseline snapshot; "after" the after snapshot, else (before the verify step) the prediction
  under the plan's target engine, titled so.
- ``reimage_timeline(run_dir)``: ``reimage-timeline.png``, one panel per pool, one row per node, its phases over
  time (surge, cordoned/draining, reimaging (NotReady), waiting, ready on the target), from every ``node-phase``
  event of the run's journal (``journal.jsonl``: each phase change the reimage watch saw, journaled as it saw it,
  ``netmig.steps.reimage.PhaseJournal``), on the journal's clock: seconds since the first one. Every watch of the
  run is drawn, one resumed in a new process included; a node's phase between two observations is not seen (a
  watch that was not running -- the process was stopped -- shows as the phase last seen). A pool of more than
  ``ROW_NODES`` nodes is drawn as how many of its nodes are in each phase over time (``phase_counts``).
- ``draw_all(run_dir, before_file, after_file, target_engine)``: both; the paths drawn.
- ``embedded_markdown(path, title)``: the PNG as Markdown with a base64 data URI (a Prefect artifact shows it).
"""

from __future__ import annotations

import base64
from collections import defaultdict
from pathlib import Path
from typing import Any

HEATMAP = "connectivity-heatmap.png"
TIMELINE = "reimage-timeline.png"
PHASE_COLOURS = {"surge": "#7e57c2", "cordoned": "#ffb300", "reimaging": "#e53935", "waiting": "#90a4ae",
                 "ready": "#43a047"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _ns(identity: str) -> str:
    return identity.split("/", 1)[0] if "/" in identity else identity


LABELLED_SPACES = 40
"""Up to this many namespaces the heatmap labels every cell (open/probed) and outlines changed cells one by one;
beyond it (a large cluster) it draws the colours without labels plus a third panel of the change per namespace
pair (``change_matrix``), so drawing stays quick and the picture readable."""


LARGE_PANEL_IN = 10.0
"""Beyond ``LABELLED_SPACES`` each of the three panels is this many inches square, whatever the namespace count."""
Grid = dict[tuple[str, str], tuple[int, int]]  # (source ns, destination ns) -> (open, probed)


def share_matrix(grid: Grid, at: dict[str, int]) -> Any:
    """The n x n matrix (numpy) of the share of probed paths open per (source, destination) namespace; NaN where
    none was probed (``at``: namespace -> row/column)."""
    import numpy as np

    data = np.full((len(at), len(at)), np.nan)
    for (s, d), (ok, total) in grid.items():
        if total:
            data[at[s], at[d]] = ok / total
    return data


def change_matrix(before: Grid, after: Grid, at: dict[str, int]) -> Any:
    """after share minus before share per namespace pair (-1 .. 1); NaN where either side probed nothing."""
    return share_matrix(after, at) - share_matrix(before, at)


def _axis_labels(ax: Any, title: str, ticks: bool) -> None:
    if not ticks:
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_xlabel("destination namespace")
    ax.set_ylabel("source namespace")
    ax.set_title(title, fontsize=10)


class _Tally:
    """Open / probed paths per (source, destination) namespace, counted one path at a time."""

    def __init__(self) -> None:
        self.acc: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])

    def add(self, src: str, dst: str, ok: bool) -> None:
        a = self.acc[(_ns(src), _ns(dst))]
        a[0] += ok
        a[1] += 1

    def grid(self) -> Grid:
        return {k: (v[0], v[1]) for k, v in self.acc.items()}


def _grid(cells: list[tuple[str, str, bool]]) -> Grid:
    tally = _Tally()
    for src, dst, ok in cells:
        tally.add(src, dst, ok)
    return tally.grid()


def _file_grid(path: Path) -> tuple[str, Grid]:
    """(engine, grid) of a snapshot file, tallied cell by cell as it is read (no cell kept: a large cluster's
    snapshot holds a million)."""
    from netmig.verify import snapshot as snapmod

    tally = _Tally()
    header = snapmod.fold_cells(path, lambda d: tally.add(d["src"], d["dst"], d["outcome"] == "open"))
    return str(header["engine"]), tally.grid()


def connectivity_heatmap(run_dir: Path, before_file: str, after_file: str,
                         target_engine: str | None = None) -> Path | None:
    """See the module docstring (``before_file`` / ``after_file``: the snapshots' names in ``run_dir``)."""
    try:
        return _heatmap(run_dir, run_dir / before_file, run_dir / after_file, target_engine)
    except Exception as e:
        _not_drawn(HEATMAP, e)
        return None


def _not_drawn(name: str, e: Exception) -> None:
    """Log (warning) why a picture could not be drawn: the report only says it is missing."""
    from netmig.logs import get_logger

    get_logger("netmig.pictures").warning("picture not drawn", picture=name,
                                          error=f"{e.__class__.__name__}: {e}"[:200])


def _heatmap(run_dir: Path, before_path: Path, after_path: Path, target_engine: str | None) -> Path | None:
    from netmig.verify import snapshot as snapmod

    if not before_path.is_file():
        return None
    if after_path.is_file():
        before_engine, b = _file_grid(before_path)
        after_engine, a = _file_grid(after_path)
        after_title = f"after (observed, {after_engine})"
    elif target_engine:
        from netmig.policy import from_objects
        from netmig.verify.compare import engine_from_label

        before = snapmod.load(before_path)
        before_engine = before.engine
        b = _grid([(c.src, c.dst, c.outcome == "open") for c in before.cells])
        cluster = from_objects(before.objects)
        engine = engine_from_label(target_engine)
        rows = []
        for c in before.cells:
            predicted = snapmod.expect(cluster, c, engine)[0]
            rows.append((c.src, c.dst, (predicted or c.outcome) == "open"))
        a = _grid(rows)
        after_title = f"after (predicted, {engine.label})"
    else:
        return None
    spaces = sorted({k[0] for k in (*b, *a)} | {k[1] for k in (*b, *a)})
    if not spaces:
        return None
    plt = _plt()
    from matplotlib.patches import Rectangle

    n = len(spaces)
    at = {name: i for i, name in enumerate(spaces)}
    labelled = n <= LABELLED_SPACES  # per-cell text and outlines; beyond that a third panel shows the change
    size = max(4.0, 0.55 * n + 2.0) if labelled else LARGE_PANEL_IN
    panels = 2 if labelled else 3
    figsize = (2 * size + 1.5, size) if labelled else (3 * size, size + 1.5)  # + the colour bars below
    fig, axes = plt.subplots(1, panels, figsize=figsize, constrained_layout=True)
    fig.get_layout_engine().set(w_pad=0.15, h_pad=0.1)  # room for the outer labels (no tick labels beyond 40)
    changed = {k for k in set(a) | set(b) if (b.get(k, (0, 0))[0] / max(1, b.get(k, (0, 1))[1]))
               != (a.get(k, (0, 0))[0] / max(1, a.get(k, (0, 1))[1]))}
    image = None
    for ax, grid, title in ((axes[0], b, f"before (observed, {before_engine})"), (axes[1], a, after_title)):
        image = ax.imshow(share_matrix(grid, at), cmap="RdYlGn", vmin=0.0, vmax=1.0, interpolation="nearest")
        if labelled:
            for (s, d), (ok, total) in grid.items():
                i, j = at[s], at[d]
                mark = "*" if (s, d) in changed else ""
                ax.text(j, i, f"{ok}/{total}{mark}", ha="center", va="center", fontsize=7)
                if (s, d) in changed:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=2))
            ax.set_xticks(range(n), spaces, rotation=45, ha="right", fontsize=8)
            ax.set_yticks(range(n), spaces, fontsize=8)
        _axis_labels(ax, title, labelled)
    if image is not None:
        fig.colorbar(image, ax=list(axes[:2]), shrink=0.7, label="share open", location="bottom" if not labelled
                     else "right")
    if labelled:
        how = "outlined, *"
    else:
        how = "in the third panel"
        diff = axes[2].imshow(change_matrix(b, a, at), cmap="RdBu", vmin=-1.0, vmax=1.0, interpolation="nearest")
        _axis_labels(axes[2], "change: after minus before (red: fewer paths open, blue: more)", False)
        fig.colorbar(diff, ax=axes[2], shrink=0.7, label="change in share open", location="bottom")
    fig.suptitle(f"Connectivity by namespace: share of probed paths open ({len(changed)} of {len(set(a) | set(b))} "
                 f"namespace pairs changed, {how})", fontsize=11)
    out = run_dir / HEATMAP
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


ROW_NODES = 40
"""Up to this many nodes a pool's panel has one row per node; beyond it (a large pool) the panel shows how many
nodes are in each phase over time (a stacked area of fixed height), so the picture stays readable and small."""
COUNTS_PANEL_IN = 3.0


def phase_counts(nodes: dict[str, list[tuple[float, str]]], end: float) -> tuple[list[float], dict[str, list[int]]]:
    """(times, phase -> number of nodes in that phase from each time until the next): every time a node of
    ``nodes`` (node -> its (time, phase) changes in order) changed phase, plus ``end``; a node counts from its first
    observation, in the phase last seen, until ``removed``."""
    changes = sorted((t, name, phase) for name, seen in nodes.items() for t, phase in seen)
    times: list[float] = []
    counts: dict[str, list[int]] = defaultdict(list)
    now: dict[str, str] = {}
    i = 0
    while i < len(changes):
        t = changes[i][0]
        while i < len(changes) and changes[i][0] == t:
            _, name, phase = changes[i]
            if phase == "removed":
                now.pop(name, None)
            else:
                now[name] = phase
            i += 1
        times.append(t)
        tally: dict[str, int] = defaultdict(int)
        for phase in now.values():
            tally[phase] += 1
        for phase in set(counts) | set(tally):
            counts[phase] += [0] * (len(times) - 1 - len(counts[phase])) + [tally.get(phase, 0)]
    if times and end > times[-1]:
        times.append(end)
        for phase in counts:
            counts[phase].append(counts[phase][-1])
    return times, dict(counts)


def reimage_timeline(run_dir: Path) -> Path | None:
    """See the module docstring."""
    try:
        return _timeline(run_dir)
    except Exception as e:
        _not_drawn(TIMELINE, e)
        return None


def _timeline(run_dir: Path) -> Path | None:
    import datetime as dt

    from netmig.journal import EventKind, events

    seen = [e for e in events(run_dir / "journal.jsonl") if e.is_(EventKind.NODE_PHASE)]
    if not seen:
        return None
    start = dt.datetime.fromisoformat(seen[0].time)
    records = [((dt.datetime.fromisoformat(e.time) - start).total_seconds(), str(e.fields.get("node")),
                str(e.fields.get("pool")), str(e.fields.get("phase"))) for e in seen]
    by_pool: dict[str, dict[str, list[tuple[float, str]]]] = defaultdict(lambda: defaultdict(list))
    for t, node, pool, phase in records:
        by_pool[pool][node].append((t, phase))
    end = max(r[0] for r in records) or 1.0
    plt = _plt()
    from matplotlib.patches import Patch

    heights = [0.35 * len(v) if len(v) <= ROW_NODES else COUNTS_PANEL_IN for v in by_pool.values()]
    fig, axes = plt.subplots(len(by_pool), 1, figsize=(10, 1.2 + sum(heights) + 0.6 * len(by_pool)),
                             squeeze=False, constrained_layout=True)
    counted = False
    for ax, (pool, nodes) in zip(axes[:, 0], sorted(by_pool.items()), strict=True):
        if len(nodes) > ROW_NODES:  # a large pool: how many nodes are in each phase, over time
            times, counts = phase_counts(nodes, end)
            low = [0] * len(times)
            for phase, colour in PHASE_COLOURS.items():
                high = [a + b for a, b in zip(low, counts.get(phase, [0] * len(times)), strict=True)]
                ax.fill_between(times, low, high, step="post", color=colour, linewidth=0)
                low = high
            ax.set_xlim(0, end)
            ax.set_ylim(0, len(nodes))
            ax.set_ylabel("nodes", fontsize=8)
            ax.set_title(f"pool {pool}: {len(nodes)} nodes, how many in each phase", fontsize=10, loc="left")
            counted = True
            continue
        names = sorted(nodes)
        for y, name in enumerate(names):
            phases = nodes[name]
            for k, (t, phase) in enumerate(phases):
                t_next = phases[k + 1][0] if k + 1 < len(phases) else end
                if phase == "removed":
                    continue
                if k + 1 == len(phases):  # the last phase seen: a marker (it lasts to the end of the watch)
                    ax.plot([t], [y], marker="D", color=PHASE_COLOURS.get(phase, "#cccccc"), markersize=6)
                ax.barh(y, max(t_next - t, end / 400), left=t, color=PHASE_COLOURS.get(phase, "#cccccc"),
                        height=0.7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set_xlim(0, end)
        ax.set_title(f"pool {pool}", fontsize=10, loc="left")
        ax.invert_yaxis()
    how = "diamond: the last phase seen" + (f"; pools of more than {ROW_NODES} nodes as counts" if counted else "")
    axes[-1, 0].set_xlabel(f"seconds since the first node phase change seen ({len(records)} changes journaled by "
                           f"the watch;\n{how})", fontsize=8)
    fig.legend(handles=[Patch(color=c, label=p) for p, c in PHASE_COLOURS.items()], loc="outside upper right",
               ncols=len(PHASE_COLOURS), fontsize=8)
    out = run_dir / TIMELINE
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def draw_all(run_dir: Path, before_file: str, after_file: str, target_engine: str | None = None) -> list[Path]:
    """Both pictures (those that can be drawn), written to ``run_dir``."""
    return [p for p in (connectivity_heatmap(run_dir, before_file, after_file, target_engine),
                        reimage_timeline(run_dir)) if p is not None]


def embedded_markdown(path: Path, title: str) -> str:
    """``# title`` and the PNG inline (``![title](data:image/png;base64,...)``)."""
    data = base64.b64encode(path.read_bytes()).decode()
    return f"# {title}\n\n![{title}](data:image/png;base64,{data})\n"


FLEET_PROGRESS = "fleet-progress.png"
FLEET_STATE_COLOURS = {"completed": "#43a047", "running": "#1e88e5", "scheduled": "#90caf9", "paused": "#ffb300",
                       "failed": "#e53935", "cancelled": "#8d6e63", "excluded": "#bdbdbd", "pending": "#eeeeee"}


def fleet_progress(out_dir: Path, counts: dict[str, dict[str, int]], title: str = "") -> Path | None:
    """``fleet-progress.png`` in ``out_dir``: one horizontal bar per wave (in the given order, the first on top),
    split into the clusters in each state (``FLEET_STATE_COLOURS``; each segment labelled with its count), for a
    fleet rollout (``counts``: ``netmig.fleet.rollout.wave_counts``). None (never raises) when there is no wave or
    it cannot be drawn."""
    if not counts:
        return None
    try:
        return _fleet_progress(out_dir, counts, title)
    except Exception:  # a picture is a report, never a reason to fail a run
        return None


def _fleet_progress(out_dir: Path, counts: dict[str, dict[str, int]], title: str) -> Path:
    plt = _plt()
    from matplotlib.patches import Patch

    waves = list(counts)
    widest = max(sum(c.values()) for c in counts.values()) or 1
    fig, ax = plt.subplots(figsize=(8, 1.4 + 0.45 * len(waves)), constrained_layout=True)
    for y, wave in enumerate(waves):
        left = 0
        for state, colour in FLEET_STATE_COLOURS.items():
            n = counts[wave].get(state, 0)
            if not n:
                continue
            ax.barh(y, n, left=left, color=colour, edgecolor="#424242", height=0.6)
            ax.text(left + n / 2, y, str(n), ha="center", va="center", fontsize=8)
            left += n
    ax.set_yticks(range(len(waves)), waves, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, widest)
    ax.set_xticks(range(widest + 1))
    ax.set_xlabel("clusters", fontsize=8)
    ax.set_title(title or "Fleet rollout: clusters per wave and state", fontsize=10, loc="left")
    seen = [s for s in FLEET_STATE_COLOURS if any(c.get(s) for c in counts.values())]
    fig.legend(handles=[Patch(facecolor=FLEET_STATE_COLOURS[s], edgecolor="#424242", label=s) for s in seen],
               loc="outside lower center", ncols=max(1, len(seen)), fontsize=8)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / FLEET_PROGRESS
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(out)
    return out
