"""SAM prompted by text, on a tiny random SAM built from a config (no hub access)."""

import numpy as np
import torch

from drywallqa import Segmenter
from drywallqa.models import create_model
from drywallqa.models.base import PromptedSegmentationModel


def _model(d):
    return create_model("sam_text", pretrained=str(d), image_size=64)


def test_forward_shapes_and_scores(tiny_sam_dir):
    model = _model(tiny_sam_dir).eval()
    t = torch.randn(4, 384)
    with torch.no_grad():
        for b in (1, 4):
            logits, iou = model.decode_with_scores(model.encode_image(torch.rand(b, 3, 64, 64)), t[:b])
            assert logits.shape == (b, 1, 64, 64) and iou.shape == (b,)
        feats = model.encode_image(torch.rand(1, 3, 64, 64))
        assert model.decode(feats.repeat(3), t[:3]).shape == (3, 1, 64, 64)


def test_training_step_lowers_loss_and_leaves_the_image_encoder_frozen(tiny_sam_dir, one_training_step):
    torch.manual_seed(0)
    model = _model(tiny_sam_dir)
    frozen = {k: v.clone() for k, v in model.sam.vision_encoder.state_dict().items()}
    x, t, y = torch.rand(4, 3, 64, 64), torch.randn(4, 384), torch.zeros(4, 1, 64, 64)
    y[:, :, 10:40, 20:30] = 1
    before, after = one_training_step(model, x, t, y, lr=1e-3)
    assert after < before
    for k, v in model.sam.vision_encoder.state_dict().items():
        assert torch.equal(v, frozen[k]), k


def test_save_load_identical_and_confidence_gate(tiny_sam_dir, tmp_path):
    model = _model(tiny_sam_dir).eval()
    model.save_pretrained(tmp_path / "ours", extra={"threshold": 0.5})
    loaded = PromptedSegmentationModel.from_pretrained(tmp_path / "ours")
    x, t = torch.rand(2, 3, 64, 64), torch.randn(2, 384)
    with torch.no_grad():
        assert torch.equal(model(x, t), loaded(x, t))
    seg = Segmenter.load(tiny_sam_dir, model="sam-text")  # a Hugging Face directory, wrapped (0.4 spelling of sam_text)
    r = seg.predict(np.full((30, 50, 3), 128, np.uint8), ["segment crack", "segment taping area"])
    assert set(r.confidence) == {"segment crack", "segment taping area"} and r.masks["segment crack"].shape == (30, 50)
    # the gate at both ends of [0, 1]: masks whose predicted IoU is below the bar come back empty, the others whole
    image = np.zeros((20, 20, 3), np.uint8)
    conf = Segmenter.load(tmp_path / "ours").predict(image, ["segment crack"]).confidence["segment crack"]
    for bar in (0.0, 1.0):
        r = Segmenter.load(tmp_path / "ours", min_confidence=bar, threshold=0.0).predict(image, ["segment crack"])
        assert r.masks["segment crack"].all() == (conf >= bar) and r.masks["segment crack"].any() == (conf >= bar)


def test_the_old_spelling_of_the_model_type_still_names_it():
    from drywallqa.models import get_model_class, list_models

    assert get_model_class("sam-text") is get_model_class("sam_text")  # model folders saved by 0.4
    assert "sam_text" in list_models() and "sam-text" not in list_models()


def test_a_model_folder_loads_under_either_spelling_of_its_type(tiny_sam_dir, tmp_path):
    """--model sam_text with a folder saved by 0.4 (model_type 'sam-text'), and --model sam-text with one saved now:
    the same model type, not another's."""
    import json

    model = _model(tiny_sam_dir).eval()
    model.save_pretrained(tmp_path / "now", extra={"threshold": 0.5})
    model.save_pretrained(tmp_path / "old", extra={"threshold": 0.5})
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    (tmp_path / "old" / "config.json").write_text(json.dumps({**config, "model_type": "sam-text"}))
    for folder, asked in (("now", "sam-text"), ("old", "sam_text"), ("now", "sam_text"), ("old", "sam-text")):
        assert Segmenter.load(tmp_path / folder, model=asked).metadata["model_type"] in ("sam_text", "sam-text")
