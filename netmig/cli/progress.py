"""Terminal progress with rich, on a TTY only; off a TTY (CI, runbooks) the plain log lines exactly as before.

Contract:
- ``RichProgress`` (a ``ProgressSink``): one bar per pool during the reimage watch -- nodes done/total, the
  surge/cordoned/NotReady counts and the engines, elapsed time and an ETA; ``message`` prints above the bars;
  ``probes(status)`` (the migration's snapshot/verify steps) draws a ``ProbeBar``.
- ``ProbeBar``: the one probe-run bar (``verify snapshot|expect`` and the migration's probing steps): probe pods
  done/planned, then ``on_status`` (a ``netmig.verify.run.ProbeStatus``) adds the phase, probes done/planned,
  the ETA at the pace so far and the elapsed time against the budget. ``probe_progress(stream)``: a ``ProbeBar``
  on a TTY, or None off a TTY (the caller keeps its plain lines). ``close()`` ends the bar, leaving its last
  state on the terminal.
- ``spinner(text, stream)``: a context manager showing a spinner while waiting (a TTY), else one log line.
``sink_for(stream)`` picks ``RichProgress`` on a TTY, else the plain ``ProgressSink``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from netmig.logs import get_logger
from netmig.stepkit.context import ProgressSink


def is_tty(stream: Any) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())


def _pool_detail(p: Any) -> str:
    engines = ",".join(f"{k}={v}" for k, v in sorted(p.engines.items()))
    # escaped: "[cilium=3]" is not rich markup
    text = f"surge {p.surge} cordoned {p.cordoned} NotReady {p.not_ready}" + (f" [{engines}]" if engines else "")
    return escape(text)


class RichProgress(ProgressSink):
    """Per-pool bars for the reimage watch (see the module docstring)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__()
        self.console = Console(file=stream or sys.stderr, force_terminal=True) if stream else Console(stderr=True)
        self.bars: Progress | None = None
        self.tasks: dict[str, Any] = {}
        self.probe_bar: ProbeBar | None = None

    def pools(self, pools: list[Any]) -> None:
        if self.bars is None:
            self.bars = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
                                 TextColumn("ETA"), TimeRemainingColumn(), console=self.console)
            self.bars.start()
        for p in pools:
            detail = _pool_detail(p)
            if p.name not in self.tasks:
                self.tasks[p.name] = self.bars.add_task(f"pool {p.name}", total=p.total or 1, detail=detail)
            self.bars.update(self.tasks[p.name], completed=p.done, total=p.total or 1, detail=detail)

    def message(self, text: str) -> None:
        self.console.print(text)

    def probes(self, status: Any) -> None:
        if self.probe_bar is None:
            self.probe_bar = ProbeBar(console=self.console)
        self.probe_bar.on_status(status)

    def close(self) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None
        if self.probe_bar is not None:
            self.probe_bar.close()
            self.probe_bar = None


def sink_for(stream: Any = None) -> ProgressSink:
    """``RichProgress`` on a TTY (``stream``, default stderr), else the plain ``ProgressSink`` (log lines)."""
    stream = stream or sys.stderr
    return RichProgress(stream if stream is not sys.stderr else None) if is_tty(stream) else ProgressSink()


def probe_detail(st: Any) -> str:
    """A ``ProbeStatus`` in words: phase, probes done, ETA at the pace so far, elapsed against the budget."""
    eta = st.eta_s
    budget = f" of {st.budget_s:.0f} s budget" if st.budget_s is not None else " (no budget)"
    left = f", ETA {eta:.0f} s" if eta is not None else ""
    return f"{st.phase}: probes {st.probes_done:,}/{st.probes_total:,}{left}; {st.elapsed_s:.0f} s{budget}"


class ProbeBar:
    """A probe run's bar (see the module docstring): ``__call__(done, total)`` is an ``on_progress`` callback,
    ``on_status(status)`` an ``on_status`` one."""

    def __init__(self, stream: Any = None, what: str = "probe pods", console: Console | None = None) -> None:
        self.console = console or Console(file=stream or sys.stderr, force_terminal=True)
        self.bars = Progress(SpinnerColumn(), TextColumn(what), BarColumn(), MofNCompleteColumn(),
                             TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=self.console)
        self.task: Any = None

    def _update(self, done: int, total: int, detail: str | None = None) -> None:
        if self.task is None:
            self.bars.start()
            self.task = self.bars.add_task("probes", total=total or 1, detail="")
        if detail is None:
            self.bars.update(self.task, completed=done, total=total or 1)
        else:
            self.bars.update(self.task, completed=done, total=total or 1, detail=escape(detail))

    def __call__(self, done: int, total: int) -> None:
        self._update(done, total)

    def on_status(self, st: Any) -> None:
        self._update(st.pods_done, st.pods_total, probe_detail(st))

    def close(self) -> None:
        if self.task is not None:
            self.bars.stop()
            self.task = None


def probe_progress(stream: Any = None, what: str = "probe pods") -> ProbeBar | None:
    """A ``ProbeBar`` on a TTY, else None (the caller's plain lines)."""
    stream = stream or sys.stderr
    return ProbeBar(stream, what) if is_tty(stream) else None


@contextmanager
def spinner(text: str, stream: Any = None) -> Iterator[None]:
    """A spinner with ``text`` while inside (a TTY); off a TTY one log line ``text``."""
    stream = stream or sys.stderr
    if not is_tty(stream):
        get_logger("netmig.progress").info(text)
        yield
        return
    with Console(file=stream, force_terminal=True).status(text):
        yield
