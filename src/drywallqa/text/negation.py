"""Negations, as the prompt gate reads them (:meth:`~drywallqa.text.gate.PromptGate.negated`,
:meth:`~drywallqa.text.gate.PromptGate.affirmed`): the words, phrases and signs that ask for what is not there or leave
a thing out ("no", "except", "other than", "leave out", "-crack"), the patterns of a thing said to be missing or left
out ("cracks absent", "the wall with the cracks removed", "crack-free"), a text read as words with each such phrase as
one word (:func:`_negation_spans`), and whether a word of them leaves something out where it stands
(:func:`_is_negation`: not in "don't miss the cracks")."""

from __future__ import annotations

import re

from .words import ASKING_VERBS, NO_MARKS, ONLY

# words that ask for what is not there: before the thing named ("no cracks", "everything except the tape", "do not
# segment cracks") the prompt asks for the mask's opposite, which no model here makes
# the plain negations: a word of missing or leaving out after one undoes it ("don't skip the cracks", "without missing
# any", "don't leave out the small cracks")
# "nuh": Jamaican "not" ("mark di wall, nuh mark di crack"); "nae", "isnae", "dinnae": Scots ("that isnae a crack")
_NOT = frozenset("no not never without nuh nae".split()) | frozenset(
    w + e for w in "don doesn didn isn aren wasn weren hasn haven hadn".split() for e in ("t", "'t")) | frozenset(
    "isnae arenae wasnae wisnae dinnae didnae disnae hasnae havnae".split())  # (as "can't" is none: "Ah cannae see")
# verbs that leave their object out where it is a thing the model knows ("hide the seams", "remove cracks from
# selection", "Please highlight cracks and skip the taped areas"), not another ("remove background, segment cracks",
# "skip trowel texture", "Skip the corners, show me the flat joints"); "leaveout" stands for the phrases of
# _LEAVE_OUT_PHRASE ("leave out", "leaving out", "mask out", "blank out", "hold out", "leave off", ...)
_LEAVE_OUT = frozenset("""skip skipping omit omitting hide hiding remove removing disregard disregarding erase erasing
    subtract subtracting leaveout""".split())
_NEGATIONS = _NOT | _LEAVE_OUT | frozenset("""except cept excluding exclude ignore ignoring non nothing none but besides
    minus lacking sans avoid avoiding inverse invert inverted complement opposite negative zero absence absent
    neither menos sauf""".split())  # (Spanish "menos la cinta", French "sauf les fissures"; "sin" before a thing and
# "pas" beginning a clause are read as "without" and "not": plain_reading)
_NEGATION_PHRASE = re.compile(r"\b(?:other\s+than|apart\s+from|aside\s+from|instead\s+of|free\s+of|free\s+from|clear\s+of|"
                              r"devoid\s+of|exclusive\s+of|not\s+including|save\s+for|rather\s+than|else\s+than|"
                              r"nowhere\s+near|excl\.?|"
                              r"(?:with\s+(?:the\s+)?)?exception\s+of|barring|excepting|w/o|w/out|"
                              r"with\s+out(?!\s+of\b))(?![\w/])",
                              re.IGNORECASE)
# a prompt engineer's negations: "seg wall -crack", "~taping", "!crack", "class!=crack" (a sign just before a word of
# the things the model knows, after a space or a bracket: not "re-taped", "T-joint", "cracks - not tape", ":-D",
# "Step 1 -find cracks", "show ~every crack", "!urgent cracks"), or before the bracket around one ("!(crack)"); the
# dashes an editor makes of a hyphen ("\u2013crack", "wall \u2014cracks") likewise; the minus sign and the logical
# not also with a space ("\u2212 tape", "\u00ac crack": neither is a list's bullet, "- crack" and "\u2013 crack" are)
# "bar", "less" and "accept" (for "except") meaning except, after a whole ("everything bar the tape", "the whole wall,
# bar the cracks", "all the wall less the cracks", "show me the wall accept the cracks"; not "cracks in the bar", "the
# bar area", "the wall less cracked", "a wall less than 2 m")
_BAR = re.compile(r"\b(?:everything|all|anything|it|wall|walls|surface|surfaces|board|boards|plaster|drywall|"
                  r"plasterboard|area|areas|image|photo|picture)\s*,?\s+(bar(?=\s+[^\W\d_])|(?:less|accept)(?=\s+(?:the|"
                  r"any|all|those|these|its)\s))", re.IGNORECASE)
