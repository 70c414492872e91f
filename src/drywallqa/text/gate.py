"""The prompt gate: how close a prompt is to what a model was trained on, and whether to answer it.

A model knows some *concepts* (its datasets' classes: ``cracks``, ``taping``), each asked by a few
prompts. Free text near one of them ("show me the hairline cracks") is answered as that concept; text
far from all of them ("segment the window") would otherwise get the mask of whatever the model learnt,
under another name. The gate compares the prompt's sentence embedding with two sets of anchors saved
with the model (``prompt_gate.npz``): the known prompts and generated paraphrases of them, and generated
prompts about unrelated things (:mod:`drywallqa.text.vocabulary`, ``train`` part). Its score is the
*margin*: cosine similarity to the nearest known anchor minus that to the nearest unrelated anchor. A
prompt whose margin is below ``min_margin`` (chosen on the ``val`` part of the generated lists by
:func:`~drywallqa.text.gate_calibration.calibrate_margin`, which builds and saves a model's gate:
:func:`~drywallqa.text.gate_calibration.calibrate_model_gate`) gets an empty mask and a warning naming the prompts the
model knows.

The gate judges what a prompt asks for, not where: a place on a wall, a board or a ceiling at its end is left
out (:meth:`PromptGate.on_a_surface`: "holes in the drywall" is judged as "holes", refused: every photo is of a
wall, and "drywall" only lifted it towards the anchors that name one); any other place phrase
(:meth:`PromptGate.subject`) where the prompt without it is nearer to what the model knows (a higher margin,
:meth:`PromptGate.understood`): "crack above the door" is judged, and asked of the model, as "crack" (the door
only pulled it towards the unrelated anchors). Where the meaning lives in the place ("segment pixels on the
crack", "lines along the joints", "damage in the drywall") the whole prompt scores higher and is kept: a bare
"pixels" or "lines" would be refused, or read as the other concept.

Before that, phone-keyboard slips are mended (:meth:`PromptGate.correct`): a word that is in neither
the text encoder's vocabulary nor the gate's anchors, and is one slip (two for long words) away from
exactly one word of the known concepts' ``lexicon``, is read as that word ("segment crakc" is understood
as "segment crack", and asked of the model as such). Real words are never changed ("tap" stays "tap").

A prompt asking for what is not there ("no cracks", "areas with no cracks", "everything except the tape") is refused
with a warning of its own (:meth:`PromptGate.negated`; the words and patterns of a negation, and the reading of a
text into them, are in :mod:`drywallqa.text.negation`); one that names its thing first is judged without what it
leaves out after it (:meth:`PromptGate.affirmed`: "cracks with no tape" as "cracks"). A tape that is no joint tape
("painter's tape": :meth:`PromptGate.other_tape`), a joint of another material or a tool named by a known word
("tile grout joints", "the mud bucket": :meth:`PromptGate.other_thing`) and a trade's word for a kind of crack or joint
with nothing the model knows ("stress levels": :meth:`PromptGate.kind_alone`) are refused, however near the anchors
they lie. A thing may be left out in other words than a negation ("hide the seams", "intact drywall", "areas between
the seams": :meth:`PromptGate.negated`; "seams don't matter", "leave the tape alone", read as "ignore":
:func:`~drywallqa.text.readings.dismissal_reading`), and the trade's words for a joint are read as such ("joins",
"where the boards meet", "gib stopping": :func:`~drywallqa.text.readings.trade_reading`); these readings, which
rewrite a prompt in plainer words before it is judged, are in :mod:`drywallqa.text.readings`.

    gate = PromptGate.from_model_dir("src/drywallqa/weights/fast")
    gate.match(["segment the window"], embeddings)["segment the window"].known   # False
"""

from __future__ import annotations

import json
import re
import unicodedata
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..utils.files import write_atomic
from ..utils.paths import calibration_file_there
from .negation import (_FREE_OF, _LEFT_OUT_AFTER, _MASK_WORDS, _MISSING, _NEGATIONS, _THING_NOT, _WHERE_NOT,
                       _is_negation, _negation_spans, _negation_words)
from .prompts import normal_form
from .readings import _head_kinds, plain_reading
from .vocabulary import (BODY_PLACES, DRYWALL_JOINT_WORDS, KIND_WORDS, NOT_THE_THING, OBJECT_PLACES, OBJECTS,
                         OTHER_JOINTS, OTHER_TAPE_WORDS, OTHER_TAPES, PRODUCTS, TAPE_THINGS, TRADE_WORDS)
from .words import (ASKING, ASKING_VERBS, CORE_KIND, DETERMINERS, ONLY, PLACE_WORDS, PREPOSITIONS, SURFACES, TOKEN)

GATE_FILE = "prompt_gate.npz"
_WORD = re.compile(r"[A-Za-z]+")
_SUFFIXES = ("s", "es", "ed", "er", "ing", "y", "ly")
# a place phrase at a prompt's end ("... above the door", "... next to the outlet"): where, not what
_PLACE = re.compile(r"\s+(?:" + "|".join(PREPOSITIONS) + r")\s+\S.*$", re.IGNORECASE)
# words that name nothing by themselves: a prompt asking for one of them ("pixels on the crack", "lines along the
# joints", "damage in the drywall") may have its meaning in its place
_GENERIC = frozenset("""pixel pixels line lines damage damages defect defects problem problems issue issues everything
    anything stuff thing things spot spots bit bits piece pieces else""".split())
# the words of a place phrase that name nothing: its prepositions and determiners
_LINKS = frozenset(w for p in PREPOSITIONS for w in p.split()) | frozenset("the a an this that these those my our its of"
                                                                             .split())
# what the gate mends a slip to besides the known concepts' words: the negations a slip would hide ("drywall tape exept
# cracks", "evrything without tape", "apart frum the cracks"), and the real words one slip from them, so that their
# slips are not read as negations ("Icluding hairline cracks" is "including", "excpect" is "expect")
_NEGATION_SPELLINGS = ("except", "excluding", "without", "ignore", "ignoring", "everything", "including", "expect",
                       "accept", "from")
# a negation typed without its space before a known thing's word ("nocracks", "notaping", "noncrack"): read as two words,
# never mended to the thing's word two letters away
_GLUED_NEGATIONS = ("non", "not", "no")
# words of a surface without defects: before a surface ("intact drywall", "the sound parts of the plaster, no cracks",
# "healthy plaster with no damage"), in a prompt that asks for no thing the model knows, they ask for the wall a thing
# leaves; not "intact joint tape", "sound plaster with hairline cracks", "a good portion of the plaster has cracks"
_SOUND = frozenset("""undamaged intact sound healthy unbroken unblemished flawless pristine perfect clean unmarked
    unaffected bare good""".split())
