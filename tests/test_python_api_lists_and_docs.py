"""The Python API as a Hugging Face user meets it: a segmenter called on one photo or a list of them,
``predict_logits`` on a segmenter without raw logits, and the docs page's Python examples run as written."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drywallqa import Segmenter
from drywallqa.utils.image_io import ImageReadError


def _photo(seed: int, shape=(40, 50, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _untimed(result):
    """A result (or a list of them) without its timings, which differ run to run."""
    if isinstance(result, list):
        return [_untimed(r) for r in result]
    result.timings_ms = {}
    return result


def test_a_segmenter_called_on_a_list_gives_each_photos_result_in_order(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    a, b = _photo(0), _photo(1, (30, 70, 3))
    Image.fromarray(b).save(tmp_path / "b.png")
    prompts = ["segment crack", "segment taping area"]
    results = _untimed(seg([a, tmp_path / "b.png", Image.fromarray(a)], prompts))
    assert isinstance(results, list) and len(results) == 3
    assert results[0] == _untimed(seg.predict(a, prompts)) == results[2]
    assert results[1] == _untimed(seg.predict(tmp_path / "b.png", prompts))
    assert results[1].masks["segment crack"].shape == (30, 70)  # each at its own size
    assert _untimed(seg((x for x in (a, b)), prompts=prompts)) == _untimed([seg.predict(a, prompts),
                                                                            seg.predict(b, prompts)])  # an iterator
    assert seg((), prompts) == []


def test_a_segmenter_called_on_one_photo_is_its_predict(tiny_model_dir):
    seg = Segmenter.load(tiny_model_dir)
    a = _photo(2)
    one = _untimed(seg(a, "segment crack", threshold=0.3))
    assert one == _untimed(seg.predict(a, "segment crack", threshold=0.3))
    tiled = Segmenter.load(tiny_model_dir, tile=32, scales=[32])  # a wrapper is called the same way
    assert _untimed(tiled([a], "segment crack")) == _untimed([tiled.predict(a, "segment crack")])


def test_a_bad_photo_in_the_list_is_named_by_its_place_and_path(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    missing = tmp_path / "missing.png"
    with pytest.raises(ImageReadError, match=r"^image 1: .*missing\.png: no such file"):
        seg([_photo(0), missing], "segment crack")
    with pytest.raises(ValueError, match=r"^image 2 \(ndarray of shape \(1, 40, 50, 3\)\): expected an \(H, W\)"):
        seg([_photo(0), _photo(1), _photo(2, (1, 40, 50, 3))], "segment crack")
    with pytest.raises(TypeError, match=r"^image 0 \(int\): an image is a path"):
        seg([3], "segment crack")


def test_bad_prompts_are_refused_before_any_photo_is_read(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    with pytest.raises(ValueError, match="^give at least one prompt"):  # not "image 0: ..."
        seg([tmp_path / "missing.png"], [])
    with pytest.raises(ValueError, match="^threshold"):
        seg([_photo(0)], "segment crack", threshold=2)


def test_a_list_given_to_predict_points_to_the_call():
    with pytest.raises(TypeError, match=r"call predict for each, or the segmenter itself with the list \(seg\(images"):
        Segmenter.predict(Segmenter(), [_photo(0), _photo(1)], "segment crack")


def test_predict_logits_of_a_segmenter_without_them_names_it_and_those_that_have_them(tiny_model_dir):
    from drywallqa.engine.segmenter import EncodedImage, SegmentationResult
    from drywallqa.zeroshot.pipeline import ZeroShotSegmenter

    torch_seg = Segmenter.load(tiny_model_dir)
    _, logits, _ = torch_seg.predict_logits(_photo(0), ["segment crack"])  # the torch runtime's own
    assert tuple(logits.shape) == (1, 40, 50)
    tiled = Segmenter.load(tiny_model_dir, tile=32, scales=[32])
    with pytest.raises(NotImplementedError, match=r"^the wrapper 'tiled' \(around runtime 'torch'; load it without "
                                                  r"tile= for its logits\) gives no raw logits \(predict_logits\); "
                                                  r"runtime 'onnx', runtime 'torch' do\. predict\(image, prompts\)"
                                                  r"\.probabilities"):
        tiled.predict_logits(_photo(0), ["segment crack"])  # was an AttributeError naming no way out

    class Plain(Segmenter):  # a plugin's runtime with no logits of its own
        def decode(self, encoded: EncodedImage, prompts, threshold=None, label_shape=None) -> SegmentationResult:
            raise AssertionError("not reached")

    with pytest.raises(NotImplementedError, match="^the segmenter Plain gives no raw logits"):
        Plain().predict_logits(_photo(0), "segment crack")
    zeroshot = ZeroShotSegmenter.__new__(ZeroShotSegmenter)  # (its models are not needed to be refused)
    with pytest.raises(NotImplementedError, match="^the pipeline 'zeroshot' gives no raw logits"):
        zeroshot.predict_logits(_photo(0), "segment crack")


# ----------------------------------------------------------------------------------- the docs pages' Python, as written
# README.md's quick-start block is run by tests/test_readme.py; these are docs/*.md (docs/experiments/ holds records of
# past runs). Run against the default shipped model, as a newcomer runs them: the blocks load it by name and show what
# its prompt gate says (result.concepts), which a random test model has not.
ROOT = Path(__file__).resolve().parents[1]
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
ANY_BLOCK = re.compile(r"^```[^\n]*\n.*?^```[ \t]*$", re.S | re.M)
API_CALL = re.compile(r"`((?:drywallqa\.[\w.]+|Segmenter\.load))\(([^`]*)\)`")  # `drywallqa.x.f(a, k=1)` in the prose


def _blocks(page: Path) -> list[str]:
    return PYTHON_BLOCK.findall(page.read_text(encoding="utf-8"))


PAGES_WITH_PYTHON = [p for p in DOC_PAGES[1:] if _blocks(p)]


def test_the_docs_pages_hold_python_examples():
    assert ROOT / "docs" / "batch.md" in PAGES_WITH_PYTHON  # (a block renamed away would leave no test)


@pytest.mark.parametrize("page", PAGES_WITH_PYTHON, ids=[p.name for p in PAGES_WITH_PYTHON])
def test_a_docs_pages_python_runs_as_written(page, monkeypatch):
    from drywallqa.engine.segmenter import SegmentationResult

    monkeypatch.chdir(ROOT)  # (the examples' paths are the repository's)
    for i, block in enumerate(_blocks(page)):
        namespace: dict = {"__name__": f"docs_{page.stem}_{i}"}
        exec(compile(block, f"{page.name} (python block {i})", "exec"), namespace)
        for name, value in namespace.items():  # what the comments promise of each result the block makes
            for result in (value if isinstance(value, list) else [value]):
                if not isinstance(result, SegmentationResult):
                    continue
                assert result.masks, name
                shape = next(iter(result.masks.values())).shape
                for prompt, mask in result.masks.items():
                    assert mask.dtype == bool and mask.shape == shape, (name, prompt)
                    assert result.probabilities[prompt].dtype == np.float32, (name, prompt)
                    assert 0.0 <= result.confidence[prompt] <= 1.0, (name, prompt)


def test_batch_pages_example_gives_what_its_comments_say(monkeypatch):
    monkeypatch.chdir(ROOT)
    namespace: dict = {}
    (block,) = _blocks(ROOT / "docs" / "batch.md")
    exec(compile(block, "batch.md", "exec"), namespace)
    result, results, photos = namespace["result"], namespace["results"], namespace["photos"]
    assert result.concepts["segment crack"]["concept"] == "cracks" and result.concepts["segment crack"]["known"]
    assert isinstance(results, list) and len(results) == len(photos)
    for photo, each in zip(photos, results):
        width, height = Image.open(photo).size
        assert each.masks["segment taping area"].shape == (height, width)


def _resolve(dotted: str):
    """The object a dotted name of the docs names: its longest importable module, then attributes."""
    if dotted == "Segmenter.load":
        from drywallqa import Segmenter as seg_class

        return seg_class.load
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(dotted)


def _api_calls(page: Path) -> list[tuple[str, list[str]]]:
    """Each ``drywallqa.module.function(...)`` / ``Segmenter.load(...)`` code span of a page's prose, with the
    keywords it passes."""
    text = ANY_BLOCK.sub("", page.read_text(encoding="utf-8"))
    return [(name, re.findall(r"(?:^|[(,\s])(\w+)=", args)) for name, args in API_CALL.findall(text)]


@pytest.mark.parametrize("page", DOC_PAGES, ids=[p.name for p in DOC_PAGES])
def test_the_functions_the_docs_name_exist_with_their_keywords(page):
    from drywallqa.engine.torch_runtime import TorchSegmenter

    wrong = []
    for name, keywords in _api_calls(page):
        try:
            function = _resolve(name)
        except AttributeError as exc:
            wrong.append(f"{name}: {exc}")
            continue
        taken = set(inspect.signature(function).parameters)
        if name == "Segmenter.load":  # its **kwargs are the runtime's (torch: from_path)
            taken |= set(inspect.signature(TorchSegmenter.from_path).parameters)
        wrong += [f"{name}({k}=...): no such keyword" for k in keywords if k not in taken]
    assert not wrong, f"{page.name}: " + "; ".join(wrong)


def test_the_api_check_sees_a_wrong_name_and_keyword(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("`drywallqa.engine.batch.predict_path(seg, x)` and `Segmenter.load(tiles=3)` and\n"
                    "`drywallqa.engine.batch.predict_paths(seg, paths, prompts, out_dir,\nworkers=2, mm_per_px=1)`")
    calls = _api_calls(page)
    assert calls == [("drywallqa.engine.batch.predict_path", []), ("Segmenter.load", ["tiles"]),
                     ("drywallqa.engine.batch.predict_paths", ["workers", "mm_per_px"])]
    with pytest.raises(AssertionError, match=r"predict_path'.*Segmenter.load\(tiles=...\): no such keyword"):
        test_the_functions_the_docs_name_exist_with_their_keywords(page)
