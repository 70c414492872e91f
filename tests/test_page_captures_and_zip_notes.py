"""The web page with several photos (tests/browser/captures_and_zip_notes.mjs, in headless Chromium): a photo taken while the list
was sent joined it, but the status line said "Sending photo 1 of 2" until the next photo went; "Download all (ZIP)"
said nothing of the photos whose masks it lacks (refused, failed); two photo names equal but for Unicode normalisation
(é composed, NFC, or e and a combining accent, NFD) gave two ZIP files of one name on macOS."""

import json
import unicodedata
import zipfile

from page_helpers import PROMPTS, photos, server  # noqa: F401  # fixtures: the tiny model, a 20 KB limit
from test_browser import _need_browser, run_page_script


def test_a_capture_while_the_list_is_sent_is_counted_at_once(server, photos):
    _need_browser()
    out = run_page_script("captures_and_zip_notes.mjs", server, photos, "camera-all", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["before"]["status"] == "Sending photo 1 of 2: a.png", out["before"]
    during = out["during"]
    assert during["list"] == [["a.png", "sending"], ["c.png", "waiting"], ["d.png", "waiting"]], during
    assert during["status"] == "Sending photo 1 of 3: a.png", during
    assert during["button"].startswith("1 of 3 \u00b7 "), during
    after = out["after"]
    assert after["sent"] == ["a.png", "c.png", "d.png"] and after["status"] == "3 of 3 photos segmented.", after


def test_a_capture_while_the_remaining_photos_are_sent_is_counted_at_once(server, photos):
    _need_browser()
    out = run_page_script("captures_and_zip_notes.mjs", server, photos, "camera-rest", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["before"]["status"] == "Sending photo 2 of 2: c.png (1 of 1 remaining)", out["before"]
    during = out["during"]
    assert during["list"] == [["a.png", "done"], ["c.png", "sending"], ["d.png", "waiting"]], during
    assert during["status"] == "Sending photo 2 of 3: c.png (1 of 2 remaining)", during
    assert during["button"].startswith("1 of 2 remaining \u00b7 "), during
    after = out["after"]
    assert after["sent"] == ["c.png", "d.png"] and after["status"] == "3 of 3 photos segmented.", after


def test_the_zip_says_beside_it_which_photos_it_lacks(server, photos):
    _need_browser()
    out = run_page_script("captures_and_zip_notes.mjs", server, photos, "zip-note", timeout=240)
    assert out["consoleErrors"] == [], out
    assert not out["chosen"]["shown"], out["chosen"]  # nothing sent: no ZIP, nothing said of it
    assert out["list"] == [["a.png", "done"], ["big.png", "refused"], ["lost.png", "failed"]], out
    for said in (out["sent"], out["clicked"]):
        assert said["shown"] and said["said"] == "2 photos not in the ZIP: 1 refused, 1 failed.", said
        assert said["describedBy"] == "zip-note", said  # read out with the link
    assert out["zipName"] == "drywallqa_3_photos.zip", out
    all_done = out["allDone"]  # every photo's masks in it: nothing said
    assert all_done["list"] == [["a.png", "done"], ["c.png", "done"]] and all_done["zip"], all_done
    assert not all_done["shown"] and all_done["said"] == "", all_done


def test_zip_names_equal_but_for_unicode_normalisation_are_told_apart(server, photos):
    _need_browser()
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    assert unicodedata.normalize("NFC", nfd) == nfc
    names = [f"{nfc}.png", f"{nfd}.png", f"{nfd.upper()}.png", "b.png"]
    (photos / "names.json").write_text(json.dumps(names))
    out = run_page_script("captures_and_zip_notes.mjs", server, photos, "nfd", timeout=240)
    assert out["consoleErrors"] == [] and not out["error"], out
    assert out["list"] == [[n, "done"] for n in names], out
    # each name as the photo's own (its form kept), told apart in the list's order: the Windows rule (case) as before
    stems = [nfc, f"{nfd}-2", f"{nfd.upper()}-3", "b"]
    with zipfile.ZipFile(photos / "all.zip") as z:
        assert z.testzip() is None
        masks = [n for n in z.namelist() if n.endswith(".png")]
        assert masks == [f"{stem}__{p.replace(' ', '_')}.png" for stem in stems for p in PROMPTS], z.namelist()
        # one file each on macOS (names compared as NFC, case aside)
        assert len({unicodedata.normalize("NFC", n).lower() for n in z.namelist()}) == len(z.namelist())
