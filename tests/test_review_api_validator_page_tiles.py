"""Review of the Python API, the validator, the pictures, the page and tiling: each test a defect found."""

import pytest

from drywallqa import Segmenter
from drywallqa.serve import ServeConfig, create_app
from test_browser import _need_browser, run_page_script, serving
from test_ignore_losses_and_scores import _RedMaps, _photo_of, _scored_arrays


@pytest.fixture
def server(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    seg.prompt_thresholds = {"segment crack": 0.5, "segment taping area": 0.5}  # the page's two suggested prompts
    yield from serving(create_app(ServeConfig(), seg))


def test_page_emptied_mask_not_said_nothing_found(server, tmp_path):
    # a mask min_confidence emptied (it held pixels: emptied_below in the answer) read '0.42 · nothing found', as if
    # the model had found nothing there, where it found something it was not sure enough of
    _need_browser()
    from PIL import Image

    Image.new("RGB", (64, 48), (150, 150, 150)).save(tmp_path / "wall.png")
    out = run_page_script("emptied_and_too_large.mjs", server, tmp_path / "wall.png", "emptied", timeout=120)
    assert out["consoleErrors"] == [], out
    conf = out["confidence"]
    assert "nothing found" not in conf["segment crack"] and "emptied below 0.5" in conf["segment crack"], conf
    assert conf["segment taping area"] == "0.90 \u00b7 nothing found", conf


def test_prompt_keyed_error_does_not_call_a_partial_dict_the_results_prompts():
    # result.emptied holds only the prompts min_confidence emptied: asking it for another prompt of the result said
    # "the result's prompts: 'segment taping area'", as if the result held no 'segment crack'
    import numpy as np

    from drywallqa.engine.segmenter import SegmentationResult

    m = np.zeros((4, 4), bool)
    r = SegmentationResult(masks={"segment crack": m, "segment taping area": m}, emptied={"segment taping area": 0.5})
    with pytest.raises(KeyError) as err:
        r.emptied["segment crack"]
    said = str(err.value)
    assert "'segment crack'" in said and "result's prompts" not in said and "'segment taping area'" in said, said
    with pytest.raises(KeyError, match="'segment cracks'.*'segment crack', 'segment taping area'"):
        r.masks["segment cracks"]  # a misspelt prompt: still said with the prompts there are


def test_a_tile_a_little_smaller_than_the_input_size_is_not_said_enlarged_1_times(tiny_model_dir):
    # the factor was written to 2 significant digits: a 62 px tile on a 64 px model (3% larger) read "enlarged 1 times
    # to 64 px, so cracks and joints look 1 times as wide", a warning that says nothing changes
    from drywallqa.engine.tiling import TiledSegmenter

    said = TiledSegmenter(Segmenter.load(tiny_model_dir), 62, enlarge=True).upscale_warning()  # (enlarged: h254)
    assert said and "1 times" not in said and "3.2% wider" in said and "64 px" in said, said
    said = TiledSegmenter(Segmenter.load(tiny_model_dir), 32, enlarge=True).upscale_warning()
    assert "enlarged 2 times" in said and "2 times as wide" in said, said


def test_photo_just_over_the_upload_limit_is_not_said_to_be_of_the_limit(tiny_model_dir, tmp_path):
    # the photo's size was written to one decimal: a photo of 0.101 MB on a server taking 0.1 MB (20.02 MB on one
    # taking 20) read "wall.png is 0.1 MB: this server takes photos of up to 0.1 MB", refused at the limit it names
    _need_browser()
    import numpy as np
    from PIL import Image

    app = create_app(ServeConfig(max_upload_mb=0.1), Segmenter.load(tiny_model_dir))
    noise = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    Image.fromarray(noise).save(tmp_path / "wall.png")
    with open(tmp_path / "wall.png", "ab") as f:  # padded after its end to 106,000 bytes: 0.1011 MB
        f.write(b"\0" * (106_000 - (tmp_path / "wall.png").stat().st_size))
    for url in serving(app):
        out = run_page_script("emptied_and_too_large.mjs", url, tmp_path / "wall.png", "too large", timeout=120)
    assert out["consoleErrors"] == [] and out["tooLarge"]["sent"] == [], out
    error = out["tooLarge"]["error"]
    assert error.startswith("wall.png is 0.101 MB: this server takes photos of up to 0.1 MB."), error


def test_repr_of_a_tiled_segmenter_whose_init_failed_does_not_raise(tiny_model_dir):
    # TiledSegmenter(seg, 0) fails before setting anything: a debugger or a traceback's locals (pytest --showlocals)
    # showing it got an AttributeError from its repr ('no attribute tile'), where TorchSegmenter's says "(not made)"
    from drywallqa.engine.tiling import TiledSegmenter

    half = TiledSegmenter.__new__(TiledSegmenter)
    with pytest.raises(ValueError):
        half.__init__(Segmenter.load(tiny_model_dir), 0)
    assert repr(half) == "TiledSegmenter(not made)"


def test_validation_of_a_dataset_labelled_ignore_everywhere_is_refused(crack_dataset):
    # a dataset whose every label is 'ignore' everywhere scored mIoU 0 (over no photo: table / max(n, 1)), pulling the
    # val mean down, its threshold chosen on nothing, while the warning said "its mIoU (1.0 for a model that answers
    # nothing)"; evaluate refuses such a set: so does the validator, at once where the labels are given as arrays
    import numpy as np

    from drywallqa.engine.validator import Validator

    gt, _, prob, _ = _scored_arrays(2)
    image, void = _photo_of(prob), np.full(gt.shape, 255, np.uint8)
    with pytest.raises(ValueError, match=r"every label of dataset 'ign_cracks' \(2 photos\) is 'ignore'"):
        Validator({crack_dataset: [(image, void), (image, void)]}, options=False, targets=True)
    lazy = Validator({crack_dataset: [lambda: (image, void)]}, options=False, targets=True)  # read when scored
    with pytest.raises(ValueError, match=r"every label of dataset 'ign_cracks' \(1 photos\) is 'ignore'"):
        lazy(_RedMaps())
    target = gt.astype(np.uint8)
    target[:2] = 255  # one photo with a band, one all 'ignore': the first scored alone
    scored = Validator({crack_dataset: [(image, target), (image, void)]}, options=False, targets=True)(_RedMaps())
    assert scored.images[crack_dataset] == 1


def test_a_batch_job_on_enlarged_tiles_says_so_in_its_warnings(tiny_model_dir, tmp_path):
    # a batch job keeps a photo's reading notes, not its result's warnings: predict_paths with a TiledSegmenter whose
    # tile is below the model's input size (made directly: Segmenter.load(tile=) logs it, this does not) wrote masks
    # of cracks seen twice as wide with no word of it, in the summary or in results.json
    import json

    import numpy as np
    from PIL import Image

    from drywallqa.engine.batch import predict_paths
    from drywallqa.engine.tiling import TiledSegmenter

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (100, 150, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    tiled = TiledSegmenter(Segmenter.load(tiny_model_dir), 32)
    summary = predict_paths(tiled, [tmp_path / "a.png"], ["segment crack"], tmp_path / "out", progress=False)
    assert summary.ok and [w for w in summary.warnings if w == tiled.upscale_warning()], summary.warnings
    written = json.loads((tmp_path / "out" / "results.json").read_text())["warnings"]
    assert tiled.upscale_warning() in written, written
    whole = predict_paths(Segmenter.load(tiny_model_dir), [tmp_path / "a.png"], ["segment crack"], tmp_path / "out2",
                          progress=False)
    assert not [w for w in whole.warnings if "input size" in w], whole.warnings
