"""Fit a model folder's mask confidence (``confidence.json``) on the group-clean val part of its datasets.

    drywallqa calibrate-confidence --model-path runs/my_model

Each val photo is segmented with its dataset's canonical prompt at the model's shipped settings; the
statistics of the probability map (:func:`~drywallqa.confidence.mask_statistics`) and the mask's true IoU
become one record; :func:`~drywallqa.confidence.fit_confidence_model` chooses and fits the combination. The
test part is never looked at here: ``drywallqa evaluate`` reports how well the result ranks masks there.
"""

from __future__ import annotations

from pathlib import Path

from ..confidence import ConfidenceModel, fit_confidence_model, mask_statistics
from ..data.registry import answer_datasets, check_datasets_given, get_dataset_config
from ..data.sample import photo_and_label
from ..metrics import label_and_valid, mask_iou, nothing_to_score
from ..utils.checks import whole_number
from ..utils.progress import progress_bar
from .evaluator import EvalSet, build_eval_sets, scoring_label_shape
from .folder_writers import in_use_message, writer_in_progress
from .torch_runtime import TorchSegmenter
from .segmenter import MapsNotFinite, Segmenter


class FolderReplaced(ValueError):
    """The model folder was written over while it was calibrated: what was fitted is of the weights before."""


def folder_stamp(model_dir: str | Path) -> list:
    """What tells a model folder from one written over it since (``ship`` or ``train`` into it, a copy, weights
    replaced): its ``config.json``'s and weight files' names, file ids, sizes and modification times."""
    import os

    from ..models.base import CONFIG_NAME
    from ..utils.stamps import WEIGHT_SUFFIXES

    folder = Path(model_dir)
    try:
        files = [folder / CONFIG_NAME, *sorted(f for f in folder.iterdir() if f.suffix in WEIGHT_SUFFIXES)]
        return [(f.name, st.st_ino, st.st_size, st.st_mtime_ns) for f in files for st in [os.stat(f)]]
    except OSError:  # gone, or a file of it: no folder like the one calibrated
        return []


def folder_guard(model_dir: str | Path, message: str):
    """A check to call just before writing a calibration into ``model_dir``: it raises ``FolderReplaced(message)``
    where the folder was written over since this call (:func:`folder_stamp`): a ship or train into it meanwhile; or
    where a ship into it is under way, which replaces it whole when it ends (the calibration said "wrote", then was
    gone); or an ONNX export into it, which does the same (:func:`~.folder_writers.writer_in_progress`)."""
    stamp = folder_stamp(model_dir)

    def check() -> None:
        if folder_stamp(model_dir) != stamp:
            raise FolderReplaced(message)
        writer = writer_in_progress(model_dir)
        if writer is not None:
            raise FolderReplaced(in_use_message(model_dir, *writer, "nothing was written into it; calibrate it once it "
                                                                    "has ended"))

    return check


def confidence_records(segmenter: Segmenter, eval_sets: list[EvalSet], progress: bool = True) -> tuple[list, list]:
    """-> (records ``{"concept", "prompt", "image", "stats", "iou"}`` of the canonical prompt's masks, failures);
    ``concept``: the dataset's ``concept_name``.

    Raises:
        MapsNotFinite: a map holding NaN or infinity (weights that overflow), naming the photo: the fit failed on it
            with scipy's "Residuals are not finite in the initial point", said of --dataset / --limit."""
    records, failures = [], []
    for es in eval_sets:
        config = get_dataset_config(es.dataset)
        prompt = config.canonical_prompt
        for sample in progress_bar(es.samples, desc=f"{es.name} {es.dataset}", disable=not progress):
            try:
                image, gt = photo_and_label(sample, target=True)  # a shrunk copy's label shrunk: as evaluate scores it
            except (OSError, ValueError) as exc:
                failures.append(f"{sample.image_path}: {exc}")
                continue
            gt, valid = label_and_valid(gt)
            if nothing_to_score(valid):  # an IoU of 1 (both masks empty within nothing) the confidence was fitted to
                failures.append(f"{sample.image_path}: its label marks every pixel 'ignore': nothing to score; skipped")
                continue
            if gt.shape != image.shape[:2]:
                failures.append(f"{sample.image_path}: image and label differ in size; skipped")
                continue
            try:
                result = segmenter.predict(image, [prompt], label_shape=scoring_label_shape(es.dataset))  # as scored
            except MapsNotFinite as exc:
                raise MapsNotFinite(f"{sample.image_path}: {exc}; no confidence can be fitted on its maps") from None
            stats = mask_statistics(result.probabilities[prompt], result.masks[prompt], segmenter.threshold_for(prompt))
            records.append({"concept": config.concept_name, "prompt": prompt, "image": str(sample.image_path),
                            "stats": stats, "iou": mask_iou(result.masks[prompt], gt, valid)})
    return records, failures


