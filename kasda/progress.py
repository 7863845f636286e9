"""A progress bar for long commands, drawn on stderr only when stderr is a terminal.

Hand-written (a few lines, no dependency): ``Bar(label)`` is a ``(done, total)`` callback; it redraws
at most ``REDRAW`` times a second, so a fast loop does not spend its time drawing, and ``close()``
clears the line. Off a terminal (a pipe, a log file, CI) it draws nothing: the command's own summary
line is the plain output.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30  # cells of the bar
REDRAW = 10  # times a second at most


class Bar:
    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.perf_counter()
        self.drawn_at = 0.0
        self.width = 0  # characters of the last line drawn (to clear it)

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.drawn_at < 1 / REDRAW and done < total:
            return
        self.drawn_at = now
        share = min(done / total, 1.0) if total > 0 else 1.0
        cells = round(WIDTH * share)
        rate = done / (now - self.started) if now > self.started else 0.0
        line = (
            f"\r{self.label} [{'#' * cells}{'.' * (WIDTH - cells)}] {share:6.1%} "
            f"{done:,}/{total:,} ({rate:,.0f}/s)"
        )
        self.width = len(line)
        self.stream.write(line)
        self.stream.flush()

    def close(self) -> None:
        """Clear the bar's line (the command prints its result after it)."""
        if self.enabled and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
