"""Batch prediction on Ray Data: the job of :func:`~drywallqa.engine.batch.predict_paths` over an actor pool, each
actor holding a model (:func:`predict_paths_ray`). A photo that kills its actor's process (a decoder's crash, out of
memory) is named failed and the others are still done; a folder predicted by one executor is resumed by the other."""

from __future__ import annotations

import gc
import itertools
import json
import logging
import os
import re
import socket
import time
import uuid
import warnings
from dataclasses import replace
from pathlib import Path

from ..utils.files import STORAGE_ERRNOS, temp_dir, write_text_atomic
from ..utils.formats import strict_json
from ..utils.image_io import DEFAULT_MAX_PIXELS
from ..utils.signals import signal_handlers_kept
from ..utils.slug import shown
from .batch import (INFLIGHT_PREFIX, INTERRUPTED, NOT_DONE, BatchOptions, BatchSummary, JobInterrupted,
                    check_job_inputs, check_out_apart, check_workers, describe_error, disk_stopped, done_since,
                    finish_job, input_paths, job_options, job_settings, job_warnings, plan_job, process_image)
from .segmenter import Segmenter, tile_warning_said
from .tiling import tiling_facts

logger = logging.getLogger(__name__)

RAY_TASK_RETRIES = 2  # tries again of a batch whose actor died (Ray Data's default: for ever)
RAY_ROUNDS = 10  # Ray jobs at most per predict_paths_ray call: each after the first names a photo that killed a worker
RAY_CONNECT_TIMEOUT_S = 10  # for a cluster's address to answer at all (ray.init waits some 13 minutes for one that does not)
UNLOADED = "unloaded"  # the status of a row an actor that could not load the model answered


class RayModelError(ValueError):
    """The Ray job's actors could not load the model that this process loaded (a model folder missing, or other, on a
    worker's disk; a file of it gone since): no photo was segmented, and nothing of the job was written."""

    def __init__(self, model_path, cause: str):
        self.model_path, self.cause = model_path, cause
        if model_path:
            model, where = (f"the model {shown(str(model_path))}",
                            "it must be at the same path on every Ray node (shared storage)")
        else:  # the default shipped model, a hub model or pipeline by name: installed, or in the hub's cache, there
            model, where = "the model", "each Ray node needs what this machine loaded it from (the package, its weights)"
        super().__init__(f"the Ray workers could not load {model} ({cause}): {where}, or use the local executor")


def import_ray():
    """The ``ray`` module.

    Raises:
        ImportError: Ray cannot be imported (not installed, a broken or mismatched install), with the cause and what
            to do: said before any work, not a traceback once the photos are listed.
    """
    try:
        import ray
    except Exception as exc:  # noqa: BLE001 - a broken install raises more than ImportError
        raise ImportError(f"the Ray executor needs Ray, which cannot be imported ({describe_error(exc)}): install it "
                          "(pip install 'ray[data]<2.64') or use the local executor") from None
    return ray


