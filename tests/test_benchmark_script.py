"""benchmarks/run_benchmark.py: the shipped models side by side (models.md)."""


def _report(crack_valid, crack_test, taping_valid, taping_test, first, extra, mb):
    rows = [{"split": split, "dataset": ds, "prompt": prompt, "mIoU": v}
            for split, ds, prompt, v in (("published valid", "cracks", "segment crack", crack_valid),
                                         ("group-clean test", "cracks", "segment crack", crack_test),
                                         ("published valid", "cracks", "segment wall crack", 0.0),
                                         ("published valid", "taping", "segment taping area", taping_valid),
                                         ("group-clean test", "taping", "segment taping area", taping_test))]
    return {"metrics": rows, "speed": {"median_ms_first_prompt": first, "median_ms_per_extra_prompt": extra}, "model_mb": mb}


def test_models_table_puts_each_model_on_one_row(load_script):
    bench = load_script("run_benchmark", "benchmarks")
    table = bench.models_table({"fast": _report(0.475, 0.43, 0.776, 0.679, 102.9, 25.9, 17.7),
                                "accurate": _report(0.61, 0.56, 0.81, 0.73, 900.0, 60.0, 35.2)}).splitlines()
    assert table[0].startswith("| model | crack mIoU valid / test")
    assert table[2] == "| fast | 0.475 / 0.430 | 0.776 / 0.679 | 102.9 | 25.9 | 17.7 |"  # canonical prompts only
    assert table[3] == "| accurate | 0.610 / 0.560 | 0.810 / 0.730 | 900.0 | 60.0 | 35.2 |"
    partial = bench.models_table({"x": {"metrics": [], "model_mb": 1.0}}).splitlines()[2]
    assert partial == "| x | n/a / n/a | n/a / n/a | n/a | n/a | 1.0 |"
