from .box_prompts import sam_box_masks
from .configuration_sam_text import SamTextConfig
from .modeling_sam_text import SamTextModel, load_sam

__all__ = ["SamTextConfig", "SamTextModel", "load_sam", "sam_box_masks"]