# where the object of a verb of leaving out ends: "remove false positives from the crack mask"
_OBJECT_ENDS = PLACE_WORDS | frozenset("but from to then so because with having that which for of".split())
_JOINT_WORDS = frozenset("joint joints jointing seam seams".split())
# the words of a crack, a joint or a tape in another sense (PromptGate.other_thing): "crack on with it" (get going;
# not "crack on the wall"), "a cracking job", "what a cracking day" (a very good one; not "cracking day 1 versus day 30"),
# "crack my head" (think hard; not "the crack my head made"), "the evidence caught on tape" (not "where my knife caught
# on tape"), "joint and several liability" (not "the top joint and several below it"), "bursting at the seams" (too full),
# "a banana split", "split pea soup", "a split second", "split the bill" (not "the split in the plaster")
_IDIOMS = re.compile(r"\bcrack(?:s|ed|ing)?\s+(?:(?:of|a|o['\u2019]?)\s+dawn|down\s+on|on\s+with\b|(?:a|an|the|your|"
                     r"my)\s+(?:joke|jokes|code|case|whip|smile|safe|password|nut|nuts|knuckles|egg|eggs|beer|book|"
                     r"books|window)\b|(?:me|mi|us|him|her|them|you)\s+up\b|up\s+laughing\b|jokes?\b|wise\b)|"
                     r"\ba\s+crack\s+(?:shot|in\s+(?:his|her|my|their|your|the)\s+voice)\b|\bcrack\s+(?:cocaine|pipe|house|head|pot)\b|"
                     r"(?<!the\s)(?<!a\s)(?<!any\s)(?<!that\s)(?<!this\s)\bcrack(?:ed|ing)?\s+(?:my|me|our)\s+(?:head|"
                     r"brain|brains)(?=\s*(?:[,.;:!?]|$)|\s+(?:also|over|on|about|trying|to|already|lah|liao|leh|"
                     r"thinking|but|and|so|because|figuring|again)\b)|\bwisecrack|\bcracking\s+jobs?\b|\b(?:have|has|"
                     r"having|had|take|takes|taking|took|give|gives|giving|gave)\s+(?:a|another)\s+crack\s+at\s+(?:it|"
                     r"this|that|them|[^\W\d_]+ing)\b|\bcrack(?:s|ed|ing)?\s+open\s+(?:a|another|the|some)\s+(?:cold|"
                     r"beer|beers|bottle|bottles|one|tinny|tinnies|can|cans|coldie|coldies|brew|brews)\b|\b(?:a|"
                     r"what\s+a)\s+cracking\s+(?:day|effort|result|idea|game|weekend|night|team|start|read|performance|"
                     r"view)\b|\bjoint\s+(?:venture|account|effort|statement|pain|pains|custody|owner|ownership|"
                     r"replacement|session|committee|degree|winner|winners|tenancy|bank)\b|\b(?:burger|pizza|bbq|"
                     r"barbecue|chicken|taco|dive|fast[- ]food|clip)\s+joint\b|\b(?:roll|rolls|rolling|rolled|smoke|"
                     r"smoking|smoked|light|lit)\s+(?:a|the|another)\s+(?:(?:fat|big|huge|massive|little|quick|fresh|"
                     r"cheeky)\s+)?joint\b|\bout\s+of\s+joint\b|\bjoint\s+and\s+several\s+(?:liab|obligat|responsib|"
                     r"guarant)\w*|\bjointly\s+and\s+severally\b|\bred\s+tape\b|\b(?:was|were|been|being|got|gets|get|"
                     r"is|are|evidence|footage|incident|moment|everything|thief|burglar|intruder|suspect|someone|"
                     r"somebody|person|man|woman|guy)\s+(?:[^\W\d_]+\s+)?(?:caught|captured|recorded|"
                     r"filmed)\s+on\s+(?:video\s*)?tape\b|\b(?:caught|captured|recorded|"
                     r"filmed)\s+on\s+(?:video\s*)?tape\s+by\b|\bticker[- ]tape\b|\btape\s+(?:a|the)\s+(?:show|episode|"
                     r"match|game|concert)\b|\bseam\s+of\s+coal\b|\bpapering\s+over\s+the\s+cracks\s*\(?figurative|"
                     r"\bcrack\s+(?:team|teams|squad|troops)\b|\bcaught\s+(?:the\s+|a\s+)?(?:thief|thieves|burglar|"
                     r"burglars|intruder|intruders|suspect|him|her|them|someone|somebody)\s+on\s+(?:video\s*)?tape\b|"
                     r"\bfinish[- ]line\s+tapes?\b|\bcrime[- ]scene\s+tapes?\b|\b(?:burst|bursts|"
                     r"bursting)\s+at\s+the\s+seams\b|\bbanana\s+splits?\b|\bsplit\s+(?:peas?|seconds?|decisions?|"
                     r"ends|personality|the\s+(?:bill|difference|check|cost|costs))\b|\b(?:do|does|did|doing)\s+the\s+"
                     r"splits\b|\blickety[- ]split\b", re.IGNORECASE)
# the head nouns of the model's things, found in a longer request (PromptGate.core_phrase)
_CORE = frozenset(CORE_KIND) - frozenset("cracked fissured fissuring fractured fracturing taping mud mudded".split())
_JOINT_PRODUCTS = frozenset("tape tapes compound mud filler".split())  # "fabric joint tape" is a tape
_STOREY = frozenset("""first second third fourth fifth ground upper lower top bottom every each all other next same nd rd
    st th floor floors""".split())  # before "floor" ("the second floor"), or "floor" first, with no determiner ("on floor 2")
_DRY_LINED = frozenset("lined drylined drylining".split())  # "the dry-lined blockwork" is plasterboard on blocks
_JOINT_OF = frozenset("in on of o pon between within".split())  # "seams in the vinyl flooring", "the joint o ma
# elbow" (Scots "o"), "di seam pon mi tennis ball" (Jamaican "pon"); not "along the window frame"
# the words said after a request's thing that are no part of its place: "the seam of my bag po" (Tagalog's polite "po"),
# "the joint on the chair lah", "the seam on the bag please", "the joints on the robot um", "pon mi tennis ball deh";
# a filler before the place's noun is skipped ("the seam on the um sofa")
_FILLERS = frozenset("um uh er erm".split())
_PARTICLES = frozenset("po lah leh lor la please pls plz sir maam mate bro boss kabayan deh".split()) | _FILLERS
_PARTS = frozenset("panel panels sheet sheets surface surfaces".split())  # a surface's words that are an object's too
_WALLS = frozenset("wall walls partition partitions drywall plasterboard plasterboards".split())  # a wall's own words
_CONJUNCTIONS = frozenset("as while when where which who that because since to".split())  # "the sail as it drinks the wind"
_SIDES = frozenset("back front side top bottom inside outside edge end middle underside".split())  # of a thing
_BODY_BEFORE_A_JOINT = BODY_PLACES - {"back"}  # a body's, just before a joint ("knee joints"; not "back joints")
_POSSESSIVES = frozenset("my me mi ma his her your yer our their".split())  # "the joint in me knee" (Hiberno-English)
_A_CLAUSE = frozenset("it i you we he she they is are was were".split())  # "the seam on my trousers, it is ripped"
# where a thing lies: after a tool ("the taping knife resting on the ladder")
_LYING = frozenset("""resting rests lying lies sitting sits leaning leans hanging hangs standing stands left
    propped""".split())
_PRONOUNS = frozenset("them it they those these".split())  # "don't mark them"
# a request for what is left ("the rest", "the remaining wall area"; not "the rest of the cracks", "remaining cracks")
_THE_REST = re.compile(r"\b(?:the\s+rest|what(?:['\u2019]s|\s+is|s)?\s+left|whatever\s+is\s+left|the\s+remaining(?:\s+(?:"
                       r"wall|walls|area|areas|surface|surfaces|parts?|board|boards|plasterboard|drywall))*)\b"
                       r"(?!\s+of\b(?!\s+(?:the\s+|this\s+|that\s+)?(?:wall|walls|surface|board|boards|plasterboard|"
                       r"drywall|room|ceiling)\b))", re.IGNORECASE)
# words for what is left of a wall ("the bits between the joints"; not "defects between the joints")
_REST = frozenset("bit bits piece pieces stuff everything anything else rest".split())
_PIECES = frozenset("bit bits piece pieces".split())  # "the good bits of plaster"
_STILL = frozenset("is are still all completely totally entirely fully mostly".split())  # "the plaster is still sound"
_AREAS = frozenset("""area areas part parts region regions section sections zone zones portion portions face faces field
    fields space spaces""".split())
# a place between things, or away from them: "areas between the seams", "board faces away from the joints" ask for
# the wall the things leave, where an area or a surface comes just before and a thing just after (not "look between
# the boards for joint tape", "standing 2 m away from the wall, find cracks")
_BETWEEN = re.compile(r"\b(?:(?:in\s+)?between|away\s+from)\s+(?:(?:the|two|each|any|all|those|these)\s+)?([^\W\d_]+)",
                      re.IGNORECASE)
# words that tie a thing to what it has, naming nothing: "areas with no cracks", "the parts that have no tape"
_HAVING = frozenset("with having have has had that which who contain contains containing show shows showing".split())
# where a first clause ends: a punctuation mark or a dash ("Not the seams - just the cracks"), "and" before a verb of
# asking ("Ignore the drywall tape and highlight cracking"), a comma before a new request ("ignore the tape, find
# cracks", "no tape, just the cracks"), or before a last part saying "only" ("skip the tape, cracks only") or ending
# in "first", "now" or "please" ("ignore the tape, cracks first", "forget the tape, cracks please"; not "..., and the
# tape for now", "..., the seams as well right now"), or, with no comma, before a verb of asking or "just" ("instead of the cracks show the joints", "forget the tape
# just the cracks"; not "skip the seams that show cracks"); not a comma in a list ("everything except the cracks, the
# tape and the seams")
_NEW_REQUEST = sorted(ASKING_VERBS | ONLY | frozenset("""then instead but where what which please kindly can could give
                                                          keep i we first now start want need""".split()) | {
    r"(?:is|are)\s+there", r"(?:all|aw)\s+(?:i|we)\s+(?:want|need)"})  # "is there any cracks?", "no tape, first check for
