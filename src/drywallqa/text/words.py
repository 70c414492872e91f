"""Word lists and regexes that both the prompt gate (:mod:`drywallqa.text.gate`) and its readings
(:mod:`drywallqa.text.readings`) use: how a prompt's words are found, the prepositions and the words where a place
begins, the words that ask without naming anything, the verbs that ask for a thing, the surfaces every wall photo
shows, the determiners, the words saying "only", and the head words telling which concept a request names. Both import
them from here; this module imports neither (the gate imports the readings, never the other way).
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"\w+")  # words as typed; only plain-ASCII letter words are ever mended
PREPOSITIONS = ("in", "on", "at", "above", "below", "under", "over", "near", "next to", "beside", "by", "along",
                 "behind", "between", "around", "across", "inside", "underneath", "beneath", "within", "throughout",
                 "onto", "alongside")
# the first word of each preposition, and the conjunctions: where a place or a list of things begins
PLACE_WORDS = frozenset(w for p in PREPOSITIONS for w in p.split()[:1]) | {"and", "or"}
# words that ask without naming anything: a prompt left with these alone keeps its place phrase
ASKING = frozenset("""segment seg find show give me the all detect highlight mask outline where is are area areas please a
    an of what which any every each some there can you i want need to see get gimme map mark locate identify region
    regions part parts section sections zone zones portion portions this that these those my our select indicate
    delineate display isolate extract annotate provide label trace kindly pick""".split())
# what every wall photo shows: a place on one of them ("holes in the drywall", "dent on the wall") says where, never
# what, and only lifts a prompt towards the anchors that name a wall ("crack in the wall", "drywall seam")
SURFACES = frozenset("""wall walls drywall drywalls plasterboard plasterboards gypsum board boards wallboard wallboards
    sheetrock gyprock plaster plasterwork ceiling ceilings panel panels sheet sheets surface surfaces partition room
    photo image picture shot""".split())
DETERMINERS = frozenset("the a an any all every each those these this that my our its some".split())
# verbs that ask for a thing: after "but" they go on asking ("sound plaster but find any cracks"), after a comma they
# begin a new clause ("leaving out the pipes, show me the cracks"), and before one a bare "leave the X," leaves X out
# ("leave the tape, mark the cracks")
ASKING_VERBS = frozenset("""segment find show highlight outline detect mark locate identify get see check look
    label trace map draw select indicate delineate provide display isolate extract annotate pick""".split())
# after "but" or "not", words that ask for a thing rather than leave it out: "on this wall, but only the cracks", "not
# just the tape"
ONLY = frozenset("only just also".split())
# the words telling which concept a request names: the head nouns of the model's things and their adjectives
# ("cracked", "mudded"); the nouns alone are gate.py's _CORE, found in a longer request (PromptGate.core_phrase)
CORE_KIND = {**{w: "cracks" for w in """crack cracks cracking cracked fissure fissures fissured fissuring fracture
                                         fractures fractured fracturing""".split()},
              **{w: "taping" for w in "seam seams joint joints tape taped taping mud mudded".split()}}
# the marks of no a list writes beside a thing ("cracks \u274c rest \u2705", "\u2705 cracks \u274c tape"): read after a thing
# by the gate (negation._THING_NOT), before one by the readings (readings.plain_reading)
NO_MARKS = r"(?:\u274c|\u2716\ufe0f?|\u2717|\u2718|\U0001f6ab|\u26d4)"
