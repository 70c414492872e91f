"""``PromptedModel``: what a runtime needs of a model (encode an image once, decode each prompt);
``PromptedSegmentationModel``: the torch base class of every registered model, with save/load."""

from __future__ import annotations

import copy

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..text.encoder import get_text_encoder
from ..utils.files import UMASK, write_atomic, write_text_atomic
from ..utils.formats import strict_json

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@runtime_checkable
class PromptedModel(Protocol):
    """The interface the torch and ONNX runtimes drive (:class:`~drywallqa.engine.torch_runtime.TorchSegmenter`).

    ``config.image_size``: the input size it was trained at. Shapes: ``encode_image`` takes ``(V, 3, S, S)``
    floats in 0..1 and returns features with a ``repeat(n)`` method (each view repeated for ``n`` prompts);
    ``decode_with_scores`` takes those features and ``(V*n, D)`` prompt embeddings and returns
    ``(V*n, 1, S', S')`` logits and ``(V*n,)`` confidences or None."""

    config: Any

    def encode_image(self, pixel_values): ...

    def decode_with_scores(self, image_features, text_embeddings): ...

    def prompt_embeddings(self, prompts: list[str], text_encoder: str): ...

    def num_parameters(self) -> int: ...


class PromptedSegmentationModel(nn.Module):
    """Image features once (:meth:`encode_image`), then a cheap decode per prompt (:meth:`decode`).

    Subclasses set ``config_class`` (a dataclass) and are registered with
    :func:`~drywallqa.models.registry.register_model`, which sets ``model_type``.
    """

    config_class: type
    model_type: str
    reports_confidence: bool = False  # True where decode_with_scores gives a confidence of the model's own (SAM's IoU)
    uses_text_encoder: bool = True  # False where prompt_embeddings is a text tower of the model's own (CLIPSeg)

    def __init__(self, config):
        super().__init__()
        # a copy: what a model fills in (a hub model's config, its fixed input size) stays off the caller's config
        self.config = copy.deepcopy(config)

    def encode_image(self, pixel_values: torch.Tensor):  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, image_features, text_embeddings: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def decode_with_scores(self, image_features, text_embeddings: torch.Tensor):
        """Logits and a confidence per mask ``(B,)``, or ``None`` when the model has none (the default)."""
        return self.decode(image_features, text_embeddings), None

    def prompt_embeddings(self, prompts: list[str], text_encoder: str) -> torch.Tensor:
        """``(P, D)`` conditioning vectors of the prompts. Default: the shared sentence encoder named
        ``text_encoder``; models with a text tower of their own (CLIPSeg) override this."""
        return get_text_encoder(text_encoder).encode(prompts)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save_extras(self, directory: Path) -> None:
        """Files besides config and weights (e.g. a tokenizer); nothing by default."""

    @classmethod
    def config_from_dict(cls, config: dict, directory: Path):
        """The config dataclass from its saved dict (``directory`` lets a model find saved extras)."""
        return cls.config_class(**config)

    def forward(self, pixel_values: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` images and ``(B, D)`` prompt embeddings -> ``(B, 1, H, W)`` mask logits."""
        return self.decode(self.encode_image(pixel_values), text_embeddings)

    def save_pretrained(self, directory: str | Path, extra: dict | None = None, dtype: torch.dtype | None = None) -> Path:
        """Write ``model.safetensors`` and ``config.json`` (model type, config, ``extra`` such as the threshold), each
        file whole or not at all (:func:`~drywallqa.utils.files.write_atomic`), the config last.

        ``dtype=torch.float16`` halves the file (floating-point tensors only; one holding a value beyond float16's range
        is kept in its own type); loading casts back to float32. Returns ``directory`` (a ``Path``).

        Raises:
            ValueError: naming its key path, before anything is written, for a value of the config or ``extra`` that
            ``config.json`` cannot hold and give back as itself (:func:`~drywallqa.utils.formats.strict_json`'s
            ``round_trip``): it would load as another model, or as none.
        """
        directory = Path(directory)
        payload = {"model_type": self.model_type, "config": dataclasses.asdict(self.config), **(extra or {})}
        try:  # before anything is written: a value that would come back as another builds another model, or none
            config_text = strict_json(payload, indent=2, round_trip=True)  # NaN as null (a val score not measured)
        except ValueError as exc:
            raise ValueError(f"the model's {CONFIG_NAME}: {exc}") from None  # (directory: a temporary one, as a rule)
        directory.mkdir(parents=True, exist_ok=True)
        state, aliases, seen = {}, {}, {}
        for k, v in self.state_dict().items():
            where = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape))
            if where in seen:  # a tied weight: stored once, restored on load
                aliases[k] = seen[where]
                continue
            seen[where] = k
            if dtype is not None and v.is_floating_point():
                cast = v.to(dtype)  # a value beyond the type's range (float16: 65504, a BatchNorm variance) would be
                v = cast if torch.isfinite(cast).all() or not torch.isfinite(v).all() else v  # inf: kept as it is
            state[k] = v.detach().contiguous().cpu()

        def write_weights(tmp: Path) -> None:
            save_file(state, str(tmp), metadata={"aliases": json.dumps(aliases)})
            tmp.chmod(0o666 & ~UMASK)  # safetensors makes a new file, for its owner only

        write_atomic(directory / WEIGHTS_NAME, write_weights)
        self.save_extras(directory)
        write_text_atomic(config_text, directory / CONFIG_NAME)  # last: it marks a model folder
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path | None = None, map_location: str = "cpu"):
        """Load a directory written by :meth:`save_pretrained`, or a shipped model by name (``"fast"``; None: the
        default one), as :meth:`Segmenter.load <drywallqa.engine.segmenter.Segmenter.load>` reads it (a folder of the
        same spelling wins; a leading ``~`` is the home folder). On this base class any registered model type; on a
        model's class (``FilmUNetModel.from_pretrained``) that type (or a subclass) only.

        Raises:
            FileNotFoundError: no such folder nor shipped model, or no ``config.json`` / weights in it.
            ValueError: a damaged or unknown ``config.json`` or weights, or a model of another type than ``cls``.
        """
        from ..utils.plugins import failed_plugins_said
        from ..utils.registry import UnknownNameError
        from .registry import MODELS, get_model_class
        from .shipped import resolve_model_dir

        # "fast" read ./fast (there is none); "~/m" a folder named "~"; a name too long for the file system said there
        directory = resolve_model_dir(directory)
        cfg_path = directory / CONFIG_NAME
        if not os.path.exists(directory):  # where it was looked for (--model-path ./fast reads "fast": not the shipped one)
            where = "" if directory.is_absolute() else f" ({directory.absolute()})"
            from ..utils.files import replaced_hint

            raise FileNotFoundError(f"no model folder {directory}{where}{replaced_hint(directory)}")
        if not directory.is_dir():  # a file given for the folder: not "no config.json"
            from ..utils.paths import why_not

            raise FileNotFoundError(f"{directory} {why_not(directory, folder=True)}: a model is a folder")
        if not cfg_path.is_file():
            raise FileNotFoundError(f"{directory}: no {CONFIG_NAME}; not a drywallqa model directory{run_hint(directory)}")
        try:
            payload = json.loads(cfg_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{directory}: {CONFIG_NAME} cannot be read ({exc})") from None
        if not isinstance(payload, dict) or "config" not in payload:
            raise ValueError(f"{directory}: {CONFIG_NAME} is not a drywallqa model config (a Hugging Face directory? "
                             "pass --model NAME to load it as that backend)")
        if not isinstance(payload["config"], dict) or not isinstance(payload.get("model_type"), str):
            raise ValueError(f"{directory}: {CONFIG_NAME} is damaged: it needs model_type and a config mapping")
        if payload["model_type"] not in MODELS:  # was the registry's KeyError "unknown model ...", naming no folder
            raise ValueError(f"{directory}: its {CONFIG_NAME} names the model type {payload['model_type']!r}, which "
                             f"this version does not have ({', '.join(MODELS.names())}{failed_plugins_said()}): a "
                             "model from a newer drywallqa, or of a plugin not installed here? Upgrade the package, "
                             "or install the plugin")
        model_cls = get_model_class(payload["model_type"])
        if cls is not PromptedSegmentationModel and not issubclass(model_cls, cls):  # ClipSegModel.from_pretrained(a
            # film_unet folder) gave a FilmUNetModel, not the class asked for, without a word
            raise ValueError(f"{directory} holds a {payload['model_type']!r} model, not {cls.__name__}'s: load it with "
                             f"{model_cls.__name__}.from_pretrained, or PromptedSegmentationModel.from_pretrained "
                             "(any model type)")
        try:
            model = model_cls(model_cls.config_from_dict(payload["config"], directory))
        except (TypeError, ValueError, AttributeError, KeyError) as exc:
            # a part it names by a registry's name (an encoder, ...) that is not here: said as the model type is
            unknown = (": a model from a newer drywallqa, or of a plugin not installed here? Upgrade the package, or "
                       "install the plugin (or name its module in $DRYWALLQA_PLUGINS)"
                       if isinstance(exc, UnknownNameError) else "")
            raise ValueError(f"{directory}: this version cannot build the model its {CONFIG_NAME} describes (from "
                             f"the config, or the files it names: {type(exc).__name__}: {exc}){unknown}") from exc
        weights = directory / WEIGHTS_NAME
        if not weights.is_file():
            onnx = (directory / "encoder.onnx").is_file()  # an ONNX export's folder (drywallqa.export.onnx)
            if weights.exists():  # a folder (or a pipe) of that name: said as what it is
                raise FileNotFoundError(f"{directory}: its {WEIGHTS_NAME} is no file (a folder or another kind)")
            raise FileNotFoundError(f"{directory}: no {WEIGHTS_NAME}" + (
                "; it is an ONNX export, which the onnx runtime runs (predict, evaluate, serve: --runtime onnx; Python: "
                "runtime='onnx'); train, ship and export take the torch model folder it was exported from" if onnx else ""))
        try:
            state = {k: v.float() if v.is_floating_point() else v
                     for k, v in load_file(str(weights), device=map_location).items()}
            from safetensors import safe_open

            with safe_open(str(weights), framework="pt") as f:
                aliases = json.loads((f.metadata() or {}).get("aliases", "{}"))
            state.update({alias: state[kept] for alias, kept in aliases.items()})
            model.load_state_dict(state)
        except Exception as exc:  # safetensors' SafetensorError, torch's missing keys and size mismatches
            raise ValueError(f"{directory}: {WEIGHTS_NAME} is damaged or does not fit its {CONFIG_NAME} "
                             f"({type(exc).__name__}: {str(exc)[:300]})") from exc
        broken = non_finite_tensors(state)
        if broken:  # every mask would come out empty (or full) and every confidence NaN
            raise ValueError(f"{directory}: {WEIGHTS_NAME} holds weights that are not finite numbers (NaN or inf) in "
                             f"{len(broken)} of its {len(state)} tensors, e.g. {broken[0]}: the run that wrote it "
                             "diverged; take an earlier checkpoint")
        model.eval()
        return model


def non_finite_tensors(state: dict) -> list[str]:
    """The names of the floating-point tensors of a state dict that hold a NaN or an infinity."""
    return [name for name, t in state.items() if t.is_floating_point() and not bool(torch.isfinite(t).all())]


MODEL_CARD_NAME = "MODEL_CARD.md"


def read_model_metadata(directory: str | Path) -> dict:
    return json.loads((Path(directory) / CONFIG_NAME).read_text())


def model_card_version(directory: str | Path) -> str | None:
    """The model's ``version`` in the front matter of the folder's ``MODEL_CARD.md`` (``version: X`` between the
    first two ``---`` lines); ``None`` without one. Said of the model (``/v1/models``), never part of its settings:
    a card edited does not change a mask."""
    import yaml

    try:
        text = (Path(directory) / MODEL_CARD_NAME).read_text(encoding="utf-8", errors="replace")
        _, front, _ = text.split("---\n", 2) if text.startswith("---\n") else ("", "", "")
        version = (yaml.safe_load(front) or {}).get("version") if front else None
    except (OSError, ValueError, AttributeError, yaml.YAMLError):  # no card, no front matter, not a mapping
        return None
    return str(version)[:40] if isinstance(version, (str, int, float)) and str(version).strip() else None


def run_hint(directory: str | Path) -> str:
    """``"; a training run's model is its best/: --model-path RUN/best"`` where ``directory`` is a training run (its
    ``best/`` a model folder), else nothing: for messages saying ``directory`` is no model folder."""
    best = Path(directory) / "best"
    return f"; a training run's model is its best/: --model-path {best}" if is_drywallqa_model_dir(best) else ""


def not_a_model_folder(directory: str | Path) -> str:
    """Why ``directory`` is no drywallqa model folder (:func:`is_drywallqa_model_dir` is False), in words: missing,
    a file, no or a damaged ``config.json``, a training run (its model is its ``best/``)."""
    directory = Path(directory)
    cfg = directory / CONFIG_NAME
    said = f"{directory} is not a drywallqa model folder"
    if not os.path.exists(directory):  # a name longer than the disk allows too (Path.exists raised it)
        return f"{said}: there is no such folder"
    if not directory.is_dir():
        return f"{said}: it is a file"
    if not cfg.is_file():
        return f"{said} (no {CONFIG_NAME}){run_hint(directory)}"
    try:
        json.loads(cfg.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"{said}: its {CONFIG_NAME} is damaged, not JSON text ({type(exc).__name__}: {str(exc)[:120]})"
    return f"{said}: its {CONFIG_NAME} is no model's (it needs model_type and a config mapping)"


def is_drywallqa_model_dir(directory: str | Path) -> bool:
    """True for a directory written by :meth:`PromptedSegmentationModel.save_pretrained`."""
    cfg = Path(directory) / CONFIG_NAME
    try:
        meta = json.loads(cfg.read_text(encoding="utf-8")) if cfg.is_file() else None
    except (OSError, ValueError):  # unreadable, not UTF-8 or not JSON: not a model folder
        return False
    return isinstance(meta, dict) and "config" in meta
