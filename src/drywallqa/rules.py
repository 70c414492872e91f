"""QA rules over the measures of a mask: ``"segment crack: max_width_mm > 0.3"`` flags a photo whose crack
mask is wider than 0.3 mm somewhere. A batch job (``drywallqa predict --flag RULE``) records the rules each
photo breaks under ``flags`` in ``results.json``, and its HTML report puts flagged photos first.
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .measures import MM_MEASURES, PX_MEASURES, validate_mm_per_px
from .text.prompts import as_read, normal_form, stripped
from .utils.checks import InputError, finite_number

# measures of :func:`drywallqa.measures.mask_measures` a rule may test; *_mm ones need a scale (mm per pixel)
MEASURES = (*PX_MEASURES, *MM_MEASURES)
OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
# the values a measure can take, where not [0, inf): a rule no value within breaks is refused (it flagged nothing)
RANGES = {"area_fraction": (0.0, 1.0)}
# (a number's digits after its first are read by one quantifier, not by two, \d+\.?\d*, that split a run of digits each
# way there is: "a: area_px > " and 8,000 digits and an "x" took ~7 s to refuse)
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_RULE = re.compile(r"^(?P<prompt>.+?):(?=[^:]*$)\s*(?P<measure>\w+)\s*(?P<op>>=|<=|>|<)\s*(?P<value>" + _NUMBER + r")\s*$")

# a rule's measure and number inside a rule's prompt: several rules given as one
_WITHIN = re.compile(rf":\s*(?:{'|'.join(MEASURES)})\s*(?:>=|<=|>|<)\s*[-+]?\.?\d")


@dataclass(frozen=True)
class Rule:
    """One QA rule: the mask of ``prompt`` breaks it where ``measures[measure] OP value`` holds (``op`` one of
    :data:`OPERATORS`, ``measure`` one of :data:`MEASURES`). :meth:`parse` reads the text form."""

    prompt: str
    measure: str
    op: str
    value: float

    def __post_init__(self):
        """A Rule made in Python meets what a parsed one does: it was taken as it was, and an unknown measure or
        operator failed at the end of a finished job (KeyError, no results.json), a NaN number flagged nothing."""
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise InputError(f"a rule's prompt must be the text of a prompt, got {self.prompt!r}"[:200],
                             "a rule's prompt must be the text of a prompt")
        if self.measure not in MEASURES:
            reason = f"a rule's measure is one of {', '.join(MEASURES)}"
            raise InputError(f"unknown measure {self.measure!r}; one of {', '.join(MEASURES)}"[:300], reason)
        if self.op not in OPERATORS:
            reason = f"a rule's operator is one of {' '.join(OPERATORS)}"
            raise InputError(f"unknown operator {self.op!r}; one of {' '.join(OPERATORS)}"[:200], reason)
        if not finite_number(self.value):
            raise InputError(f"a rule's number must be a finite number, got {self.value!r}"[:200],
                             "a rule's number must be finite")
        object.__setattr__(self, "value", float(self.value))
        low, high = RANGES.get(self.measure, (0.0, math.inf))
        if not self.broken_by({self.measure: low if self.op in ("<", "<=") else high}):  # the value likeliest to break it
            # ("area_fraction > 5" for 5%, "max_width_mm < -0.3": every photo passed, silently)
            why = (f"{self.measure} is the share of the photo a mask covers, 0 to 1 (0.05 for 5%)" if high < math.inf
                   else f"{self.measure} is never below 0")
            raise InputError(f"rule {str(self)!r}: no mask can break it, {why}"[:300],
                             f"a rule '{self.measure} {self.op} ...' that no mask can break: {why}")

    @classmethod
    def parse(cls, text: str) -> "Rule":
        """``"PROMPT: MEASURE OP NUMBER"`` with OP one of > >= < <=.

        Raises:
            ValueError: the text does not have that form, or names an unknown measure.
        """
        if not isinstance(text, str):  # Rule.parse(5): text.strip() raised AttributeError
            reason = "a rule is a text such as 'segment crack: max_width_mm > 0.3'"
            raise InputError(f"{reason}, got {type(text).__name__}", reason)
        m = _RULE.match(as_read(text))  # its prompt of several lines as the prompt is read: on one line
        if not m:
            reason = "a rule reads 'PROMPT: MEASURE OP NUMBER', e.g. 'segment crack: max_width_mm > 0.3'"
            reason = f"{slip}; {reason}" if (slip := _slip(as_read(text))) else reason
            raise InputError(f"{text!r}: {reason}", reason)
        if m["measure"] not in MEASURES:
            reason = f"a rule's measure is one of {', '.join(MEASURES)}"
            typed = m["measure"].lower()  # "MAX_WIDTH_MM", "max_width": the names a person most likely meant
            if typed in MEASURES:
                reason = f"{reason} (in lower case: {typed})"
            elif f"{typed}_px" in MEASURES:  # (area_px beside area_mm2)
                mm = next(k for k in MM_MEASURES if k.rpartition("_")[0] == typed)
                reason = f"{reason} ({typed}_px, or {mm} with a scale?)"
            raise InputError(f"{text!r}: unknown measure {m['measure']!r}; {reason}", reason)
        value = float(m["value"])
        if not math.isfinite(value):
            raise InputError(f"{text!r}: the number must be finite", "a rule's number must be finite")
        return cls(stripped(m["prompt"]), m["measure"], m["op"], value)  # as a prompt is read (a mark around it too)

    @property
    def needs_scale(self) -> bool:
        return self.measure.endswith(("_mm", "_mm2"))

    def broken_by(self, measures: dict) -> bool:
        """Whether one mask's measures (a ``results.json`` entry's ``prompts[prompt]``) break the rule. A measure
        within floating-point error of the rule's number is that number: 11188 px at 0.1 mm/px is 111.88 mm², not
        more (it computes as 111.88000000000002)."""
        value = measures[self.measure]
        if math.isclose(value, self.value, rel_tol=1e-12, abs_tol=1e-12):  # counts of 10^9 px still differ by one
            value = self.value
        return OPERATORS[self.op](value, self.value)

    def __str__(self) -> str:
        # the shortest text that reads back as the threshold (:g kept 6 digits: "> 1000001" read "> 1e+06"; .15g
        # dropped the last of 4.9480519480519485): "> 5", not "> 5.0"
        shown = repr(float(self.value))
        return f"{self.prompt}: {self.measure} {self.op} {shown[:-2] if shown.endswith('.0') else shown}"


def _slip(text: str) -> str:
    """What is wrong with ``text``, which does not read as a rule, where it is a usual slip of typing one: an operator
    as written by hand (≥, =>, =, ==), a decimal comma, a unit after the number; else ""."""
    prompt, colon, tail = text.rpartition(":")
    typed = re.match(r"\s*\w+\s*(?P<op>[^\w\s.,+-]*)", tail) if colon and prompt.strip() else None
    if typed is None:
        return ""
    op, value = typed["op"], tail[typed.end():].strip()
    if op and op not in OPERATORS:
        return "the operator is one of > >= < <=, typed with two characters for 'or equal' (>= for ≥; not => or =)"
    if op and re.fullmatch(r"[-+]?\d*,\d+", value):
        return "write the number with a decimal point (0.3, not 0,3; 1000, not 1,000)"
    if op and re.fullmatch(rf"{_NUMBER}\s*[^\d\s.,].*", value):
        return ("write the number without a unit: the measure's name holds it (max_width_mm is in mm; area_fraction "
                "is a share of 0 to 1, 0.05 for 5%)")
    return ""


def check_rules(rules, prompts, mm_per_px: float | None) -> None:
    """Refuse rules a job cannot evaluate: a prompt it does not ask, a millimetre measure without a scale.

    Raises:
        ValueError: naming the rule and what is missing.
    """
    for rule in rules:
        if rule.prompt not in prompts:
            reason = "a rule's prompt must be one of the prompts asked"
            # the prompt asked it was most likely meant for: one written otherwise ("Segment crack", a space more),
            # or one that holds it ("crack" of "segment crack")
            alike = [p for p in prompts if normal_form(p) == normal_form(rule.prompt)]
            within = [p for p in prompts if normal_form(rule.prompt) in normal_form(p)]
            said = f"its prompt is not one of the job's prompts {list(prompts)}"
            if _WITHIN.search(rule.prompt):  # "a: area_px > 1; b: area_px > 2", a list pasted into one --flag
                said = f"{said}: it holds another rule; give each rule its own --flag (HTTP: its own flag field)"
                reason = f"{reason}: one rule per flag field"
            elif alike:
                said = f"its prompt is written otherwise than the job's prompt {alike[0]!r}"
                reason = f"{reason}, letter for letter: capitals and spaces count"
            elif len(within) == 1:
                said = f"{said}; a rule names its prompt in full, as asked: {str(replace(rule, prompt=within[0]))!r}"
                reason = f"{reason}, in full (not a word of it)"
            raise InputError(f"rule {str(rule)!r}: {said}" + (f" ({reason})" if alike else ""), reason)
        if rule.needs_scale and not mm_per_px:
            reason = ("a rule on a millimetre measure needs a scale in mm per pixel (--mm-per-px on the command line, "
                      "mm_per_px in the HTTP API)")
            raise InputError(f"rule {str(rule)!r}: {reason}", reason)


def emptied_below(measures: dict):
    """The minimum confidence that emptied a mask (a ``results.json`` entry's ``prompts[prompt]["emptied_below"]``),
    or None: not emptied, or no number there (a hand-edited ``true``). What the rules, the table and the report all
    read, so that none says "emptied" of a mask another checks."""
    below = measures.get("emptied_below")
    return below if isinstance(below, numbers.Real) and not isinstance(below, bool) else None


def unchecked(measures: dict, setting: str = "--min-confidence") -> str | None:
    """Why a mask's measures (a ``results.json`` entry's ``prompts[prompt]``) say nothing of the photo, or None: its
    mask emptied by the minimum confidence (named ``setting``: the CLI's option, the HTTP API's field), or left empty
    by the prompt gate (a prompt the model does not know). A rule on such a mask is not checked (its zeros passed every
    ``>`` rule: a photo with a wide crack read as fine)."""
    below = emptied_below(measures)
    if below is not None:
        return f"mask emptied, its confidence below {setting} {below:g}"
    concept = measures.get("concept")
    if isinstance(concept, dict) and concept.get("known", True) is False:
        return "not a thing this model knows, its mask left empty"
    return None


def flags(entry: dict, rules, setting: str = "--min-confidence") -> list[str]:
    """The rules one photo's ``results.json`` entry breaks, as text; a rule on a mask that says nothing of the photo
    (:func:`unchecked`, its minimum confidence named ``setting``) as ``"RULE (not checked: WHY)"``, so that the photo
    is flagged for a look, not passed."""
    out = []
    for r in rules:
        if r.prompt not in entry["prompts"]:
            continue
        why = unchecked(entry["prompts"][r.prompt], setting)
        if why is not None:
            out.append(f"{r} (not checked: {why})")
        elif r.broken_by(entry["prompts"][r.prompt]):
            out.append(str(r))
    return out


def parse_rules(rules, prompts, mm_per_px: float | None) -> tuple:
    """Rules given as text (or already as :class:`Rule`) -> a tuple of :class:`Rule` that a job asking
    ``prompts`` at scale ``mm_per_px`` can evaluate (:func:`check_rules`).

    Raises:
        ValueError: a malformed rule, or one the job cannot evaluate.
    """
    if rules is None:
        return ()
    if isinstance(rules, (bytes, bytearray)):
        raise ValueError("a rule is text such as 'segment crack: max_width_mm > 0.3', not bytes")
    if not isinstance(rules, (str, Rule, Iterable)):
        raise ValueError(f"rules are texts such as 'segment crack: max_width_mm > 0.3' (or Rules), got {rules!r}"[:200])
    rules = [rules] if isinstance(rules, (str, Rule)) else list(rules)  # one rule is no sequence of characters;
    for r in rules:                                                      # a generator is read once
        if not isinstance(r, (str, Rule)):
            raise ValueError(f"a rule is a text such as 'segment crack: max_width_mm > 0.3' or a Rule, got {type(r).__name__}")
    parsed = tuple(dict.fromkeys(Rule.parse(r) if isinstance(r, str) else r for r in rules))  # a repeat counts once
    if isinstance(prompts, str):  # one prompt (``in`` a text matched any part of it: "crack" in "segment crack")
        prompts = [prompts]
    check_rules(parsed, prompts, validate_mm_per_px(mm_per_px))
    return parsed


def _side(value: float, limit: float) -> int:
    """-1, 0 or 1: ``value`` below, at or above ``limit`` as :meth:`Rule.broken_by` compares them."""
    if math.isclose(value, limit, rel_tol=1e-12, abs_tol=1e-12):
        return 0
    return 1 if value > limit else -1


def limits_of(rules, prompt: str, measure: str) -> list[float]:
    """The numbers the rules (as text, e.g. ``results.json``'s ``rules``, or :class:`Rule`) hold ``prompt``'s
    ``measure`` to (a rule that no longer reads as one is passed over)."""
    limits = []
    for r in rules if isinstance(rules, (list, tuple)) else ():  # (a hand-edited results.json's may be anything)
        try:
            r = r if isinstance(r, Rule) else Rule.parse(r)
        except (InputError, ValueError):
            continue
        if r.prompt == prompt and r.measure == measure:
            limits.append(r.value)
    return limits


def decimals_against(value: float, decimals: int, limits, scale: float = 1.0) -> int:
    """How many decimals to show ``value * scale`` with: ``decimals``, or more where fewer would read as on another
    side of a rule's limit (``limits``, in the value's unit) than the value is: 0.3004 mm shown "0.30" beside a broken
    rule "max_width_mm > 0.3" read as the limit marked as failing; now "0.3004". A value at its limit reads as it."""
    for k in range(decimals, 16):
        if reads_as_judged(float(f"{value * scale:.{k}f}"), value, limits, scale):  # as the report writes it
            return k
    return 16


def reads_as_judged(shown: float, value: float, limits, scale: float = 1.0) -> bool:
    """Whether ``shown`` (``value * scale`` rounded) lies on the same side of each rule's limit (``limits``, in the
    value's unit) as ``value``: at the limit only where ``value`` is."""
    return all(_side(shown, limit * scale) == _side(value, limit) for limit in limits)
