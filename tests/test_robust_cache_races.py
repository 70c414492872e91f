"""Robustness: the caches' repair and write paths under concurrent use. Two actors (processes, threads) are
interleaved deterministically by patching the step between which "the other one" runs: no sleeps, no timing."""


def test_two_loads_finding_one_damaged_cached_export_repair_it_once(tiny_model_dir, tmp_path, monkeypatch):
    """Two processes (a server's workers starting) found the cached export damaged; the first set it aside, exported
    it again and loaded the new one; the second then set aside that new export as the damaged one and exported it a
    third time: the first's segmenter held graphs whose files were gone (it could not be pickled for Ray, and a change
    of torch's threads ran the old sessions with a warning), and the export was made twice."""
    import drywallqa.export.onnx as onnx

    monkeypatch.setenv("DRYWALLQA_CACHE", str(tmp_path / "cache"))
    export = onnx.exported_onnx_dir(tiny_model_dir)
    (export / "encoder.onnx").write_bytes(b"\x00garbage" * 100)
    real_load, real_write = onnx.load_exported, onnx._write_onnx
    exports, other = [], {}

    def write(model_dir, out, *args, **kwargs):
        exports.append(out)
        return real_write(model_dir, out, *args, **kwargs)

    def load(directory, threads=None, strict=False):
        if strict and not other:  # this one finds the export damaged; the other one finds it so too, and repairs it
            other["started"] = True  # before this one goes on to repair it
            try:
                return real_load(directory, threads, strict)
            except ValueError:
                other["model"] = onnx.OnnxSegmenter.load_model(tiny_model_dir)
                raise
        return real_load(directory, threads, strict)

    monkeypatch.setattr(onnx, "_write_onnx", write)
    monkeypatch.setattr(onnx, "load_exported", load)
    mine = onnx.OnnxSegmenter.load_model(tiny_model_dir)
    theirs = other["model"]
    assert len(exports) == 1  # exported again once, by the other one
    assert mine.directory == theirs.directory == export
    assert {n: onnx.file_id(export / n) for n in onnx.GRAPHS} == theirs.graph_files  # the other's files kept
    assert sorted(p.name for p in export.parent.iterdir()) == [".cache.lock", export.name]
