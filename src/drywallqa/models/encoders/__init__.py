"""Image encoders of the prompted decoders, in the manner of segmentation_models_pytorch: a registry of
backbones that all give five feature maps at strides 2, 4, 8, 16 and 32 from RGB in 0..1.

    from drywallqa.models.encoders import create_encoder, list_encoders
    enc = create_encoder("hed_vgg16", config)   # config: the model's config (channels, encoder options)
    feats = enc(pixel_values)                    # 5 tensors; channels in enc.out_channels

Each encoder normalises its input itself (ImageNet statistics for ``scratch``, BGR minus the Caffe mean on a
0-255 scale for ``hed_vgg16``), so models and runtimes hand every encoder the same 0..1 RGB. What a new encoder must be, and where it is
registered: :mod:`drywallqa.models.encoders.registry`.
"""

from .registry import ENCODERS, create_encoder, encoder_reads_weights, list_encoders, register_encoder
from . import hed_vgg16, scratch  # noqa: F401  (they register themselves)

__all__ = ["ENCODERS", "create_encoder", "encoder_reads_weights", "list_encoders", "register_encoder"]
