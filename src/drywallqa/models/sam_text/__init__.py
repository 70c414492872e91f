"""``sam_text``: SAM (Hugging Face ``transformers``) prompted by text (:class:`SamTextModel`, registered as
``sam_text``) and by boxes (:func:`sam_box_masks`, :func:`iter_sam_box_masks`: for ``refine-masks --with sam`` and the
zero-shot pipeline)."""

from .box_prompts import iter_sam_box_masks, sam_box_masks
from .configuration_sam_text import SamTextConfig
from .modeling_sam_text import SamTextModel, load_sam

__all__ = ["SamTextConfig", "SamTextModel", "iter_sam_box_masks", "load_sam", "sam_box_masks"]
