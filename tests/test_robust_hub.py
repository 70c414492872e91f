"""Hugging Face folders that cannot serve the backend they are given to (another model's weights, a drywallqa
folder) are clean load errors, never a model that runs with random weights. Tiny random models only."""

import pytest
from typer.testing import CliRunner

from drywallqa import Segmenter
from drywallqa.cli import app
from drywallqa.models import create_model

# ------------------------------------------------------------ 3. a folder of another model type


@pytest.mark.parametrize("model,fixture,found,needed", [
    ("sam_text", "tiny_clipseg_dir", "clipseg", "sam"),
    ("clipseg", "tiny_sam_dir", "sam", "clipseg"),
    ("clipseg", "tiny_owlv2_dir", "owlv2", "clipseg"),
    ("clipseg", "tiny_grounding_dino_dir", "grounding-dino", "clipseg"),
])
def test_a_folder_of_another_model_type_is_a_clean_error(model, fixture, found, needed, request):
    folder = request.getfixturevalue(fixture)
    with pytest.raises(ValueError, match=rf"{folder.name}.*'{found}' model.*needs a '{needed}' one"):
        Segmenter.load(folder, model=model)


def test_load_sam_refuses_another_model_and_cli_predict_exits_2(tiny_clipseg_dir, tmp_path):
    from PIL import Image

    from drywallqa.models.sam_text import load_sam

    with pytest.raises(ValueError, match=r"hf_clipseg.*'clipseg' model.*'sam' one"):  # the SAM of refine and zero-shot
        load_sam(str(tiny_clipseg_dir))
    (tmp_path / "in").mkdir()
    Image.new("RGB", (40, 30)).save(tmp_path / "in" / "w.png")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "in"), "--model", "sam_text", "--model-path",
                                   str(tiny_clipseg_dir), "--prompt", "segment crack", "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "'clipseg' model" in res.output, res.output


@pytest.mark.parametrize("model,fixture", [("clipseg", "tiny_clipseg_dir"), ("sam_text", "tiny_sam_dir")])
def test_a_drywallqa_folder_is_no_hugging_face_folder(model, fixture, request, tmp_path):
    """Its config.json says clipseg too, but its weights are drywallqa's: as ``pretrained`` they would all be random."""
    ours = create_model(model, pretrained=str(request.getfixturevalue(fixture)), image_size=64)
    ours.save_pretrained(tmp_path / "ours")
    with pytest.raises(ValueError, match=r"ours.*is a drywallqa model folder.*init_from"):
        create_model(model, pretrained=str(tmp_path / "ours"))
