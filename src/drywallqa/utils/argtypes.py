"""``argparse`` types for the benchmark and maintenance scripts: a value out of range is a usage error naming the
option (exit 2), not a traceback or a run that quietly does something else."""

from __future__ import annotations

import argparse
import math


def at_least(minimum: float, kind=int):
    """A ``type=`` for numbers of ``kind`` (int or float) that are finite and at least ``minimum``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") from None
        if not math.isfinite(value) or value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


positive_int = at_least(1)


def fraction_below(limit: float):
    """A ``type=`` for a number in ``[0, limit)``."""

    def parse(text: str) -> float:
        value = at_least(0.0, float)(text)
        if not value < limit:
            raise argparse.ArgumentTypeError(f"must be below {limit}, got {text}")
        return value

    parse.__name__ = "float"
    return parse