class _RayPredictor:
    """Ray Data actor: loads the segmenter once, then segments batches of image paths.

    With ``inflight`` (a folder of the job's), the photo it is segmenting is named in a marker file of its own there
    while it does: a photo whose marker outlives the job killed the actor's process (or was cut short with it).
    Once a photo's outputs do not fit on the disk (``STORAGE_ERRNOS``), the photos after it are not segmented: each
    is answered not done at once, its row's ``full`` the error's number (0 in every other row)."""

    def __init__(self, model_path, load_kwargs: dict, opts: BatchOptions, inflight: str | None = None):
        try:  # an error here killed the actor: Ray logged its traceback, and every photo was failed with it
            with tile_warning_said():  # the driver said it as it loaded the model first: not once an actor again
                self.segmenter, self.unloaded = Segmenter.load(model_path, **load_kwargs), None
        except Exception as exc:  # noqa: BLE001 - each photo answered with it (UNLOADED), told by the caller
            self.segmenter, self.unloaded = None, describe_error(exc)
        self.opts = opts
        self.marker = Path(inflight) / f"{os.getpid()}-{uuid.uuid4().hex}" if inflight else None
        self.full: OSError | None = None  # the disk's error that stopped this actor

    def __call__(self, batch: dict) -> dict:
        status, errors, entries, full = [], [], [], []
        for p in batch["path"]:
            if self.unloaded is not None:  # the model could not be loaded: no photo is segmented
                status.append(UNLOADED), errors.append(self.unloaded), entries.append(""), full.append(0)
                continue
            if self.full is not None:  # each photo after it was segmented only to fail so (a long job, for hours)
                status.append("failed"), errors.append(disk_stopped(self.full)), entries.append("")
                full.append(self.full.errno)
                continue
            self._mark(str(p))
            try:
                entry, _ = process_image(self.segmenter, Path(p), self.opts)
                status.append("done"), errors.append(""), entries.append(strict_json(entry, indent=None))
            except Exception as exc:  # noqa: BLE001 - reported per file, as on the local executor
                status.append("failed"), errors.append(describe_error(exc)), entries.append("")
                if isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS:
                    self.full = exc
            full.append(self.full.errno if self.full is not None else 0)
            self._mark(None)  # not on a BaseException: the process is going, as when it dies
        return {"path": list(batch["path"]), "status": status, "error": errors, "entry": entries, "full": full}

    def _mark(self, photo: str | None) -> None:
        """Name ``photo`` in this actor's marker, or (None) remove it; a marker that cannot be written only costs the
        job the naming of a photo that kills its worker."""
        if self.marker is None:
            return
        try:
            if photo is None:
                self.marker.unlink(missing_ok=True)
            else:
                write_text_atomic(photo, self.marker)
        except OSError as exc:
            logger.warning("could not write %s (%s)", self.marker, exc)


def _marked(folder: Path) -> set[str]:
    """The photos named by the actors' markers in ``folder``: begun and not finished (their worker died)."""
    photos = set()
    try:
        markers = [m for m in folder.iterdir() if not m.name.startswith(".")]  # write_text_atomic's temporaries hidden
    except OSError:
        return photos
    for marker in markers:
        try:
            photos.add(marker.read_text(encoding="utf-8", errors="surrogateescape"))  # as written
        except OSError:
            continue
    return photos


