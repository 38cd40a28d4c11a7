"""Helpers shared by the stage modules: per-group argument lists and instrument loading."""

from __future__ import annotations

import argparse

__all__ = [
    "BackgroundMap",
    "InputError",
    "by_group",
    "configured_file",
    "load_calibration",
    "concat_outputs",
    "concat_parts",
    "file_options",
    "group_files",
    "group_instruments",
    "instruments_option",
    "load_given_instruments",
    "match_outputs",
    "parallel_map",
    "read_named",
    "run_thunks",
    "scores_by_threshold",
    "switched_inputs",
    "thresholds_of",
    "workers_option",
]


class InputError(ValueError):
    """The files on a stage's command line do not fit its config: a file the config needs is not given,
    or a file given is not the one the config names (the message names both)."""


def switched_inputs(args, names, on: bool, what: str) -> None:
    """The optional inputs ``names`` (argument names) are given exactly when the config switches
    ``what`` on: one missing while it is on, or one given while it is off, is an :class:`InputError`."""
    given = [n for n in names if getattr(args, n)]
    if on and len(given) < len(names):
        missing = [f"--{n.replace('_', '-')}" for n in names if n not in given]
        raise InputError(f"{', '.join(missing)}: {what} is on, but not given")
    if not on and given:
        raise InputError(f"--{given[0].replace('_', '-')}: given, but {what} is off")


