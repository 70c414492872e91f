"""Review of the changes since bf962c8 (helper 314): what its tests left out."""

from drywallqa.engine.eval_report import grouped_problems


def test_grouped_problem_of_fewer_files_than_shown_names_no_negative_count():
    # one photo with six bad polygons: six problems of one file, the same but for the annotation's id
    lines = grouped_problems([f"/d/valid/a.jpg: annotation {i}: degenerate polygon with 2 points dropped"
                              for i in range(6)])
    assert len(lines) == 1
    assert "-2 more" not in lines[0] and " more" not in lines[0]
    assert lines[0].startswith("1 file (6 times): ")
    two = grouped_problems([f"/d/valid/{n}.jpg: annotation {i}: x" for n in "ab" for i in range(3)])
    assert "-1 more" not in two[0] and two[0].startswith("2 files (6 times): ")
    assert "a.jpg, b.jpg" in two[0]


def test_grouped_problem_of_many_files_still_counts_the_rest():
    lines = grouped_problems([f"/d/valid/{n}.jpg: a mask of 200 grey levels" for n in "abcdef"])
    assert lines == ["6 files: a mask of 200 grey levels: a.jpg, b.jpg, c.jpg and 3 more in /d/valid; "
                     "report.json's data_problems names every one"]
