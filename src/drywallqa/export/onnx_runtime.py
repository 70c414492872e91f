"""The ``onnx`` runtime (``Segmenter.load(dir, runtime="onnx")``): :class:`OnnxSegmenter`, the torch runtime's pre-
and post-processing with the model run by onnxruntime (:class:`OnnxFilmUNet`) from the graphs of
:func:`~drywallqa.export.onnx.export_onnx`; a torch model folder is run through its export in the cache
(:mod:`~drywallqa.export.onnx_cache`)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shlex
import threading
from pathlib import Path

import numpy as np
import torch

from ..engine.torch_runtime import PRECISIONS, TorchSegmenter
from ..engine.segmenter import register_runtime
from ..models.base import CONFIG_NAME, is_drywallqa_model_dir, not_a_model_folder, read_model_metadata
from ..models.film_unet.modeling_film_unet import FilmUNetFeatures
from ..text.encoder import get_text_encoder
from ..utils.checks import check_device_name
from ..utils.stamps import file_digest, file_id
from .onnx import GRAPH_DIGESTS, GRAPHS, check_exportable, is_onnx_export_dir, lateral_names, retrained_source
from .onnx_cache import _cache_lock, discard_export, export_for_this_run, exported_onnx_dir

logger = logging.getLogger(__name__)


def changed_graphs(directory: str | Path) -> list[str]:
    """The graphs of an export whose bytes are not those its export wrote (their digests in its config.json); none
    for an export of 0.6.16 or earlier, which has no digests."""
    try:
        written = json.loads((Path(directory) / CONFIG_NAME).read_text()).get(GRAPH_DIGESTS)
    except (OSError, ValueError, AttributeError):
        return []
    if written is None:
        return []
    if not isinstance(written, dict):  # not what an export writes: none of the graphs can be vouched for
        return list(GRAPHS)
    return [name for name in GRAPHS if name in written and file_digest(Path(directory) / name) != written[name]]


def load_exported(directory: str | Path, threads: int | None = None, strict: bool = False) -> "OnnxFilmUNet":
    """:class:`OnnxFilmUNet` of an exported folder. A graph whose bytes are not those the export wrote (overwritten
    inside its weights, it still loads) is refused with ``strict`` (the cache's exports: made again), else used with a
    warning (an export folder of the user's: its graphs may have been optimised since).

    Raises:
        ValueError: the folder is not a loadable export (a graph missing, truncated or not ONNX; its config.json
            unreadable; with ``strict``, a graph changed since), naming the folder.
    """
    changed = changed_graphs(directory)
    if changed and strict:
        raise ValueError(f"{directory}: not a loadable ONNX export ({', '.join(changed)} not the bytes the export wrote: "
                         "damaged since)")
    if changed:
        logger.warning("%s: %s not the bytes its export wrote (optimised since, or damaged?): used as they are",
                       directory, ", ".join(changed))
    try:
        return OnnxFilmUNet(directory, threads=threads)
    except Exception as exc:  # onnxruntime's own errors (InvalidProtobuf, NoSuchFile, ...) are not OSError/ValueError
        raise ValueError(f"{directory}: not a loadable ONNX export ({type(exc).__name__}: {exc})") from exc


ONNX_FLOATS = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}  # the input
# types the runtime feeds (onnxruntime's names): the export's float32, or a graph converted since


class OnnxFilmUNet:
    """Runs the two exported graphs with onnxruntime behind the :class:`~drywallqa.models.base.PromptedModel`
    interface (``encode_image`` / ``decode_with_scores`` / ``prompt_embeddings`` / ``num_parameters``)."""

    uses_text_encoder = True  # prompt_embeddings: the shared sentence encoder named in the model's config

    def __init__(self, directory: str | Path, threads: int | None = None):
        from ..models.registry import get_model_class

        meta = read_model_metadata(directory)
        self.directory = Path(directory)
        self.config = get_model_class(meta["model_type"]).config_class(**meta["config"])
        self.parameters_count = int(meta.get("parameters", 0))  # of the torch model it was exported from
        # the graphs' files as read, and their sessions by the threads they run on: with follow_torch_threads (the
        # onnx runtime's, OnnxSegmenter.load_model) a torch.set_num_threads made after loading is followed (_run)
        self.graph_files = {name: file_id(self.directory / name) for name in GRAPHS}
        self.follow_torch_threads, self._threads_lock = False, threading.Lock()
        self.graph_bytes = None  # the graphs themselves, in a copy unpickled (__setstate__): its sessions are of them
        self._digest = None  # of the graphs that run (weights_digest), taken when first asked
        self.threads = threads
        self.encoder, self.decoder = self._sessions(threads)
        self.sessions_by_threads = {threads: (self.encoder, self.decoder)}
        names = list(lateral_names(self.config))
        wired = {"encoder.onnx": ([i.name for i in self.encoder.get_inputs()], ["pixel_values"],
                                  [o.name for o in self.encoder.get_outputs()], names),
                 "decoder.onnx": ([i.name for i in self.decoder.get_inputs()], [*names, "text_embeddings"],
                                  [o.name for o in self.decoder.get_outputs()], ["logits"])}
        for graph, (inputs, want_in, outputs, want_out) in wired.items():  # another graph in its place failed each
            if inputs != want_in or outputs != want_out:  # photo on its own ("Invalid input name")
                raise ValueError(f"{graph} takes {inputs} and gives {outputs}, where this model's export takes {want_in} "
                                 f"and gives {want_out}: not this model's graph")
        # and their channels: an encoder of another model with the same outputs failed each photo on its own too
        # ("Got invalid dimensions for input: lateral_32"), as did a config.json of another text encoder
        given = [(o.shape or [None] * 2)[1] for o in self.encoder.get_outputs()]
        taken = [(i.shape or [None] * 2)[1] for i in self.decoder.get_inputs()]
        text_dim = getattr(self.config, "text_dim", None)
        pairs = [*zip(given, taken[:-1]), (text_dim, taken[-1])]  # (a size a graph leaves open is not compared)
        if any(isinstance(a, int) and isinstance(b, int) and a != b for a, b in pairs):
            raise ValueError(f"encoder.onnx gives laterals of {given} channels and decoder.onnx takes {taken[:-1]} and "
                             f"text embeddings of {taken[-1]} (config.json: {text_dim}): graphs of different models")
        self.lateral_names = names  # the decoder's inputs but the prompt's, as checked
        # each input fed in the float type its graph takes: a graph converted to float16 since (an optimisation the
        # runtime uses "as they are") failed every photo on its own ("Unexpected input data type")
        self.input_types = {}
        for graph, session in (("encoder.onnx", self.encoder), ("decoder.onnx", self.decoder)):
            for i in session.get_inputs():
                if i.type not in ONNX_FLOATS:
                    raise ValueError(f"{graph} takes {i.name} as {i.type}, where this model's export takes floats "
                                     f"({', '.join(ONNX_FLOATS)})")
                self.input_types[i.name] = ONNX_FLOATS[i.type]
        # fixed sizes where the runtime varies them (a graph made static since, for a mobile or TensorRT runtime,
        # failed every photo on its own: "Got invalid dimensions"): a batch of 1 is run an item at a time; the input
        # size it implies is checked against the segmenter's scales (OnnxSegmenter)
        self.one_at_a_time, sizes = set(), set()
        for graph, session in (("encoder.onnx", self.encoder), ("decoder.onnx", self.decoder)):
            for i in session.get_inputs():
                dims = list(i.shape or [])
                if dims and isinstance(dims[0], int) and dims[0] != 1:
                    raise ValueError(f"{graph} takes {i.name} in batches of {dims[0]} only, where the runtime gives it "
                                     "one per prompt and view: export it again with a dynamic batch axis")
                if dims and isinstance(dims[0], int):
                    self.one_at_a_time.add(graph)
                stride = int(i.name.rsplit("_", 1)[1]) if i.name in names else 1 if i.name == "pixel_values" else None
                if stride and len(dims) == 4 and any(isinstance(d, int) for d in dims[2:]):
                    sizes.add(tuple(d * stride if isinstance(d, int) else None for d in dims[2:]))
        if len(sizes) > 1:
            raise ValueError(f"the graphs' inputs are fixed at sizes that do not fit one photo size: {sorted(sizes)}")
        self.fixed_size = sizes.pop() if sizes else None  # (height, width) of the photos it takes; None: any

    def __getstate__(self) -> dict:
        """Its state with the graphs' bytes in place of onnxruntime's sessions, which cannot be pickled (a segmenter
        sent to a Ray actor, a ``multiprocessing`` or ``joblib`` worker, or ``copy.deepcopy``'d raised "cannot
        pickle '_thread.lock' object", where the torch runtime's is sent with its weights): the copy runs the graphs
        loaded, wherever it is unpickled, without their folder.

        Raises:
            pickle.PicklingError: a graph file changed since it was loaded (its bytes are no longer those that run),
                naming it: load it again."""
        import pickle

        state = {k: v for k, v in self.__dict__.items()
                 if k not in ("encoder", "decoder", "sessions_by_threads", "_threads_lock")}
        if self.graph_bytes is None:
            graphs = {}
            for name, seen in self.graph_files.items():
                try:  # (a file removed between the look and the read: an OSError from pickling, naming no cause)
                    data = (self.directory / name).read_bytes() if file_id(self.directory / name) == seen else None
                except OSError:
                    data = None
                if data is None or file_id(self.directory / name) != seen:
                    gone = "removed" if file_id(self.directory / name) is None else "changed"
                    raise pickle.PicklingError(f"{self.directory / name} was {gone} since it was loaded: the graph "
                                               "that runs cannot be sent; load the segmenter again, then send it")
                graphs[name] = data
            state["graph_bytes"] = graphs
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._threads_lock = threading.Lock()
        if self.follow_torch_threads:  # on the threads it will run on here (a worker's count, not the sender's: it
            self.threads = torch.get_num_threads()  # made the sender's sessions, unused, and then its own)
        self.encoder, self.decoder = self._sessions(self.threads)
        self.sessions_by_threads = {self.threads: (self.encoder, self.decoder)}

    def weights_digest(self) -> str:
        """A digest of the graphs it runs (taken once, when first asked): what tells its encodings from another
        model's, so that two loads of one export, or a pickled copy, decode each other's (the runtime's key was the
        object's id: a copy refused the original's encodings). Where a graph file was changed since it was loaded
        (the bytes read are not those that run), this object's id."""
        if self._digest is None:
            digest = hashlib.blake2b(digest_size=16)
            for name in GRAPHS:
                path = self.directory / name
                try:
                    data = self.graph_bytes[name] if self.graph_bytes is not None else \
                        path.read_bytes() if file_id(path) == self.graph_files[name] else None
                except OSError:
                    data = None
                if data is None or (self.graph_bytes is None and file_id(path) != self.graph_files[name]):
                    return f"id {id(self)}"
                digest.update(f"{name}\0{len(data)}\0".encode() + data)
            self._digest = digest.hexdigest()
        return self._digest

    def _sessions(self, threads: int | None) -> tuple:
        """onnxruntime's sessions of the encoder and decoder graphs (their bytes where it holds them, else their
        files), on ``threads`` threads (None: its default)."""
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        providers = ["CPUExecutionProvider"]
        graphs = self.graph_bytes or {name: str(self.directory / name) for name in GRAPHS}
        return tuple(ort.InferenceSession(graphs[name], opts, providers=providers) for name in GRAPHS)

    def _sessions_now(self) -> tuple:
        """The encoder's and decoder's sessions on torch's thread count in this thread, made on its first use:
        onnxruntime fixes a session's threads when it is made, and a ``torch.set_num_threads`` after loading
        (``measure_speed``'s, whose report then named its count while onnxruntime ran on the count at load: all the
        cores under ``evaluate --runtime onnx``) was not followed. Kept by count (torch's count is a thread's own
        where the thread ran torch before it was set). Graph files changed since they were loaded (the checks were
        of those loaded) are not read again: the sessions loaded run, with a warning."""
        threads = torch.get_num_threads()
        found = self.sessions_by_threads.get(threads)
        if found is not None:
            return found
        with self._threads_lock:
            if threads not in self.sessions_by_threads:
                if self.graph_bytes is None and any(file_id(self.directory / name) != seen
                                                    for name, seen in self.graph_files.items()):
                    logger.warning("%s: its graphs were changed since they were loaded; the ones loaded run, on their "
                                   "threads, not on torch's %d (load it again to run the new ones)", self.directory,
                                   threads)
                    self.sessions_by_threads[threads] = (self.encoder, self.decoder)
                else:
                    self.sessions_by_threads[threads] = self._sessions(threads)
            return self.sessions_by_threads[threads]

    def prompt_embeddings(self, prompts: list[str], text_encoder: str) -> torch.Tensor:
        return get_text_encoder(text_encoder).encode(prompts)

    def num_parameters(self) -> int:
        return self.parameters_count

    def encode_image(self, pixel_values: torch.Tensor) -> FilmUNetFeatures:
        pixels = pixel_values.numpy().astype(self.input_types["pixel_values"])
        outs = self._run("encoder.onnx", {"pixel_values": pixels})
        return FilmUNetFeatures([torch.from_numpy(o) for o in outs], tuple(pixel_values.shape[-2:]))

    def decode_with_scores(self, features: FilmUNetFeatures, text_embeddings: torch.Tensor):
        return self.decode(features, text_embeddings), None

    def decode(self, features: FilmUNetFeatures, text_embeddings: torch.Tensor) -> torch.Tensor:
        feed = {n: f.numpy().astype(self.input_types[n], copy=False)
                for n, f in zip(self.lateral_names, features.laterals)}
        feed["text_embeddings"] = text_embeddings.numpy().astype(self.input_types["text_embeddings"])
        return torch.from_numpy(self._run("decoder.onnx", feed)[0].astype(np.float32, copy=False))

    def _run(self, graph: str, feed: dict) -> list:
        """``graph``'s outputs for ``feed``, run an item at a time where its batch axis is fixed at 1."""
        encoder, decoder = self._sessions_now() if self.follow_torch_threads else (self.encoder, self.decoder)
        session = encoder if graph == "encoder.onnx" else decoder
        if graph not in self.one_at_a_time:
            return session.run(None, feed)
        items = len(next(iter(feed.values())))
        runs = [session.run(None, {k: v[i:i + 1] for k, v in feed.items()}) for i in range(items)]
        return [np.concatenate(outs) for outs in zip(*runs)]


@register_runtime("onnx")
class OnnxSegmenter(TorchSegmenter):
    """The torch runtime's pre- and post-processing with the model run by onnxruntime (a directory written by
    :func:`~drywallqa.export.onnx.export_onnx`, or a model folder exported on first use)."""

    runtime = "onnx"

    def __init__(self, model, *args, **kwargs):
        super().__init__(model, *args, **kwargs)
        fixed = getattr(model, "fixed_size", None)
        if fixed is not None and any(tuple(f or s for f in fixed) != (s, s) for s in self.scales):
            size = "x".join(str(f) if f else "any" for f in reversed(fixed))
            raise ValueError(f"{model.directory}: its graphs take photos of {size} px only (their shapes fixed since "
                             f"the export), and the scales asked are {list(self.scales)}: give scales that fit (its "
                             "config.json's scales, or scales= in Python), or export it again")

    def tile_scales(self, tile: int) -> tuple:
        """:attr:`scales` where the graphs take one input size only (their shapes fixed since the export): a smaller
        tile is enlarged to it."""
        return self.scales if getattr(self.model, "fixed_size", None) is not None else super().tile_scales(tile)

    @classmethod
    def from_path(cls, path=None, device: str = "cpu", *args, **kwargs) -> "OnnxSegmenter":
        """:meth:`TorchSegmenter.from_path` on the CPU, where onnxruntime runs the graphs (CPUExecutionProvider):
        ``device="auto"`` is the CPU (on a GPU machine it was CUDA, and every photo then failed in torch's "can't
        convert cuda:0 device type tensor to numpy").

        Raises:
            ValueError: another ``device`` (``cuda``, ``mps``), a ``model`` type other than ``film_unet``, or a
                ``precision`` other than float32, before anything is loaded or exported.
        """
        precision = kwargs.get("precision", args[8] if len(args) > 8 else "float32")
        if precision != "float32" and precision not in PRECISIONS:  # (as the torch runtime says it)
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        if precision != "float32":  # it was refused once the model was exported (the shipped one: half a minute)
            raise ValueError(f"the onnx runtime runs the exported float32 graphs; precision {precision!r} runs the "
                             "torch runtime only (leave out runtime='onnx', or precision)")
        if kwargs.get("model") not in (None, "film_unet"):  # it ran that model on torch, said to run on onnx
            raise ValueError(f"the onnx runtime runs an exported film_unet model; model {kwargs['model']!r} runs on the "
                             "torch runtime (leave out runtime='onnx')")
        if isinstance(device, str) and check_device_name(device) == "auto":
            device = "cpu"
        if torch.device(device).type != "cpu":
            raise ValueError(f"the onnx runtime runs on the CPU (onnxruntime's CPUExecutionProvider), got device "
                             f"{str(device)!r}: use cpu, or the torch runtime on a GPU")
        return super().from_path(path, device, *args, **kwargs)

    @classmethod
    def load_model(cls, path: Path) -> OnnxFilmUNet:
        """An exported folder as it is; a torch model folder (the shipped one too) through its export in
        the cache (:func:`exported_onnx_dir`), made on first use."""
        model = cls._load_graphs(path)
        model.follow_torch_threads = True  # a torch.set_num_threads after loading is followed (OnnxFilmUNet._run)
        return model

    @classmethod
    def _load_graphs(cls, path: Path) -> OnnxFilmUNet:
        """:meth:`load_model`'s graphs, on torch's threads."""
        threads = torch.get_num_threads()
        if os.path.isfile(Path(path) / "encoder.onnx"):  # (os.path: a name too long for the disk is none: not_a_model_folder)
            source = retrained_source(path)
            if source is not None:  # (it ran the old weights without a word)
                logger.warning("%s was exported from %s, whose weights have changed since (retrained, or replaced): it "
                               "runs the weights exported; to run the new ones, export it again (drywallqa export onnx "
                               "--model-path %s --out %s)", path, source, shlex.quote(source), shlex.quote(str(path)))
            return load_exported(path, threads)
        if is_onnx_export_dir(path):  # its config says so, its graphs are gone: not a torch folder to export
            raise FileNotFoundError(f"{path}: an ONNX export without its encoder.onnx; export it again (drywallqa "
                                    "export onnx --out ...) from the torch model folder")
        if not is_drywallqa_model_dir(path):  # why, as the torch runtime says it (a damaged config.json, a run's folder)
            raise FileNotFoundError(f"{not_a_model_folder(path)}, nor an ONNX export (no encoder.onnx)")
        check_exportable(path)
        export = exported_onnx_dir(path)
        found = file_id(export / CONFIG_NAME)  # which export this is: one made again since has a config.json of its own
        try:
            return load_exported(export, threads, strict=True)
        except ValueError as exc:  # the cached export is damaged (truncated, overwritten): exported again, once
            logger.warning("%s; exporting it again", exc)
            # under the cache's lock, and only the export found damaged: another process that found it so too may have
            # made it again meanwhile, and that new export (which it runs) is kept, not set aside as this damaged one
            with _cache_lock(export.parent):
                damaged = file_id(export / CONFIG_NAME) == found
                if damaged:
                    discard_export(export)
            if damaged and export.exists():  # a cache this user cannot change (read-only): the damaged export stays
                return load_exported(export_for_this_run(path, export.parent, "its damaged export cannot be replaced"),
                                     threads)
            return load_exported(exported_onnx_dir(path), threads)

    def num_parameters(self) -> int:
        return int(self.metadata.get("parameters") or self.model.num_parameters())
