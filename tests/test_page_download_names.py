"""The names of the files the web page downloads (tests/browser/download_names.mjs, in headless Chromium): a mask was named
``<photo stem>__<slug>.png`` by a rule of the page's own, which gave a prompt that is not plain words its number
(``segment-crack``, ``裂缝``, ``overlay``: ``segment_crack-2``) where ``drywallqa predict`` writes a hash of its text
(``segment_crack-<8 hex>``), and a long photo name its whole stem where predict cuts it and adds a hash: one mask, two
names for someone who downloads from the page and runs predict too. Now the answer says the names predict gives
(``stem``, ``prompt_files``: one rule, the server's) and the page names its downloads and the ZIP's files with them."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drywallqa import Segmenter
from drywallqa.engine.batch import mask_name, predict_paths
from drywallqa.serve import ServeConfig, create_app
from test_browser import _need_browser, run_page_script, serving

LONG = "segment the hairline crack that runs along the taped joint under the window"
PROMPTS = ["segment crack", "segment-crack", "裂缝", "overlay", "Segment Crack", LONG]
NAMES = ["IMG_0042.png", "wall 3.b.png", "裂缝墙.png", "x" * 150 + ".png"]


def _photo(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (64, 48), (150, 150, 150)).save(path, format="PNG")
    return path


def test_the_answer_names_each_mask_as_predict_writes_it(tiny_model_dir, tmp_path):
    seg = Segmenter.load(tiny_model_dir)
    paths = [_photo(tmp_path / name) for name in NAMES]
    predict_paths(seg, paths, PROMPTS, tmp_path / "out", progress=False)
    client = TestClient(create_app(ServeConfig(), seg))
    for path in paths:
        r = client.post("/v1/segment", files={"image": (path.name, path.read_bytes(), "image/png")},
                        data={"prompts": PROMPTS})
        assert r.status_code == 200, r.text
        answer = r.json()
        assert list(answer["prompt_files"]) == [item["prompt"] for item in answer["results"]] == PROMPTS
        named = [f"{answer['stem']}__{answer['prompt_files'][p]}.png" for p in PROMPTS]
        assert named == [mask_name(path, p) for p in PROMPTS], path.name
        assert all((tmp_path / "out" / name).is_file() for name in named), sorted((tmp_path / "out").iterdir())
    assert len(set(answer["prompt_files"].values())) == len(PROMPTS)  # "overlay" is not the overlay strip's name
    assert answer["prompt_files"]["overlay"] != "overlay" and len(answer["stem"].encode()) <= 120


@pytest.fixture
def server(tiny_model_dir):
    yield from serving(create_app(ServeConfig(), Segmenter.load(tiny_model_dir)))


def test_the_page_downloads_masks_under_the_names_predict_gives_them(server, tmp_path):
    import json
    import zipfile

    from drywallqa.utils.slug import file_stem

    _need_browser()
    _photo(tmp_path / "a.png")
    names = [*NAMES, "IMG_0042.jpeg"]  # a stem taken: the ZIP tells the two apart
    out = run_page_script("download_names.mjs", server, tmp_path, json.dumps(PROMPTS), json.dumps(names), timeout=400)
    assert out["consoleErrors"] == [], out
    for name in names:
        one, stem = out["one"][name], file_stem(Path(name).stem)
        assert one["error"] == "", one
        assert sorted(one["masks"]) == sorted([p, mask_name(Path(name), p)] for p in PROMPTS), name
        assert one["overlay"] == f"{stem}__overlay.png" and one["json"] == f"{stem}__result.json", one
    assert [s for _, s in out["list"]] == ["done"] * len(names), out["list"]
    with zipfile.ZipFile(tmp_path / "all.zip") as z:
        masks = [n for n in z.namelist() if n.endswith(".png")]
    expected = [mask_name(Path(name), p) for name in NAMES for p in PROMPTS]
    assert masks == expected + [f"IMG_0042-2__{mask_name(Path('IMG_0042.jpeg'), p).split('__', 1)[1]}" for p in PROMPTS]
