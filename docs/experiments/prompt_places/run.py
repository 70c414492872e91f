"""Place phrases in prompts ("crack above the door"): does the prompt gate answer them, judged whole or without
the place?

    python docs/experiments/prompt_places/run.py --out out/prompt_places [--test]

The head words of the generated lists (drywallqa.text.vocabulary) of a part, the known concepts' and the
unrelated ones, each with every place below in three wordings ("crack above the door", "segment the crack above
the door", "find crack above the door"); the share the shipped model's gate answers (and answers as the right
concept) when it judges the whole prompt, the prompt without its place, and the product's rule (without the place
where that scores a higher margin: PromptGate.understood). No photos: what the model is then asked is its
concept's canonical prompt either way (docs/experiments/paraphrase_routing). The rule is chosen on the val part;
``--test`` adds the test part, read once.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from drywallqa import Segmenter
from drywallqa.text import vocabulary as v
from drywallqa.text.encoder import get_text_encoder
from drywallqa.utils.files import write_text_atomic
from drywallqa.utils.formats import strict_json

PLACES = ["in the wall", "on the wall", "on the drywall", "on the ceiling", "above the door", "above the window",
          "below the window", "next to the outlet", "near the light switch", "in the corner", "by the door frame",
          "along the ceiling", "near the floor", "on the left", "at the top of the photo", "behind the radiator",
          "near the pipe", "on the board", "between the boards", "around the vent", "under the shelf",
          "on the stairwell wall", "in the bathroom", "on the exterior wall", "near the window", "across the wall",
          "on the partition wall", "in the hallway", "over the doorway", "beside the socket"]
WORDINGS = ["{w} {p}", "segment the {w} {p}", "find {w} {p}"]


def placed(words, part):
    return [t.format(w=w, p=p) for w in words if v.part_of(w) == part for p in PLACES for t in WORDINGS]


def rates(seg: Segmenter, part: str) -> dict:
    gate = seg.gate
    encoder = get_text_encoder(seg.text_encoder)
    encode = lambda ps: encoder.encode(list(ps)).numpy()  # noqa: E731
    lists = {c: placed(ws, part) for c, ws in v.CONCEPT_WORDS.items()}
    lists["unrelated"] = placed(v.UNRELATED_WORDS, part)
    rules = {"whole prompt": lambda p: gate.correct(p),
             "without the place": lambda p: gate.subject(gate.correct(p)),
             "without the place where it scores higher (the product)": lambda p: gate.understood(p, encode)}
    out = {}
    for name, prompts in lists.items():
        out[name] = {"prompts": len(prompts)}
        for rule, judge in rules.items():
            judged = {p: judge(p) for p in prompts}
            m = gate.match(prompts, encode(judged.values()), judged)
            right = [m[p].known and (name == "unrelated" or m[p].concept == name) for p in prompts]
            out[name][rule] = {"answered": float(np.mean([m[p].known for p in prompts])),
                               "answered as its concept": float(np.mean(right))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--test", action="store_true", help="also the test part (read once, after the choice)")
    args = ap.parse_args()
    seg = Segmenter.load()
    report = {"val": rates(seg, "val")}
    if args.test:
        report["test"] = rates(seg, "test")
    args.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(strict_json(report), args.out / "prompt_places.json")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
