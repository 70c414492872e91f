"""Stage 2, prompt generation: tags -> context-aware anomaly nouns. ``table`` (the versioned table that
ships with the package) or ``llm`` (an OpenAI-compatible chat endpoint such as a local llama.cpp or vLLM
server), which falls back to the table when the endpoint fails or answers nonsense."""

from __future__ import annotations

import json
import logging
from importlib import resources

import yaml

from ..utils.checks import number_in_range, whole_number
from ..utils.registry import Registry

logger = logging.getLogger(__name__)
PROMPT_GENERATORS: Registry = Registry("prompt generator")


def check_max_prompts(max_prompts) -> int:
    if not whole_number(max_prompts) or max_prompts < 1:
        raise ValueError(f"max_prompts must be a whole number of at least 1, got {max_prompts!r}")
    return int(max_prompts)


def load_table() -> dict:
    return yaml.safe_load((resources.files("drywallqa.zeroshot") / "anomaly_prompts.yaml").read_text())


@PROMPT_GENERATORS.decorator("table")
class TablePromptGenerator:
    def __init__(self, max_prompts: int = 8):
        self.table = load_table()
        self.max_prompts = check_max_prompts(max_prompts)
        self.source = f"table v{self.table['version']}"

    @staticmethod
    def check_options(max_prompts: int = 8) -> None:
        check_max_prompts(max_prompts)

    def generate(self, tags: list[str]) -> list[str]:
        """The table's nouns of each tag (its case and spaces aside), its ``default`` ones for a tag it has no entry
        for: ``source`` then names the tags (a misspelt ``--material concreet`` was given them without a word)."""
        out: list[str] = []
        unknown = []
        for tag in tags:
            nouns = self.table["materials"].get(" ".join(tag.split()).lower())
            if nouns is None:
                unknown.append(tag)
            out += self.table["default"] if nouns is None else nouns
        source = f"table v{self.table['version']}"  # set once: threads sharing the pipeline read and set it
        if unknown:
            known = ", ".join(self.table["materials"])
            source += (f" (its default nouns for {', '.join(map(repr, unknown))}, which it has no entry for; it "
                       f"has: {known})")
        self.source = source
        return list(dict.fromkeys(out or self.table["default"]))[: self.max_prompts]


def _usable_prompt(noun) -> str | None:
    """An LLM's noun as a prompt (:func:`~drywallqa.text.prompts.check_prompt`, as a prompt given is checked), or None
    for one that is none: no text, empty, too long or holding control characters (each was a detector query and a mask
    file, unchecked)."""
    from ..text.prompts import check_prompt

    if not isinstance(noun, str):
        return None
    try:
        return check_prompt(noun)
    except ValueError:
        logger.warning("LLM prompt endpoint: %.60r is no prompt; left out", noun)
        return None


@PROMPT_GENERATORS.decorator("llm")
class LLMPromptGenerator:
    """Asks ``POST {base_url}/v1/chat/completions`` for a JSON list of defect nouns."""

    def __init__(self, base_url: str, model: str = "local", timeout_s: float = 10.0, max_prompts: int = 8):
        self.check_options(base_url, model, timeout_s, max_prompts)
        max_prompts = int(max_prompts)
        self.base_url, self.model, self.timeout_s, self.max_prompts = base_url.rstrip("/"), model, timeout_s, max_prompts
        self.fallback = TablePromptGenerator(max_prompts)
        self.source = f"llm {self.base_url}"
        self.last_error: str | None = None

    @staticmethod
    def check_options(base_url: str, model: str = "local", timeout_s: float = 10.0, max_prompts: int = 8) -> None:
        """ValueError unless ``base_url`` (an http or https URL) and ``model`` are text, ``timeout_s`` in (0, 3600] and
        ``max_prompts`` at least 1."""
        import httpx

        for name, value in (("base_url", base_url), ("model", model)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be text, got {value!r}")
        try:  # one httpx cannot even parse failed every photo with an InvalidURL (no HTTPError: no fall-back)
            url = httpx.URL(base_url)
        except httpx.InvalidURL as exc:
            raise ValueError(f"base_url {base_url!r} is no URL ({exc})") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"base_url must be an http:// or https:// URL of the LLM server, got {base_url!r}")
        number_in_range(timeout_s, "timeout_s", 0.0, 3600.0, low_inclusive=False, unit=" seconds")
        check_max_prompts(max_prompts)

    def generate(self, tags: list[str]) -> list[str]:
        import httpx

        question = (f"A photo shows a {', '.join(tags)} surface. List up to {self.max_prompts} short nouns for visible "
                    "construction defects that could appear on it. Answer with a JSON list of strings only.")
        try:
            r = httpx.post(f"{self.base_url}/v1/chat/completions", timeout=self.timeout_s,
                           json={"model": self.model, "messages": [{"role": "user", "content": question}], "temperature": 0})
            r.raise_for_status()
            text = r.json()["choices"][0]["message"]["content"]
            if not isinstance(text, str):  # null (a refusal, a tool call) failed every photo with an AttributeError
                raise TypeError(f"the answer's content is {type(text).__name__}, not text")
            nouns = json.loads(text[text.index("[") : text.rindex("]") + 1])
            if not isinstance(nouns, list):
                raise TypeError(f"the answer holds a JSON {type(nouns).__name__}, not a list")
            nouns = [n for n in map(_usable_prompt, nouns) if n]
            if not nouns:
                raise ValueError("no usable noun in the list (empty, or none of them a prompt: text of at most 300 "
                                 "characters without control characters)")
            self.last_error = None
            self.source = f"llm {self.base_url}"
            return list(dict.fromkeys(nouns))[: self.max_prompts]
        except (httpx.HTTPError, KeyError, IndexError, ValueError, TypeError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            logger.warning("LLM prompt endpoint failed (%s); using the prompt table", self.last_error)
            self.source = f"table v{self.fallback.table['version']} (LLM failed: {self.last_error})"
            return self.fallback.generate(tags)
