"""The web page's Stop for a list of photos on its way (tests/browser/page_stop.mjs, in headless Chromium). Stop let
the photo on its way finish: a wrong prompt meant waiting for its upload, and an upload the server never answered
(a broken network path keeping the connection open) kept the list "Sending" for ever. Stop now aborts it at once and
sends no other; the photos done keep their answers, and Segment sends the others (not the done ones). An upload
that has not moved for a while (STALL_S: lowered by the test) is said to be stalled, Stop pointed to. One photo alone
has its Stop too, below Segment."""

from page_helpers import photos, server  # noqa: F401  # fixtures: the tiny model, a 20 KB limit
from test_browser import _need_browser, run_page_script


def test_stop_aborts_the_photo_on_its_way_and_segment_sends_the_rest(server, photos):
    _need_browser()
    out = run_page_script("page_stop.mjs", server, photos, "stop", timeout=240)
    assert out["consoleErrors"] == [], out
    during = out["during"]
    assert during["stop"] and during["text"] == "Stop", during
    assert min(during["size"]) >= 32, during  # as big as a finger needs (tests/test_page_on_a_phone.py)
    stopped = out["stopped"]
    # c.png's request aborted (it was never answered: the run ended with Stop alone), d.png never sent
    assert stopped["failed"] == ["c.png"] and stopped["sent"] == ["a.png", "c.png"], stopped
    assert stopped["list"] == [["a.png", "done", stopped["list"][0][2]], ["c.png", "waiting", "stopped on its way"],
                               ["d.png", "waiting", "not sent: stopped"]], stopped
    assert stopped["list"][0][2].startswith("done"), stopped  # its answer kept
    assert stopped["status"] == "1 of 3 photos segmented, stopped, 2 not sent (Segment sends them).", stopped
    assert not stopped["stop"] and stopped["button"] == "Segment 2 remaining photos", stopped
    assert stopped["focused"] == "queue-title", stopped  # the focus kept on the list (not lost to the page)
    again = out["again"]
    assert again["sent"] == ["a.png", "c.png", "c.png", "d.png"], again  # a.png not sent again
    assert [state for _, state, _ in again["list"]] == ["done"] * 3, again
    assert again["status"] == "3 of 3 photos segmented." and again["button"] == "Segment", again


def test_an_upload_without_progress_is_said_to_stall_and_left_alone(server, photos):
    _need_browser()
    out = run_page_script("page_stop.mjs", server, photos, "stall", timeout=240)
    assert out["consoleErrors"] == [], out
    stalled = out["stalled"]
    # said where the list's progress is said (read out: aria-live), pointing to Stop; nothing aborted by the page
    assert stalled["status"].startswith("Sending photo 2 of 2: c.png. No "), stalled
    assert stalled["status"].endswith(" 1 s: the connection may be lost. Stop, then Segment to try again.") or \
        stalled["status"].endswith("or the connection is lost. Stop, then Segment to try again."), stalled
    assert stalled["live"] == "polite" and stalled["stop"] and stalled["running"] and stalled["failed"] == [], stalled
    assert stalled["list"][1][:2] == ["c.png", "sending"], stalled
    stopped = out["stopped"]  # the notice gone once stopped
    assert stopped["status"] == "1 of 2 photos segmented, stopped, 1 not sent (Segment sends it).", stopped
    assert stopped["failed"] == ["c.png"], stopped


def test_one_photo_stalled_is_stopped_and_sent_again(server, photos):
    _need_browser()
    out = run_page_script("page_stop.mjs", server, photos, "one", timeout=240)
    assert out["consoleErrors"] == [], out
    stalled = out["stalled"]
    assert stalled["status"].startswith(("Uploading the photo\u2026 No ", "Segmenting\u2026 No ")), stalled
    assert stalled["status"].endswith("Stop, then Segment to try again."), stalled
    assert stalled["stop"] and stalled["label"] == "Stop" and stalled["failed"] == [], stalled  # left alone
    assert stalled["size"][1] >= stalled["run"] - 2 and stalled["size"][0] >= 100, stalled  # as big as Segment
    stopped = out["stopped"]
    assert stopped["failed"] == ["a.png"] and not stopped["stop"] and not stopped["error"], stopped
    assert stopped["status"] == "Stopped: a.png was not segmented. Press Segment to send it again.", stopped
    assert stopped["focused"] == "run" and stopped["button"] == "Segment", stopped
    again = out["again"]
    assert again["sent"] == ["a.png", "a.png"] and again["result"] and not again["stop"], again
