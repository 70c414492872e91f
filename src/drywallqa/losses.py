"""Segmentation losses on logits ``(B, 1, H, W)`` and targets ``(B, 1, H, W)`` in {0, 1}, or
:data:`~drywallqa.utils.image_io.IGNORE_VALUE` where a pixel is 'ignore' (:func:`~drywallqa.metrics.valid_pixels`):
such a pixel adds nothing to any loss, nor to its gradient, as if absent. A batch of no ignored pixel is scored by
the very computation it always was.

Each built-in loss takes ``valid`` too: where the target is counted (:func:`~drywallqa.metrics.valid_pixels`: a bool
tensor, or None for everywhere), looked up from the target when not given. :class:`CombinedLoss` looks once per step
(a look is a device sync on a GPU) and hands it to every term that takes it; a loss registered elsewhere may take
``valid`` as well, or compute its own from the target."""

from __future__ import annotations

import functools
import inspect
import keyword
from dataclasses import dataclass, fields, make_dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .metrics import valid_pixels
from .utils.registry import Registry

LOSSES: Registry = Registry("loss")


def register_loss(name):
    return LOSSES.decorator(name)


FROM_TARGET = object()  # a loss's ``valid`` not given: looked up from its target


def _valid(target: torch.Tensor, valid) -> torch.Tensor | None:
    """``valid`` as given, or where ``target`` is counted (:func:`~drywallqa.metrics.valid_pixels`) when it is not."""
    return valid_pixels(target) if valid is FROM_TARGET else valid


def _takes_valid(loss) -> bool:
    """Whether the registered ``loss`` takes ``valid`` (the built-in ones do)."""
    try:
        return "valid" in inspect.signature(loss).parameters
    except (TypeError, ValueError):  # a callable of no signature Python can read: called as (logits, target)
        return False


def _mean_over(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The mean of per-pixel ``values`` over the ``valid`` pixels (0 where there is none)."""
    return (values * valid).sum() / valid.sum().clamp_min(1)


@register_loss("bce")
def bce_loss(logits: torch.Tensor, target: torch.Tensor, valid=FROM_TARGET) -> torch.Tensor:
    if (valid := _valid(target, valid)) is not None:
        target = target * valid  # (ignored pixels as 0: a finite loss there, weighed 0)
        return _mean_over(F.binary_cross_entropy_with_logits(logits, target, reduction="none"), valid)
    return F.binary_cross_entropy_with_logits(logits, target)


@register_loss("dice")
def dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1.0, valid=FROM_TARGET) -> torch.Tensor:
    """Soft Dice per image, averaged. An empty target scores ``s / (s + smooth)``, ``s`` the sum of the image's
    probabilities: 0 only where they all are (about 0.9 for a 448 px image of logits at -10), so on a negative pair
    this term keeps pushing the probabilities down (it falls as ``1 / (s + smooth)^2``). Ignored pixels are left
    out of every sum."""
    prob, target = torch.sigmoid(logits).flatten(1), target.flatten(1)
    if (valid := _valid(target, valid)) is not None:
        valid = valid.flatten(1)  # (one given of the target's shape, as CombinedLoss gives it)
        prob, target = prob * valid, target * valid
    inter = (prob * target).sum(1)
    return (1 - (2 * inter + smooth) / (prob.sum(1) + target.sum(1) + smooth)).mean()


@register_loss("focal")
def focal_loss(logits: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25,
               valid=FROM_TARGET) -> torch.Tensor:
    if (valid := _valid(target, valid)) is not None:
        target = target * valid
    ce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p_t = torch.exp(-ce)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    focal = alpha_t * (1 - p_t) ** gamma * ce
    return focal.mean() if valid is None else _mean_over(focal, valid)


def lovasz_grad(gt_sorted: torch.Tensor) -> torch.Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. errors sorted in decreasing order
    (Berman et al., CVPR 2018, eq. 8); ``gt_sorted``: ``(N,)`` targets in that order."""
    gts = gt_sorted.sum()
    intersection = gts - gt_sorted.cumsum(0)
    union = gts + (1 - gt_sorted).cumsum(0)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[:1], jaccard[1:] - jaccard[:-1]])


@register_loss("lovasz")
def lovasz_hinge(logits: torch.Tensor, target: torch.Tensor, valid=FROM_TARGET) -> torch.Tensor:
    """Lovasz hinge per image, averaged: a convex surrogate of 1 - IoU of the mask ``logits > 0``, so it
    optimises the per-image IoU that evaluation reports. On an empty target it pushes down the highest
    logit only. Ignored pixels are left out of the image's pixels (Berman et al.'s reference code does so)."""
    losses = []
    valid = _valid(target, valid)
    for i, (lg, t) in enumerate(zip(logits.flatten(1), target.flatten(1))):
        if valid is not None:
            keep = valid[i].flatten()
            lg, t = lg[keep], t[keep]
        signs = 2.0 * t - 1.0
        errors = 1.0 - lg * signs
        errors_sorted, order = torch.sort(errors, descending=True)
        losses.append(torch.dot(F.relu(errors_sorted), lovasz_grad(t[order])))
    return torch.stack(losses).mean()


