"""The web page (as tests/test_browser.py, in headless Chromium; tests/browser/segment_again.mjs) with several photos,
Segment pressed again: it sent the whole list again, so with 20 photos and one lost to a dropped connection the 19
done went up again over a phone's link. Now a photo answered with the prompts and options sent now keeps its answer
and only those without one are sent (failed on the way, stopped), the button saying how many; anything sent changed,
all again. A connection lost or a 5xx was listed as "refused" (the server saying no to the photo): now "failed"."""

from page_helpers import photos, server  # fixtures: the tiny model served with a 20 KB limit; a.png .. big.png
from test_browser import _need_browser, run_page_script


def test_failed_listed_as_such_and_segment_again_sends_only_the_photos_without_an_answer(server, photos):
    _need_browser()
    out = run_page_script("segment_again.mjs", server, photos, "again", timeout=300)
    assert out["consoleErrors"] == [], out
    first = out["first"]
    # c.png's connection lost and d.png's 500 are no refusal of the photo: "failed", apart from big.png's refusal
    assert first["sent"] == ["a.png", "c.png", "d.png"], first
    assert [p["state"] for p in first["list"]] == ["done", "refused", "failed", "failed"], first["list"]
    c, d = first["list"][2], first["list"][3]
    assert c["said"].startswith("failed: The server could not be reached"), c
    assert d["said"].startswith("failed: The server (or a proxy in front of it) failed") and "HTTP 500" in d["said"], d
    assert c["color"] != first["list"][1]["color"], first["list"]  # not in the refusal's red
    assert first["said"] == ("1 of 4 photos segmented, 1 refused (the reason beside each), 2 failed on the way "
                            "(Segment sends them again)."), first
    assert [p[:2] for p in first["all"]] == [["a.png", "done"], ["big.png", "refused"], ["c.png", "failed"], ["d.png", "failed"]]
    assert "could not be reached" in first["all"][2][2] and "HTTP 500" in first["all"][3][2], first["all"]
    # the button says what Segment sends: the two without an answer; all again once anything sent is changed
    assert first["button"] == "Segment 2 remaining photos", first
    assert out["changed"] == "Segment" and out["back"] == "Segment 2 remaining photos", out
    assert out["typed"] == "Segment", out  # a prompt typed (added when Segment is pressed): all again
    second = out["second"]
    assert second["sent"] == ["c.png", "d.png"], second  # a.png's answer kept, big.png not tried again
    assert [p["state"] for p in second["list"]] == ["done", "refused", "done", "done"], second["list"]
    assert second["list"][0]["said"] == first["list"][0]["said"] and second["list"][0]["button"], second["list"]
    assert second["said"] == "3 of 4 photos segmented, 1 refused (the reason beside each).", second
    # while it ran, the button said which of the remaining (its first tick, before the first photo, has no prefix)
    assert [t for t in second["prefixes"] if " of " in t] == ["1 of 2 remaining", "2 of 2 remaining"], second["prefixes"]
    assert second["button"] == "Segment", second
    # nothing left to send: Segment sends all again, as before; a prompt removed: all again, with it
    assert out["third"]["sent"] == ["a.png", "c.png", "d.png"] and out["third"]["button"] == "Segment", out["third"]
    fewer = out["fewer"]
    assert fewer["button"] == "Segment" and fewer["sent"] == ["a.png", "c.png", "d.png"], fewer
    # (the first chip's: segment crack)
    assert "segment crack" not in fewer["list"][0]["said"] and "segment taping area" in fewer["list"][0]["said"], fewer


def test_segment_after_stop_sends_the_photos_stopped(server, photos):
    _need_browser()
    out = run_page_script("segment_again.mjs", server, photos, "stopped", timeout=240)
    assert out["consoleErrors"] == [], out
    stopped = out["stopped"]
    # a.png stopped on its way (Stop aborts it: tests/test_page_stop.py), none done: Segment sends all three
    assert [p["state"] for p in stopped["list"]] == ["waiting", "waiting", "waiting"], stopped
    assert stopped["button"] == "Segment", stopped
    again = out["again"]
    assert again["sent"] == ["a.png", "c.png", "d.png"] and [p["state"] for p in again["list"]] == ["done"] * 3, again
    assert again["said"] == "3 of 3 photos segmented." and again["button"] == "Segment", again


def test_one_photo_segmented_again_is_sent_again(server, photos):
    _need_browser()
    out = run_page_script("segment_again.mjs", server, photos, "one", timeout=240)
    assert out["consoleErrors"] == [], out
    assert out["first"]["sent"] == ["a.png"] and out["second"]["sent"] == ["a.png"], out
    assert out["first"]["button"] == out["second"]["button"] == "Segment", out
    assert out["second"]["status"].startswith("Done in"), out