# cracks", "Excluding cracks, start with the first seam", "Don't bother with the joints, all I want is the cracks"
_CLAUSE_END = re.compile(r"[;:.!?\u2013\u2014|]\s*|\s-+\s|,\s*(?=(?:" + "|".join(_NEW_REQUEST) + r")\b)|"
                         r",\s*(?=[^,;:.!?]*\bonly\b[^,;:.!?]*$)|,\s*(?![^,;:.!?]*\b(?:and|nor|too|also|well)\b)"
                         r"(?=(?:[^\W\d_]+\s+){1,3}?(?<!for\s)(?<!right\s)(?:first|now|please)(?:\s+please)?\W*$)|"
                         r"\band\s+(?:(?:just|only|then)\s+)?(?=(?:" +
                         "|".join(sorted(ASKING_VERBS | {r"give\s+(?:me|us)"})) + r")\b)|"
                         r"(?<=\w)(?<!that)(?<!which)(?<!who)(?<!to)(?<!ever)(?<!(?<!kind)ly)(?<!not)(?<!n't)"
                         r"(?<!n\u2019t)(?<!dont)(?<!case)\s+(?=(?:show|find|highlight|segment|detect|outline|"
                         r"locate|identify|mark|just|only)\s)", re.IGNORECASE)
# a first sentence saying its thing is not wanted, or not so ("The painter's tape along the trim isn't what I want.",
# "The cracks aren't my concern right now."), up to its end; and a request in what follows ("Show me", "Where are")
_NOT_SO = re.compile(r"^[^.;!?]*?\b(?:(?:is|are|was|were)\s+not|isn['\u2019]?t|aren['\u2019]?t|wasn['\u2019]?t|"
                     r"weren['\u2019]?t)\b[^.;!?]*[.;!?]+", re.IGNORECASE)
_A_REQUEST = re.compile(r"^\W*(?:please\s+)?(?:(?:can|could|would)\s+you\s+)?(?:" + "|".join(sorted(ASKING_VERBS)) +
                        r"|give|where|what|which|i\s+(?:want|need)|we\s+(?:want|need)|just|only)\b", re.IGNORECASE)
_BEFORE_A_NAME = frozenset("do does did just only".split()) | _MISSING  # name nothing
_MODIFIER = re.compile(r"\b(" + "|".join(sorted(SURFACES, key=len, reverse=True)) + r")\s+(?=(\w+))", re.IGNORECASE)
_NOT_A_NAME = _LINKS | ASKING | _HAVING | _NEGATIONS | {"and", "or"}  # a surface before one of these names nothing:
# "ceiling of the room", "wall with no tape"
# what ties a thing to the negation after it, left out with that negation: "cracks that are not taped" -> "cracks"
_TIES = _HAVING | _LINKS | frozenset("and or is are be being was were".split())
# the words a negation may follow and still be about the thing asked for ("the wall with no cracks", "and no tape": a
# word that ties names nothing, and is never all that is left of a prompt cut before its negation)
_PLACE_STARTS = PLACE_WORDS - {"and", "or"}  # the first words of the prepositions
_BEFORE_THE_THING = ASKING | SURFACES | _GENERIC | _BEFORE_A_NAME | _TIES  # _TIES holds _LINKS and _HAVING


def _owner(word: str) -> str:
    """``word`` without a possessive "'s" ("painter's" -> "painter", "the chain\u2019s")."""
    return word.removesuffix("'s").removesuffix("\u2019s")


def _forms(word: str) -> set[str]:
    """``word`` and its stems without an ending of a form ("feathered" -> "feather", "panelling" -> "panel"), not of
    another word ("spidery lines" are no spiders)."""
    stems = {word[: -len(s)] for s in ("s", "es", "ed", "er", "ing") if word.endswith(s) and len(word) - len(s) >= 3}
    return {word} | stems | {s[:-1] for s in stems if len(s) > 3 and s[-1] == s[-2]}


_KIND_FORMS = {f for w in KIND_WORDS for f in _forms(w)}  # "feathers", "paneling", "stressed": KIND_WORDS' forms

# what separates the parts of a list of things ("crack and taping", "cracks, seams", "crack/tape", "cracks & tape"):
# PromptGate.two_things
_LIST_PARTS = re.compile(r"\s*(?:[,&/+]|\b(?:and|or|plus|but\s+also|as\s+well\s+as|along\s+with)\b)\s*",
                         re.IGNORECASE)
# words in a part of a list that may leave its thing out, where the gate's reading (PromptGate.affirmed) did not: such
# a part is not counted as asked for (PromptGate.two_things)
_NOT_ASKED = (_NEGATIONS - {"but"}) | frozenset("leave leaving left".split())
_COUNT = {2: "two", 3: "three"}  # how many things a prompt names, in words
OFF_SWITCH = "Turn the check off with --no-prompt-gate (prompt_gate=False) for the raw map."  # a warning's end


@dataclass(frozen=True)
class PromptMatch:
    """What the gate says of one prompt (``to_dict`` is what results.json and the HTTP API show)."""

    prompt: str
    concept: str          # the nearest known concept, e.g. "cracks"
    nearest_prompt: str   # the concept's canonical prompt, e.g. "segment crack"
    similarity: float     # cosine similarity to the nearest known anchor (1.0 for a known prompt)
    margin: float         # similarity minus the similarity to the nearest unrelated anchor
    known: bool           # margin >= the gate's min_margin: the prompt is answered
    understood_as: str | None = None  # the prompt the model is asked, when not as typed (none for a refused one)

    def to_dict(self) -> dict:
        out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items() if k != "prompt"}
        if out["understood_as"] is None:
            del out["understood_as"]
        return out


def slips(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance of two words (insertions, deletions, substitutions, swaps of
    neighbours), or ``limit + 1`` once it is certain to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], prev2[j - 2] + 1)
        if min(row) > limit:
            return limit + 1
        prev2, prev = prev, row
    return prev[-1]


