"""Progress bars of long work: tqdm on a terminal, plain lines in a log.

On a terminal a bar redraws itself in place with carriage returns. Where standard error is a file or a pipe (a
command run under ``nohup``, ``2> log``, a CI job, a container's log) the same redraws piled up as one line of
thousands of ``\\r``-joined states, and a warning printed meanwhile ran into the bar's line. There each bar
writes one line per :data:`LOG_INTERVAL_S` seconds at most, its first state and its last one included.
"""

from __future__ import annotations

import os
import sys
import time

from tqdm import tqdm

LOG_INTERVAL_S = 30.0  # a line at most this often per bar in a log (its first and last states always)


class LogLines:
    """A file for tqdm that turns its in-place redraws into whole lines for a log.

    tqdm redraws a bar by writing ``"\\r" + state + padding``, and closes a bar it leaves with ``"\\n"``. The latest
    state is kept; it is written as a line when :attr:`interval` seconds have passed since the last line, and on the
    newline that closes the bar (so its final state is always in the log, once). Cursor moves of nested bars are
    dropped; a cleared bar (``leave=False``) writes nothing.
    """

    def __init__(self, stream, interval: float = LOG_INTERVAL_S, clock=time.monotonic):
        self.stream, self.interval, self.clock = stream, interval, clock
        self.pending = ""    # the latest state not yet written
        self.last = None     # when the last line was written (None: none yet)

    @property
    def encoding(self):  # tqdm draws its bar with blocks where the stream takes them
        return getattr(self.stream, "encoding", None)

    def write(self, s: str) -> int:
        for n, chunk in enumerate(str(s).replace("\x1b[A", "").split("\r")):
            lines = chunk.split("\n")
            for k, text in enumerate(lines):
                if k:  # a newline: the bar closes (or steps over a nested one)
                    self._line()
                text = text.strip()
                if text:
                    self.pending = text
                    now = self.clock()
                    if self.last is None or now - self.last >= self.interval:
                        self._line()
                elif n and not k and len(lines) == 1:  # "\r" + padding alone: the bar cleared
                    self.pending = ""
        return len(s)

    def _line(self) -> None:
        if self.pending:
            try:
                self.stream.write(self.pending + "\n")
            except BrokenPipeError:  # the log's reader has gone (`2>&1 | head`): the command goes on, unheard (it
                drop_output(self.stream)  # stopped at the next line, exit 1, before its results and report)
            self.pending, self.last = "", self.clock()

    def flush(self) -> None:
        flush = getattr(self.stream, "flush", None)
        if flush is not None:
            try:
                flush()
            except BrokenPipeError:
                drop_output(self.stream)


def drop_output(file) -> None:
    """Point ``file``'s descriptor at the null device: what is written to it from now on goes nowhere, without error
    (what Python's documentation advises for a closed pipe)."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, file.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError):  # no descriptor of its own (a test's stream): nothing to point
        pass


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def progress_bar(iterable=None, **kwargs) -> tqdm:
    """``tqdm(iterable, **kwargs)`` on standard error, in whole lines where standard error is no terminal
    (:class:`LogLines`); none where there is no standard error (``sys.stderr`` None: ``pythonw``, a service; it was an
    AttributeError at the bar's first line)."""
    if sys.stderr is None and "file" not in kwargs:
        kwargs["disable"] = True
    if not kwargs.get("disable") and "file" not in kwargs and not is_terminal(sys.stderr):
        kwargs["file"] = LogLines(sys.stderr)
        # each bar its own lines: a bar opened inside another (tqdm's position 1) moved the cursor down with a newline
        # at every redraw, which LogLines wrote as a line each time (the interval undone)
        kwargs.setdefault("position", 0)
    return tqdm(iterable, **kwargs)
