"""Progress of a long job (export, verify, projection rebuild) on a terminal.

One status line, rewritten in place: count, rate and, when the total is known, the ETA. When
the stream is not a terminal (a pipe, a log file, CI) it prints nothing at all, so scripted runs
stay quiet. `advance` is cheap enough to call once per item: it looks at the clock only every
`check_every` items.

    with Progress("export", total=last - first, unit="positions") as progress:
        for item in items:
            ...
            progress.advance()
"""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


class Progress:
    def __init__(
        self,
        label: str,
        *,
        total: int | None = None,
        unit: str = "events",
        stream: TextIO | None = None,
        interval: float = 0.5,
        check_every: int = 1024,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self.count = 0
        self._stream = stream if stream is not None else sys.stderr
        self._interval = interval
        self._check_every = max(1, check_every)
        self._next_check = self._check_every
        self.enabled = self._stream.isatty() if enabled is None else enabled
        self._started = time.monotonic()
        self._last_draw = 0.0
        self._width = 0

    def advance(self, n: int = 1) -> None:
        self.count += n
        if self.count >= self._next_check:
            self._next_check = self.count + self._check_every
            if self.enabled:
                now = time.monotonic()
                if now - self._last_draw >= self._interval:
                    self._draw(now)

    def update(self, count: int) -> None:
        """Set the count outright (e.g. bytes read so far)."""
        self.advance(count - self.count)

    def line(self, now: float | None = None) -> str:
        """The status text (also used by tests, whatever the stream)."""
        now = time.monotonic() if now is None else now
        elapsed = max(now - self._started, 1e-9)
        rate = self.count / elapsed
        text = f"{self.label}: {self.count:,}"
        if self.total:
            text += f" / {self.total:,} {self.unit} ({min(self.count / self.total, 1):.0%})"
        else:
            text += f" {self.unit}"
        text += f"  {rate:,.0f}/s  elapsed {_duration(elapsed)}"
        if self.total and rate > 0 and self.count < self.total:
            text += f"  ETA {_duration((self.total - self.count) / rate)}"
        return text

    def _draw(self, now: float) -> None:
        self._last_draw = now
        text = self.line(now)
        padding = " " * max(0, self._width - len(text))
        self._width = len(text)
        self._stream.write("\r" + text + padding)
        self._stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw(time.monotonic())
            self._stream.write("\n")
            self._stream.flush()
            self.enabled = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
