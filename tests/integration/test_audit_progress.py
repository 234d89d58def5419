"""Progress of long jobs (`infra.progress`): shown on a terminal, silent otherwise.

Pure: no database. (Export and verify pass their progress to it; the CLI tests run them with
captured, non-terminal output, where nothing but the results is printed.)
"""

from __future__ import annotations

import io

from infra.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_silent_when_the_stream_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with Progress("verify", total=10, stream=stream, interval=0, check_every=1) as progress:
        for _ in range(10):
            progress.advance()
    assert stream.getvalue() == ""


def test_progress_on_a_terminal_shows_count_total_rate_and_eta() -> None:
    stream = Terminal()
    progress = Progress("export", total=100, stream=stream, interval=0, check_every=1)
    progress.advance(25)
    shown = stream.getvalue()
    assert shown.startswith("\rexport: 25 / 100 events (25%)")
    assert "/s" in shown
    assert "ETA" in shown


def test_progress_ends_its_line_when_closed() -> None:
    stream = Terminal()
    with Progress("verify", stream=stream, interval=0, check_every=1) as progress:
        progress.advance(3)
    assert stream.getvalue().endswith("\n")
    assert "verify: 3 events" in stream.getvalue()


def test_progress_without_a_total_has_no_eta() -> None:
    progress = Progress("rebuild", stream=Terminal(), interval=0)
    progress.advance(5)
    assert "ETA" not in progress.line()


def test_progress_redraws_only_every_check_every_items() -> None:
    stream = Terminal()
    progress = Progress("verify", stream=stream, interval=0, check_every=10)
    for _ in range(9):
        progress.advance()
    assert stream.getvalue() == ""
    progress.advance()
    assert stream.getvalue() != ""


def test_update_sets_the_count_outright() -> None:
    progress = Progress("verify", total=1000, unit="bytes", stream=io.StringIO())
    progress.update(640)
    assert progress.count == 640
    assert "640 / 1,000 bytes (64%)" in progress.line()