def predict_paths_ray(
    model_path,
    paths,
    prompts,
    out_dir: str | Path,
    load_kwargs: dict | None = None,
    workers: int = 1,
    batch_size: int = 4,
    overwrite: bool = False,
    threshold: float | None = None,
    mm_per_px: float | None = None,
    ray_address: str | None = None,
    rules=(),
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    overlay_images: bool = False,
    segmenter: Segmenter | None = None,
    names_from_folders: bool = False,
) -> BatchSummary:
    """The same job on Ray Data: ``map_batches`` over an actor pool of ``workers`` model holders, each
    loading ``Segmenter.load(model_path, **load_kwargs)`` (``names_from_folders``: outputs named as
    :func:`~drywallqa.engine.batch.predict_paths` names them so, by each actor too).

    The model is loaded here first (or ``segmenter``, that same model already loaded, is used), so a wrong
    ``model_path`` fails before Ray starts, and the job's settings and prompt warnings are those of
    :func:`predict_paths`: a folder predicted by one executor is resumed by the other. Runs on a local Ray
    instance unless ``ray_address`` (or ``RAY_ADDRESS``) names a cluster; the output folder must be reachable
    from every worker (a shared file system on a cluster).

    A photo that kills its actor's process (a decoder's crash, out of memory) stops the Ray job; the photos the
    actors were segmenting then (marked in a hidden folder of the output folder) are each run again alone, so the
    one that kills its worker again is named failed, and the others go on in a new job (at most
    :data:`RAY_ROUNDS` jobs). A stop while no photo was being segmented (Ray unreachable, a model an actor cannot
    load) ends the job: the photos not finished are named with its cause. Ctrl-C raises :class:`JobInterrupted` as
    :func:`predict_paths` does. Actors that cannot load the model (loaded here, but not on a worker) segment nothing:
    where no photo was done the job raises :class:`RayModelError`, before writing ``results.json``; photos that
    other actors finished are kept, the others named not done with the cause.

    Raises:
        ImportError: Ray cannot be imported (:func:`import_ray`), before any work.
        OSError: the disk could not take a photo's outputs (full, over quota, read-only: ``STORAGE_ERRNOS``), raised
            once ``results.json`` (where it can still be written) lists the photos done and names the others not
            done; each actor segments no photo after the one that did not fit (the folder of the actors' markers
            not made in the output folder: the job stops so too).
        RayModelError: the actors could not load the model and no photo was done (a ``ValueError``): the output
            folder's results are left as they were.
    """
    load_kwargs = dict(load_kwargs or {})
    paths, workers = input_paths(paths), check_workers(workers)
    ray = import_ray()
    check_out_apart(paths, out_dir)  # the job's options before the model loads (minutes): a wrong one said at once
    check_job_inputs(prompts, out_dir, overlay_images, threshold, mm_per_px, rules, max_pixels, overwrite, paths,
                     names_from_folders)
    segmenter = segmenter or Segmenter.load(model_path, **load_kwargs)
    opts = job_options(prompts, out_dir, overlay_images, threshold, mm_per_px, rules, max_pixels,
                       job_settings(segmenter), overwrite, paths, tiling_facts(segmenter), names_from_folders)
    summary = BatchSummary(warnings=job_warnings(segmenter, opts.prompts))
    todo = plan_job(paths, opts, summary, workers)
    interrupted, full = False, 0  # full: the number of the disk's error that stopped the actors
    disk: OSError | None = None  # the disk's error that stopped the job here (its markers' folder not made)
    if todo:
        out = Path(os.path.abspath(opts.out_dir))
        # absolute (workers may run elsewhere), not resolved: outputs are named by the stem of the path given, a
        # link's own, as on the local executor, and a rerun looks for them there
        pending = [os.path.abspath(p) for p in todo]
        started, rows, stopped, crashed = not ray.is_initialized(), [], None, {}
        begun = time.time()

        def finished(path: str) -> dict | None:  # the record an actor wrote for ``path`` in this job, or None
            return done_since(opts, path, begun)

        with temp_dir(out, INFLIGHT_PREFIX) as inflight:
            jobs = itertools.count()

            def run(photos: list, size: int, concurrency: int, retries: int) -> tuple[list, str | None, set]:
                """One Ray Data job over ``photos``: its rows, why it stopped (None: it did not), the photos its
                actors had begun and not finished."""
                marks = inflight / str(next(jobs))  # each job's markers apart: a stopped job's actors may linger
                marks.mkdir()
                try:
                    # the output and model folders absolute too: an actor's working directory is not this one's (a
                    # cluster, a runtime_env working_dir), and a relative --out would put the masks there, out of sight
                    local_model = model_path and Path(model_path).exists()  # else a shipped model's or hub name
                    with warnings.catch_warnings():  # max_task_retries has no named parameter before Ray 2.64 (the
                        # pin's bound), which says ray_remote_args are deprecated on every job: not the user's concern
                        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated")
                        # nor are Ray's DeprecationWarnings of its own settings (its DataContext sets a deprecated one
                        # as it is made), which `PYTHONWARNINGS=error` made every Ray job's end
                        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.")
                        dataset = ray.data.from_items([{"path": p} for p in photos]).map_batches(
                            _RayPredictor,
                            fn_constructor_kwargs={"model_path": (os.path.abspath(model_path) if local_model
                                                                  else str(model_path)) if model_path else None,
                                                   "load_kwargs": load_kwargs, "opts": replace(opts, out_dir=str(out)),
                                                   "inflight": str(marks)},
                            batch_size=size,
                            compute=ray.data.ActorPoolStrategy(size=concurrency),
                            # a died actor is restarted and its batch retried, but not for ever (Ray Data's default): a
                            # photo that kills the process (a decoder's crash, out of memory) would hang the job
                            max_task_retries=retries,
                        )
                        return dataset.take_all(), None, set()
                except Exception as exc:  # noqa: BLE001 - Ray did not start, an actor died: told by the caller
                    why = _ray_stopped(exc)
                gc.collect()  # Ray Data leaves a stopped job's actors (one restarting, holding its CPU) to the garbage
                return [], why, _marked(marks)

            def rounds() -> str | None:  # why the job stopped for good, or None
                suspects, rest = [], pending
                for _ in range(RAY_ROUNDS):
                    for photo in suspects:  # each alone: the one that kills its worker again is named
                        got, why, unfinished = run([photo], 1, 1, 0)
                        rows.extend(got)
                        if why is not None:
                            if photo not in unfinished or finished(photo) is not None:
                                return why  # not this photo's doing: Ray itself stopped
                            crashed[photo] = why
                            logger.error("%s: the worker process died while segmenting it (%s)", shown(photo), why)
                    answered = {row["path"] for row in rows} | set(crashed)
                    rest = [p for p in rest if p not in answered and (not suspects or finished(p) is None)]
                    if not rest:
                        return None
                    got, why, unfinished = run(rest, batch_size, max(1, workers), RAY_TASK_RETRIES)
                    rows.extend(got)
                    if why is None:
                        return None
                    suspects = sorted(p for p in unfinished if p in rest and finished(p) is None)
                    if not suspects:  # no photo was being segmented: Ray itself stopped (unreachable, ...)
                        return why
                    logger.warning("the Ray job stopped (%s) while segmenting %d photo(s): each is run again alone, "
                                   "then the others", why, len(suspects))
                return why

            try:
                if started:
                    check_ray_reachable(ray_address)
                    with signal_handlers_kept():  # a stop signal stops the job as Ctrl-C does, not as Ray ends it
                        ray.init(address=ray_address, include_dashboard=False, log_to_driver=False,
                                 ignore_reinit_error=True, **job_runtime_env())
                stopped = rounds()
            except KeyboardInterrupt:  # Ctrl-C: the photos the actors finished are done, the rest named not done
                interrupted = True
            except Exception as exc:  # noqa: BLE001 - Ray did not start: the photos not done are named
                stopped = _ray_stopped(exc)
                if (isinstance(exc, OSError) and exc.errno in STORAGE_ERRNOS  # the output folder's disk (the markers'
                        and Path(os.fsdecode(exc.filename or "")).is_relative_to(out)):  # folder): as an actor's
                    disk = exc
            finally:
                if started and ray.is_initialized():
                    no_implicit_ray_start(ray)  # before the shutdown: a thread of the job's may call Ray after it
                    with signal_handlers_kept():  # it leaves SIGTERM at its default: the report unwritten on one
                        ray.shutdown()
        if stopped:
            logger.error("the Ray job stopped: %s", stopped)
        full = next((row["full"] for row in rows if row.get("full")), disk.errno if disk is not None else 0)
        unloaded = next((row["error"] for row in rows if row["status"] == UNLOADED), None)
        by_path = {row["path"]: row for row in rows}
        # each photo its answer, in the order listed and named as given (as on the local executor: the same
        # results.json, table and overlay grid; the actors had absolute paths)
        for path, given in zip(pending, map(str, todo)):
            row = by_path.get(path)
            if row is not None and row["status"] == "done":
                summary.done.append(given)
                summary.results.append(json.loads(row["entry"]))
                continue
            if row is not None and row["status"] == UNLOADED:
                summary.failed.append((given, f"{NOT_DONE} a Ray worker could not load the model ({row['error']}); "
                                              "run the job again to finish it"))
                continue
            if row is not None:  # a reason that names the photo names it as given too
                why = row["error"]
                summary.failed.append((given, given + why[len(path):] if why.startswith(f"{path}: ") else why))
                continue
            entry = None if path in crashed else finished(path)  # finished by an actor before a stop (its record)
            if entry is not None:
                summary.done.append(given)
                summary.results.append(entry)
            elif path in crashed:
                summary.failed.append((given, f"the worker process died while segmenting this photo ({crashed[path]})"))
            elif interrupted:
                summary.failed.append((given, INTERRUPTED))
            elif disk is not None:
                summary.failed.append((given, disk_stopped(disk)))
            else:
                why = f"the Ray job stopped ({stopped})" if stopped else "Ray returned no result for it"
                summary.failed.append((given, f"{NOT_DONE} {why}; run the job again to finish it"))
        if unloaded is not None and not summary.done and not interrupted:  # as a model that does not load here
            raise RayModelError(model_path, unloaded)
    try:
        finish_job(summary, opts, {}, interrupted)  # the grid's rows from the overlay files its actors wrote
    except OSError as exc:
        if not full or exc.errno not in STORAGE_ERRNOS:
            raise  # (the disk still full: each photo done has its record, which a rerun lists)
    if interrupted:
        raise JobInterrupted(summary)
    if full:
        raise OSError(full, os.strerror(full), str(opts.out_dir))  # where: the output folder (the file was an actor's)
    return summary


HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # a client's preface, no settings


def job_runtime_env() -> dict:
    """``ray.init``'s ``runtime_env`` keyword for the job: ``$DRYWALLQA_PLUGINS`` (:mod:`drywallqa.utils.plugins`)
    passed on to the workers, where set. A local cluster's workers inherit this process's environment; a running
    cluster's (``--ray-address``) did not, and an encoder of a plugin was unknown there. (The plugin's module must be
    importable on the cluster's machines: installed there.)"""
    from ..utils.plugins import ENV

    return {"runtime_env": {"env_vars": {ENV: os.environ[ENV]}}} if os.environ.get(ENV, "").strip() else {}


def no_implicit_ray_start(ray) -> None:
    """Ray's first use without ``ray.init`` no longer starts a local Ray instance in this process (what Ray's
    ``RAY_ENABLE_AUTO_CONNECT=0`` does where set before ``import ray``): it raises "Ray has not been started yet".

    Ray Data leaves threads of a job running after it has returned the rows (its block prefetcher's ``ray.wait``, for
    one, can come after them where the CPUs are busy). One that called Ray after :func:`predict_paths_ray`'s
    ``ray.shutdown`` started a new local Ray instance from that thread, whose servers the system ends with the thread
    (Ray ties them to the thread that started them): this process's Ray core, left connected to servers that are
    gone, then ended the whole process 60 s later ("Failed to connect to GCS within 60 seconds ... The program will
    terminate": exit code 1, no traceback), whatever it was doing then (the next test in a pytest-xdist worker of
    ``make test``: "node down: Not properly terminated"). Left so for the rest of the process, as such a thread may
    call Ray at any time: the jobs here start Ray with ``ray.init`` themselves, and so must other code of the process
    that uses Ray after one."""
    hook = getattr(getattr(ray, "_private", None), "auto_init_hook", None)
    if hook is not None and hasattr(hook, "enable_auto_connect"):
        hook.enable_auto_connect = False