@dataclass
class LossWeights:
    """The weight of each loss in :class:`CombinedLoss`: a training config's ``loss:`` section. The four built-in
    losses are its fields, with their defaults; a loss registered elsewhere (a plugin's ``@register_loss("NAME")``)
    is weighed by its name too, 0 unless given (:meth:`of`: ``loss: {bce: 1.0, NAME: 0.3}``, ``loss.NAME=0.3``)."""

    bce: float = 1.0
    dice: float = 1.0
    focal: float = 0.5
    lovasz: float = 0.0

    @classmethod
    def of(cls, weights: dict) -> "LossWeights":
        """The weights ``weights`` gives (a name -> weight mapping; the fields it leaves out at their defaults). A
        registered loss that is no field of the class, given a weight other than 0, is one of the instance's (of a
        subclass adding it, so that ``to_dict``, the checks and :class:`CombinedLoss` see it as the others).

        Raises:
            UnknownNameError: a name no loss is registered under, with those that are (and a plugin that could not be
                imported: it may be the one registering it).
            ValueError: a registered name that cannot be a field (no Python identifier)."""
        known = {f.name for f in fields(cls)}
        for name in weights:
            if name not in known:
                LOSSES.get(name)  # (raises, naming the registered ones)
                if not name.isidentifier() or keyword.iskeyword(name):
                    raise ValueError(f"loss {name!r} is registered under a name a training config cannot weigh (not "
                                     "a Python identifier): register it as letters, digits and _ alone")
        # a weight of 0 as none: a run recorded without the loss and a config giving it 0 train alike, and compare equal
        extra = tuple(sorted(k for k, v in weights.items() if k not in known and not _zero(v)))
        return _with_fields(cls, extra)(**{k: v for k, v in weights.items() if k in known or k in extra})


def _zero(value) -> bool:
    """Whether a weight is the number 0 (a loss not weighed: as if not given)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


@functools.lru_cache(maxsize=None)
def _with_fields(cls, names: tuple) -> type:
    """``cls`` with a float field of default 0 for each of ``names`` (``cls`` itself where there is none); one class
    for the same names, so that two configs of the same weights compare equal."""
    if not names:
        return cls
    made = make_dataclass(cls.__name__, [(n, float, 0.0) for n in names], bases=(cls,),
                          namespace={"__reduce__": lambda self: (cls.of, (dict(vars(self)),))})  # (pickled as made)
    made.__module__, made.__qualname__ = cls.__module__, cls.__qualname__
    return made


class DistillationLoss(nn.Module):
    """Soft targets from a teacher model (knowledge distillation, Hinton et al. 2015, per pixel): the binary KL
    divergence from the teacher's probability map to the student's, both read at temperature ``T`` (logits / T),
    times ``T**2`` so that its gradient keeps its scale as ``T`` changes. 0 where the two maps agree.

    ``forward(student_logits, teacher_logits)``: ``(B, 1, H, W)`` each; a teacher map of another size is resized
    (bilinear) to the student's.
    """

    def __init__(self, temperature: float = 1.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        teacher_logits = teacher_logits.detach().float()
        if teacher_logits.shape[-2:] != student_logits.shape[-2:]:
            teacher_logits = F.interpolate(teacher_logits, size=student_logits.shape[-2:], mode="bilinear", align_corners=False)
        target = torch.sigmoid(teacher_logits / t)
        cross = F.binary_cross_entropy_with_logits(student_logits.float() / t, target)
        entropy = F.binary_cross_entropy_with_logits(teacher_logits / t, target)  # the least the cross-entropy can be
        return (cross - entropy) * t * t


class CombinedLoss(nn.Module):
    """Weighted sum of registered losses; ``forward`` returns ``(total, {name: value})``. Where the target is counted
    (:func:`~drywallqa.metrics.valid_pixels`) is looked up once per call, for every term that takes ``valid``."""

    def __init__(self, weights: LossWeights | dict | None = None):
        super().__init__()
        w = weights if isinstance(weights, dict) else vars(weights or LossWeights())
        unknown = [k for k in w if k not in LOSSES]
        if unknown:
            raise ValueError(f"unknown losses {sorted(unknown)}; known: {LOSSES.names()}")
        self.weights = {k: float(v) for k, v in w.items() if v}
        self.take_valid = {k for k in self.weights if _takes_valid(LOSSES.get(k))}

    def forward(self, logits, target):
        logits = logits.float()
        valid = valid_pixels(target) if self.take_valid else None  # once a step: a device sync on a GPU
        parts = {k: LOSSES.get(k)(logits, target, **({"valid": valid} if k in self.take_valid else {}))
                 for k in self.weights}
        total = sum(self.weights[k] * v for k, v in parts.items())
        values = torch.stack([v.detach().float().reshape(()) for v in parts.values()]).tolist()  # one device read
        return total, dict(zip(parts, values))
