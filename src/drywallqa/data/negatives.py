"""Which prompts are negatives on a dataset's photos: one rule for training, validation and evaluation.

A prompt of a dataset of another concept asks for something the photo's labels do not show, so its mask
should be empty; but not when a dataset of the photo's own concept lists that prompt too (the taping boxes and
the taping strips share their prompts; a dataset of your own may list "segment crack" beside its own words).
Prompts are compared in their normal form (:func:`~drywallqa.text.prompts.normal_form`: case, width and spacing
folded).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Iterable, Sequence

from ..text.prompts import normal_form
from .registry import get_dataset_config


def negative_positions(prompts_per_dataset: Sequence[Sequence[str]], concepts: Sequence[str]) -> list[list[list[int]]]:
    """Per dataset ``i``, per dataset ``j``, the positions in ``prompts_per_dataset[j]`` of the prompts that are
    negatives on ``i``'s photos: none where ``j`` is of ``i``'s concept, and none whose text a dataset of ``i``'s
    concept lists."""
    own_texts: dict = {}  # concept -> the prompt texts its datasets list
    for c, prompts in zip(concepts, prompts_per_dataset):
        own_texts.setdefault(c, set()).update(normal_form(p) for p in prompts)
    return [[[] if other == c else [k for k, p in enumerate(prompts) if normal_form(p) not in own_texts[c]]
             for other, prompts in zip(concepts, prompts_per_dataset)] for c in concepts]


def shared_prompts(prompts_per_dataset: Sequence[Sequence[str]], concepts: Sequence[str]) -> dict[tuple, list[str]]:
    """Sets of two or more concepts -> the prompt texts datasets of each of them list (those are negatives on
    none of their photos), in the order first listed."""
    where: dict = {}  # text -> the concepts listing it
    for c, prompts in zip(concepts, prompts_per_dataset):
        for p in prompts:
            cs = where.setdefault(normal_form(p), [])
            if c not in cs:
                cs.append(c)
    shared: dict = {}
    for t, cs in where.items():
        if len(cs) > 1:
            shared.setdefault(tuple(cs), []).append(t)
    return shared


def photos_labelled(pairs: Iterable[tuple[Hashable, Hashable]], datasets: Iterable = ()) -> dict:
    """``dataset -> the photos it labels`` (frozensets) from ``(photo, dataset)`` pairs, each of ``datasets`` a key (one
    labelling none of them: an empty set): a photo a dataset labels shows its thing, so no copy of it (another dataset's
    item of that photo: one COCO export of stains and nail pops declared as two datasets by their categories) is asked
    that dataset's prompts as a negative, in training or in a cross-prompt check.

    A photo is named by the caller's key, compared as given; drywallqa's is :func:`photo_key`, the photo file's
    resolved path: one file read through two folders (a split folder that links to another dataset's, a split's
    absolute folder in another dataset's export) is one photo, and a copy of it, the same name and bytes in a folder
    apart, another (names and contents are not compared: copies of one photo are the group-clean split's business,
    :mod:`.grouping`). What labels is the caller's too: training asks per concept (the concepts of the datasets
    labelling an image's photo, :class:`~drywallqa.data.prompted.PromptedSegmentationDataset`; a prompt of the photo's
    own concept is no negative anyway), validation and evaluation per dataset name (the datasets listing a prompt)."""
    out: dict = {d: set() for d in datasets}
    for photo, dataset in pairs:
        out.setdefault(dataset, set()).add(photo)
    return {d: frozenset(photos) for d, photos in out.items()}


def photo_key(path: str | os.PathLike) -> str:
    """What names a photo where the same photo is asked (:func:`photos_labelled`'s key: the trainer's train and val
    photos, the evaluator's :func:`~drywallqa.engine.evaluator.photos_held` and its cross-prompt check): the photo
    file's resolved path, ``os.path.realpath``, a str. Links are followed, to a folder (a split folder that links to
    another dataset's) or to a file (a photo that links into a DVC cache), and a ``..`` after a link is taken where the
    link leads: one file however it is reached is one photo (not :func:`~drywallqa.utils.paths.lexical_path`, which
    names where a path says a photo lies). The callers' names meet (a str, compared as given), so each asks this.

    Two same-file questions keep their own names: the evaluator's ``all photos`` set scores a photo two of one
    dataset's split folders hold once, keyed by :func:`~drywallqa.utils.paths.resolved` (a Path), and a COCO split
    finds a file listed twice, or not listed, by ``Path.resolve()``. Their keys meet no other, and they agree with this
    one on every photo that can be read; they part only on a loop of symbolic links (``resolve()`` stops there,
    ``realpath`` goes on), which drywallqa's split readers never give as a photo (a loop is no file): left as they
    are."""
    return os.path.realpath(path)


def negative_prompts(dataset: str, datasets: Sequence[str], canonical_only: bool = False) -> list[str]:
    """The prompts of registered ``datasets`` that are negatives on ``dataset``'s photos (in the order listed,
    each once): those of datasets of another concept that no dataset of its concept (among ``datasets`` and
    itself) lists. ``canonical_only``: only each dataset's first prompt is a candidate."""
    configs = [get_dataset_config(d) for d in dict.fromkeys([dataset, *datasets])]
    prompts = [list(c.prompts) for c in configs]
    kept = negative_positions(prompts, [c.concept_name for c in configs])[0]
    out = [prompts[j][k] for j, positions in enumerate(kept) for k in positions if k == 0 or not canonical_only]
    return list(dict.fromkeys(out))