def check_ray_reachable(address: str | None) -> None:
    """Raise ConnectionError, at once, where ``address`` (or ``RAY_ADDRESS``) names a cluster, ``host:port`` or
    ``ray://host:port``, that takes no connection within :data:`RAY_CONNECT_TIMEOUT_S`, or one that does not answer as
    Ray's servers (gRPC: HTTP/2) do within that time (a web server's port, one that says nothing): ``ray.init`` tries
    one for some 13 minutes before it gives up, and hangs on the others. Other addresses (none: a local instance;
    ``auto``, ``local``) are left to Ray, as is the answer of a cluster whose connections are TLS (``RAY_USE_TLS``)."""
    address = address or os.environ.get("RAY_ADDRESS")
    host, _, port = (address or "").removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return
    try:
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT_S)
    except OSError as exc:
        raise ConnectionError(f"no Ray cluster answers at {address} ({exc.strerror or exc}): is "
                              "it running, is RAY_ADDRESS right?") from None
    with sock:
        if os.environ.get("RAY_USE_TLS", "").lower() in ("1", "true"):
            return
        head = b""
        try:  # an HTTP/2 server (Ray's GCS, a Ray Client server) sends its SETTINGS frame first
            sock.sendall(HTTP2_HELLO)
            while len(head) < 9:
                got = sock.recv(9 - len(head))
                if not got:
                    break
                head += got
        except TimeoutError:
            if not head:
                raise ConnectionError(f"{address} takes a connection but says nothing within {RAY_CONNECT_TIMEOUT_S} s, "
                                      "as no Ray cluster does: is RAY_ADDRESS right (the head's port, 6379 by "
                                      "default, or ray://host:10001)?") from None
        except OSError:  # reset: told by what came before it, as a connection closed
            pass
    if len(head) < 9 or head[3] != 4:  # not a SETTINGS frame
        said = "it answers, not as Ray's servers do: a web server?" if head else "it closes the connection"
        raise ConnectionError(f"{address} is no Ray cluster ({said}): is RAY_ADDRESS right (the head's port, 6379 by "
                              "default, or ray://host:10001)?")


def _ray_stopped(exc: BaseException) -> str:
    """One line for an error that stopped a Ray job (Ray's messages hold a remote traceback, coloured): its kind
    and the last line, which names the cause."""
    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    return last if last.startswith(type(exc).__name__) else f"{type(exc).__name__}: {last}".rstrip(": ")
