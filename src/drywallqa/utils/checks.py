"""Checking numbers and devices that users give (CLI options, Python arguments, HTTP form fields) in one place."""

from __future__ import annotations

import math
import numbers
import re
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch


class InputError(ValueError):
    """A bad value: the message may quote it (for a person at a terminal), ``reason`` never does (for an HTTP
    client, whose input is not echoed back)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def not_text(value, name: str):
    """``value``, where it is no text: a number given as text ("0.5") is refused where the Python API takes numbers,
    as ``tta="no"`` is (the command line and the server read their text into numbers first).

    Raises:
        ValueError: ``value`` is a str or bytes, naming ``name``.
    """
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a number, got the text {value!r}"[:200])
    return value


def finite_number(value) -> bool:
    """Whether ``value`` is a finite number, not a flag (a measure or size as a batch job writes it in its records and
    ``results.json``, a rule's number); an int no float holds (10**400) is none (math.isfinite raised OverflowError)."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def whole_number(value) -> bool:
    """Whether ``value`` is a whole number: an int (not a bool), or a finite float of no fraction (``640.0``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return isinstance(value, numbers.Integral) or (value == value and abs(value) != float("inf") and float(value).is_integer())


def flag(value, name: str) -> bool:
    """An on/off option as a bool: ``True``/``False`` (numpy's too), 1/0, or ``None`` (off, as it always read).

    Raises:
        ValueError: anything else (``"no"`` would read as on).
    """
    if value is None or isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and int(value) in (0, 1)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def number_in_range(value, name: str, low: float, high: float, low_inclusive: bool = True, unit: str = "") -> float:
    """``value`` as a float when it is a number in ``[low, high]`` (``(low, high]`` with ``low_inclusive=False``).

    Raises:
        ValueError: naming ``name``, the range and the value, for anything else (NaN and infinities too, and
        ``True``/``False``: a flag given where a number is meant, which would read as 1 or 0: ``threshold=True``
        emptied every mask).
    """
    low_bracket = "[" if low_inclusive else "("
    wanted = f"{name} must be a number in {low_bracket}{low:g}, {high:g}]{unit}, got {value!r}"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(wanted)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # (an int past any float, 10**400: OverflowError)
        raise ValueError(wanted) from None
    above_low = number >= low if low_inclusive else number > low
    if not (above_low and number <= high):  # NaN fails both comparisons
        raise ValueError(wanted)
    return number


DEVICE_NAMES = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device_name(device) -> str:
    """``device`` when it is a device name (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``), whatever this machine has:
    a config naming a GPU is written and bundled on a machine without one.

    Raises:
        ValueError: anything else.
    """
    if not isinstance(device, str) or not DEVICE_NAMES.fullmatch(device):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    return device


def resolve_device(device) -> "torch.device":
    """``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps`` or a ``torch.device``) as a ``torch.device`` this
    machine has; ``auto`` is the GPU when there is one, else the CPU.

    Raises:
        ValueError: a name torch does not know, or a device this machine lacks (named, with what it has).
    """
    import torch

    if not isinstance(device, torch.device) and check_device_name(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        has = f"{torch.cuda.device_count()} CUDA device(s)" if torch.cuda.is_available() else "no CUDA device"
        raise ValueError(f"device {device!r}: this machine has {has}; use auto or cpu")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError(f"device {device!r}: this machine has no MPS (Apple GPU); use auto or cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    return dev