def alike_concepts(datasets: Sequence) -> list[str]:
    """A warning for each two of ``datasets`` (configs) of different concepts that look like labels of one thing, by
    a simple rule: every prompt of each names, by its head words, the same one of the things the prompt gate knows
    (:data:`~drywallqa.text.words.CORE_KIND`: crack, fissure, fracture; seam, joint, tape, mud), or their YAML files'
    ``categories:`` share a name. Apart, each is asked the other's prompts on its photos as negatives (against an empty
    mask: "segment crack" taught as absent from the other's cracks); one concept asks neither of the other. A category
    given by its id is shared only by datasets of one folder (another export's id 1 is another thing)."""
    from ..text.words import CORE_KIND, TOKEN
    from .sample import category_name

    def thing(config) -> str | None:
        kinds = [{CORE_KIND[w] for w in TOKEN.findall(p.lower()) if w in CORE_KIND} for p in config.prompts]
        return kinds[0].copy().pop() if all(k == kinds[0] for k in kinds) and len(kinds[0]) == 1 else None

    def named(config, one_file: bool) -> set:
        """Its categories: by name; by id (``categories: [1]``, read as '1') only where both read one folder's files:
        two exports' class id 1 is of their own projects (a crack, a stain), no name of one thing."""
        return {n for n in map(category_name, config.categories or ()) if one_file or not n.isdigit()}

    said = []
    for i, a in enumerate(datasets):
        for b in datasets[i + 1:]:
            if a.concept_name == b.concept_name:
                continue
            same = sorted(named(a, a.folder == b.folder) & named(b, a.folder == b.folder))
            why = (f"their YAML files' categories: both read {', '.join(map(repr, same))}" if same else
                   f"every prompt of both names {thing(a)}" if thing(a) is not None and thing(a) == thing(b) else "")
            if not why:
                continue
            one, other = (b, a) if a.declared and not b.declared else (a, b)  # a registered one's concept, if any
            said.append(f"datasets {a.name} (concept {a.concept_name!r}) and {b.name} (concept {b.concept_name!r}) "
                        f"look like labels of one thing ({why}): as two concepts, each is asked the other's prompts it "
                        "does not list on its photos against an empty mask (its own thing taught as absent); if they "
                        f"label one thing, write concept: {one.concept_name} in the YAML file of {other.name} "
                        "(docs/data.md)")
    return said
