"""Checking numbers that users give (CLI options, Python arguments, HTTP form fields) in one place."""

from __future__ import annotations


def number_in_range(value, name: str, low: float, high: float, low_inclusive: bool = True, unit: str = "") -> float:
    """``value`` as a float when it is a number in ``[low, high]`` (``(low, high]`` with ``low_inclusive=False``).

    Raises:
        ValueError: naming ``name``, the range and the value, for anything else (NaN and infinities too).
    """
    low_bracket = "[" if low_inclusive else "("
    wanted = f"{name} must be a number in {low_bracket}{low:g}, {high:g}]{unit}, got {value!r}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(wanted) from None
    above_low = number >= low if low_inclusive else number > low
    if not (above_low and number <= high):  # NaN fails both comparisons
        raise ValueError(wanted)
    return number
