"""Mask confidence: an estimate, per image and prompt, of the IoU an annotator's label would give the mask.

A QA team reviews the masks with the lowest confidence first. Every model gets one the same way, from its
probability map and its final mask (no extra forward pass, a few ms per prompt):

1. :func:`mask_statistics` measures the map: how sure it is inside the mask (``inside``, ``q25``), its
   expected IoU with its own mask (``expected_iou``), how little the mask moves when the threshold does
   (``stability``, as SAM's stability score), how fragmented the mask is (``components``, ``largest``) ...
2. A :class:`ConfidenceModel` (``confidence.json`` in a model folder, written by ``drywallqa
   calibrate-confidence``) combines them linearly with weights chosen on the group-clean val part and maps
   the result to the IoU scale of each concept the model knows (a sigmoid per concept, a dataset's
   ``concept_name``, fitted on the same val photos), so that "0.4" means about the same IoU for a crack and
   for a taping mask.
3. A model folder without a ``confidence.json`` (hub models, older models) reports the uncalibrated
   ``expected_iou`` statistic, which already lies on an IoU scale.

Models that predict their own quality (SAM's IoU head, ``--model sam_text``) report that instead.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .utils.files import write_atomic
from .utils.paths import calibration_file_there

logger = logging.getLogger(__name__)

CONFIDENCE_FILE = "confidence.json"
MAX_STAT_PIXELS = 65536  # statistics are measured on a regular subsample of at most this many pixels
STABILITY_DELTA = 0.1    # the threshold moves by this much either way for the stability score
DEFAULT_STATISTIC = "expected_iou"

STATISTICS = ("max", "log_area", "inside", "q25", "expected_iou", "expected_iou_raw", "stability", "entropy",
              "components", "largest", "band", "contrast")


def _subsample(probability: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    step = max(1, int(math.ceil(math.sqrt(probability.size / MAX_STAT_PIXELS))))
    return np.asarray(probability, np.float32)[::step, ::step], np.asarray(mask, bool)[::step, ::step]


def mask_statistics(probability: np.ndarray, mask: np.ndarray, threshold: float) -> dict[str, float]:
    """Statistics of a ``(H, W)`` probability map in 0..1 and its final (thresholded, post-processed) mask.

    Returns:
        ``name -> float`` for every name in :data:`STATISTICS`:

        - ``max``: the map's largest probability; ``log_area``: log of the mask's share of the photo;
        - ``inside`` / ``q25``: mean / lower quartile of the probability inside the mask (0 for an empty mask);
        - ``expected_iou``: ``sum(p * m) / (sum(m) + sum(p * (1 - m)))``, the mask's IoU with the map read as
          soft labels (1 for an empty mask on an empty map); ``expected_iou_raw`` the same for ``p > threshold``;
        - ``stability``: IoU of ``p > threshold + 0.1`` with ``p > threshold - 0.1`` (1 when both are empty);
        - ``entropy``: mean binary entropy of the map (nats);
        - ``components``: log(1 + number of connected regions of the mask); ``largest``: the largest region's
          share of the mask;
        - ``band`` / ``contrast``: mean probability in a thin band around the mask / ``inside - band``.
    """
    p, m = _subsample(probability, mask)
    if p.shape != m.shape:
        raise ValueError(f"probability map {p.shape} and mask {m.shape} differ in size")
    area = float(m.sum())
    soft_rest = float((p * ~m).sum())
    denominator = area + soft_rest
    expected = float((p * m).sum() / denominator) if denominator > 1e-6 else 1.0
    raw = p > threshold
    raw_denominator = float(raw.sum() + (p * ~raw).sum())
    expected_raw = float((p * raw).sum() / raw_denominator) if raw_denominator > 1e-6 else 1.0
    hi, lo = p > min(threshold + STABILITY_DELTA, 0.99), p > max(threshold - STABILITY_DELTA, 0.01)
    stability = float(hi.sum() / lo.sum()) if lo.any() else 1.0  # hi lies inside lo: |hi & lo| / |hi | lo|
    q = np.clip(p, 1e-6, 1 - 1e-6)
    entropy = float(-(q * np.log(q) + (1 - q) * np.log(1 - q)).mean())
    inside = q25 = largest = band = 0.0
    regions = 0
    if area:
        inside_values = p[m]
        inside, q25 = float(inside_values.mean()), float(np.quantile(inside_values, 0.25))
        mu = m.astype(np.uint8)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mu, connectivity=8)
        regions, largest = n - 1, float(stats[1:, cv2.CC_STAT_AREA].max() / area)
        ring = cv2.dilate(mu, np.ones((9, 9), np.uint8)).astype(bool) & ~m
        band = float(p[ring].mean()) if ring.any() else 0.0
    return {"max": float(p.max()) if p.size else 0.0, "log_area": math.log(area / max(m.size, 1) + 1e-4),
            "inside": inside, "q25": q25, "expected_iou": expected, "expected_iou_raw": expected_raw,
            "stability": stability, "entropy": entropy, "components": math.log1p(regions), "largest": largest,
            "band": band, "contrast": inside - band}


@dataclass
class ConfidenceModel:
    """``confidence = sigmoid(a_c * score + b_c)`` with ``score = sum(w_i * (s_i - mean_i) / scale_i)`` over the
    statistics ``s`` of :func:`mask_statistics`; ``(a_c, b_c)`` per concept (a dataset's ``concept_name``),
    ``"*"`` for the rest.

    Attributes:
        features: statistic names; weights, means, scales: one number per feature.
        calibration: concept -> ``[a, b]``; ``"*"`` holds the fit over all concepts.
        prompts: prompt -> concept, for the prompts the model was calibrated with.
        selection: how the features were chosen (candidates and their val scores), for the model card.
    """

    features: list
    weights: list
    means: list
    scales: list
    calibration: dict
    prompts: dict = field(default_factory=dict)
    selection: dict = field(default_factory=dict)

    def score(self, stats: dict) -> float:
        return float(sum(w * (stats[f] - mu) / s for f, w, mu, s in zip(self.features, self.weights, self.means, self.scales)))

    def concept_of(self, prompt: str) -> str:
        """The concept whose calibration a prompt gets: its own if calibrated with it, else ``"*"``."""
        return self.prompts.get(prompt, "*")

    def __call__(self, stats: dict, concept: str | None = None) -> float:
        """The confidence of a mask with these statistics, as an answer about ``concept`` (None: ``"*"``)."""
        a, b = self.calibration.get(concept or "*", self.calibration["*"])
        return float(1.0 / (1.0 + math.exp(-max(min(a * self.score(stats) + b, 50.0), -50.0))))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ConfidenceModel":
        if not isinstance(data, dict) or not isinstance(data.get("calibration"), dict) \
                or not isinstance(data.get("prompts", {}), dict) or not isinstance(data.get("selection", {}), dict):
            raise ValueError("not a confidence model: a JSON object with 'calibration' (and 'prompts') objects expected")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.get("prompts", {}).items()):
            raise ValueError("not a confidence model: 'prompts' maps prompts to concept names")
        model = cls(**{k: list(data[k]) if k != "calibration" else dict(data[k])
                       for k in ("features", "weights", "means", "scales", "calibration")},
                    prompts=dict(data.get("prompts", {})), selection=dict(data.get("selection", {})))
        n = len(model.features)
        unknown = [f for f in model.features if f not in STATISTICS]
        if unknown or not n or any(len(v) != n for v in (model.weights, model.means, model.scales)):
            raise ValueError(f"not a confidence model: features {model.features} (known: {', '.join(STATISTICS)}), "
                             f"{len(model.weights)} weights, {len(model.means)} means, {len(model.scales)} scales")
        if "*" not in model.calibration or any(not isinstance(v, list) or len(v) != 2 for v in model.calibration.values()):
            raise ValueError("not a confidence model: calibration needs '*' and an [a, b] pair per concept")
        values = [*model.weights, *model.means, *model.scales, *(x for v in model.calibration.values() for x in v)]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values) \
                or min(model.scales) <= 0:
            raise ValueError("not a confidence model: its numbers must be finite and its scales positive")
        return model

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / CONFIDENCE_FILE
        write_atomic(path, lambda tmp: tmp.write_text(json.dumps(self.to_dict(), indent=1)))
        return path

    @classmethod
    def from_model_dir(cls, directory: str | Path | None) -> "ConfidenceModel | None":
        """The folder's ``confidence.json``; None when it has none.

        Raises:
            ValueError: the file exists but is not a confidence model (named in the message).
        """
        if directory is None:
            return None
        path = Path(directory) / CONFIDENCE_FILE
        if not calibration_file_there(path, "use the uncalibrated confidence", "calibrate it again (drywallqa "
                                      f"calibrate-confidence --model-path {directory})"):
            return None
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:  # as a damaged prompt gate is named
            raise ValueError(f"{path} is damaged ({type(exc).__name__}: {str(exc)[:120]}): calibrate it again (drywallqa "
                             f"calibrate-confidence --model-path {directory}), or delete it to use the uncalibrated "
                             "confidence") from None


def mask_confidence(probability: np.ndarray, mask: np.ndarray, threshold: float, model: ConfidenceModel | None = None,
                    concept: str | None = None) -> float:
    """The confidence in [0, 1] of one mask: ``model`` applied to its statistics with the calibration of
    ``concept``, or (no model) the uncalibrated :data:`DEFAULT_STATISTIC`. An empty mask ("nothing found")
    is as sure as the map is that nothing is there: ``1 - max(probability)``."""
    if not np.asarray(mask).any():
        return float(np.clip(1.0 - float(np.max(probability)) if np.size(probability) else 1.0, 0.0, 1.0))
    stats = mask_statistics(probability, mask, threshold)
    return model(stats, concept) if model is not None else float(np.clip(stats[DEFAULT_STATISTIC], 0.0, 1.0))


RIDGE_ALPHAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)
CV_FOLDS = 5   # out-of-fold scoring (fewer folds when a dataset has fewer masks)
MIN_MASKS = 4  # per dataset


def _spearman(a, b) -> float:
    from scipy.stats import spearmanr

    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a, b).statistic)


def _ridge(x: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    """Weights of a ridge regression of ``y`` on the standardized columns of ``x`` (no intercept: y centred)."""
    return np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ (y - y.mean()))


def _fit_sigmoid(score: np.ndarray, iou: np.ndarray) -> list:
    """``[a, b]`` with ``a > 0`` minimising the squared error of ``sigmoid(a * score + b)`` against ``iou``."""
    from scipy.optimize import least_squares

    def residual(ab):
        return 1.0 / (1.0 + np.exp(-np.clip(ab[0] * score + ab[1], -50, 50))) - iou

    mean = float(np.clip(iou.mean(), 0.01, 0.99))
    fit = least_squares(residual, x0=[1.0, math.log(mean / (1 - mean))], bounds=([1e-3, -20.0], [50.0, 20.0]))
    return [float(v) for v in fit.x]


def fit_confidence_model(records: list[dict], prompts: dict | None = None, seed: int = 0) -> ConfidenceModel:
    """Choose and fit a :class:`ConfidenceModel` on ``records`` (each ``{"concept", "stats", "iou"}``).

    Candidates: every single statistic (its sign taken from its correlation with IoU) and ridge regressions on
    all of them. Each is scored by its Spearman correlation with IoU within each concept, out of fold
    (``CV_FOLDS``-fold, folds drawn per concept with ``seed``), averaged over the concepts; the best is refitted on
    all records and a sigmoid per concept maps its score to the IoU scale.

    Raises:
        ValueError: fewer than ``MIN_MASKS`` records of some concept, or a record whose statistics or IoU are NaN or
            infinite (a map holding NaN). Masks of one concept that all score the same IoU
            (nothing to rank: all its labels empty), or no candidate ranking better than chance, are a warning: the
            model fitted says nothing of the masks.
    """
    concepts = sorted({r["concept"] for r in records})
    counts = {c: sum(r["concept"] == c for r in records) for c in concepts}
    if not counts or min(counts.values()) < MIN_MASKS:
        raise ValueError(f"too few scored masks to fit a confidence model (at least {MIN_MASKS} per dataset): {counts}")
    folds = min(CV_FOLDS, *counts.values())
    x = np.array([[r["stats"][f] for f in STATISTICS] for r in records], np.float64)
    y = np.array([r["iou"] for r in records], np.float64)
    bad = np.flatnonzero(~np.isfinite(x).all(1) | ~np.isfinite(y))
    if bad.size:  # scipy's fit said only "Residuals are not finite in the initial point"
        first = records[bad[0]]
        which = first.get("image") or f"a mask of {first['concept']!r}"
        raise ValueError(f"{bad.size} of {len(records)} masks have statistics or an IoU that are NaN or infinite (e.g. "
                         f"{which}): no confidence can be fitted on them")
    concept = np.array([r["concept"] for r in records])
    means, scales = x.mean(0), np.where(x.std(0) > 1e-9, x.std(0), 1.0)
    z = (x - means) / scales
    rng = np.random.default_rng(seed)
    fold = np.zeros(len(y), int)
    for c in concepts:
        idx = np.flatnonzero(concept == c)
        fold[idx] = rng.permutation(np.arange(len(idx)) % folds)

    def cv_score(fit) -> float:
        pred = np.zeros(len(y))
        for k in range(folds):
            train, test = fold != k, fold == k
            pred[test] = z[test] @ fit(z[train], y[train])
        return float(np.mean([_spearman(pred[concept == c], y[concept == c]) for c in concepts]))

    candidates = {}
    for i, name in enumerate(STATISTICS):
        def single(zt, yt, i=i):
            w = np.zeros(z.shape[1])
            w[i] = 1.0 if _spearman(zt[:, i], yt) >= 0 else -1.0
            return w
        candidates[name] = single
    for alpha in RIDGE_ALPHAS:
        candidates[f"ridge(alpha={alpha:g})"] = lambda zt, yt, a=alpha: _ridge(zt, yt, a)
    flat = [c for c in concepts if np.ptp(y[concept == c]) < 1e-9]
    if flat:  # no mask better than another (every mask of an empty label scores 1): nothing to rank
        logger.warning("the masks of %s all score the same IoU against their labels (%.3g): the confidence fitted "
                       "ranks nothing there; check the labels (drywallqa data stats: 'empty masks') and the model",
                       ", ".join(map(repr, flat)), y[concept == flat[0]][0])
    scores = {name: cv_score(fit) for name, fit in candidates.items()}
    best = max(scores, key=scores.get)
    if not scores[best] > 0:  # NaN, or no candidate ranking better than chance: a calibration fitted on nothing
        logger.warning("no confidence candidate ranks the masks better than chance (best out-of-fold Spearman %.3f, "
                       "%s): the confidence written says nothing of the masks; more, or more varied, validation "
                       "photos are needed", scores[best], best)
    weights = candidates[best](z, y)
    keep = np.flatnonzero(np.abs(weights) > 1e-12)
    score = z @ weights
    calibration = {c: _fit_sigmoid(score[concept == c], y[concept == c]) for c in concepts}
    calibration["*"] = _fit_sigmoid(score, y)
    return ConfidenceModel(
        features=[STATISTICS[i] for i in keep], weights=[float(weights[i]) for i in keep],
        means=[float(means[i]) for i in keep], scales=[float(scales[i]) for i in keep], calibration=calibration,
        prompts=dict(prompts or {}),
        selection={"chosen": best, "criterion": f"mean over concepts of the {folds}-fold out-of-fold Spearman "
                   "correlation with IoU", "cv_spearman": {k: round(v, 4) for k, v in scores.items()},
                   "masks": counts})
