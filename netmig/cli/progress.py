"""Rich progress bars for the reimage on a TTY (one bar per pool: nodes done/total plus surge/cordoned/NotReady)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from netmig.stepkit.context import ProgressSink


class RichProgress(ProgressSink):
    def __init__(self) -> None:
        super().__init__()
        self.console = Console(stderr=True)
        self.bars: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def pools(self, pools: list[Any]) -> None:
        if self.bars is None:
            self.bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), console=self.console)
            self.bars.start()
        for p in pools:
            detail = (f"surge {p.surge} cordoned {p.cordoned} NotReady {p.not_ready} "
                      + ",".join(f"{k}={v}" for k, v in sorted(p.engines.items())))
            if p.name not in self.tasks:
                self.tasks[p.name] = self.bars.add_task(f"pool {p.name}", total=p.total or 1, detail=detail)
            self.bars.update(self.tasks[p.name], completed=p.done, detail=detail)

    def close(self) -> None:
        if self.bars is not None:
            self.bars.stop()
            self.bars = None
