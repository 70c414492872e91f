"""Signals that stop a command: a stop signal handled as Ctrl-C, and Ctrl-C held back while a state changes.

``docker stop``, ``kill``, Kubernetes, a batch scheduler and a closed terminal stop a process with SIGTERM (or SIGHUP),
which by default ends Python at once: no ``finally`` runs, a temporary file is left beside its target, a lock file
stays, and a ``predict`` job writes no ``results.json`` of the photos done. While :func:`stop_signals_as_interrupt` is
in force (each ``drywallqa`` command), such a signal raises ``KeyboardInterrupt`` as Ctrl-C does, so every command
stops the way it does on Ctrl-C: ``predict`` lists the photos done, ``train`` saves ``last.pt``, files are written whole
or not at all. :func:`deferred_interrupt` holds both back until a block of updates is whole.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, NoReturn, Optional

# what stops a process besides Ctrl-C: a request to end (SIGTERM), the terminal closed (SIGHUP, not on Windows)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
INTERRUPTED_CODE = 130  # the exit code of a command stopped by Ctrl-C (128 + SIGINT), as shells report it


class InterruptOnStop:
    """A signal handler raising ``KeyboardInterrupt``, recording the signals it was called for (``received``)."""

    def __init__(self):
        self.received: list[int] = []

    def __call__(self, signum, frame):
        self.received.append(signum)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    @property
    def name(self) -> str | None:
        """The name of the first stop signal received ("SIGTERM"), or None."""
        return signal.Signals(self.received[0]).name if self.received else None


@contextmanager
def stop_signals_as_interrupt() -> Iterator[InterruptOnStop]:
    """Within the block, :data:`STOP_SIGNALS` raise ``KeyboardInterrupt`` in the main thread, as Ctrl-C does; the
    handlers before are put back after it. A signal whose handler is not the default is left alone (ignored under
    ``nohup``, or handled by the program that runs the command); so is every signal outside the main thread (a handler
    can be set nowhere else). Yields the handler: its ``received`` says whether a stop signal came."""
    handler = InterruptOnStop()
    if threading.current_thread() is not threading.main_thread():
        yield handler
        return
    before = {}
    try:
        for sig in STOP_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_DFL:
                before[sig] = signal.signal(sig, handler)
        yield handler
    finally:
        for sig, previous in before.items():
            signal.signal(sig, previous)


def interrupted_code(stop: InterruptOnStop) -> int:
    """The exit code of a command stopped by Ctrl-C (130) or by a stop signal (128 + its number: SIGTERM 143)."""
    return 128 + stop.received[0] if stop.received else INTERRUPTED_CODE


def run_main(main: Callable[[], Optional[int]]) -> NoReturn:
    """Run a script's ``main`` (``scripts/*.py``, ``benchmarks/*.py``) as a ``drywallqa`` command runs: a stop signal
    stops it as Ctrl-C does (:func:`stop_signals_as_interrupt`), and Ctrl-C ends it with one line on standard error,
    not a traceback, and the exit code a command gives (:data:`INTERRUPTED_CODE`, 128 + a stop signal's number);
    otherwise it exits with what ``main`` returns. What the script writes is written whole or not at all (each
    file renamed into place), so what an interrupted run leaves is what it finished."""
    with stop_signals_as_interrupt() as stop:
        try:
            code = main()
        except KeyboardInterrupt:
            print(f"interrupted: stopped ({stop.name or 'Ctrl-C'}); the files finished are kept (each is written whole "
                  "or not at all): run the same command again", file=sys.stderr, flush=True)
            code = interrupted_code(stop)
    raise SystemExit(code)


@contextmanager
def deferred_interrupt():
    """Ctrl-C (SIGINT), and a stop signal while :func:`stop_signals_as_interrupt` is in force, held back until the
    block ends, then raised as the ``KeyboardInterrupt`` it would have been: e.g. the updates of one training step
    (optimiser, EMA copy, schedule, step count) happen whole, so a checkpoint saved on Ctrl-C is a state the run was in.
    Only for the signals whose handler raises ``KeyboardInterrupt`` (Python's own for SIGINT, :class:`InterruptOnStop`),
    in the main thread; otherwise nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, *STOP_SIGNALS)}
    held = {sig: h for sig, h in handlers.items() if h is signal.default_int_handler or isinstance(h, InterruptOnStop)}
    received = []
    try:
        for sig in held:
            signal.signal(sig, lambda signum, frame: received.append(signum))
        yield
    finally:
        for sig, handler in held.items():
            signal.signal(sig, handler)
    if received:
        for sig, handler in held.items():  # a stop signal is recorded as its handler would have
            if sig in received and isinstance(handler, InterruptOnStop):
                handler.received.append(sig)
        raise KeyboardInterrupt


@contextmanager
def signal_handlers_kept() -> Iterator[None]:
    """The handlers of SIGINT and :data:`STOP_SIGNALS` put back after the block, whatever it set: ``ray.init`` sets
    SIGTERM handlers of its own (``sys.exit``, and its C++ core's, which prints a stack), and ``ray.shutdown`` leaves
    SIGTERM at the system's default under Python's record of a handler (the process ends at once), so a
    ``predict --executor ray`` stopped by SIGTERM wrote no ``results.json`` or report of the photos done. Each handler
    is set again, so the system's follows Python's record; the ``sys.exit(signum)`` of a stop signal within the block
    is the ``KeyboardInterrupt`` that :class:`InterruptOnStop` raises. In the main thread only (a handler can be set
    nowhere else); a handler set outside Python is left as the block left it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, *STOP_SIGNALS)}
    try:
        yield
    except SystemExit as exc:
        handler = before.get(exc.code) if exc.code in STOP_SIGNALS else None
        if not isinstance(handler, InterruptOnStop):
            raise
        handler.received.append(exc.code)
        raise KeyboardInterrupt(signal.Signals(exc.code).name) from None
    finally:
        for sig, handler in before.items():
            if handler is not None:
                signal.signal(sig, handler)