def group_files(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    """``--<name> FILE [FILE ...]``: one file per configured group, in config order."""
    parser.add_argument(f"--{name}", nargs="+", required=True, metavar="FILE", help=help_text)


def file_options(parser: argparse.ArgumentParser, names, folder: str, suffix: str = ".csv") -> None:
    """One required ``--<name>`` option (``_`` written ``-``) per file, e.g. ``--games-howell``."""
    for name in names:
        parser.add_argument(f"--{name.replace('_', '-')}", required=True, help=f"{folder}/{name}{suffix}")


def read_named(args, names, log) -> dict:
    """``{name: the file given as --<name>, read under the contract of that name}``."""
    from cocapp.contracts import read

    return {name: read(name, getattr(args, name), log) for name in names}


def by_group(settings, files: list[str], option: str) -> dict[str, str]:
    """Pair one file per group (config order) with its group; the counts must agree."""
    groups = list(settings["groups"])
    if len(files) != len(groups):
        raise InputError(
            f"--{option}: {len(files)} file(s) given for {len(groups)} configured group(s) {groups}"
        )
    return dict(zip(groups, files, strict=True))


def configured_file(given: str | None, configured: str | None, key: str, option: str) -> str | None:
    """The file given as ``--<option>``: the one the config names as ``key``, given when (and only when)
    the config names one (None then). A file missing from the command line, or one the config does
    not name, is an error naming both."""
    import os

    if configured and not given:
        raise InputError(f"--{option}: {key} is {configured}, but it was not given")
    if given and not configured:
        raise InputError(f"--{option} {given}: given, but the config sets no {key}")
    if given and os.path.normpath(given) != os.path.normpath(configured):
        raise InputError(f"--{option} {given}: not the file {key} names ({configured})")
    return given or None


def instruments_option(parser: argparse.ArgumentParser) -> None:
    """``--instruments FILE [FILE ...]``: the files of the configured instruments (``<KEY>.yaml``), as the
    workflow finds them (``instrument_paths``, then the built-ins) when it is parsed."""
    parser.add_argument(
        "--instruments",
        nargs="+",
        required=True,
        metavar="FILE",
        help="the instrument files (<KEY>.yaml) of the configured instruments",
    )


def load_given_instruments(args, settings, log, group: str | None = None):
    """The configured instruments (of every group, or of ``group``) by key in config order, loaded from
    exactly the files given with ``--instruments`` (:func:`cocapp.instruments.given_instruments`)."""
    from cocapp.instruments import given_instruments

    instruments = given_instruments(settings, args.instruments, group)
    for f in args.instruments:
        log.info(f"instrument file {f}")
    return instruments


def group_instruments(settings, group: str, instruments) -> dict:
    """The group's instruments in its config order, from ``instruments`` (:func:`load_given_instruments`)."""
    return {k: instruments[k] for k in settings["groups"][group]["instruments"]}


def thresholds_of(settings) -> list[str]:
    """The configured thresholds as text (``"0.0"``, ``"0.5"``), in config order."""
    from cocapp.config import format_threshold

    return [format_threshold(t) for t in settings["scoring"]["thresholds"]]


# what the analyses of the scores table use (the item counts stay in the file for readers)
SCORE_COLUMNS_USED = ["id", "site", "instrument", "scale", "threshold", "score"]


def scores_by_threshold(path: str, thresholds: list[str], log, columns=SCORE_COLUMNS_USED):
    """Yield (threshold, its rows of the scores table ``path``) for each of ``thresholds``, reading
    only ``columns``: the frames :func:`cocapp.stats.outcomes.by_threshold` gives (a threshold
    without rows: the whole table, so that the analysis reports it). A Parquet file (national
    study) is read one threshold at a time -- the rows of the threshold's written forms ("0.50" is
    0.5), filtered while reading -- so that only one threshold's rows are ever in memory; a CSV file
    is read once."""
    from cocapp.config import format_threshold
    from cocapp.contracts import distinct_text, read
    from cocapp.stats.outcomes import by_threshold

    if not str(path).endswith(".parquet"):
        yield from by_threshold(read("scores", path, log, columns=columns), thresholds).items()
        return
    written = distinct_text("scores", path, "threshold")
    for t in thresholds:
        forms = [w for w in written if format_threshold(w) == format_threshold(t)]
        where = {"threshold": forms} if forms else None
        yield t, read("scores", path, log, columns=columns, where=where)


def concat_parts(frames: list) -> pd.DataFrame:  # noqa: F821 - pandas imported lazily
    """Row-bind tables in order keeping the first table's column order (union of columns); tables
    without rows contribute nothing (their columns still count)."""
    import pandas as pd

    columns: list[str] = []
    for f in frames:
        columns += [c for c in f.columns if c not in columns]
    non_empty = [f for f in frames if len(f)]
    if not non_empty:
        return pd.DataFrame(columns=columns)
    return pd.concat(non_empty, ignore_index=True)[columns]


def concat_outputs(args, parts: dict[str, list]) -> dict:
    """``{path of --<name>: the name's parts row-bound}`` for each named table (:func:`concat_parts`)."""
    return {getattr(args, name): concat_parts(frames) for name, frames in parts.items()}


def workers_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--workers N``: processes for ``what`` (the rule's ``threads``; default 1, this process)."""
    parser.add_argument("--workers", type=int, default=1, help=f"processes for {what} (default 1)")


def parallel_map(function, tasks: list, workers: int) -> list:
    """``function`` over ``tasks`` in ``workers`` forked processes, results in task order.

    One worker (or fewer than two tasks) runs in this process. Forked workers inherit the parent's
    module state, so large inputs can be left in a module global instead of being pickled per task.
    """
    workers = max(1, int(workers))
    if workers <= 1 or len(tasks) < 2:
        return [function(t) for t in tasks]
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=mp.get_context("fork")) as pool:
        return list(pool.map(function, tasks, chunksize=max(1, len(tasks) // (4 * workers))))


class BackgroundMap:
    """``function`` over ``tasks``, begun at once in ``workers - 1`` forked processes while this
    process does other work; :meth:`results` then lends this process to the tasks no process has
    taken yet and returns every result in task order. So at most ``workers`` processes are busy, and
    none idles while another has work left. With one worker (or fewer than two tasks) every task runs
    in this process, in :meth:`results`. A context manager: leaving it (also on an error) lets no
    process take another task and ends the processes.

    The processes take tasks by index from a shared counter, so which process runs a task varies
    from run to run: ``function`` must give the same result in any process.
    """

    def __init__(self, function, tasks: list, workers: int):
        import multiprocessing as mp

        self._function, self._tasks = function, list(tasks)
        context = mp.get_context("fork")
        self._next = context.Value("q", 0)  # index of the next task not taken
        self._pool, self._futures = None, []
        background = min(max(1, int(workers)), len(self._tasks)) - 1
        if background >= 1:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(
                max_workers=background,
                mp_context=context,
                initializer=_inherit_drain,  # fork: the counter is inherited, never pickled
                initargs=(function, self._tasks, self._next),
            )
            self._futures = [self._pool.submit(_drain_inherited) for _ in range(background)]

    def results(self) -> list:
        """Every task's result in task order, this process running the tasks not yet taken."""
        done = _drain(self._function, self._tasks, self._next)
        for future in self._futures:
            done.update(future.result())
        return [done[i] for i in range(len(self._tasks))]

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        with self._next.get_lock():
            self._next.value = len(self._tasks)  # no further task is taken
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


_DRAIN: tuple = ()  # (function, tasks, counter) in a BackgroundMap's forked process


def _inherit_drain(function, tasks: list, counter) -> None:
    global _DRAIN
    _DRAIN = (function, tasks, counter)


def _drain_inherited() -> dict:
    return _drain(*_DRAIN)


def _drain(function, tasks: list, counter) -> dict:
    """``{index: function(task)}`` of the tasks taken, one at a time, from the shared ``counter``
    until none is left."""
    done = {}
    while True:
        with counter.get_lock():
            i = counter.value
            counter.value = i + 1
        if i >= len(tasks):
            return done
        done[i] = function(tasks[i])


_THUNKS: list = []


def _call_thunk(i: int):
    return _THUNKS[i]()


def run_thunks(thunks: list, workers: int) -> list:
    """Call each no-argument callable of ``thunks`` -- in ``workers`` forked processes, which inherit
    the callables (closures need not pickle; only their results travel back) -- results in order.

    Used for work that is independent and heavy, e.g. rendering figures (a figure's bytes do not
    depend on the process that renders it: metadata cleared, SVG ids salted by a fixed string).
    """
    global _THUNKS
    _THUNKS = list(thunks)
    try:
        return parallel_map(_call_thunk, list(range(len(_THUNKS))), workers)
    finally:
        _THUNKS = []


def match_outputs(declared: list[str], rendered: dict, option: str) -> dict:
    """Pair rendered files (keyed by a relative path such as ``sites/g/RSA_total.png``) with the declared
    output paths ending in that relative path; every declared path must be produced and vice versa."""
    from pathlib import PurePath

    out: dict = {}
    unmatched = list(declared)
    for rel, content in rendered.items():
        parts = PurePath(rel).parts
        hits = [p for p in unmatched if PurePath(p).parts[-len(parts) :] == parts]
        if len(hits) != 1:
            raise ValueError(f"--{option}: {rel} is {'not declared' if not hits else 'declared twice'}")
        out[hits[0]] = content
        unmatched.remove(hits[0])
    if unmatched:
        raise ValueError(f"--{option}: declared but not produced: {unmatched[:5]}")
    return out


def load_calibration(path: str | None, settings, log):
    """The calibration targets (``study.calibration.targets``) as text, or None when the study declares
    no calibration. A declared calibration whose file is not given is an error (the audit would
    otherwise call calibration targets illustrative)."""
    from pathlib import Path

    import pandas as pd

    from cocapp.presentation.calibration import parse_targets

    study = settings["study"]
    declared = study.get("synthetic") and study.get("calibration")
    if not declared:
        if path:
            raise ValueError(f"--calibration {path}: given, but the config declares no study.calibration")
        return None
    if not path:
        raise ValueError("study.calibration is configured but --calibration was not given")
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: calibration targets file not found (study.calibration.targets)")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    log.read(path, len(df))
    return parse_targets(df, path)
