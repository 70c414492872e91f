"""What a prompt is as text, before any model reads it: :func:`check_prompt` (the rules every prompt that is asked
meets: visible text of at most :data:`MAX_PROMPT_CHARS` characters, no control characters; several lines read as one,
:func:`one_line`) and :func:`normal_form` (the form under which two wordings are one prompt)."""

from __future__ import annotations

import re
import unicodedata

from ..utils.checks import InputError

MAX_PROMPT_CHARS = 300  # a question about a wall; longer text is refused before any model runs
# the bidi overrides, which show the text after them reversed (spoofing file names and reports); the embeddings and
# isolates that right-to-left text pasted from chats and forms comes wrapped in are allowed
BIDI_CONTROLS = frozenset("\u202d\u202e")


def normal_form(prompt: str) -> str:
    """Case, width and spacing folded, invisible format characters (zero-width, direction marks) dropped: the form
    under which two wordings of a prompt are the same prompt."""
    text = "".join(c for c in unicodedata.normalize("NFKC", str(prompt)) if unicodedata.category(c) != "Cf")
    return " ".join(text.casefold().split())


# the ends of a line: a line feed, a carriage return (and both), a vertical tab or a form feed, Unicode's line and
# paragraph separators; with the white space around them (a match starts only where a run of spaces starts: tried at
# each space of a long run that ends in no line end, the pattern took quadratic time, 20,000 spaces ~24 s)
LINE_ENDS = re.compile(r"(?<![ \t])[ \t]*[\n\r\v\f\u2028\u2029][\s\u2028\u2029]*")


def one_line(text: str) -> str:
    """``text`` on one line: each end of a line (:data:`LINE_ENDS`) read as the end of a clause, "; ", or as a space
    where the line ends in a punctuation mark already ("include: cracks\nexclude: joint tape" -> "include: cracks;
    exclude: joint tape", "Hallway.\nMark the cracks" -> "Hallway. Mark the cracks")."""
    return LINE_ENDS.sub(lambda m: " " if m.start() and text[m.start() - 1] in ".,;:!?|-" else "; ", text)


# white space and the invisible marks text carries at its ends: a byte-order mark (a prompt read from a UTF-8 file saved
# with one: answered under "\ufeffsegment crack", a key no program asks for), a zero-width space (the end's match starts
# only where its run starts: tried at each space of a long run inside the text, it took quadratic time, "a" + 20,000
# spaces + "b" ~2.5 s)
_ENDS = re.compile(r"^[\s\ufeff\u200b]+|(?<![\s\ufeff\u200b])[\s\ufeff\u200b]+$")


def stripped(text: str) -> str:
    """``text`` without the white space, byte-order marks and zero-width spaces around it."""
    return _ENDS.sub("", text)


def as_read(prompt: str) -> str:
    """A prompt as a segmenter reads it: stripped of surrounding white space (:func:`stripped`), on one line
    (:func:`one_line`)."""
    return one_line(stripped(prompt))


def check_prompt(prompt) -> str:
    """``prompt`` stripped of surrounding white space, on one line (:func:`one_line`: a note of several lines, a
    program's CSV lines).

    Raises:
        ValueError: not text, empty, holding control characters (NUL, escape, ...) or bytes that are no character, or
        longer than :data:`MAX_PROMPT_CHARS` characters.
    """
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("a prompt must be non-empty text, e.g. 'segment crack'")
    typed = stripped(prompt)
    prompt = as_read(prompt)
    if all(unicodedata.category(c)[0] in "CZM" for c in prompt):  # control, format (zero-width), space characters and
        # marks with no letter to sit on (a lone combining accent)
        reason = "a prompt must hold a visible character, e.g. 'segment crack'"
        raise InputError(f"{reason}; got {prompt[:40]!r}", reason)
    if any((unicodedata.category(c) in ("Cc", "Zl", "Zp") and c != "\t") or c in BIDI_CONTROLS for c in prompt):
        # NUL, ESC and the bidi overrides (a tab is a space; the ends of lines are read as clause ends above)
        reason = "a prompt may not hold control characters (NUL, escape, text-direction overrides, ...)"
        raise InputError(f"{reason}; got {prompt[:40]!r}", reason)
    if any(unicodedata.category(c) == "Cs" for c in prompt):  # bytes no encoding decoded ("\udcff" from the shell)
        reason = "a prompt must be text: it holds bytes that are no character (type it again, or save it as UTF-8)"
        shown = "".join("\ufffd" if unicodedata.category(c) == "Cs" else c for c in prompt[:40])  # as an editor shows it
        raise InputError(f"{reason}; got {shown!r}", reason)
    if len(typed) > MAX_PROMPT_CHARS and (prompt != typed or len(prompt) - prompt.count("; ") > MAX_PROMPT_CHARS):
        # as typed (its lines' ends count one character each); a prompt on one line counts each clause end "; " as one,
        # as the line end it may stand for: a prompt as read is checked again by whatever it is given to (a segmenter,
        # a batch job), and a 300-character prompt of two lines, read as 301, failed there after it was accepted
        reason = f"a prompt may have at most {MAX_PROMPT_CHARS} characters, this one has {len(typed)}"
        raise InputError(f"{reason}: {prompt[:40]!r}...", reason)
    return prompt
