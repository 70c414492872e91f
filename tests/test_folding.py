"""Batch norms folded into their convolutions for inference (models.folding): the same function, no norm left
where one follows a convolution, the model itself untouched, and the segmenter running the folded copy."""

import numpy as np
import pytest
import torch
from conftest import TINY_MODEL
from torch import nn

from drywallqa import Segmenter
from drywallqa.models import create_model
from drywallqa.models.folding import fold_batch_norms


def _norms(model) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def _trained_looking(model):
    """Norms with the statistics and scales of a trained model (fresh ones are the identity: nothing to check)."""
    g = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) * 3 + 0.1)
            m.weight.data.copy_(torch.randn(m.num_features, generator=g))
            m.bias.data.copy_(torch.randn(m.num_features, generator=g))
    return model.eval()


@pytest.mark.parametrize("refine", [0, 8])
def test_the_folded_model_computes_what_the_model_computes(refine):
    torch.manual_seed(0)
    model = _trained_looking(create_model("film_unet", **TINY_MODEL, refine_channels=refine))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = fold_batch_norms(model)
    assert folded is not model and _norms(model) > 0
    assert _norms(folded) == 0  # the encoder's residual blocks (conv_bn_pairs) and every Sequential's pairs
    after = model.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(before[k], after[k]) for k in before)  # untouched
    x, t = torch.rand(2, 3, 64, 64), torch.randn(2, 384)
    with torch.inference_mode():
        for a, b in zip(model.encode_image(x).laterals, folded.encode_image(x).laterals):
            assert a.std() > 0.5 and torch.allclose(a, b, atol=1e-4, rtol=1e-4)
        want, got = model(x, t), folded(x, t)
    assert want.std() > 1e-3 and torch.allclose(want, got, atol=1e-5, rtol=1e-4)


def test_only_a_norm_right_after_a_convolution_in_eval_mode_is_folded():
    plain = nn.Sequential(nn.Linear(4, 4), nn.ReLU())
    assert fold_batch_norms(plain) is plain  # nothing to fold: no copy
    norm_first = nn.Sequential(nn.BatchNorm2d(3), nn.Conv2d(3, 3, 1)).eval()
    assert fold_batch_norms(norm_first) is norm_first
    training = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3))  # train mode: its batch statistics are used
    assert fold_batch_norms(training) is training
    between = _trained_looking(nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1),
                                             nn.BatchNorm2d(4)))
    folded = fold_batch_norms(between)
    assert [type(m).__name__ for m in folded] == ["Conv2d", "ReLU", "BatchNorm2d", "Conv2d", "Identity"]
    x = torch.rand(1, 3, 9, 9)
    assert torch.allclose(between(x), folded(x), atol=1e-5)


def test_the_segmenter_runs_the_folded_copy_and_keeps_the_model_to_save(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    assert _norms(seg.model) > 0 and _norms(seg.inference_model) == 0
    convs = lambda m: [c.weight for c in m.modules() if isinstance(c, nn.Conv2d) and c.kernel_size[0] > 1]  # noqa: E731
    assert all(w.is_contiguous(memory_format=torch.channels_last) for w in convs(seg.inference_model))  # the fast layout
    assert all(w.is_contiguous() for w in convs(seg.model))  # the model itself as loaded
    photo = np.random.default_rng(0).integers(0, 255, (48, 56, 3), dtype=np.uint8)
    got = seg.predict(photo, ["segment crack"]).probabilities["segment crack"]
    # what the unfolded model gives, by the same code path
    seg.inference_model = seg.model
    want = seg.predict(photo, ["segment crack"]).probabilities["segment crack"]
    assert np.abs(got - want).max() < 1e-5
    saved = seg.model.save_pretrained(tmp_path / "again")  # the model as loaded, norms and all
    again = Segmenter.load(saved).predict(photo, ["segment crack"]).probabilities["segment crack"]
    assert np.abs(again - got).max() < 1e-5


def test_features_repeated_for_several_prompts_keep_their_memory_format():
    """``repeat_interleave`` gave channels-first copies of channels-last features: each extra prompt's decode then
    ran its channels-last convolutions on them, slower than the whole network had run before (31 -> 43 ms)."""
    from drywallqa.models.film_unet.modeling_film_unet import FilmUNetFeatures

    f = torch.rand(1, 8, 5, 6).contiguous(memory_format=torch.channels_last)
    plain = torch.rand(1, 8, 5, 6)
    cl, nchw = FilmUNetFeatures([f, plain], (20, 24)).repeat(3).laterals
    assert cl.shape == nchw.shape == (3, 8, 5, 6) and torch.equal(cl[2], f[0]) and torch.equal(nchw[1], plain[0])
    assert cl.is_contiguous(memory_format=torch.channels_last) and nchw.is_contiguous()
