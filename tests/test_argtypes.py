"""The scripts' numeric options: out of range is a usage error naming the option, never a traceback or a run
that quietly does something else (``--tile 0`` used to run untiled under a "tile 0" label)."""

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from drywallqa.utils.argtypes import at_least, fraction_below, positive_int

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("parse, text, value", [(positive_int, "3", 3), (at_least(32), "32", 32),
                                                (at_least(0.5, float), "0.5", 0.5), (fraction_below(0.9), "0", 0.0)])
def test_values_in_range_are_read(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize("parse, text", [(positive_int, "0"), (positive_int, "-2"), (positive_int, "2.5"), (positive_int, "x"),
                                         (at_least(32), "31"), (at_least(0.1, float), "nan"), (at_least(0.1, float), "inf"),
                                         (fraction_below(0.9), "0.9"), (fraction_below(0.9), "-0.1")])
def test_values_out_of_range_are_usage_errors(parse, text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse(text)


def test_a_script_answers_with_a_usage_error():
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "large_photos.py"), "--tile", "0"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2 and "--tile: must be at least 32" in res.stderr and "Traceback" not in res.stderr
