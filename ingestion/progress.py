"""Progress for long runs: rich bars (count, rate, ETA) in a terminal, log lines elsewhere."""

from __future__ import annotations

import logging
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

logger = logging.getLogger(__name__)


class ProgressReporter(Protocol):
    def start(self, description: str, total: int | None) -> None: ...
    def advance(self, amount: int = 1) -> None: ...
    def note(self, message: str) -> None: ...
    def stop(self) -> None: ...


class RateColumn(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task):  # type: ignore[override]
        speed = task.finished_speed or task.speed
        return super().render(task) if speed is None else f"{speed:,.0f}/s"


class RichProgress:
    """Thread-safe: the fetcher advances it from its own thread."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = None
        self._started = False

    def start(self, description: str, total: int | None) -> None:
        if not self._started:
            self._progress.start()
            self._started = True
        self._task = self._progress.add_task(description, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def note(self, message: str) -> None:
        self._progress.console.print(message)

    def stop(self) -> None:
        if self._started:
            self._progress.stop()
            self._started = False
        self._task = None


class LogProgress:
    """For Lambda and tests: a log line per start and every 10% of progress."""

    def __init__(self) -> None:
        self._total: int | None = None
        self._done = 0
        self._next_report = 0
        self._description = ""

    def start(self, description: str, total: int | None) -> None:
        self._description, self._total, self._done = description, total, 0
        self._next_report = max(1, (total or 0) // 10)
        logger.info("%s: %s items", description, total)

    def advance(self, amount: int = 1) -> None:
        self._done += amount
        if self._total and self._done >= self._next_report:
            logger.info("%s: %d/%d", self._description, self._done, self._total)
            self._next_report += max(1, self._total // 10)

    def note(self, message: str) -> None:
        logger.info("%s", message)

    def stop(self) -> None:
        pass
