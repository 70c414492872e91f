"""Holding back one caller's log warnings without touching anyone else's logging."""

from __future__ import annotations

import functools
import logging
import threading
from contextlib import contextmanager
from contextvars import ContextVar

_HOLDING = ContextVar("drywallqa_warnings_held_back", default=False)


class _HeldBack(logging.Filter):
    """Drops a warning (or a lesser record) logged inside :func:`warnings_held_back`; everything else passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.WARNING or not _HOLDING.get()


_HELD_BACK = _HeldBack()
_PACKAGES: set[str] = set()  # the packages some caller held back: their loggers made later get the filter at birth
_HOOKED = threading.Lock()


def _of(name: str, packages) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def _filter_at_birth(packages: set[str]) -> None:
    """Make logging's manager put the filter on a logger of ``packages`` as it makes it: a logger made inside the
    block (a module imported lazily there) was not there to be filtered on entering it, and its warnings passed."""
    with _HOOKED:
        manager = logging.Logger.manager
        if not getattr(manager.getLogger, "_drywallqa_held_back", False):
            made = manager.getLogger

            @functools.wraps(made)
            def get_logger(name):
                logger = made(name)
                if isinstance(logger, logging.Logger) and _of(logger.name, _PACKAGES) \
                        and _HELD_BACK not in logger.filters:
                    logger.addFilter(_HELD_BACK)
                return logger

            get_logger._drywallqa_held_back = True
            manager.getLogger = get_logger
        _PACKAGES.update(packages)


@contextmanager
def warnings_held_back(package: str = "drywallqa"):
    """Drop the warnings (and lesser records) that the loggers of ``package`` give while inside, logged by this caller
    only (its thread; an asyncio task, its own context); errors pass. ``logging.disable`` silenced every thread's
    records for as long, a server's log beside the caller too. The filter stays on the loggers once put there (it
    passes everything outside): two callers at once never take it from each other. A logger of ``package`` made later
    (inside, by a module imported there) gets it as logging makes it."""
    _filter_at_birth({package})
    for name, logger in [(package, logging.getLogger(package)), *list(logging.root.manager.loggerDict.items())]:
        if _of(name, (package,)) and isinstance(logger, logging.Logger) and _HELD_BACK not in logger.filters:
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
