import json

from typer.testing import CliRunner

from drywallqa.cli import app


def test_data_split_and_stats(synthetic_datasets, tmp_path):
    runner = CliRunner()
    out = tmp_path / "splits"
    res = runner.invoke(app, ["data", "split", "-d", "syn_tape", "--out", str(out), "--datasets-dir", str(synthetic_datasets)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "syn_tape.json").read_text())
    assert set(manifest["parts"]) == {"train", "val", "test"}
    assert sum(len(v) for v in manifest["parts"].values()) == 16
    res = runner.invoke(app, ["data", "stats", "-d", "syn_tape", "--datasets-dir", str(synthetic_datasets),
                              "--json", str(tmp_path / "stats.json")])
    assert res.exit_code == 0, res.output
    stats = json.loads((tmp_path / "stats.json").read_text())[0]
    assert stats["splits"]["train"]["images"] == 12 and stats["splits"]["valid"]["images"] == 4
    assert stats["splits"]["train"]["source_groups"] == 4
    # stems t0 is in both train and valid
    assert stats["source_groups_shared_between_splits"]["train&valid"] == 1


def test_bad_split_fractions_are_refused(tmp_path):
    res = CliRunner().invoke(app, ["data", "split", "--val", "0.6", "--test", "0.5", "--out", str(tmp_path)])
    assert res.exit_code == 2
