"""A progress bar for scans that read many files: rich, on stderr, on a terminal only.

Reports go to stdout (or ``--output``) and are never touched by it; the bar is
transient (erased when the scan ends), so a terminal shows the report alone."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..loader.documents import Progress

# Below this many files a scan takes about a second: a bar would only flicker.
PROGRESS_MIN_FILES = 300


def wanted(stream: Any = None) -> bool:
    """On a terminal that can redraw a line (not a pipe, a CI log or TERM=dumb)."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM", "") != "dumb"


@contextmanager
def scan_progress(enabled: bool, console: Any = None) -> Iterator[Progress | None]:
    """A ``(stage, done, total)`` callback for ``ScanOptions.progress``, or None.  The bar
    starts only once a stage reports at least ``PROGRESS_MIN_FILES`` items."""
    if not enabled:
        yield None
        return
    from rich import progress as rich_progress
    from rich.console import Console

    bar = rich_progress.Progress(
        rich_progress.TextColumn("{task.description}"),
        rich_progress.BarColumn(),
        rich_progress.MofNCompleteColumn(),
        rich_progress.TimeElapsedColumn(),
        console=console or Console(stderr=True),
        transient=True,
    )
    tasks: dict[str, Any] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            if total < PROGRESS_MIN_FILES and not tasks:
                return
            if not tasks:
                bar.start()
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done)

    try:
        yield report
    finally:
        if tasks:
            bar.stop()