class PromptGate:
    """Anchors (unit embeddings) of known concepts and of unrelated prompts, and the margin to answer.

    Args:
        known_prompts / known_concepts: one known anchor each (a prompt and the concept it asks for).
        known_embeddings: ``(K, D)`` unit vectors of the known anchors.
        unrelated_embeddings: ``(U, D)`` unit vectors of unrelated prompts.
        canonical: concept -> its canonical prompt.
        min_margin: prompts scoring below it are not answered.
        info: how ``min_margin`` was chosen (saved beside it).
    """

    def __init__(self, known_prompts, known_concepts, known_embeddings, unrelated_embeddings, canonical: dict,
                 min_margin: float, info: dict | None = None, lexicon=(), unrelated_prompts=(), model_prompts=()):
        self.known_prompts = list(known_prompts)
        self.known_concepts = list(known_concepts)
        self.known_embeddings = np.asarray(known_embeddings, np.float32)
        self.unrelated_embeddings = np.asarray(unrelated_embeddings, np.float32)
        self.canonical = dict(canonical)
        self.min_margin = float(min_margin)
        self.info = dict(info or {})
        self.lexicon = sorted(set(lexicon))  # correctly spelt words of the known concepts' prompts
        self.unrelated_prompts = list(unrelated_prompts)
        self.dictionary: set[str] = set()  # real words never mended (the text encoder's vocabulary; set_dictionary)
        self._real = {w for p in self.unrelated_prompts for w in _WORD.findall(p.lower())}  # spelt right too
        self._anchors = {normal_form(p) for p in self.known_prompts}  # kept whole by subject()
        # the words the known concepts are named with (:meth:`_names_a_thing`)
        self._thing_words = {w for p in [*self.known_prompts, *self.lexicon] for w in _WORD.findall(p.lower())
                             if len(w) >= 3} - _NOT_A_NAME - SURFACES - _GENERIC
        # the prompts the model was trained on (its datasets'), asked as they are: a run's folder has no per-prompt
        # thresholds to tell them from paraphrases (older gate files: none; their models list theirs)
        self.model_prompts = list(model_prompts)

    def set_dictionary(self, words) -> None:
        """The words that count as real (spelt right) besides the anchors' own, e.g. the text encoder's vocabulary,
        and always the building trades' words it may lack (:data:`~drywallqa.text.vocabulary.TRADE_WORDS`: "joist"
        is never read as "joint") and the words that only look like a known thing's
        (:data:`~drywallqa.text.vocabulary.NOT_THE_THING`: "crackling" is never read as "cracking")."""
        self.dictionary = {w.lower() for w in words if w.isalpha()} | TRADE_WORDS | NOT_THE_THING

    def correct(self, prompt: str) -> str:
        """``prompt`` with each slipped word mended to the one lexicon word it is nearest to (see module doc), or to
        a negation (:data:`_NEGATION_SPELLINGS`: "exept" -> "except"), a negation glued to a known thing's word as two
        words (:data:`_GLUED_NEGATIONS`: "nocracks" -> "no cracks"), read as
        :func:`~drywallqa.text.readings.plain_reading` reads it ("the seems between the panels" -> "the seams between
        the panels", "seams don't matter" -> "ignore seams")."""
        prompt = plain_reading(prompt)
        if not self.lexicon:
            return prompt
        targets = [*self.lexicon, *(w for w in _NEGATION_SPELLINGS if w not in self.lexicon)]

        def mend(m):
            word = m.group(0)
            low = word.lower()
            if not (word.isascii() and word.isalpha()) or len(low) < 4 or self._is_real(low):
                return word
            glued = next((len(w) for w in _GLUED_NEGATIONS if low.startswith(w) and low[len(w):] in CORE_KIND), 0)
            if glued:  # "nocracks": "no cracks", not a slip of "cracks"
                return word[:glued] + " " + word[glued:]
            limit = 2 if len(low) >= 7 else 1
            dist = {w: slips(low, w, limit) for w in targets}
            best = min(dist.values(), default=limit + 1)
            near = [w for w, d in dist.items() if d == best]
            # forms of one word ("crack", "cracks") are one choice: the plainest ("cracs" is read as "crack")
            near = [w for w in near if not any(w != v and w.startswith(v) and w[len(v):] in _SUFFIXES for v in near)]
            return near[0] if best <= limit and len(near) == 1 else word

        return TOKEN.sub(mend, unicodedata.normalize("NFKC", prompt))

    def subject(self, prompt: str) -> str:
        """What a prompt asks for, without a place phrase at its end: "crack above the door" -> "crack", "find
        the seam between the boards near the window" -> "find the seam"; the prompt itself where it has no place
        phrase, where only asking words would be left ("segment the area above the door"), or where it is one of
        the gate's known anchors whole ("split in the wall": its place is part of what it names), or where sentences
        after the place's own name the thing the words before it do not ("What is this long line on wall? I think it's
        tape joint. please mark")."""
        if normal_form(prompt) in self._anchors:
            return prompt
        head = _PLACE.sub("", prompt).rstrip(" ,;:-–—")  # "crack, above the door": "crack", not "crack,"
        names = [w for w in TOKEN.findall(head.lower()) if w not in ASKING]
        later = re.search(r"[.?!]+\s+(\S.*)$", prompt[len(head):])  # the sentences after the place's own
        if later and self._names(later.group(1)) and not self._names(head):
            return prompt
        return head if head != prompt and names else prompt

    def understood(self, prompt: str, encode) -> str:
        """``prompt`` as judged and asked of the model: slips mended (:meth:`correct`), and without its place phrase
        (:meth:`subject`) where that place is a wall, a board, a ceiling (:meth:`on_a_surface`: "holes in the
        drywall" -> "holes"), else only where that scores a higher margin than the whole (``encode``: list of texts
        -> unit embeddings). "crack above the door" -> "crack"; "segment pixels on the crack" is kept whole
        ("segment pixels" alone is nothing the model knows); a known anchor itself is never cut. A surface named
        before the thing (:meth:`unmodified`: "ceiling crack") is left out where the rest scores higher and is
        answered. What it asks to leave out after naming its thing is left out first (:meth:`affirmed`: "cracks with
        no tape" -> "cracks"). Where none of these is answered, a longer request is judged by the words naming its
        thing (:meth:`core_phrase`: "Document wall cracks that may relate to the reported water event" -> "wall
        cracks")."""
        mended = self.correct(prompt)
        if normal_form(mended) in self._anchors or self.negated(mended):  # a negation is refused as typed
            return mended
        mended = self.affirmed(mended)
        if normal_form(mended) in self._anchors:
            return mended
        head = self.subject(mended)
        if head != mended and self.on_a_surface(mended, head):  # "holes in the drywall" is judged as "holes"
            choices = [head]
        else:
            choices = list(dict.fromkeys([mended, head]))
        choices = [c for c in choices if c == mended or not self.negated(c)] or [mended]  # a cut makes no negation:
        # "Cracks are reviewed separately by the engineer, so find them here" is not "Cracks are reviewed separately"
        n = len(choices)
        choices += [t for t in map(self.unmodified, choices) if t not in choices]
        core = self.core_phrase(mended)
        if core is not None and core not in choices:  # a last resort: only where nothing else is answered
            choices.append(core)
        if len(choices) == 1:
            return choices[0]
        _, _, margin = self.scores(encode(choices))
        k = len(choices) - (core is not None and choices[-1] == core)  # the choices before the core phrase
        best = int(np.argmax(margin[:n]))  # on a tie the first: the prompt as typed
        if k > n:  # "ceiling crack" as "crack" only where that answers it: a refusal names what was typed
            bare = n + int(np.argmax(margin[n:k]))
            best = bare if margin[bare] > margin[best] and margin[bare] >= self.min_margin else best
        if k < len(choices) and margin[best] < self.min_margin <= margin[k]:
            best = k  # "Document wall cracks that may relate to the reported water event" as "wall cracks"
        return choices[best]

    def core_phrase(self, text: str) -> str | None:
        """The words that name the model's thing in a longer request (five words or more): its head noun
        (:data:`_CORE`) and the one word before it ("Document wall cracks that may relate to the reported water event"
        -> "wall cracks", "bed coat on the seams" -> "seams"); None in a shorter one (its words are its meaning:
        "driveway expansion joints"), where it names no such noun, or nouns of both concepts ("check between each joint
        for cracks")."""
        words = [(m.start(), m.end(), m.group(0)) for m in TOKEN.finditer(text)]
        if len(words) < 5 or len(_head_kinds(text)) != 1:
            return None
        for i, (start, end, word) in enumerate(words):
            if word.lower() in _CORE:
                first = words[i - 1][0] if i and words[i - 1][2].lower() not in _NOT_A_NAME else start
                phrase = text[first:end]
                return phrase if phrase.strip() != text.strip() else None
        return None

    def unmodified(self, text: str) -> str:
        """``text`` without the surfaces that say where its thing is before it names it: "ceiling crack" -> "crack",
        "segment gypsum board seams" -> "segment seams" (as "crack on the ceiling" is judged as "crack"); the text
        itself where nothing would be left but asking words ("segment the wall area"), or where its thing is a known
        anchor whole ("segment wall crack in the photo": a model's own prompt, its surface part of what it names)."""
        head = self.subject(text)
        if normal_form(head) in self._anchors:
            return text
        kept = _MODIFIER.sub(lambda m: m.group(0) if m.group(2).lower() in _NOT_A_NAME else "", head)
        names = [w for w in TOKEN.findall(kept.lower()) if w not in ASKING]
        return kept + text[len(head):] if names else text

    @staticmethod
    def on_a_surface(prompt: str, head: str) -> bool:
        """Whether ``prompt`` is ``head`` (its :meth:`subject`) placed on a wall, a board, a ceiling or the photo
        ("dent in the wall", "cracks on the ceiling"), and ``head`` names a thing rather than a generic word ("damage
        in the drywall", "lines on the board" are not: their place may hold their meaning). Such a prompt is
        judged as its subject alone: it asks what "dent" asks, wherever it is. A surface may be named with words of its
        own ("the bathroom wall", "the new drywall", "the walls and ceilings"): each thing the place names ends in a
        surface ("the joints of the drywall", "the wall near the window" do not)."""
        place = [w for w in TOKEN.findall(prompt[len(head):].lower()) if w in _LINKS or w not in ASKING]
        ends = [w for w, after in zip(place, place[1:] + ["the"]) if w not in _LINKS and after in _LINKS]
        names = [w for w in TOKEN.findall(head.lower()) if w not in ASKING]
        return bool(ends) and bool(names) and all(w in SURFACES for w in ends) and names[-1] not in _GENERIC

    def _is_real(self, word: str) -> bool:
        """A word spelt right: in the dictionary, the anchors or the lexicon, or an inflection of one
        ("cracker", "seams", "taming" from "tame"), or the negative of one ("uncracked": never mended to "cracked")."""
        known = lambda w: w in self.dictionary or w in self._real or w in self.lexicon  # noqa: E731
        if known(word) or (word.startswith("un") and len(word) > 4 and self._is_real(word[2:])):
            return True
        for suffix in _SUFFIXES:
            stem = word[: -len(suffix)]
            if word.endswith(suffix) and len(stem) >= 3 and (known(stem) or known(stem + "e") or
                                                           (len(stem) > 3 and stem[-1] == stem[-2] and known(stem[:-1]))):
                return True
        return False

    # ----------------------------------------------------------------- building and saving
    @classmethod
    def build(cls, concepts: dict, unrelated: list[str], encode, min_margin: float = 0.0, lexicon=()) -> "PromptGate":
        """From ``concepts`` (concept -> prompts, the first one canonical) and ``unrelated`` prompts, embedded by
        ``encode(list[str]) -> (N, D)`` unit vectors (e.g. ``TextEncoder.encode``); ``lexicon``: the correctly
        spelt words slips are mended to."""
        prompts = [p for ps in concepts.values() for p in ps]
        names = [c for c, ps in concepts.items() for _ in ps]
        return cls(prompts, names, np.asarray(encode(prompts)), np.asarray(encode(list(unrelated))),
                   {c: ps[0] for c, ps in concepts.items()}, min_margin, lexicon=lexicon, unrelated_prompts=unrelated)

    def save(self, directory: str | Path) -> Path:
        """Write ``prompt_gate.npz`` into a model folder (whole or not at all: a temporary file, then a rename)."""
        meta = json.dumps({"known_prompts": self.known_prompts, "known_concepts": self.known_concepts,
                           "canonical": self.canonical, "min_margin": self.min_margin, "info": self.info,
                           "lexicon": self.lexicon, "unrelated_prompts": self.unrelated_prompts,
                           "model_prompts": self.model_prompts})

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez adds no suffix
                np.savez(f, known_embeddings=self.known_embeddings.astype(np.float16),
                         unrelated_embeddings=self.unrelated_embeddings.astype(np.float16), meta=np.array(meta))

        return write_atomic(Path(directory) / GATE_FILE, write)

    @classmethod
    def from_model_dir(cls, directory: str | Path) -> "PromptGate | None":
        """The gate saved in a model folder, or None when it has none (the model answers every prompt).

        Raises:
            ValueError: the file is damaged (cut short, not this format), naming it and how to mend it.
        """
        path = Path(directory) / GATE_FILE
        if not calibration_file_there(path, "answer every prompt",
                                      f"calibrate a gate again (drywallqa calibrate-gate --model-path {directory})"):
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                gate = cls(meta["known_prompts"], meta["known_concepts"], data["known_embeddings"].astype(np.float32),
                           data["unrelated_embeddings"].astype(np.float32), meta["canonical"], meta["min_margin"],
                           meta.get("info"), meta.get("lexicon", ()), meta.get("unrelated_prompts", ()),
                           meta.get("model_prompts", ()))
            # loaded, then every prompt failed in numpy (a 5xx): embeddings and prompts of unlike counts, or of another
            # text encoder's width than the model's (a gate copied from a model with another encoder)
            known, unrelated = gate.known_embeddings, gate.unrelated_embeddings
            width = _model_text_dim(directory)
            if known.ndim != 2 or unrelated.ndim != 2 or not len(known) == len(gate.known_prompts) == len(
                    gate.known_concepts) or unrelated.shape[1] != known.shape[1] or width not in (None, known.shape[1]):
                raise ValueError(f"embeddings {known.shape} and {unrelated.shape} for {len(gate.known_prompts)} known "
                                 f"prompts" + (f", the model's text embeddings of {width}" if width else ""))
            return gate
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
                RuntimeError) as exc:  # a flipped bit of a zip header: NotImplementedError, "is encrypted" RuntimeError
            raise ValueError(f"{path} is damaged ({type(exc).__name__}: {str(exc)[:120]}): calibrate it again "
                             f"(drywallqa calibrate-gate --model-path {directory}), or delete it to answer every "
                             "prompt") from None

    # ----------------------------------------------------------------- use
    def scores(self, embeddings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, D)`` unit embeddings -> (nearest known anchor index, its similarity, margin), each ``(N,)``."""
        e = np.asarray(embeddings, np.float32)
        known = e @ self.known_embeddings.T
        nearest = known.argmax(1)
        similarity = known.max(1)
        other = (e @ self.unrelated_embeddings.T).max(1) if len(self.unrelated_embeddings) else np.zeros(len(e))
        return nearest, similarity, similarity - other

    def match(self, prompts: list[str], embeddings, asked_as: dict | None = None) -> dict[str, PromptMatch]:
        """A :class:`PromptMatch` per prompt, from the embeddings of the prompts *as understood* (``asked_as[prompt]``,
        e.g. from :meth:`understood`; default: :meth:`correct`). A canonical prompt itself is always known."""
        nearest, similarity, margin = self.scores(embeddings)
        out = {}
        for p, i, s, m in zip(prompts, nearest, similarity, margin):
            understood = asked_as[p] if asked_as is not None else self.correct(p)
            concept = self.named_concept(self.subject(understood)) or self.known_concepts[int(i)]
            known = (bool(m >= self.min_margin) and not self.negated(p) and not self.negated(understood)
                     and not self.kind_alone(understood) and not self._another_thing(p, understood)) or \
                understood in self.canonical.values()
            out[p] = PromptMatch(p, concept, self.canonical[concept], float(s), float(m), known,
                                 understood if understood != p else None)
        return out

    def named_concept(self, text: str) -> str | None:
        """The concept whose head words (:data:`CORE_KIND`: crack, fissure, fracture; seam, joint, tape, mud) are the
        only ones ``text`` names, where the gate knows it; None where it names both or neither. Such a prompt is that
        concept's, wherever its other words put its embedding ("segment the fissures of the plasterboard" lay nearer
        the taping anchors: the board). :meth:`match` asks it of the prompt without its place phrase
        (:meth:`subject`: "hairline splits along the seams" names no head word of its own)."""
        kinds = _head_kinds(text)
        return kinds.pop() if len(kinds) == 1 and next(iter(kinds)) in self.canonical else None

    def _another_thing(self, prompt: str, understood: str) -> bool:
        """Whether ``prompt`` asks for another tape or another thing (:meth:`other_tape`, :meth:`other_thing`), on the
        text the gate judges (``understood``) and on the text as typed, slips mended and its left-out tail left out
        (where its place says what the joint is of, or "painter's" which tape)."""
        if self.other_tape(understood):
            return True
        typed = self.affirmed(self.correct(prompt))
        return self.other_tape(typed) or self.other_thing(typed)

    def negated(self, prompt: str) -> bool:
        """Whether ``prompt`` asks for the opposite of a thing: a negation before the first word that names something
        ("no cracks", "do not segment the tape", "everything except cracks", "the wall without cracks", "areas with no
        cracks", "wall minus the taping", "regions free of cracks", "non-crack areas"), a thing's negative form
        ("uncracked plaster", "untaped joints") or "-free" ("crack-free wall"). "crack, not tape" asks for cracks (a
        name comes first; :meth:`affirmed`). A known anchor (a model's own prompt) never is."""
        if normal_form(prompt) in self._anchors:
            return False
        text = plain_reading(unicodedata.normalize("NFKC", prompt))  # "no cracks, just the joins" names joints
        if self._the_rest_after_a_negation(text):
            return True  # "I know where the cracks are, so don't mark them. Show me the rest."
        rest = self._clause_after_leaving_out(text)
        if rest is not None:  # "ignore the tape, find cracks" asks what "find cracks" asks
            return self.negated(rest)
        if any(m.group(1, 2) == (None, None) or self._names_a_thing(m.group(1) or m.group(2))
               for m in _FREE_OF.finditer(text.lower())):
            return True
        if _WHERE_NOT.search(text) or self._between_things(text):
            return True  # "where are the cracks not?", "areas between the seams"
        if any(self._names_a_thing(m.group(1).lower()) and not self._named_before(text, m.start())
               for m in _THING_NOT.finditer(text)):
            return True  # "cracks absent", "WALL, TAPE SEAM NO, OTHER ALL YES"; not "TAPE SEAM SHOW, CRACK NOT"
        left = _LEFT_OUT_AFTER.search(text)
        if left and self._names_a_thing(left.group(1).lower()) and not self._named_before(text, left.start()):
            return True  # "the wall with the cracks removed", "wall mask with taping seams subtracted"; not "cracks,
            # with the tape removed"
        spans = _negation_spans(text)
        words = [w for _, _, w in spans]
        if self._sound_surface(words) and not self._names(text[:next(
                (start for start, _, w in spans if w in _NEGATIONS and w != "but"), len(text))]):
            return True  # "intact drywall", "sound plaster, no cracking"; not "sound plaster but find any cracks"
        about_a_mask = bool(_MASK_WORDS.search(text))
        names_its_object = self._names_its_object(text, spans)
        in_a_place = False  # after a preposition: "all the plasterboard in the container except ..." names no thing
        for i, word in enumerate(words):
            if word in _NEGATIONS and not _is_negation(words, i, about_a_mask, names_its_object):
                continue  # "do not miss any cracks" asks for them
            if word in _NEGATIONS or (word.startswith("un") and word[2:] not in ASKING and self._names_a_thing(word[2:])) \
                    or (word.endswith("less") and self._names_a_thing(word[:-4])):
                return True  # "unseamed drywall", "unjointed sections", "seamless drywall", "crackless plaster"
            in_a_place = in_a_place or word in _PLACE_STARTS
            if word not in _BEFORE_THE_THING and not (in_a_place and not self._names_a_thing(word)):
                return False  # a name came first
        return False

    def _the_rest_after_a_negation(self, text: str) -> bool:
        """Whether ``text`` asks for the rest of the wall (:data:`_THE_REST`) in a sentence with no negation, after a
        sentence with one: "I already know where the cracks are, so don't mark them. Show me the rest.", "I do NOT
        want the joints. Give me the remaining wall area." (not "Show cracks, don't show the rest", "the rest of the
        cracks"); or in one sentence before leaving a thing out, naming none before that: "whats left of the wall once u
        take out the cracks", "the rest, after removing the tape" (not "the rest of the cracks, not the tape")."""
        def leaves_a_thing_out(sentence: str) -> bool:  # a negation, with a thing or "them" ("No rush." is none)
            spans = _negation_spans(sentence)
            words = [w for _, _, w in spans]
            about_a_mask = bool(_MASK_WORDS.search(sentence))
            return any(_is_negation(words, i, about_a_mask) for i in range(len(words))) and (
                self._names(sentence) or any(w in _PRONOUNS for w in words))

        left_out = False  # since a sentence that left a thing out, with no thing named after it
        for sentence in re.split(r"(?<=[.;!?])\s+", text):
            rest = _THE_REST.search(sentence)
            after = sentence[rest.end():] if rest else ""
            if rest and leaves_a_thing_out(after) and self._clause_after_leaving_out(after) is None and \
                    not self._names(sentence[:next((start for start, _, w in _negation_spans(sentence)
                                                    if start >= rest.end() and w in _NEGATIONS), len(sentence))]):
                return True  # "whats left of the wall once u take out the cracks" (not "..., ignore the tape and
                # mark cracks")
            if rest and left_out and not self._names(sentence) and \
                    not leaves_a_thing_out(sentence):
                return True
            if leaves_a_thing_out(sentence):
                left_out = True
            elif self._names(sentence):  # "Find the cracks; the rest looks fine" asks for the cracks
                left_out = False
        return False

    def _clause_after_leaving_out(self, text: str) -> str | None:
        """What follows a first clause that leaves a thing out, where it names a thing the model knows: "ignore the tape,
        find cracks" -> "find cracks", "no tape; just the cracks" -> "just the cracks", "For the QA log, skip the
        cracks and mark only the taped joints" -> "mark only the taped joints", "not the tape, the cracks" -> "the
        cracks" (not "no cracks, just the wall", "no cracks, tape or joints"); None
        where the prompt names a thing before leaving something out, or says no more after it. A first sentence saying
        what is not wanted, or not so, is such a clause too where a request follows ("The cracks aren't my concern
        right now. Where are the board joints?" -> "Where are the board joints?")."""
        said = _THING_NOT.search(text)  # a first clause of a checklist: "Tape: no. Cracks: yes" -> "Cracks: yes"
        if said is not None and self._names_a_thing(said.group(1).lower()) and not self._named_before(text, said.start()):
            rest = re.sub(r"^\W+", "", text[said.end():])
            return rest if self._names(rest) else None
        first = _NOT_SO.search(text)
        if first is not None:
            rest = text[first.end():].strip()
            if self._names(rest) and (_A_REQUEST.search(rest) or re.search(r"\bonly\b", rest, re.IGNORECASE)):
                return rest
        spans = _negation_spans(text)
        words = [w for _, _, w in spans]
        about_a_mask = bool(_MASK_WORDS.search(text))
        names_its_object = self._names_its_object(text, spans)
        only_zero = lambda j, n: words[j] != "zero" or names_its_object(j, n)  # noqa: E731  (any object but zero's)
        for i, word in enumerate(words):  # a verb of leaving out with any object: "leaving out the pipes, show the cracks"
            if _is_negation(words, i, about_a_mask, only_zero):
                tail = text[spans[i][1]:]
                comma = tail.find(",")  # leaving out no thing the model knows, any comma ends it ("except for the
                first = tail[:comma] if comma >= 0 else ""  # corner bead, the tape joints"); else a list may follow
                contrast = i == 0 and word == "not" and re.fullmatch(  # "not the tape, the cracks": one thing after
                    r"[^,]*,(?![^,]*(?:,|\b(?:and|or|nor)\b))[^,]*", tail)  # (not "not cracks, tape or joints")
                end = re.search(r",\s*", tail) if first and not self._names(first) or contrast \
                    else _CLAUSE_END.search(tail)
                rest = text[spans[i][1] + end.end():].strip() if end else ""
                rest = re.sub(r"^but\b\s*", "", rest, flags=re.IGNORECASE)  # "no cracks, but the tape" asks for the tape
                return rest if self._names(rest) else None
            if self._names_a_thing(word):
                return None  # a thing named first: what follows leaves out of it ("cracks, not the tape")
        return None  # (words naming nothing may come first: "For the QA log, skip the cracks and mark the joints")

    def _names(self, text: str) -> bool:
        """Whether ``text`` names a thing the model knows (:meth:`_names_a_thing`)."""
        return any(self._names_a_thing(w) for w in TOKEN.findall(text.lower()))

    def _named_before(self, text: str, end: int) -> bool:
        """Whether ``text`` names a thing the model knows before the name that ends at ``end`` (its words that name a
        thing just before ``end``, in one run of words, are that name: "with taping seams" names nothing before
        "seams"; "cracks, tape" names the cracks)."""
        head = text[:end]
        while (last := re.search(r"([^\W\d_]+)\s*$", head)) and self._names_a_thing(last.group(1).lower()):
            head = head[:last.start()]
        return self._names(head)

    def _names_its_object(self, text: str, spans: list):
        """``(i, n) -> bool``: whether the first ``n`` words after ``spans[i]`` (of :func:`_negation_spans`), up to
        a punctuation mark, a preposition, a conjunction or a negation, name a thing the model knows: the object of a
        verb of leaving out ("hide the seams", "skip the taped areas"; not "remove false positives from the crack
        mask", "remove and replace the cracked tape")."""
        def names(i: int, n: int) -> bool:
            if text[spans[i][1]:spans[i][1] + 1] in ("-", "\u2010", "\u2011"):
                return False  # a word of a compound: "skip-trowel", "zero-width"
            rest = re.split(r"[,;:.!?()]", text[spans[i][1]:], maxsplit=1)[0]
            words = []
            for w in TOKEN.findall(rest.lower()):
                if w in DETERMINERS and not words:  # "hide that seam": "that" is the object's, not a new clause
                    continue
                if w in _OBJECT_ENDS or w in _NEGATIONS:
                    break
                if w not in DETERMINERS:
                    words.append(w)
            return any(self._names_a_thing(w) for w in words[:n])
        return names

    def _sound_surface(self, words: list[str]) -> bool:
        """Whether ``words`` (of :func:`_negation_words`) name a surface without defects before naming a thing:
        "intact drywall", "smooth undamaged plaster", "the sound parts of the plaster, no cracks", "the good bits of
        plaster, not the cracked ones", "where the plaster is good" (:data:`_SOUND`);
        not "intact joint tape", "clean wall seams", "cracks in sound plaster"."""
        for i, word in enumerate(words):
            if self._names_a_thing(word):
                return False
            if word not in _SOUND:
                continue
            k = i - 1  # said of the surface: "where the plaster is good", "parts of the plaster are still sound"
            while k > 0 and words[k] in _STILL:
                k -= 1
            if k < i - 1 and (words[k] in SURFACES or words[k] in _AREAS or words[k] in _PIECES) and \
                    any(w in ("is", "are") for w in words[k + 1:i]):
                return True
            j = i + 1
            while j < len(words) and (words[j] in _SOUND or words[j] in ("the", "a", "an")):
                j += 1
            if j == len(words) or not (words[j] in SURFACES or words[j] in _AREAS or words[j] in _PIECES):
                continue
            while j < len(words) and (words[j] in SURFACES or words[j] in _AREAS or words[j] in _PIECES):
                j += 1
            return j == len(words) or not self._names_a_thing(words[j])  # "intact wall cracks": which cracks
        return False

    def _between_things(self, text: str) -> bool:
        """Whether ``text`` asks for an area or a surface between or away from things the model knows, naming none
        before it: "areas between the seams", "board faces away from the joints", "between the seams" (not "seams
        between the boards", "look between the boards for joint tape", "check between each joint for cracks",
        "cracks away from the seams")."""
        m = _BETWEEN.search(text)
        if m is None or not self._names_a_thing(m.group(1).lower()) or self._names(text[:m.start()]):
            return False
        before = [w for w in TOKEN.findall(text[:m.start()].lower()) if w not in DETERMINERS]
        return not before or before[-1] in _AREAS or before[-1] in SURFACES or before[-1] in _REST  # "the bits"

    def affirmed(self, text: str) -> str:
        """``text`` without what it asks to leave out after naming its thing: "cracks with no tape" -> "cracks", "crack,
        not tape" -> "crack", "taping areas except the corners" -> "taping areas", "cracks that are not taped" ->
        "cracks". What is left out only pulled the prompt towards it ("cracks with no tape" was judged nearer the tape
        and answered with its mask). ``text`` itself where no name comes before a negation (a negated prompt:
        :meth:`negated`), or where it is a known anchor."""
        if normal_form(text) in self._anchors:
            return text
        rest = self._clause_after_leaving_out(text)
        if rest is not None:  # "ignore the tape, find cracks" -> "find cracks"
            return self.affirmed(rest)
        spans = _negation_spans(text)
        starts, words = [s for s, _, _ in spans], [w for _, _, w in spans]
        about_a_mask = bool(_MASK_WORDS.search(text))
        names_its_object = self._names_its_object(text, spans)
        named, cut = False, None
        for i, word in enumerate(words):  # after a name, a verb of leaving out leaves its object out, whatever it is
            if named and word == "but" and not (words[i + 1:i + 2] and words[i + 1] in _NEGATIONS):
                continue  # "it's fine, but the wall has cracked": a conjunction ("cracks, but not the tape" leaves out)
            if _is_negation(words, i, about_a_mask, None if named else names_its_object):  # ("seams, skip the outlets")
                cut = starts[i] if named else None
                closing = next((m for m in _THING_NOT.finditer(text) if m.end() == spans[i][1] and
                                self._names_a_thing(m.group(1).lower())), None) if cut is not None else None
                clause = max(text.rfind(c, 0, closing.start()) for c in ",;.!?") if closing else -1  # where the
                if clause > 0 and self._names(text[:clause]):  # clause of a closing "not" begins
                    cut = clause  # "TAPE SEAM SHOW, CRACK NOT" -> "TAPE SEAM SHOW", "The cracks, yes; the tape of
                    # the seams, no" -> "The cracks, yes": the thing before it is left out
                break
            named = named or word not in _BEFORE_THE_THING
        if cut is None:
            return text
        head = text[:cut]
        while True:  # the words tying the thing to what it leaves out: "cracks that are", "seams, and"
            head = re.sub(r"[\s,;:\-–—]+$", "", head)
            last = re.search(r"[A-Za-z]+(?:['’][A-Za-z]+)?$", head)
            if last is None or last.group(0).lower() not in _TIES:
                return head if re.search(r"[^\W_]", head) else text  # never nothing: an empty prompt is no prompt
            head = head[: last.start()]

    def other_tape(self, text: str) -> bool:
        """Whether ``text`` asks for a tape that is no drywall joint tape: "painter's tape", "blue masking tape",
        "double-sided tape", "a tape measure", "sellotape" (:data:`~drywallqa.text.vocabulary.OTHER_TAPES`), named
        before anything the model knows ("the cracks and not the painter's tape" asks for cracks). Every "X tape" is
        near the taping anchors, and was answered with the joints' mask. Judged on what the gate judges
        (:meth:`understood`): "cracks, not the masking tape" asks for cracks."""
        words = [_owner(w) for _, w in _negation_words(text)]
        for i, word in enumerate(words):
            if word in OTHER_TAPE_WORDS or (word == "tape" and words[i + 1:i + 2] and words[i + 1] in TAPE_THINGS):
                return True
            # the kind just before "tape", or before a word of its own ("painter's blue tape"), not before a word that
            # names nothing ("masking the tape", "measuring the tape": a verb, of the joint tape)
            if word in ("tape", "tapes") and i and (words[i - 1] in OTHER_TAPES or (
                    i >= 2 and words[i - 2] in OTHER_TAPES and words[i - 1] not in _NOT_A_NAME and
                    words[i - 1] not in DRYWALL_JOINT_WORDS and words[i - 1] not in ("joint", "like"))):
                return True
            if self._names_a_thing(word) and not (word in ("strip", "strips") and words[i + 1:i + 2] == ["of"]):
                return False  # a thing the model knows comes first: asked for that (not "strips of masking tape")
        return False

    def other_thing(self, text: str) -> bool:
        """Whether ``text`` asks for a joint or a seam of another material or thing (:meth:`other_joint`), a container
        or a tool named by a known concept's word ("a tube of crack filler", "the mud bucket", "a taping knife":
        :data:`~drywallqa.text.vocabulary.PRODUCTS`), or a word that only looks like one ("crackers":
        :data:`~drywallqa.text.vocabulary.NOT_THE_THING`) with nothing the model knows ("cracks and crackers" asks for
        cracks); a joint or a tool before anything the model knows. Judged on the text with its place (a place says
        what the joint is of) and without what it leaves out after its thing."""
        if _IDIOMS.search(text) and not self._names(_IDIOMS.sub(" ", text)):
            return True  # "the crack of dawn", "a joint venture", "out of joint"; not "cracking job, now the cracks"
        text = _IDIOMS.sub(lambda m: " " * len(m.group(0)), text)  # "crack a joke, then the seams on the boots"
        spans = _negation_words(text)
        marks = [(m.start(), ",") for m in re.finditer(r"[,;.!?\u2013\u2014]", text)]  # where a place ends at the latest
        if self.other_joint([w for _, w in sorted(spans + marks)]):
            return True
        words = [w for _, w in spans]
        for i, word in enumerate(words):
            if word in NOT_THE_THING:
                return not any(self._names_a_thing(w) for w in words if w not in NOT_THE_THING)
            if self._names_a_thing(word):  # "the mud bucket", "a tube of crack filler"; "cracks" asks for them
                ends = i + 2 >= len(words) or words[i + 2] in PLACE_WORDS or words[i + 2] in _NOT_A_NAME or (
                    words[i + 2] in _LYING)  # "the taping knife resting on the ladder" (not "crack spray marking")
                return (words[i + 1:i + 2] != [] and words[i + 1] in PRODUCTS and ends) or (  # not "taping knife marks"
                    i >= 2 and words[i - 1] == "of" and words[i - 2] in PRODUCTS)
        return False

    def other_joint(self, words: list[str]) -> bool:
        """Whether ``words`` (of :func:`_negation_words`, with "," for each punctuation mark) name first a joint or a
        seam of a material or a thing that is no drywall (:data:`~drywallqa.text.vocabulary.OTHER_JOINTS`), by the
        word just before it, or before the surface just before it ("tile grout joints", "compression joints", "copper
        pipe joints", "tile wall joints"; not "knee wall joints", "shoulder-height joints", "taped joints", "ground
        floor ceiling seams") or by the head of the place it is in, on, of or between, up to a punctuation mark or a
        clause ("seams in the vinyl flooring", "the joints between the tiles", "expansion joint in the concrete slab",
        "the seam on the boat sail, thanks"; not "joints in the pipe chase", "seams on the window return", "joints on
        the second floor"). A joint word before a product of the finisher's names that product ("fabric
        joint tape"), and one before a crack word the crack ("control joint cracks")."""
        for j, word in enumerate(words):
            after = words[j + 1:]
            names_another = after and (after[0] in _JOINT_PRODUCTS or CORE_KIND.get(after[0]) == "cracks")
            if word in _JOINT_WORDS and not names_another:
                before = _owner(words[j - 1]) if j else None  # "the chain's joint"
                if before in DRYWALL_JOINT_WORDS:
                    return False
                if before in ("floor", "floors") and j >= 2 and words[j - 2] in _STOREY:
                    return False  # "the ground floor's seams", "the first floor joints": a storey's
                if before in OTHER_JOINTS or before in _BODY_BEFORE_A_JOINT:  # "knee joints", "robot arm joints";
                    # not through a surface: "knee wall joints"
                    return True
                k = j - 1
                while k >= 0 and words[k] in SURFACES:  # "tile wall joints": the joints of a tiled wall
                    k -= 1
                if 0 <= k < j - 1 and words[k] in OTHER_JOINTS and words[k] not in ("frame", "frames") and not (
                        words[k] in OBJECTS and any(w in _WALLS for w in words[k + 1:j])) and not (  # "the reception
                        # desk wall seams" (not "car panel seams")
                        words[k] in ("floor", "floors") and k and words[k - 1] in _STOREY):  # "ground floor ceiling seams"
                    return True  # (a frame before a surface says how it is built: "timber frame wall seams")
                if after and after[0] == "dem":  # Jamaican plural: "di joint dem pon dis bike frame"
                    after = after[1:]
                if after and after[0] in ("line", "lines") and after[1:2] and after[1] in _JOINT_OF:
                    after = after[1:]  # "the seam line between car door panel and fender"
                if not after or after[0] not in _JOINT_OF:
                    return False
                # the place phrase's words up to the next preposition or conjunction ("the vinyl flooring"; across
                # "and" between two things: "between the tile and the drywall"), ``end`` the index in ``after`` of the
                # word that ended it; the thing a side is of is the place ("the seam on the back of my jacket")
                place, end = [], None
                for n, w in enumerate(after[1:], 1):
                    if w in _FILLERS and all(v in DETERMINERS for v in place):
                        continue
                    if w == "of" and place and all(v in DETERMINERS or v in _SIDES for v in place):
                        place = []
                        continue
                    if w in _JOINT_OF or w in _NEGATIONS or w == "," or w in _PARTICLES or w in ("with", "for") or (
                            w in PLACE_WORDS and not (w == "and" and after[0] == "between")):
                        end = n
                        break
                    if (w in DETERMINERS and place and place[-1] not in DETERMINERS and place[-1] != "and") or (
                            (w in _A_CLAUSE or w in _CONJUNCTIONS) and place):
                        break  # a clause about it: "the seam on the shirt the guest left", "the seam on my work
                        # trousers, it is ripped" (not "the tile and the floor")
                    place.append(w)
                    end = n + 1
                nouns = [w for w in place if w not in DETERMINERS]
                owned = any(w in OBJECTS and nouns[n + 1:n + 2] == [] or w in OBJECTS and nouns[n + 1] not in
                            OBJECT_PLACES for n, w in enumerate(nouns))  # (not "the car park", "the truck bay")
                if owned and not any((w in SURFACES and w not in _PARTS) or w in _DRY_LINED for w in nouns):
                    return True  # "the seam line between car door panel and fender" (a car's panel; not "joints in
                    # the car park ceiling", "seams between the sheetrock and the kitchen cabinets")
                if not nouns or any(w in SURFACES or w in _DRY_LINED for w in nouns):
                    return False  # "seams between the tile and the drywall", "joints on the dry-lined blockwork"
                if nouns[-1] in ("floor", "floors") and (place[0] in _STOREY or (len(place) > 1 and place[-2] in _STOREY)):
                    return False  # "joints on the second floor", "on every floor", "on floor 2": a storey
                if nouns[-1] in BODY_PLACES:  # "the joint in my knee", "the joint in me back, it hurts" (not "at the
                    following = after[end:end + 2] if end is not None else []  # back", "in my back and front rooms")
                    return len(place) > 1 and (place[-2] in _POSSESSIVES or nouns[-1] in ("knee", "knees")) and (
                        not following or following[0] not in ("and", "or", ",") or (
                            following[0] == "," and following[1:] != [] and (
                                following[1] in ASKING_VERBS or following[1] in _A_CLAUSE or following[1] in _PARTICLES
                                or following[1].replace("\u2019", "'") in ("it's", "its"))))
                return nouns[-1] in OTHER_JOINTS
            if self._names_a_thing(word):
                return False  # a thing the model knows comes first
        return False

    def kind_alone(self, text: str) -> bool:
        """Whether ``text`` names a kind of crack or joint (:data:`~drywallqa.text.vocabulary.KIND_WORDS`, in any form:
        "stress", "feathers", "paneling") and nothing the model knows: "stress levels", "the settlement agreement",
        "acoustic panels", "a feathered hat". The anchors holding the trades' names ("stress crack", "feathered joint")
        lifted such prompts to their concept. "stress cracks", "feathered seams" name their thing. Judged on what the
        gate judges (:meth:`understood`)."""
        words = [w.lower() for w in TOKEN.findall(text)]
        kinds = [w for w in words if _forms(w) & _KIND_FORMS]
        return bool(kinds) and not any(self._names_a_thing(w) for w in words if w not in kinds)

    def _names_a_thing(self, word: str) -> bool:
        """Whether ``word`` (lower case) is, or is a form of, a word of the known concepts' names (their lexicon or
        known prompts) that is not a surface, a generic or an asking word: "crack" in "crack free wall", not "the" in
        "the free end of the tape" nor "dust" in "dust free wall cracks"."""
        return any(word[: len(word) - len(s)] in self._thing_words for s in ("", *_SUFFIXES) if word.endswith(s))

    def two_things(self, match: PromptMatch) -> tuple[str, ...]:
        """The known concepts an answered prompt asks for as things of a list ("segment crack and taping", "cracks,
        seams", "crack/tape": each part's concept is that of its last head word, so "seam cracks" are cracks), where
        they are two or more; else none. What it leaves out ("cracks, not tape": :meth:`affirmed`) or names as a place
        ("cracks along the seams": :meth:`subject`) is not asked for, nor a part with a word of leaving out
        (:data:`_NOT_ASKED`). The gate answers such a prompt with one mask."""
        if not match.known:
            return ()
        text = self.subject(self.affirmed(plain_reading(unicodedata.normalize("NFKC", self.correct(match.prompt)))))
        kinds = []
        for part in _LIST_PARTS.split(text):
            words = TOKEN.findall(part.lower())
            if _NOT_ASKED & set(words):
                continue  # a part that may leave its thing out: "the cracks, leave the mudded lines out"
            heads = [CORE_KIND[w] for w in words if w in CORE_KIND]
            if heads and heads[-1] in self.canonical and heads[-1] not in kinds:
                kinds.append(heads[-1])
        return tuple(kinds) if len(kinds) > 1 else ()

    def two_things_warning(self, match: PromptMatch) -> str | None:
        """The message for an answered prompt that names two known things (:meth:`two_things`): one prompt gives one
        mask, which one it gave, and the prompts to ask for each; None for any other prompt."""
        kinds = self.two_things(match)
        if not kinds:
            return None
        each = ", ".join(f"'{self.canonical[k]}'" for k in kinds)
        return (f"'{match.prompt}' names {_COUNT.get(len(kinds), len(kinds))} things ({', '.join(kinds)}); one prompt "
                f"gives one mask: this one is {match.concept}. Ask for each in its own prompt ({each}).")

    def warning(self, match: PromptMatch, off_switch: str | None = None) -> str:
        """The message a user sees for a prompt the gate does not answer. It begins with the prompt in quotes and
        says its mask is "left empty" (the web page finds it so); it ends with ``off_switch``, how the check is turned
        off where the user reads it (default :data:`OFF_SWITCH`: the command line's flag and the Python argument)."""
        knows = "; ".join(f"{c}: '{p}'" for c, p in self.canonical.items())
        off = off_switch or OFF_SWITCH
        if self.negated(match.prompt) or self.negated(self.correct(match.prompt)):  # "evrything exept cracks" too
            return (f"'{match.prompt}' asks for what is not there (a negation); its mask is left empty. This model finds "
                    f"things, not their absence: ask for the thing itself ({knows}) and look at what its mask leaves "
                    f"out. {off}")
        return (f"'{match.prompt}' is not something this model was trained to find (nearest: {match.concept}, similarity "
                f"{match.similarity:.2f}); its mask is left empty. It knows {knows} and English paraphrases of them "
                f"(other languages are understood only for a few trade words). {off}")


def _model_text_dim(directory: str | Path) -> int | None:
    """The width of the text embeddings the model in ``directory`` takes (its config's ``text_dim``), or None where
    its config.json does not say."""
    from ..models.base import read_model_metadata

    try:
        dim = read_model_metadata(directory)["config"]["text_dim"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return dim if isinstance(dim, int) and not isinstance(dim, bool) else None
