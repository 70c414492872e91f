"""Review of the web page's "Download all (ZIP)" (tests/browser/zip_odd_names.mjs, headless Chromium) and of the HTTP
answer's items keyed as results.json's records."""

import json
import shutil
import subprocess
import zipfile

from drywallqa.engine.batch import mask_slug
from drywallqa.utils.slug import file_stem
# fixtures: the tiny model, a 20 KB upload limit; a.png (small), big.png (over it)
from page_helpers import PROMPTS as PROMPTS_SHOWN, photos, server  # noqa: F401
from test_browser import _need_browser, run_page_script

NAMES = ["façade été.png", "Façade été.PNG", "image.jpg", "image.jpg", "image-2.jpg", ".png", "分割.png"]
PROMPTS = ["segment crack", "fissure à reboucher", "分割裂缝", "???", "Segment crack"]
# the server's stem of each upload (file_stem of the name's stem: ".png" is all stem), told apart by the page
STEMS = ["façade été", "Façade été-2", "image", "image-2", "image-2-2", ".png", "分割"]
SLUGS = [mask_slug(p) for p in PROMPTS]  # as drywallqa predict names the masks (the server gives them)


def test_zip_of_non_ascii_names_extracts_with_those_names(server, photos, tmp_path):
    """The page's ZIP said its names were UTF-8 (bit 11) but was 'made by' MS-DOS: Info-ZIP's unzip (Linux's) read
    every name of it as the DOS code page, 'façade été__segment_crack.png' extracted as 'fa+ºade +®t+®__...'. Its
    files came out rw------- (no Unix mode). Photos of one stem, a refused and a failed photo, prompts of no ASCII
    slug."""
    _need_browser()
    (photos / "names.json").write_text(json.dumps(NAMES))
    (photos / "prompts.json").write_text(json.dumps(PROMPTS))
    out = run_page_script("zip_odd_names.mjs", server, photos, "odd", timeout=240)
    assert out["consoleErrors"] == [] and not out["error"], out
    assert out["prompts"] == PROMPTS, out
    assert out["list"] == [[n, "done"] for n in NAMES] + [["big.png", "refused"], ["lost.png", "failed"]], out
    assert out["zipName"] == "drywallqa_9_photos.zip", out
    names = [f"{stem}__{slug}.png" for stem in STEMS for slug in SLUGS] + ["drywallqa_9_photos__results.json"]
    with zipfile.ZipFile(photos / "all.zip") as z:
        assert z.testzip() is None
        assert z.namelist() == names  # the refused and the failed photo: no masks; the JSON says why
        photos_said = json.loads(z.read(names[-1]))["photos"]
        assert [(p["name"], p["state"]) for p in photos_said[-2:]] == [("big.png", "refused"), ("lost.png", "failed")]
        assert all(p["reason"] for p in photos_said[-2:])
        # made by Unix (3), as a Unix tool reads its names as they are (MS-DOS, 0: as the DOS code page), mode rw-r--r--
        headers = {(i.create_system, i.external_attr >> 16, i.flag_bits & 0x800) for i in z.infolist()}
        assert headers == {(3, 0o100644, 0x800)}
    if shutil.which("unzip"):  # (not everywhere: the header fields above are what it reads)
        to = tmp_path / "unzipped"
        run = subprocess.run(["unzip", "-q", str(photos / "all.zip"), "-d", str(to)], capture_output=True)
        assert run.returncode == 0, run
        assert sorted(p.name for p in to.iterdir()) == sorted(names)
        assert all(p.stat().st_mode & 0o777 == 0o644 for p in to.iterdir())
        assert subprocess.run(["unzip", "-tq", str(photos / "all.zip")], capture_output=True).returncode == 0


def test_zip_of_photos_all_refused_holds_the_json_only(server, photos):
    _need_browser()
    out = run_page_script("zip_odd_names.mjs", server, photos, "none", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["list"] == [["big.png", "refused"], ["big2.png", "refused"]], out
    assert out["zipShown"], out
    with zipfile.ZipFile(photos / "none.zip") as z:
        assert z.testzip() is None and z.namelist() == ["drywallqa_2_photos__results.json"]
        assert [p["state"] for p in json.loads(z.read("drywallqa_2_photos__results.json"))["photos"]] == ["refused"] * 2



def test_a_capture_while_one_photo_is_segmented_keeps_its_answer(server, photos):
    """A photo taken while the one before was on its way made the two a list, the first 'waiting': its answer, come
    meanwhile, was drawn below a list that called it not sent, and Segment uploaded it again. Now it is the list's
    first photo done (as when the capture comes after the answer): Segment sends the new one only."""
    _need_browser()
    out = run_page_script("zip_odd_names.mjs", server, photos, "camera-busy", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["during"]["list"] == [["a.png", "waiting"], ["d.png", "waiting"]] and out["during"]["sent"] == ["a.png"]
    after = out["after"]
    assert after["list"] == [["a.png", "done"], ["d.png", "waiting"]] and after["result"], after
    assert after["button"] == "Segment 1 remaining photo" and after["status"] == "2 photos, 1 not sent yet.", after
    again = out["again"]
    assert again["sent"] == ["d.png"] and again["list"] == [["a.png", "done"], ["d.png", "done"]], again
    assert again["status"] == "2 of 2 photos segmented.", again
    # a capture while a list is sent: sent with it, once each
    out = run_page_script("zip_odd_names.mjs", server, photos, "camera-running", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["after"]["sent"] == ["c.png", "d.png"], out
    assert out["after"]["list"] == [["a.png", "done"], ["c.png", "done"], ["d.png", "done"]], out



def test_zip_names_photos_as_a_windows_folder_can_hold_them(server, photos):
    """A photo's name went into the ZIP as it was: 'wall: east "2"?__segment_crack.png' (Windows cannot extract it;
    the browser saved that mask's own download as 'wall_ east _2____segment_crack.png'), and 'a\\b.png' put its masks
    in a folder a. Now each of \\ / : * ? " < > | and a control character is '_', as the browser's own download has it,
    and two names that become one are told apart."""
    _need_browser()
    names = ['wall: east "2"?.png', 'wall| east *2*<.png', "a\\b.png", "tab\there.png"]
    (photos / "names.json").write_text(json.dumps(names))
    out = run_page_script("zip_odd_names.mjs", server, photos, "windows", timeout=240)
    assert out["consoleErrors"] == [] and [s for _, s in out["list"]] == ["done"] * 4, out
    # the browser's (Chromium's) own; Chromium sends '"' of an upload's name as %22 (the server's stem holds it)
    assert out["ownName"] == "wall_ east %222%22___segment_crack.png", out
    stems = ["wall_ east %222%22_", "wall_ east _2__", "a_b", file_stem("tab\there")]  # a tab: "_" and a hash, as predict
    with zipfile.ZipFile(photos / "all.zip") as z:
        assert z.namelist() == [f"{stem}__{p.replace(' ', '_')}.png" for stem in stems for p in PROMPTS_SHOWN] + [
            "drywallqa_4_photos__results.json"]
        assert out["ownName"] in z.namelist()