_SYMBOL_NOT = re.compile(r"(?:!=\s*|(?:(?<=[\s(\[,;])|^)(?:[-~!\u2212\u2013\u2014\u00ac]|[\u2212\u00ac]\s+))"
                         r"(?=[(\[]?(?:crack|fissur|fractur|seam|seem|joint|join|tap|mud|stopp)\w*)", re.IGNORECASE)
_LEAVE_OUT_PHRASE = re.compile(r"\b(?:(?:leave|leaving|mask|masking|blank|blanking|take|hold|holding)\s+(?:out|oot)|leave\s+off|"
                               r"(?:leave|leaving)(?=\s+(?:(?:the|any|all|those|these|every)\s+)?(?:crack|fissure|"
                               r"fracture|tap|joint|join|seam|mud)\w*\s+(?:out|off)\b)|take(?=\s+(?:(?:the|any|all|those|"
                               r"these|every)\s+)?(?:crack|fissure|fracture|tap|joint|join|seam|mud)\w*\s+(?:away|out)\b))\b",
                               re.IGNORECASE)
# a "where" question ending in "not" asks where a thing is not ("where are the cracks not?"); a thing just before a
# "not", "no" or "absent" that ends a clause is said to be missing ("cracks absent", "WALL, TAPE SEAM NO, OTHER ALL
# YES", "tape: no", "cracks - no", "Cracks: N/A for this item", "the tape of the seams, no" last, "cracks \u274c rest
# \u2705", "tape? no", "cracks: nope", "cracks? nah"); not "taped and not", "if absent", "maybe not", "crack no. 3", "a
# crack no?"
_WHERE_NOT = re.compile(r"^\W*where\b[^,;.]*\bnot\W*$", re.IGNORECASE)
_THING_NOT = re.compile(r"([^\W\d_]+)(?:(?:\s*[:=\-\u2013\u2014?]+\s*|\s+)(?:(?:not|absent)(?=\s*[,;.!?]|\W*$)|"
                        r"(?:no|nope|nah)(?!\s*\.?\s*\d)(?=\s*[,;.!]|\s*$))|\s*[:=\-\u2013\u2014]+\s*n/a\b|"
                        r",\s*(?:no|nope|nah)(?=\s*[.!]?\s*$)|"
                        r"\s*[:=\-]?\s*" + NO_MARKS + ")", re.IGNORECASE)
# a thing said to be left out after it is named first: "the wall with the cracks removed", "cracks excluded" (named
# after another thing, it is left to the encoder: "cracks, with the tape removed" is judged whole)
_LEFT_OUT_AFTER = re.compile(r"([^\W\d_]+)\s+(?:removed|excluded|excepted|omitted|erased|subtracted|"
                             r"(?:masked|left|blanked|taken)\s+out)\b", re.IGNORECASE)
# "crack-free wall" (any word: "dust-free"), "crack free wall" (group 1: a negation only where it names a thing the
# model knows, not "the free end of the tape", "dust free wall cracks": PromptGate._names_a_thing), "crack_free" (a
# program's name), "crackfree" (group 2: only where it names such a thing, not "carefree")
_FREE_OF = re.compile(r"\w[-_\u2010\u2011]free\b|\b([^\W\d_]+) free(?! to\b)(?! of\b)(?! from\b)\b|"
                      r"\b([^\W\d_]{3,}?)free\b")
# a count of 0 beginning a prompt, as "zero" is read ("0 cracks" as "zero cracks"; not "0.3 mm cracks", "0-gap joints",
# "0. cracks", and not after another word: "level 0 taping" is a finish)
_ZERO_FIRST = re.compile(r"^\W*?(?<![\w.,-])(0)(?=\s+[^\W\d_])")
_MISSING = frozenset("miss missing overlook skip forget".split())  # after a negation: "don't miss the cracks" asks for them
# ... and words of not knowing: "I don't know where the cracks are, show me", "not sure where the seams are, find them"
_MISSING |= frozenset("know ken idea sure clue".split())
# between a negation and the word of missing it undoes: "not to miss any cracks", "don't ever skip", "don't you miss"
_BEFORE_MISSING = frozenset("to ever you we".split())
# negations that are nouns of a mask's opposite ("the opposite of cracks", "inverse of the crack mask", "inverse crack
# mask"), and adjectives of a place elsewhere ("opposite wall cracks", "the negative corner tape"): negations only
# before "of" or in a prompt about a mask
_OPPOSITES = frozenset("opposite inverse invert inverted complement negative".split())
_MASK_WORDS = re.compile(r"\b(?:masks?|segmentations?|selections?)\b", re.IGNORECASE)


