"""Score a list of labelled wordings through the product's prompt gate (``Segmenter.match_prompts``).

    python docs/experiments/gate_leaving_out/score_probe.py docs/experiments/gate_leaving_out/probe_068.tsv
    PYTHONPATH=<a checkout of 0.6.7>/src python docs/experiments/gate_leaving_out/score_probe.py ... --wrong

Each line of the TSV is ``LABEL<TAB>prompt``: ``C`` (answered as cracks), ``T`` (as taping) or ``N`` (refused). Prints
the share answered right per label and overall, and with ``--wrong`` each wrong answer.
"""

from __future__ import annotations

import argparse
from collections import Counter

from drywallqa import Segmenter

WANT = {"C": "cracks", "T": "taping", "N": None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tsv")
    parser.add_argument("--model-path", default=None, help="a model folder (default: the shipped model)")
    parser.add_argument("--wrong", action="store_true", help="print each wrong answer")
    args = parser.parse_args()
    rows = [line.rstrip("\n").split("\t", 1) for line in open(args.tsv, encoding="utf-8")
            if line.strip() and not line.startswith("#")]
    matches = Segmenter.load(args.model_path).match_prompts([p for _, p in rows])
    right, total = Counter(), Counter()
    for label, prompt in rows:
        m = matches[prompt]
        got = m.concept if m.known else None
        total[label] += 1
        right[label] += got == WANT[label]
        if args.wrong and got != WANT[label]:
            print(f"wrong ({label}, answered {got or 'refused'}): {prompt}")
    for label in sorted(total):
        print(f"{label}: {right[label]} of {total[label]}")
    print(f"all: {sum(right.values())} of {sum(total.values())}")


if __name__ == "__main__":
    main()
