"""Progress bars in a log (standard error a file or a pipe): whole lines, not carriage-return redraws."""

import io
import sys

from tqdm import tqdm

from drywallqa.utils.progress import LogLines, progress_bar


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_bar_in_a_log_writes_its_first_and_last_state_and_one_line_per_interval():
    """Under nohup or `2> log` every redraw of a bar was appended to one line joined by carriage returns (a training
    epoch: thousands of states on one line of the log, a warning printed meanwhile run into it)."""
    log, clock = io.StringIO(), Clock()
    bar = tqdm(total=100, desc="epoch 1/3", file=LogLines(log, interval=30, clock=clock), mininterval=0)
    for step in range(100):
        clock.now += 1.0  # one second per step: a line every 30 s
        bar.update(1)
        bar.set_postfix(loss=f"{1 / (step + 1):.3f}")  # redraws at every step, as the trainer's does
    bar.close()
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("epoch 1/3:   0%") and "100/100" in lines[-1] and "loss=0.010" in lines[-1]
    assert 4 <= len(lines) <= 6, lines  # 0 s, 30 s, 60 s, 90 s and the last state at 100 s
    assert len(set(lines)) == len(lines)  # the last state once, though the close redraws it


def test_a_bar_that_is_not_left_writes_no_last_line_and_a_message_is_a_line_of_its_own(monkeypatch):
    log, clock = io.StringIO(), Clock()
    monkeypatch.setattr(sys, "stderr", log)
    bar = tqdm(total=10, desc="validating", file=LogLines(log, interval=30, clock=clock), leave=False, mininterval=0)
    for _ in range(10):
        clock.now += 1.0
        bar.update(1)
        if bar.n == 5:
            tqdm.write("warning: a photo could not be read", file=sys.stderr)
    bar.close()
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("validating:   0%")
    assert "warning: a photo could not be read" in lines
    assert not any("10/10" in line for line in lines)  # cleared, as on a terminal
    assert "\r" not in log.getvalue()


def test_progress_bar_takes_lines_for_a_log_and_leaves_a_terminal_to_tqdm(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    for _ in progress_bar(range(3), desc="predict"):
        pass
    assert "\r" not in log.getvalue() and "3/3" in log.getvalue().splitlines()[-1]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    bar = progress_bar(range(3), desc="predict")
    assert bar.fp is not None and not isinstance(getattr(bar.fp, "file", bar.fp), LogLines)
    for _ in bar:
        pass
    assert "\r" in term.getvalue()  # redrawn in place on a terminal
    assert progress_bar(range(3), disable=True).disable


def test_loading_the_local_text_encoder_draws_no_bar_and_leaves_transformers_bars_as_they_were(capsys):
    """transformers drew a "Loading weights" bar at the first new prompt of each command (a line of carriage returns
    in a log); its bars stay on for what else the user loads (a hub download's)."""
    from transformers.utils import logging as hf_logging

    from drywallqa.text.encoder import TextEncoder

    assert hf_logging.is_progress_bar_enabled()
    TextEncoder(cache_dir=False).encode(["segment crack"])
    assert "Loading weights" not in capsys.readouterr().err
    assert hf_logging.is_progress_bar_enabled()


def test_a_bar_inside_another_in_a_log_writes_no_line_per_redraw(monkeypatch):
    """A bar opened while another was (tqdm gives it position 1) moved down to its row with a newline at each redraw,
    and each newline wrote the state before it as a line: one line per redraw, the 30 s interval undone."""
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    outer = progress_bar(total=2, desc="outer", mininterval=0)
    for _ in progress_bar(range(50), desc="inner", mininterval=0):
        pass
    outer.update(2)
    outer.close()
    lines = log.getvalue().splitlines()
    assert sum(line.startswith("inner") for line in lines) <= 2, lines  # its first state and its last
    assert "\r" not in log.getvalue()
