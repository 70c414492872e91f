"""The web page (as tests/test_browser.py, in headless Chromium; tests/browser/many_photos.mjs) with several photos at
once: a site engineer back from a floor with 20 photos chose them together, and the page took the first (dropped) or
one (chosen). Now each is sent in turn, one request at a time, listed with its state; one over the upload limit is
refused by name and the others sent; the one selected is shown as one photo is; all the answers download as one JSON."""

from page_helpers import PROMPTS, photos, server  # noqa: F401  # fixtures: the tiny model, a 20 KB limit; a.png .. big.png
from test_browser import _need_browser, run_page_script


def test_several_photos_sent_in_turn_listed_and_downloaded(server, photos):
    _need_browser()
    out = run_page_script("many_photos.mjs", server, photos, "list", timeout=240)
    assert out["consoleErrors"] == [], out
    chosen = out["chosen"]  # all four listed, waiting; no single photo's preview
    assert chosen["shown"] and not chosen["preview"] and "4 photos" in chosen["said"], chosen
    assert [(p["name"], p["state"]) for p in chosen["list"]] == [(n, "waiting") for n in ("a.png", "big.png", "c.png", "d.png")]
    # while c.png is on its way: a.png done (its masks' thumbnail, its measures), big.png refused at once by name (never
    # sent), c.png sending with a progress bar, d.png waiting; the button says which photo; the first answer shown
    during = {p["name"]: p for p in out["during"]["list"]}
    assert [p["state"] for p in out["during"]["list"]] == ["done", "refused", "sending", "waiting"], out["during"]
    a = during["a.png"]
    assert a["button"] and a["thumb"] == "data:image/png;base64," and a["pressed"] == "true", a
    assert a["said"].startswith("done in") and "segment crack: " in a["said"] and "region" in a["said"], a
    big = during["big.png"]
    assert "big.png is 0.03 MB" in big["said"] and "up to 0.02 MB" in big["said"] and "smaller photo" in big["said"], big
    assert not big["button"], big  # nothing to show
    assert during["c.png"]["progress"]["label"] == "c.png sent", during["c.png"]
    assert during["d.png"]["said"] == "waiting" and during["d.png"]["progress"] is None
    assert out["during"]["button"].startswith("3 of 4 \u00b7 ") and out["during"]["disabled"], out["during"]
    assert out["during"]["said"] == "Sending photo 3 of 4: c.png" and out["during"]["focused"] == "queue-title", out["during"]
    assert out["during"]["shownName"] == "a__result.json" and out["during"]["stop"], out["during"]
    after = out["after"]
    # one request at a time, in the list's order; the photo over the limit never sent
    assert after["sent"] == ["a.png", "c.png", "d.png"] and after["most"] == 1, after
    assert [p["state"] for p in after["list"]] == ["done", "refused", "done", "refused"], after["list"]
    d = after["list"][3]  # the server's refusal, as the page says it for one photo
    assert d["said"].startswith("refused: Please check the input: tile size: the tile is too small (HTTP 422)"), d
    assert after["said"] == "2 of 4 photos segmented, 2 refused (the reason beside each).", after["said"]
    assert after["button"] == "Segment" and not after["stop"] and not after["error"], after
    assert after["shownName"] == "a__result.json" and "a.png" in after["status"], after  # the first still shown
    # the third line chosen with the keyboard: its masks, measures and downloads; the focus stays on the list
    selected = out["selected"]
    assert [p["pressed"] for p in selected["list"]] == ["false", None, "true", None], selected["list"]
    assert "c.png" in selected["status"] and selected["overlay"].startswith("c.png with"), selected
    assert sorted(selected["rows"]) == PROMPTS and selected["focused"] == "c.png", selected
    # all the answers in one JSON, in the list's order: each photo's answer as its own download has it, or why not
    every = out["all"]
    assert every["name"] == "drywallqa_4_photos__results.json", every
    assert [(p["name"], p["state"]) for p in every["photos"]] == [("a.png", "done"), ("big.png", "refused"),
                                                                  ("c.png", "done"), ("d.png", "refused")], every
    assert every["photos"][0]["prompts"] == PROMPTS and every["photos"][0]["mask"] == "iVBORw0K", every  # a PNG
    assert "0.02 MB" in every["photos"][1]["reason"] and "HTTP 422" in every["photos"][3]["reason"], every
    # one photo chosen after them: the page as for one photo (no list, its preview, its results in view and focused)
    one = out["one"]
    assert not one["list"] and one["preview"] and one["said"] == "a.png", one
    assert one["sent"] == ["a.png"] and one["status"].startswith("Done in") and one["json"] == "a__result.json", one
    assert one["focused"] == "results-title", one


def test_stop_while_a_photo_is_on_its_way(server, photos):
    _need_browser()
    out = run_page_script("many_photos.mjs", server, photos, "stop", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["stopping"] == {"text": "Stopping\u2026", "disabled": True}, out["stopping"]
    after = out["after"]
    assert after["sent"] == ["a.png"] and not after["stop"], after  # no other sent
    assert [(p["state"], p["said"]) for p in after["list"][1:]] == [("waiting", "not sent: stopped")] * 2, after["list"]
    # the photo on its way aborted at once (tests/test_page_stop.py): it let it finish
    assert (after["list"][0]["state"], after["list"][0]["said"]) == ("waiting", "stopped on its way"), after["list"]
    assert after["said"] == "0 of 3 photos segmented, stopped, 3 not sent (Segment sends them).", after["said"]


def test_several_photos_dropped_are_listed(server, photos):
    _need_browser()
    out = run_page_script("many_photos.mjs", server, photos, "drop", timeout=240)
    assert out["consoleErrors"] == [], out
    dropped = out["dropped"]  # both photos listed (the first alone was taken), the text file named as left out
    assert dropped["names"][0] == "north.png" and dropped["names"][1].startswith("IMG-20240512"), dropped
    assert dropped["scrollWidth"] <= 390, dropped  # the long name wrapped: no page to scroll sideways on a phone
    assert "2 photos" in dropped["said"] and "not a photo, left out: notes.txt" in dropped["said"], dropped
