"""A probe of wordings meaning "without X": python negation_signs.py OUT.json (prints wording -> verdict)."""
import json, sys
from drywallqa import Segmenter
from drywallqa.text.prompts import check_prompt
NEG = ["–crack", "— cracks", "-crack", "- crack", "minus cracks", "nah cracks", "nah, cracks", "nope cracks", "nope, no cracks",
       "cracks=0", "crack = 0", "cracks: 0", "crack: none", "cracks: no", "cracks: none", "0 cracks", "zero cracks",
       "no. cracks", "crack ✗", "❌ crack", "cracks -", "cracks —", "w/o cracks", "sans cracks", "excl. cracks", "excluding tape",
       "leave out the seams", "minus the tape", "not a crack", "no-crack", "non-crack areas", "uncracked", "crack-less",
       "tape? no", "tape? nope", "cracks? nah", "cracks: nope", "cracks: nah", "cracks = none", "cracks == 0", "crack=0",
       "crack:0", "crack count = 0", "no crack", "not cracks", "nocracks", "!(crack)", "crack=false", "crackfree",
       "crack: false", "cracks: false", "tape: off", "cracks off", "cracks: ✗", "crack ✘", "~cracks", "¬crack", "¬ crack",
       "not(crack)", "NOT crack", "crack: N", "crack? no", "crack: nil", "tape: nil", "without tape", "everything but tape",
       "all except tape", "-tape", "–tape", "− tape", "- tape", "– tape", "—tape", "wall –cracks", "wall - cracks",
       "wall -cracks", "wall minus cracks", "wall sans tape", "cracks: no thanks", "no thanks, cracks", "nix the cracks",
       "drop the cracks", "no to cracks", "nah to the tape", "cracks x", "cracks: x", "tape: ×", "cracks: 0%", "crack = null",
       "crack: null", "crack: NaN", "cracks → none", "cracks -> none", "cracks → 0", "crack -> 0", "cracks: nope", "no more cracks",
       "leave the cracks out", "bar the cracks", "except cracks", "not tape", "everything except cracks"]
KEEP = ["segment crack", "crack-free?", "segment crack", "cracks 0.3 mm wide", "crack #2", "crack-like lines", "taping area - joints",
        "non-structural crack", "hairline crack", "crack no. 3", "crack 0", "crack 1", "cracks: yes", "cracks = 1", "crack=true",
        "crack: true", "- cracks\n- tape", "cracks - tape", "crack - hairline", "crack - 0.3 mm", "tape - joints", "cracks: 3",
        "cracks = 2", "cracks > 0", "crack, 0 tape", "0.3 mm cracks", "1 crack", "2 cracks", "crack nah?", "nah, show cracks",
        "nope, show cracks", "crack x2", "cracks x 3", "cracks × 2", "cracks → mask", "cracks -> mask", "crack count",
        "crack zero width", "crack ✓", "✅ crack", "crack: on", "tape: on", "cracks on", "cracks on the wall",
        "show cracks off the ceiling", "cracks off the corner", "crack, non-structural", "sans-serif crack label",
        "taping - seams", "crack -- hairline", "cracks - all of them", "- crack", "* crack", "• crack", "1. crack",
        "crack - wide", "cracks – wide ones", "joint tape — butt joints", "cracks 0", "crack: 0.3mm", "cracks: many", "crack: 1"]
seg = Segmenter.load()
ps = NEG + KEEP
typed = {p: check_prompt(p) for p in ps}
m = seg.match_prompts(list(dict.fromkeys(typed.values())))
out = {}
for p in ps:
    r = m[typed[p]]
    out[p] = f"answered: {r.concept}" + (f" (as {r.understood_as!r})" if r.understood_as else "") if r.known else "refused"
json.dump({"neg": {p: out[p] for p in NEG}, "keep": {p: out[p] for p in KEEP}}, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
for k in ("neg", "keep"):
    print("==", k)
    for p in (NEG if k == "neg" else KEEP):
        print(f"{p!r:40} {out[p]}")
