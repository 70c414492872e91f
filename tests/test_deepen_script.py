"""scripts/deepen_model.py: deeper encoder stages that start as the identity."""

import pytest
import torch

from drywallqa.models import create_model


def _outputs(model, x, t):
    with torch.no_grad():
        return model.decode(model.encode_image(x), t)


def test_deeper_model_computes_the_same_and_can_learn(tiny_kwargs, load_script):
    script = load_script("deepen_model")
    torch.manual_seed(0)
    model = create_model("film_unet", **tiny_kwargs).eval()
    for m in model.modules():  # trained-looking batch norms, so that a wrong copy would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2), m.running_var.uniform_(0.5, 2.0), m.weight.data.uniform_(0.5, 1.5)
    depths = tuple(d + i % 2 + 1 for i, d in enumerate(model.config.encoder_depths))
    deeper = script.deepen(model, depths)
    assert deeper.config.encoder_depths == depths and not deeper.training
    assert sum(p.numel() for p in deeper.parameters()) > sum(p.numel() for p in model.parameters())
    x, t = torch.rand(2, 3, 64, 64), torch.randn(2, model.config.text_dim)
    torch.testing.assert_close(_outputs(deeper, x, t), _outputs(model, x, t))
    new_block = deeper.encoder.stages[0][-1]
    torch.nn.init.ones_(new_block.bn2.weight)  # once trained away from zero, the new block matters
    assert not torch.allclose(_outputs(deeper, x, t), _outputs(model, x, t))


def test_deepen_refuses_fewer_blocks(tiny_kwargs, load_script):
    script = load_script("deepen_model")
    model = create_model("film_unet", **tiny_kwargs)
    fewer = tuple(max(0, d - 1) for d in model.config.encoder_depths)
    with pytest.raises(ValueError, match="none below"):
        script.deepen(model, fewer)


def test_refinement_level_computes_the_same_and_can_learn(tiny_kwargs, load_script):
    script = load_script("deepen_model")
    torch.manual_seed(0)
    model = create_model("film_unet", **tiny_kwargs).eval()
    refined = script.deepen(model, refine_channels=8)
    assert refined.config.refine_channels == 8 and refined.config.encoder_depths == model.config.encoder_depths
    x, t = torch.rand(2, 3, 64, 64), torch.randn(2, model.config.text_dim)
    feats = refined.encode_image(x)
    assert len(feats.laterals) == 5 and feats.laterals[4].shape == (2, 8, 32, 32)  # stride 2
    torch.testing.assert_close(_outputs(refined, x, t), _outputs(model, x, t))
    torch.nn.init.normal_(refined.refine.out.weight)  # once trained away from zero, the level matters
    assert not torch.allclose(_outputs(refined, x, t), _outputs(model, x, t))
    with pytest.raises(ValueError, match="no refinement level yet"):
        script.deepen(refined, refine_channels=8)


def test_the_command_names_a_wrong_folder_or_depths_without_a_traceback(tmp_path, tiny_model_dir, load_script,
                                                                         monkeypatch, capsys):
    """A missing model folder, a training run, --depths that are no numbers or fewer than the model's, a DEST that is
    a file: each was a traceback (FileNotFoundError, ValueError)."""
    import sys

    script = load_script("deepen_model")
    (tmp_path / "file").write_text("x")
    for argv, said in (([tmp_path / "nope", tmp_path / "d", "--depths", "2,2,2,2"], "no model folder"),
                       ([tiny_model_dir, tmp_path / "d", "--depths", "2,x"], "whole numbers separated by commas"),
                       ([tiny_model_dir, tmp_path / "d", "--depths", "1,1"], "none below the current"),
                       ([tiny_model_dir, tmp_path / "file", "--depths", "2,2,2,2"], "is a file")):
        monkeypatch.setattr(sys, "argv", ["deepen_model.py", *map(str, argv)])
        with pytest.raises(SystemExit) as exc:
            script.main()
        assert exc.value.code == 2 and said in capsys.readouterr().err, argv
    assert not (tmp_path / "d").exists()
    monkeypatch.setattr(sys, "argv", ["deepen_model.py", str(tiny_model_dir), str(tmp_path / "d"), "--depths", "2,1,1,1"])
    script.main()
    from drywallqa.models.base import PromptedSegmentationModel

    assert PromptedSegmentationModel.from_pretrained(tmp_path / "d").config.encoder_depths == (2, 1, 1, 1)
