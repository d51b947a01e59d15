"""Progress bars: drawn on a terminal only, never into a log file (issue 17.7)."""

from __future__ import annotations

import io
import sys

from segpipe.utilities.progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_is_drawn_into_a_file(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    assert list(progress_bar(range(5), desc="predict")) == [0, 1, 2, 3, 4]
    assert log.getvalue() == ""


def test_a_bar_is_drawn_on_a_terminal_unless_the_caller_hides_it(monkeypatch):
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert sum(progress_bar(range(5), desc="predict")) == 10
    assert "predict" in terminal.getvalue() and "5/5" in terminal.getvalue()
    hidden = _Terminal()
    monkeypatch.setattr(sys, "stderr", hidden)
    with progress_bar(total=3, desc="train", show=False) as bar:
        bar.update(3)
    assert hidden.getvalue() == ""
