"""Holding back one caller's log warnings without touching anyone else's logging."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from contextvars import ContextVar

_HOLDING = ContextVar("drywallqa_warnings_held_back", default=False)


class _HeldBack(logging.Filter):
    """Drops a warning (or a lesser record) logged inside :func:`warnings_held_back`; everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING or not _HOLDING.get()


_HELD_BACK = _HeldBack()


@contextmanager
def warnings_held_back(package: str = "drywallqa"):
    """Drop the warnings (and lesser records) that the loggers of ``package`` give while inside, logged by this caller
    only (its thread; an asyncio task, its own context); errors pass. ``logging.disable`` silenced every thread's
    records for as long, a server's log beside the caller too. The filter stays on the loggers once put there (it
    passes everything outside): two callers at once never take it from each other. Only the loggers there on
    entering are held back: a module first imported inside the block logs as usual."""
    for name, logger in [(package, logging.getLogger(package)), *list(logging.root.manager.loggerDict.items())]:
        if (name == package or name.startswith(package + ".")) and isinstance(logger, logging.Logger) \
                and _HELD_BACK not in logger.filters:
            logger.addFilter(_HELD_BACK)
    token = _HOLDING.set(True)
    try:
        yield
    finally:
        _HOLDING.reset(token)


def held_back() -> bool:
    """Whether this caller's warnings are held back now (inside :func:`warnings_held_back`): a warning given once per
    process (a folder's, a dataset's) is then not to be marked as given, it was dropped; the next reading not held
    back gives it."""
    return _HOLDING.get()