def _negation_spans(text: str) -> list[tuple[int, int, str]]:
    """The words of ``text`` (lower case, plain apostrophe, "un-taped" as "untaped", "crack-less" as "crackless") with
    where each starts and ends, a negation phrase ("other than", "free of") as one word "except", a phrase of leaving
    out ("leave out", "mask out") as one word "leaveout", a sign of negation ("-crack", "~taping", "class!=crack") as
    "not", a count of 0 beginning the text ("0 cracks") as "zero"."""
    phrases = [(m.start(), m.end(), "except") for m in _NEGATION_PHRASE.finditer(text)]
    phrases += [(m.start(1), m.end(1), "except") for m in _BAR.finditer(text)]
    phrases += [(m.start(), m.end(), "not") for m in _SYMBOL_NOT.finditer(text)]
    phrases += [(m.start(), m.end(), "leaveout") for m in _LEAVE_OUT_PHRASE.finditer(text)]
    phrases += [(m.start(1), m.end(1), "zero") for m in _ZERO_FIRST.finditer(text)]
    words = list(phrases)
    words += [(m.start(), m.end(), re.sub(r"[-\u2010\u2011]", "", m.group(0).lower().replace("\u2019", "'")))  # "untaped"
              for m in re.finditer(r"(?:\b[Uu][Nn][-\u2010\u2011])?[^\W\d_]+(?:['’][^\W\d_]+|[-\u2010\u2011][Ll][Ee][Ss][Ss]\b)?",
                                   text)
              if not any(a <= m.start() < b for a, b, _ in phrases)]
    return sorted(words)


def _negation_words(text: str) -> list[tuple[int, str]]:
    """:func:`_negation_spans` without where each word ends."""
    return [(start, word) for start, _, word in _negation_spans(text)]


def _is_negation(words: list[str], i: int, about_a_mask: bool, names_its_object=None) -> bool:
    """Whether ``words[i]`` (of :func:`_negation_words`) leaves something out there: not where a word of missing or of
    leaving out undoes a plain negation or "avoid" ("don't miss the cracks", "not to miss any cracks", "avoid missing
    cracks", "don't skip the cracks": neither word leaves anything out), where "but" or "not" asks for more or only ("but
    only the cracks", "not just the tape"), where a word of a mask's opposite is a place's adjective ("opposite
    wall cracks"; ``about_a_mask``: the prompt names a mask, "inverse crack mask"), nor where a verb of leaving out has
    an object that is no thing the model knows ("remove background, segment cracks"; ``names_its_object(i, n)``:
    whether the first ``n`` words after ``words[i]`` name one; without it, any object counts)."""
    word = words[i]
    if word not in _NEGATIONS:
        return False
    after = words[i + 1:]
    if (word in ("but", "not") or word in _LEAVE_OUT) and after and after[0] in ONLY:  # "filter out just the cracks"
        return False
    if word == "but" and after and after[0] in ASKING_VERBS:  # "sound plaster but find any cracks": a conjunction
        return False
    if word in _OPPOSITES and not about_a_mask and (not after or after[0] != "of"):
        return False
    if word == "zero" and names_its_object is not None and not names_its_object(i, 1):  # "zero in on", "zero-gap"
        return False
    if word in _LEAVE_OUT and (any(w in _NOT for w in words[max(0, i - 3):i])  # "don't skip the cracks": the "don't"
                               or (names_its_object is not None and not names_its_object(i, 4))):
        return False
    if word in ("skip", "skipping") and after[:1] and after[0].startswith("trowel"):  # "skip trowel": a wall finish
        return False
    for w in after[:3] if word in _NOT or word in ("avoid", "avoiding") else ():  # "but skip the outlet" leaves it out
        if w in _MISSING or w in _LEAVE_OUT:
            return False
        if w not in _BEFORE_MISSING:
            break
    return True
