"""The web page (as tests/test_browser.py, in headless Chromium; tests/browser/zip_and_camera.mjs) with several photos: the
masks could be had as files only one click each (20 photos, 2 prompts: 40 clicks), or as base64 inside the JSON of all.
Now "Download all (ZIP)" gives each done photo's masks as PNG files, named as their own downloads are, with the JSON of
all the answers. A phone's camera gives one photo a capture, and a second capture took the place of the first: now it
is added to them (the first's answer kept)."""

import base64
import io
import json
import zipfile

import numpy as np
from PIL import Image

from page_helpers import PROMPTS, photos, server  # fixtures: the tiny model, a 20 KB limit; a.png .. big.png
from test_browser import _need_browser, run_page_script


def test_download_all_as_zip_holds_each_mask_png_and_the_json(server, photos):
    _need_browser()
    out = run_page_script("zip_and_camera.mjs", server, photos, "zip", timeout=240)
    assert out["consoleErrors"] == [], out
    assert not out["before"] and out["label"] == "Download all (ZIP)", out  # offered once the photos are sent
    assert out["list"] == [["a.png", "done"], ["big.png", "refused"], ["c.png", "done"], ["a.jpeg", "done"]], out
    assert out["zipName"] == "drywallqa_4_photos.zip", out
    with zipfile.ZipFile(photos / "all.zip") as z:
        assert z.testzip() is None  # every member's CRC-32 right
        # a.jpeg's stem is a.png's: told apart in the list's order
        stems = {"a": "a.png", "c": "c.png", "a-2": "a.jpeg"}
        masks = [f"{stem}__{p.replace(' ', '_')}.png" for stem in stems for p in PROMPTS]
        assert z.namelist() == masks + ["drywallqa_4_photos__results.json"], z.namelist()
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        # the JSON of all, as "Download all results (JSON)" gives it
        assert z.read("drywallqa_4_photos__results.json") == (photos / "all.json").read_bytes()
        assert out["jsonName"] == "drywallqa_4_photos__results.json"
        for stem, name in stems.items():
            answer = json.loads((photos / f"answer_{name}.json").read_bytes())
            assert [r["prompt"] for r in answer["results"]] == PROMPTS
            for r in answer["results"]:
                png = z.read(f"{stem}__{r['prompt'].replace(' ', '_')}.png")
                sent = base64.b64decode(r["mask"]["base64"])
                assert png == sent, (stem, r["prompt"])  # the server's PNG, byte for byte
                mask = np.asarray(Image.open(io.BytesIO(png)))
                assert mask.shape == (answer["image"]["height"], answer["image"]["width"])
                assert np.array_equal(mask, np.asarray(Image.open(io.BytesIO(sent))))


def test_each_camera_capture_is_added_to_the_photos_taken_before(server, photos):
    _need_browser()
    out = run_page_script("zip_and_camera.mjs", server, photos, "camera", timeout=240)
    assert out["consoleErrors"] == [], out
    first = out["first"]  # one photo taken: the page as for one photo
    assert first["list"] == [] and not first["shown"] and first["said"] == "a.png", first
    assert out["segmented"]["sent"] == ["a.png"], out["segmented"]
    # the second capture added to the first, whose answer is kept: Segment sends the new one only
    second = out["second"]
    assert second["shown"] and second["list"] == [["a.png", "done"], ["c.png", "waiting"]], second
    assert second["button"] == "Segment 1 remaining photo" and second["said"].startswith("2 photos"), second
    third = out["third"]
    assert third["list"] == [["a.png", "done"], ["c.png", "waiting"], ["d.png", "waiting"]], third
    assert third["button"] == "Segment 2 remaining photos", third
    after = out["after"]
    assert after["sent"] == ["c.png", "d.png"], after
    assert [s for _, s in after["list"]] == ["done"] * 3 and after["status"] == "3 of 3 photos segmented.", after