def calibrated_concepts(model_dir: str | Path, gate: bool = True, confidence: bool = True) -> set[str]:
    """The concepts a model folder's prompt gate (where ``gate``) and confidence calibration (where ``confidence``)
    already know (a damaged file counts for nothing: calibrating anew is what mends it)."""
    from ..confidence import ConfidenceModel
    from ..text.gate import PromptGate

    known: set[str] = set()
    try:
        prompt_gate = PromptGate.from_model_dir(model_dir) if gate else None
        known |= set(prompt_gate.known_concepts) if prompt_gate is not None else set()
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        calibration = ConfidenceModel.from_model_dir(model_dir) if confidence else None
        known |= set(calibration.calibration) - {"*"} if calibration is not None else set()
    except (OSError, ValueError):
        pass
    return known


def check_keeps_concepts(model_dir: str | Path, datasets, gate: bool = True, confidence: bool = True) -> None:
    """ValueError when calibrating ``model_dir`` on ``datasets`` would drop a concept its gate (where ``gate``) or
    confidence (where ``confidence``) knows now: a gate calibrated on cracks alone refuses every taping prompt of a
    model trained on both."""
    from ..data.registry import datasets_by_concept

    dropped = sorted(calibrated_concepts(model_dir, gate, confidence) - set(datasets_by_concept(datasets)))
    if dropped:
        raise ValueError(f"{model_dir} now answers {', '.join(dropped)} too, which the datasets given leave out: its "
                         f"prompts would be refused or mis-scored; give every dataset the model was trained on")


def folder_segmenter(model_dir: str | Path, **kwargs) -> TorchSegmenter:
    """The segmenter of a model folder, or of an ONNX export of one (run by the onnx runtime: the calibrations are of
    the maps it makes, and are written into the export, which carries the model's own), ``kwargs`` to ``from_path``.

    Raises:
        OSError, ValueError: the folder's weights are missing or damaged."""
    from ..export.onnx import is_onnx_export_dir
    from ..export.onnx_runtime import OnnxSegmenter

    runtime = OnnxSegmenter if is_onnx_export_dir(model_dir) else TorchSegmenter  # not told to use --runtime onnx,
    return runtime.from_path(model_dir, **kwargs)  # which the calibrations do not have


def confidence_segmenter(model_dir: str | Path) -> TorchSegmenter:
    """The segmenter whose masks a confidence is fitted on: the statistics of every val mask as the model makes it,
    whatever confidence.json it holds now (even a broken one) left out, and no mask emptied for a low confidence.

    An ONNX export (:func:`~drywallqa.export.onnx.export_onnx`) is run by the onnx runtime (:func:`folder_segmenter`).

    Raises:
        OSError, ValueError: the folder's weights are missing or damaged."""
    segmenter = folder_segmenter(model_dir, confidence=False)
    segmenter.min_confidence = None
    return segmenter


def calibrate_model_confidence(model_dir: str | Path, datasets=("cracks", "taping"), splits_dir=None, datasets_dir=None,
                               limit: int | None = None, progress: bool = True, save: bool = True,
                               segmenter: TorchSegmenter | None = None) -> ConfidenceModel:
    """Fit ``model_dir/confidence.json`` from the group-clean val part of ``datasets``, one calibration per concept,
    and write it (unless ``save=False``: a look at what a fit would choose). Where datasets share a concept (box
    labels and strips refined from them), the masks a model answers with are scored against the region-labelled
    ones only (:func:`~drywallqa.data.registry.answer_datasets`); every prompt of the concept gets its calibration.
    ``segmenter``: :func:`confidence_segmenter` of ``model_dir`` where the caller loaded it already.

    Raises:
        MapsNotFinite: a val map holding NaN or infinity.
        FolderReplaced: ``model_dir`` written over (its config or weights) during the fit: nothing is written.
        ValueError: ``limit`` not a whole number of at least 1 (or None), or no ``datasets``."""
    check_datasets_given(datasets)  # (before the model loads)
    if limit is not None and not (whole_number(limit) and limit >= 1):  # 0 fitted on every photo, -1 on all but the
        # last, each written as fitted on "only the first 0 (-1) photos"
        raise ValueError(f"limit must be a whole number of at least 1 (or None: every photo), got {limit!r}")
    limit = None if limit is None else int(limit)
    unchanged = folder_guard(model_dir, f"{model_dir} was written over while it was calibrated (a ship or train into it, "
                             "a copy or weights replaced): the confidence fitted on its earlier weights was not "
                             "written; calibrate it again")  # the weights the maps come from: written only where they are
    segmenter = segmenter or confidence_segmenter(model_dir)
    scored = [d for names in answer_datasets(datasets).values() for d in names]
    sets = build_eval_sets(scored, which=("val",), splits_dir=splits_dir, datasets_dir=datasets_dir, limit=limit)
    records, failures = confidence_records(segmenter, sets, progress)
    prompts = {p: config.concept_name for config in map(get_dataset_config, datasets) for p in config.prompts}
    model = fit_confidence_model(records, prompts)
    fitted_on = "group-clean val part (published valid/test photos left out)"
    if limit is not None:  # (ship --limit writes it: said, as a fit on every val photo is not)
        fitted_on += f", only the first {limit} photos of each dataset (--limit)"
    model.selection.update(fitted_on=fitted_on, failures=failures[:20])
    if save:
        unchanged()
        model.save(model_dir)
    return model
