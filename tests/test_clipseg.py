"""CLIPSeg backend on a tiny random model built from a config (no hub access)."""


import numpy as np
import pytest
import torch

from drywallqa import Segmenter
from drywallqa.models import create_model
from drywallqa.models.base import PromptedSegmentationModel


def test_forward_shapes_at_batch_1_and_4(tiny_clipseg_dir):
    model = create_model("clipseg", pretrained=str(tiny_clipseg_dir), image_size=64).eval()
    t = model.prompt_embeddings(["segment crack"] * 4, None)
    assert t.shape == (4, 16)
    with torch.no_grad():
        for b in (1, 4):
            assert model(torch.rand(b, 3, 64, 64), t[:b]).shape == (b, 1, 64, 64)
        feats = model.encode_image(torch.rand(1, 3, 96, 96))  # another size: position encoding interpolated
        assert model.decode(feats.repeat(2), t[:2]).shape == (2, 1, 96, 96)


@pytest.mark.parametrize("freeze", [False, True])
def test_one_training_step_lowers_the_loss(tiny_clipseg_dir, freeze, one_training_step):
    torch.manual_seed(0)
    model = create_model("clipseg", pretrained=str(tiny_clipseg_dir), image_size=64, freeze_backbone=freeze)
    x, y = torch.rand(4, 3, 64, 64), torch.zeros(4, 1, 64, 64)
    y[:, :, 16:48, 20:30] = 1
    t = model.prompt_embeddings(["segment crack"] * 4, None)

    def vision_grad_only_when_trained(m):
        assert (m.hf.clip.vision_model.embeddings.patch_embedding.weight.grad is None) == freeze

    before, after = one_training_step(model, x, t, y, lr=1e-2, after_backward=vision_grad_only_when_trained)
    assert after < before


def test_save_load_identical_and_hf_directory_loads(tiny_clipseg_dir, tmp_path):
    model = create_model("clipseg", pretrained=str(tiny_clipseg_dir), image_size=64).eval()
    model.save_pretrained(tmp_path / "ours", extra={"threshold": 0.5})
    loaded = PromptedSegmentationModel.from_pretrained(tmp_path / "ours")
    x = torch.rand(2, 3, 64, 64)
    t = model.prompt_embeddings(["segment crack", "segment taping area"], None)
    with torch.no_grad():
        assert torch.equal(model(x, t), loaded(x, t))
    assert torch.equal(t, loaded.prompt_embeddings(["segment crack", "segment taping area"], None))
    seg = Segmenter.load(tiny_clipseg_dir, model="clipseg")
    r = seg.predict(np.zeros((30, 50, 3), np.uint8), ["segment crack"])
    assert r.masks["segment crack"].shape == (30, 50)
